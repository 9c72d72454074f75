//! Drawing batches of sample indices for stochastic methods.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::options::Sampling;

/// Hands out the batches of one epoch after another, without allocating.
pub(crate) struct Sampler {
    sampling: Sampling,
    samples: usize,
    batch: usize,
    /// A permutation of `0..samples` (shuffle) or the current batch (replace).
    indices: Vec<usize>,
    position: usize,
    rng: ChaCha8Rng,
}

impl Sampler {
    /// A sampler over `samples` indices in batches of `batch` (`1 ≤ batch < samples`).
    pub(crate) fn new(sampling: Sampling, samples: usize, batch: usize, rng: ChaCha8Rng) -> Self {
        let indices = match sampling {
            Sampling::Shuffle => (0..samples).collect(),
            Sampling::Replace => vec![0; batch],
        };
        Self {
            sampling,
            samples,
            batch,
            indices,
            position: 0,
            rng,
        }
    }

    /// Steps in one epoch: `⌈N/B⌉`.
    pub(crate) fn steps_per_epoch(&self) -> usize {
        self.samples.div_ceil(self.batch)
    }

    /// Starts an epoch (a fresh random order when shuffling).
    pub(crate) fn start_epoch(&mut self) {
        self.position = 0;
        if self.sampling == Sampling::Shuffle {
            self.indices.shuffle(&mut self.rng);
        }
    }

    /// The next batch of the epoch.
    pub(crate) fn next_batch(&mut self) -> &[usize] {
        match self.sampling {
            Sampling::Shuffle => {
                let start = self.position;
                let end = (start + self.batch).min(self.samples);
                self.position = end;
                &self.indices[start..end]
            }
            Sampling::Replace => {
                for index in &mut self.indices {
                    *index = self.rng.random_range(0..self.samples);
                }
                &self.indices
            }
        }
    }
}
