//! The ranks of `--distributed` (`linreg`, `minimize`): MPI started and ended, and
//! errors told once. Every rank meets the same outcome; rank 0 reports it (a rank
//! that alone could not read its rows says why), and no rank exits before the
//! teller has spoken, since `mpirun` ends the whole job when the first rank fails.

use anyhow::Result;

use crate::report::Failure;

/// What to say when `--distributed` is given to a build without MPI.
#[cfg(not(feature = "mpi"))]
const NO_MPI: &str =
    "--distributed needs a matdiff built with MPI: cargo build --release --features mpi \
(Debian packages: libopenmpi-dev openmpi-bin libclang-dev pkgconf); see docs/distributed.md";

/// The ranks of a distributed run, as this process sees them. MPI is finalised when
/// the last handle is dropped.
pub struct Ranks {
    #[cfg(feature = "mpi")]
    world: std::rc::Rc<matdiff::distributed::World>,
}

impl Ranks {
    /// Starts MPI (exit 2 without it).
    #[cfg(not(feature = "mpi"))]
    pub fn start() -> Result<Ranks> {
        Err(Failure::BadInput(NO_MPI.to_owned()).into())
    }

    /// Starts MPI (exit 2 without it).
    #[cfg(feature = "mpi")]
    pub fn start() -> Result<Ranks> {
        match matdiff::distributed::World::init() {
            Some(world) => Ok(Ranks {
                world: std::rc::Rc::new(world),
            }),
            None => Err(
                Failure::BadInput("MPI was initialised twice in this process".to_owned()).into(),
            ),
        }
    }

    /// The processes, for the library's distributed fits.
    #[cfg(feature = "mpi")]
    pub fn peers(&self) -> std::rc::Rc<dyn matdiff::distributed::Peers> {
        self.world.clone()
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        #[cfg(feature = "mpi")]
        {
            use matdiff::distributed::Peers as _;
            self.world.rank()
        }
        #[cfg(not(feature = "mpi"))]
        0
    }

    /// The number of ranks.
    #[cfg(feature = "mpi")]
    pub fn size(&self) -> usize {
        use matdiff::distributed::Peers as _;
        self.world.size()
    }

    /// Whether this rank reports: rank 0.
    pub fn reports(&self) -> bool {
        self.rank() == 0
    }

    /// An error every rank met, as this rank ends with it: rank 0 prints it (or this
    /// rank, when the error is about it alone: `local`), every rank waits until it
    /// has, and all exit with its code.
    pub fn tell(&self, told: anyhow::Error, local: bool) -> anyhow::Error {
        let (code, message) = match told.downcast_ref::<Failure>() {
            Some(Failure::Failed(m)) => (1, Some(m.clone())),
            Some(Failure::BadInput(m)) => (2, Some(m.clone())),
            Some(Failure::Reported(code)) => (*code, None),
            None => (2, Some(format!("{told:#}"))),
        };
        if let (true, Some(message)) = (self.reports() || local, message) {
            eprintln!("error: {message}");
        }
        self.barrier();
        Failure::Reported(code).into()
    }

    /// Waits until every rank has come here.
    fn barrier(&self) {
        #[cfg(feature = "mpi")]
        {
            let _ = matdiff::distributed::gather(self.world.as_ref(), &[]);
        }
    }
}
