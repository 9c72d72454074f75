//! What the optimiser minimises: a loss over flattened parameters and a sample dimension.

use std::error::Error;
use std::fmt;

/// A differentiable loss `Q(w)` over a data set with a sample dimension.
///
/// The variable being fitted (a scalar, vector or matrix) is flattened into `w` in
/// column-major order (for a matrix `W: m×n`, `w[i + j*m] = W[i, j]`); the gradient
/// buffer uses the same layout.
///
/// The optimiser never looks inside the loss: it asks for its value and gradient on
/// either all samples or a subset of sample indices ([`Batch`]). Whether the loss on a
/// batch is a sum or an average is up to the formula: a loss written `1/N * …` with `N`
/// bound to the batch size gives the batch average, which is what SGD and mini-batch
/// gradient descent expect.
///
/// Methods take `&mut self` so an implementation can reuse scratch buffers between
/// calls instead of allocating.
pub trait Objective {
    /// Number of parameters, the length of `w` and of the gradient.
    fn dim(&self) -> usize;

    /// Number of samples along the sample dimension; batch indices are below this.
    fn samples(&self) -> usize;

    /// The loss `Q(w)` on `batch`, without the gradient: for callers that only need the
    /// value (a validation loss, a report). [`minimize`](crate::optim::minimize) itself
    /// always asks for the gradient too.
    fn loss(&mut self, w: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError>;

    /// A hint that the samples `rows` will be evaluated in one of the next batches, so
    /// that an implementation can start loading their data while it works on the
    /// current batch (a sample read from memory at random costs more than the
    /// arithmetic on it). It must not change any result; the default does nothing.
    fn prefetch(&mut self, _rows: &[usize]) {}

    /// Takes the plain step `w ← w − η ∇Q_B(w)` on the samples `rows` itself, where
    /// it can do so without handing out the gradient (in one pass over the batch's
    /// data), with the result the caller's own step would have. Returns the batch loss
    /// and `‖∇Q_B(w)‖²`; `None` (the default) leaves `w` untouched and the step to
    /// the caller, which then asks for the gradient (and so learns of any error).
    fn descend(&mut self, _w: &mut [f64], _rows: &[usize], _lr: f64) -> Option<(f64, f64)> {
        None
    }

    /// Takes a plain SGD step on each of the samples `rows`, on `threads` threads at
    /// once without locks (Hogwild!): each thread takes a contiguous part of `rows`
    /// and steps the shared `w` as it goes, so that steps may overwrite each other.
    /// Returns the sum of the samples' losses (NaN when one was not finite, `w` then
    /// unusable); `None` (the default), with `w` untouched, when the objective cannot.
    fn descend_concurrently(
        &mut self,
        _w: &mut [f64],
        _rows: &[usize],
        _lr: f64,
        _threads: usize,
    ) -> Option<f64> {
        None
    }

    /// Whether this process holds only some of the samples, the others lying on other
    /// processes that run the same optimiser in step with it: then a batch of `batch`
    /// samples is drawn as a share from every process ([`Spread`]) and evaluated as
    /// [`Batch::Share`]. `None`, the default, draws every batch from all samples.
    fn spread(&self, _batch: usize) -> Option<Spread> {
        None
    }

    /// The loss `Q(w)` on `batch`, writing `∇Q(w)` into `grad` (length [`Objective::dim`]).
    fn loss_and_gradient(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        grad: &mut [f64],
    ) -> Result<f64, ObjectiveError>;
}

/// Which samples a loss is evaluated on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch<'a> {
    /// Every sample: the full loss.
    All,
    /// The samples with these indices along the sample dimension, in this order; an
    /// index may repeat when batches are drawn with replacement.
    Rows(&'a [usize]),
    /// This process's rows of a batch of `of` samples spread over processes
    /// ([`Objective::spread`]): the indices, along the sample dimension, of the samples
    /// it drew from those it holds; the loss is that of the whole batch once the
    /// processes' parts are added. An objective that holds every sample reads it as
    /// [`Batch::Rows`].
    Share {
        /// The rows this process drew.
        rows: &'a [usize],
        /// The samples of the whole batch, over all processes.
        of: usize,
    },
}

/// The samples of an objective spread over `sizes.len()` processes, this one being
/// `rank`: process `r` holds `sizes[r]` consecutive samples, after those of the
/// processes before it.
///
/// A batch of `B` samples takes `B_r = ⌊B/K⌋` samples from each of the `K` processes,
/// one more from the first `B mod K`, each process drawing from its own samples by
/// the options' [`Sampling`](crate::optim::Sampling) with a generator seeded by
/// [`seed_of_rank`]. An epoch is `max_r ⌈sizes[r]/B_r⌉` steps: every process passes
/// through its samples once, and one that is through before the others (its share
/// being larger than its rows left) draws fewer or none in the last steps; the batch
/// is then the samples drawn, `of` in [`Batch::Share`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spread {
    /// This process, `0 ≤ rank < sizes.len()`.
    pub rank: usize,
    /// The samples each process holds, in process order.
    pub sizes: Vec<usize>,
}

impl Spread {
    /// The samples process `rank` draws for a batch of `batch`: `⌊B/K⌋`, one more for
    /// the first `B mod K` processes.
    pub fn share(&self, batch: usize, rank: usize) -> usize {
        let k = self.sizes.len().max(1);
        batch / k + usize::from(rank < batch % k)
    }

    /// The global index of this process's first sample.
    pub fn first(&self) -> usize {
        self.sizes[..self.rank].iter().sum()
    }
}

/// The seed of process `rank`'s sampling for a run seeded with `seed`: `seed` itself
/// on process 0 (so one process draws as an undistributed run), apart on the others.
pub fn seed_of_rank(seed: u64, rank: usize) -> u64 {
    seed ^ (rank as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl Batch<'_> {
    /// Number of samples in the batch, given the size of the whole data set.
    pub fn len(&self, samples: usize) -> usize {
        match self {
            Batch::All => samples,
            Batch::Rows(rows) => rows.len(),
            Batch::Share { of, .. } => *of,
        }
    }
}

/// An error raised by an [`Objective`] (bad data, a failed evaluation), carried through
/// the optimiser unchanged so the caller can report or downcast it.
pub struct ObjectiveError(Box<dyn Error + Send + Sync + 'static>);

impl ObjectiveError {
    /// Wraps any error.
    pub fn new(error: impl Into<Box<dyn Error + Send + Sync + 'static>>) -> Self {
        Self(error.into())
    }

    /// An error that is only a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self(message.to_string().into())
    }

    /// The wrapped error, to downcast to the objective's own error type.
    pub fn inner(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.0
    }

    /// Unwraps the error.
    pub fn into_inner(self) -> Box<dyn Error + Send + Sync + 'static> {
        self.0
    }
}

impl fmt::Debug for ObjectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ObjectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Error for ObjectiveError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}
