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
    /// The order of the chunks in this epoch ([`Sampling::Chunks`]).
    chunks: Vec<usize>,
    position: usize,
    rng: ChaCha8Rng,
}

impl Sampler {
    /// A sampler over `samples` indices in batches of `batch` (`1 ≤ batch < samples`).
    pub(crate) fn new(sampling: Sampling, samples: usize, batch: usize, rng: ChaCha8Rng) -> Self {
        let indices = match sampling {
            Sampling::Shuffle | Sampling::Chunks { .. } => (0..samples).collect(),
            Sampling::Replace => vec![0; batch],
        };
        let chunks = match sampling {
            Sampling::Chunks { rows } => (0..samples.div_ceil(rows.max(1))).collect(),
            _ => Vec::new(),
        };
        Self {
            sampling,
            samples,
            batch,
            indices,
            chunks,
            position: 0,
            rng,
        }
    }

    /// Samples per batch.
    pub(crate) fn batch(&self) -> usize {
        self.batch
    }

    /// Steps in one epoch: `⌈N/B⌉`.
    pub(crate) fn steps_per_epoch(&self) -> usize {
        self.samples.div_ceil(self.batch)
    }

    /// Starts an epoch (a fresh random order when shuffling).
    pub(crate) fn start_epoch(&mut self) {
        self.position = 0;
        match self.sampling {
            Sampling::Shuffle => self.indices.shuffle(&mut self.rng),
            Sampling::Chunks { rows } => {
                self.chunks.shuffle(&mut self.rng);
                let mut start = 0;
                for &chunk in &self.chunks {
                    let first = chunk * rows;
                    let len = rows.min(self.samples - first);
                    let part = &mut self.indices[start..start + len];
                    for (slot, i) in part.iter_mut().zip(first..) {
                        *slot = i;
                    }
                    part.shuffle(&mut self.rng);
                    start += len;
                }
            }
            Sampling::Replace => {}
        }
    }

    /// The sample indices of this epoch that follow the next `skip` ones, at most
    /// `count` of them: what later batches will read (empty when sampling with
    /// replacement, whose batches are drawn when asked for).
    pub(crate) fn upcoming(&self, skip: usize, count: usize) -> &[usize] {
        match self.sampling {
            Sampling::Shuffle | Sampling::Chunks { .. } => {
                let start = (self.position + skip).min(self.samples);
                &self.indices[start..(start + count).min(self.samples)]
            }
            Sampling::Replace => &[],
        }
    }

    /// The rest of this epoch's samples, all taken at once (empty when sampling with
    /// replacement).
    pub(crate) fn take_rest(&mut self) -> &[usize] {
        match self.sampling {
            Sampling::Shuffle | Sampling::Chunks { .. } => {
                let start = self.position;
                self.position = self.samples;
                &self.indices[start..]
            }
            Sampling::Replace => &[],
        }
    }

    /// The next batch of the epoch.
    pub(crate) fn next_batch(&mut self) -> &[usize] {
        match self.sampling {
            Sampling::Shuffle | Sampling::Chunks { .. } => {
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
