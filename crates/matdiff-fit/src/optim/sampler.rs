//! Drawing batches of sample indices for stochastic methods.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::objective::{seed_of_rank, Batch, Spread};
use super::options::Sampling;

/// Hands out the batches of one epoch after another, without allocating.
pub(crate) struct Sampler {
    sampling: Sampling,
    /// The samples drawn from: all of them, or this process's share ([`Spread`]).
    samples: usize,
    /// The global index of the first of them.
    offset: usize,
    /// Samples per batch drawn here.
    batch: usize,
    /// Steps in one epoch.
    steps: usize,
    /// When the samples are spread over processes, what every process draws per
    /// step, and how many samples each holds: the size of every step's whole batch.
    shares: Option<(Vec<usize>, Vec<usize>)>,
    /// A permutation of `offset..offset + samples` (shuffle) or the current batch
    /// (replace).
    indices: Vec<usize>,
    /// The order of the chunks in this epoch ([`Sampling::Chunks`]).
    chunks: Vec<usize>,
    position: usize,
    /// Steps taken in this epoch.
    step: usize,
    rng: ChaCha8Rng,
}

impl Sampler {
    /// A sampler over `samples` indices in batches of `batch` (`1 ≤ batch < samples`),
    /// drawn with a generator seeded by `seed`.
    pub(crate) fn new(sampling: Sampling, samples: usize, batch: usize, seed: u64) -> Self {
        Self::over(
            sampling,
            samples,
            0,
            batch,
            samples.div_ceil(batch),
            None,
            seed,
        )
    }

    /// A sampler of this process's share of batches of `batch` samples spread as
    /// `spread` says: it draws `spread.share(batch, rank)` of its own samples per
    /// step, seeded by [`seed_of_rank`].
    pub(crate) fn spread(sampling: Sampling, spread: &Spread, batch: usize, seed: u64) -> Self {
        let parts: Vec<usize> = (0..spread.sizes.len())
            .map(|r| spread.share(batch, r))
            .collect();
        let steps = spread
            .sizes
            .iter()
            .zip(&parts)
            .map(|(&n, &b)| n.div_ceil(b.max(1)))
            .max()
            .unwrap_or(0);
        Self::over(
            sampling,
            spread.sizes[spread.rank],
            spread.first(),
            parts[spread.rank],
            steps,
            Some((parts, spread.sizes.clone())),
            seed_of_rank(seed, spread.rank),
        )
    }

    fn over(
        sampling: Sampling,
        samples: usize,
        offset: usize,
        batch: usize,
        steps: usize,
        shares: Option<(Vec<usize>, Vec<usize>)>,
        seed: u64,
    ) -> Self {
        let indices = match sampling {
            Sampling::Shuffle | Sampling::Chunks { .. } => (offset..offset + samples).collect(),
            Sampling::Replace => vec![0; batch],
        };
        let chunks = match sampling {
            Sampling::Chunks { rows } => (0..samples.div_ceil(rows.max(1))).collect(),
            _ => Vec::new(),
        };
        Self {
            sampling,
            samples,
            offset,
            batch,
            steps,
            shares,
            indices,
            chunks,
            position: 0,
            step: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Samples per batch drawn here.
    pub(crate) fn batch(&self) -> usize {
        self.batch
    }

    /// Steps in one epoch: `⌈N/B⌉`, or with shares the most any process needs to
    /// pass through its samples.
    pub(crate) fn steps_per_epoch(&self) -> usize {
        self.steps
    }

    /// Starts an epoch (a fresh random order when shuffling).
    pub(crate) fn start_epoch(&mut self) {
        self.position = 0;
        self.step = 0;
        match self.sampling {
            Sampling::Shuffle => self.indices.shuffle(&mut self.rng),
            Sampling::Chunks { rows } => {
                self.chunks.shuffle(&mut self.rng);
                let mut start = 0;
                for &chunk in &self.chunks {
                    let first = chunk * rows;
                    let len = rows.min(self.samples - first);
                    let part = &mut self.indices[start..start + len];
                    for (slot, i) in part.iter_mut().zip(self.offset + first..) {
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
        self.step = self.steps;
        match self.sampling {
            Sampling::Shuffle | Sampling::Chunks { .. } => {
                let start = self.position;
                self.position = self.samples;
                &self.indices[start..]
            }
            Sampling::Replace => &[],
        }
    }

    /// The next batch of the epoch: its rows, or this process's share of it.
    pub(crate) fn next_batch(&mut self) -> Batch<'_> {
        let step = self.step;
        self.step += 1;
        let rows: &[usize] = match self.sampling {
            Sampling::Shuffle | Sampling::Chunks { .. } => {
                let start = self.position;
                let end = (start + self.batch).min(self.samples);
                self.position = end;
                &self.indices[start..end]
            }
            Sampling::Replace if self.samples == 0 => &[],
            Sampling::Replace => {
                for index in &mut self.indices {
                    *index = self.offset + self.rng.random_range(0..self.samples);
                }
                &self.indices
            }
        };
        match &self.shares {
            None => Batch::Rows(rows),
            Some((parts, sizes)) => {
                // What every process draws at this step: its share, or what is left
                // of its samples this epoch (with replacement, always its share).
                let of = parts
                    .iter()
                    .zip(sizes)
                    .map(|(&b, &n)| match self.sampling {
                        Sampling::Replace => b * usize::from(n > 0),
                        _ => b.min(n.saturating_sub(step * b)),
                    })
                    .sum();
                Batch::Share { rows, of }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of every step's batch, drawn here, and the whole batch's size.
    fn epoch(sampler: &mut Sampler) -> Vec<(Vec<usize>, usize)> {
        sampler.start_epoch();
        (0..sampler.steps_per_epoch())
            .map(|_| match sampler.next_batch() {
                Batch::Rows(rows) => (rows.to_vec(), rows.len()),
                Batch::Share { rows, of } => (rows.to_vec(), of),
                Batch::All => unreachable!("a sampler draws rows"),
            })
            .collect()
    }

    /// Shares of a batch: each process passes through its own rows once per epoch,
    /// the processes agree on the epoch's steps and each step's batch size, and one
    /// process draws what an undistributed run draws.
    #[test]
    fn shares_pass_through_each_process_rows_once_per_epoch() {
        // (rows per process, batch, steps per epoch)
        let cases: [(&[usize], usize, usize); 4] = [
            (&[500, 501], 32, 32),
            (&[250, 250, 250, 251], 32, 32),
            (&[10, 3, 7], 4, 7),
            (&[1001], 32, 32),
        ];
        for sampling in [Sampling::Shuffle, Sampling::Chunks { rows: 64 }] {
            for (sizes, batch, steps) in cases {
                let mut sizes_of_steps = Vec::new();
                for rank in 0..sizes.len() {
                    let spread = Spread {
                        rank,
                        sizes: sizes.to_vec(),
                    };
                    let mut sampler = Sampler::spread(sampling, &spread, batch, 7);
                    assert_eq!(sampler.steps_per_epoch(), steps, "{sizes:?}");
                    let drawn = epoch(&mut sampler);
                    let mut rows: Vec<usize> = drawn.iter().flat_map(|(r, _)| r.clone()).collect();
                    rows.sort_unstable();
                    let first = spread.first();
                    assert_eq!(rows, (first..first + sizes[rank]).collect::<Vec<_>>());
                    sizes_of_steps.push(drawn.iter().map(|(_, of)| *of).collect::<Vec<_>>());
                    if sizes.len() == 1 {
                        let mut alone = Sampler::new(sampling, sizes[0], batch, 7);
                        let plain = epoch(&mut alone);
                        assert_eq!(drawn, plain, "{sampling:?}");
                    }
                }
                // Every process computes the same batch sizes, which add up to N.
                assert!(sizes_of_steps.windows(2).all(|w| w[0] == w[1]));
                let total: usize = sizes_of_steps[0].iter().sum();
                assert_eq!(total, sizes.iter().sum::<usize>(), "{sizes:?}");
            }
        }
    }
}
