//! [`Peers`] over MPI (rsmpi): the processes that `mpirun` or `srun` started.

use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, Destination, Root, Source};

use super::Peers;

/// The processes of `MPI_COMM_WORLD`. MPI is initialised when it is made and
/// finalised when it is dropped: drop it before the process exits.
pub struct World {
    world: SimpleCommunicator,
    // Dropped last: finalises MPI.
    _universe: Universe,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "World(rank {} of {})", self.rank(), self.size())
    }
}

impl World {
    /// Initialises MPI; `None` when it was initialised before in this process.
    pub fn init() -> Option<World> {
        let universe = mpi::initialize()?;
        let world = universe.world();
        Some(World {
            world,
            _universe: universe,
        })
    }

    /// Ends every process of the run with exit status `code` (`MPI_Abort`): for an
    /// error that the other ranks cannot know of, so that none of them waits for
    /// this one forever.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}

impl Peers for World {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn send(&self, to: usize, values: &[f64]) {
        self.world.process_at_rank(to as i32).send(values);
    }

    fn receive(&self, from: usize) -> Vec<f64> {
        self.world
            .process_at_rank(from as i32)
            .receive_vec::<f64>()
            .0
    }

    fn broadcast(&self, values: &mut Vec<f64>) {
        let root = self.world.process_at_rank(0);
        let mut len = [values.len() as u64];
        root.broadcast_into(&mut len[..]);
        values.resize(len[0] as usize, 0.0);
        root.broadcast_into(&mut values[..]);
    }
}
