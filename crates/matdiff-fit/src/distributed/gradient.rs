//! Gradient methods on rows spread over ranks: a linear model's loss (the form of
//! [`crate::linear_form`], the losses `--stream` takes) as an [`Objective`] whose
//! every evaluation is a sum over all ranks' rows.
//!
//! Every rank runs the same optimiser with the same options and seed, so every rank
//! draws the same batches of global row indices. An evaluation sums, on each rank,
//! the terms of the rows of the batch that rank holds, and the ranks' sums (loss and
//! gradient, `8·(d+1)` bytes) are added along the rank-ordered tree of [`combine`].
//! Every rank then holds the same loss and gradient and takes the same step: the
//! iterates are those of one process with the same options, to rounding, and a rerun
//! at the same number of ranks gives the same bits. Full-batch methods read every
//! rank's rows at every step; mini-batch and SGD read only the rows drawn (SGD's one
//! row lives on one rank, and the step still waits for all).

use std::path::PathBuf;
use std::rc::Rc;

use faer::Mat;
use matdiff_core::Function;
use matdiff_num::data::{load_npy_rows, npy_header, DataError};

use super::shard::{settle, ShardError};
use super::{combine, shard_rows, Peers};
use crate::optim::{Batch, Objective, ObjectiveError};
use crate::problem::ProblemError;
use crate::rows::{non_finite_message, RowKernel, Rows};
use crate::stream::LinearLoss;

/// Why a distributed loss cannot be set up: the loss and data do not fit together
/// (the same on every rank), or a rank could not read its rows.
#[derive(Debug, thiserror::Error)]
pub enum DistributedError {
    /// The loss and data do not fit together.
    #[error(transparent)]
    Problem(#[from] ProblemError),
    /// A rank could not read its rows.
    #[error(transparent)]
    Shard(#[from] ShardError),
}

impl DistributedError {
    /// Whether the error is about this rank alone (its file), which it alone can
    /// tell; a mismatch of loss and data is the same on every rank.
    pub fn is_local(&self, rank: usize) -> bool {
        match self {
            DistributedError::Shard(e) => e.is_local(rank),
            DistributedError::Problem(_) => false,
        }
    }
}

/// A linear model's loss over the rows of all ranks, this rank holding rows
/// `[first_row, first_row + n)` of `samples`.
pub struct DistributedProblem {
    variable: String,
    dim: usize,
    samples: usize,
    first_row: usize,
    kernel: RowKernel,
    rows: Rows,
    peers: Rc<dyn Peers>,
    non_finite: Option<String>,
    /// This rank's part, reused by every evaluation: `[loss, flag, gradient…]`.
    part: Vec<f64>,
    /// This rank's rows of the last batch, reused.
    mine: Vec<usize>,
}

impl std::fmt::Debug for DistributedProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedProblem")
            .field("variable", &self.variable)
            .field("samples", &self.samples)
            .field("first_row", &self.first_row)
            .field("rank", &self.peers.rank())
            .field("ranks", &self.peers.size())
            .finish()
    }
}

impl DistributedProblem {
    /// Binds `function`, a loss in `wrt`, to data: `files` are the `.npy` files of the
    /// variables spanning the sample dimension (rank `r` of `K` maps rows
    /// `[r·N/K, (r+1)·N/K)` of each), `whole` the values in memory. Every rank returns
    /// the same error when any rank cannot read its rows.
    pub fn new(
        function: Function,
        wrt: &str,
        files: Vec<(String, PathBuf)>,
        whole: Vec<(String, Mat<f64>)>,
        samples: Option<&str>,
        peers: Rc<dyn Peers>,
    ) -> Result<DistributedProblem, DistributedError> {
        let loss = LinearLoss::recognise(function, wrt, &files, &whole, samples)?;
        let (rank, size) = (peers.rank(), peers.size());
        let local = read_rows(&loss, rank, size);
        let ((rows, samples_total, first_row, cols), _) =
            settle(peers.as_ref(), local, |_| Vec::new())?;
        let kernel = loss.kernel(&whole, samples_total, cols)?;
        Ok(DistributedProblem {
            variable: wrt.to_owned(),
            dim: cols,
            samples: samples_total,
            first_row,
            kernel,
            rows,
            peers,
            non_finite: None,
            part: Vec::new(),
            mine: Vec::new(),
        })
    }

    /// The name of the optimised variable.
    pub fn variable(&self) -> &str {
        &self.variable
    }

    /// The processes of the run.
    pub fn peers(&self) -> &dyn Peers {
        self.peers.as_ref()
    }

    /// Where the loss turned non-finite at the last evaluation, if it did.
    pub fn non_finite(&self) -> Option<&str> {
        self.non_finite.as_deref()
    }

    /// The loss (and gradient) over all ranks' rows of `batch`: this rank's part,
    /// then the sum over ranks in rank order. Rank 0 adds the constant and penalty.
    fn evaluate(&mut self, w: &[f64], batch: Batch<'_>, grad: Option<&mut [f64]>) -> f64 {
        // This rank's part: [loss, first non-finite global row + 1 (0: none), gradient…].
        let width = if grad.is_some() { 2 + self.dim } else { 2 };
        let mut part = std::mem::take(&mut self.part);
        part.clear();
        part.resize(width, 0.0);
        let (head, local_grad) = part.split_at_mut(2);
        let want = grad.is_some();
        let sums = match batch {
            Batch::All => {
                let g = want.then_some(&mut local_grad[..]);
                self.kernel.add_rows(&self.rows, self.samples, w, g)
            }
            Batch::Rows(drawn) => {
                let held = self.first_row..self.first_row + self.rows.len();
                self.mine.clear();
                self.mine.extend(
                    drawn
                        .iter()
                        .filter(|&&i| held.contains(&i))
                        .map(|&i| i - held.start),
                );
                let rows = &self.rows;
                let g = want.then_some(&mut local_grad[..]);
                let mine = self.mine.iter().map(|&i| (rows, i));
                self.kernel
                    .batch_part(mine, self.mine.len(), drawn.len(), w, g)
            }
        };
        head[0] = sums.loss;
        if self.peers.rank() == 0 {
            let samples = match batch {
                Batch::All => self.samples,
                Batch::Rows(drawn) => drawn.len(),
            };
            head[0] += self.kernel.finish(samples, w, want.then_some(local_grad));
        }
        head[1] = sums
            .non_finite
            .map_or(0.0, |i| (self.first_row + i + 1) as f64);
        let total = combine(self.peers.as_ref(), part, |mut left, right| {
            left[0] += right[0];
            if left[1] == 0.0 {
                left[1] = right[1];
            }
            for (l, r) in left[2..].iter_mut().zip(&right[2..]) {
                *l += r;
            }
            left
        });
        let (loss, flag) = (total[0], total[1]);
        if let Some(g) = grad {
            g.copy_from_slice(&total[2..]);
            if flag != 0.0 || !loss.is_finite() {
                g.fill(f64::NAN);
            }
        }
        self.part = total;
        if flag == 0.0 && loss.is_finite() {
            return loss;
        }
        let row = (flag > 0.0).then(|| flag as usize - 1);
        self.non_finite = Some(non_finite_message(row, &self.kernel.form().texts.sample));
        f64::NAN
    }
}

/// Local SGD with model averaging: how [`DistributedProblem::local_sgd`] runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalSgd {
    /// The step size η of every local step.
    pub lr: f64,
    /// Passes over the rows: each rank takes one step per row it holds per epoch.
    pub epochs: usize,
    /// Local steps between two averagings of the ranks' parameters.
    pub sync_every: usize,
    /// Seed of the ranks' sampling orders (each rank draws its own from it).
    pub seed: u64,
}

impl DistributedProblem {
    /// Local SGD: every rank runs SGD on its own rows (one row per step, in an order
    /// of its own each epoch), and every `sync_every` steps the ranks' parameters are
    /// replaced by their average (summed in rank order, so a rerun gives the same
    /// bits). Between averagings no rank waits for another: a message per
    /// `sync_every` steps instead of one per step. The iterates are not those of one
    /// process (each rank follows its own rows); at `sync_every = 1` and K = 1 they
    /// are plain SGD. Ends after `epochs` with an averaging, and reports the full loss
    /// and gradient over all ranks' rows there.
    pub fn local_sgd(
        &mut self,
        start: &[f64],
        run: &LocalSgd,
    ) -> Result<crate::optim::Outcome, crate::optim::OptimError> {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;

        let started = std::time::Instant::now();
        let (rank, size) = (self.peers.rank(), self.peers.size());
        let n = self.rows.len();
        // Every rank steps as often as the largest shard has rows, idling past its own,
        // so that all ranks average at the same steps.
        let steps_per_epoch = (0..size)
            .map(|r| shard_rows(self.samples, r, size).len())
            .max()
            .unwrap_or(0);
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
            run.seed ^ (rank as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        let mut w = start.to_vec();
        let mut grad = vec![0.0; self.dim];
        let mut steps = 0;
        let total = run.epochs * steps_per_epoch;
        for _ in 0..run.epochs {
            order.shuffle(&mut rng);
            for k in 0..steps_per_epoch {
                if let Some(&i) = order.get(k) {
                    let rows = &self.rows;
                    let one = std::iter::once((rows, i));
                    self.kernel.batch_of(one, 1, &w, Some(&mut grad));
                    crate::rows::axpy(&mut w, -run.lr, &grad);
                }
                steps += 1;
                if steps % run.sync_every.max(1) == 0 || steps == total {
                    w = self.average(w);
                }
            }
        }
        let loss = self.evaluate(&w, Batch::All, Some(&mut grad));
        if !loss.is_finite() {
            return Err(crate::optim::OptimError::Diverged {
                iteration: steps,
                loss_trend: vec![loss],
                advice: format!(
                    "local SGD diverged at η = {}: lower the learning rate, or average more often",
                    run.lr
                ),
            });
        }
        Ok(crate::optim::Outcome {
            w,
            loss,
            gradient_norm: grad.iter().map(|g| g * g).sum::<f64>().sqrt(),
            iterations: steps,
            epochs: run.epochs,
            seconds: started.elapsed().as_secs_f64(),
            stop: crate::optim::StopReason::MaxEpochs,
            // No full loss between the start and the end.
            epoch_loss: crate::optim::EpochLoss::Running,
        })
    }

    /// The average of every rank's `w`, on every rank.
    fn average(&self, w: Vec<f64>) -> Vec<f64> {
        let k = self.peers.size() as f64;
        let sum = combine(self.peers.as_ref(), w, |mut left, right| {
            for (l, r) in left.iter_mut().zip(&right) {
                *l += r;
            }
            left
        });
        sum.into_iter().map(|v| v / k).collect()
    }
}

/// This rank's rows of the design and the data columns: the rows, the samples of
/// all ranks, the global index of the first row, the features.
fn read_rows(
    loss: &LinearLoss,
    rank: usize,
    size: usize,
) -> Result<(Rows, usize, usize, usize), DistributedError> {
    let failed = |source: DataError| DistributedError::from(ShardError::Read { rank, source });
    let header = npy_header(&loss.design).map_err(failed)?;
    let range = shard_rows(header.rows, rank, size);
    let design = load_npy_rows(&loss.design, range.clone()).map_err(failed)?;
    let mut columns = Vec::new();
    for (name, path) in &loss.columns {
        let column = npy_header(path).map_err(failed)?;
        if column.cols != 1 {
            return Err(ProblemError::NotAColumn {
                file: path.display().to_string(),
                cols: column.cols,
                name: name.clone(),
            }
            .into());
        }
        if column.rows != header.rows {
            return Err(ProblemError::RowCountMismatch {
                file: path.display().to_string(),
                rows: column.rows,
                first: loss.design.display().to_string(),
                expected: header.rows,
            }
            .into());
        }
        let values = load_npy_rows(path, range.clone()).map_err(failed)?;
        columns.push(Mat::from_fn(values.nrows(), 1, |i, _| {
            values.view()[(i, 0)]
        }));
    }
    let column_refs: Vec<&Mat<f64>> = columns.iter().collect();
    let rows = Rows::of(&design, &column_refs);
    Ok((rows, header.rows, range.start, header.cols))
}

impl Objective for DistributedProblem {
    fn dim(&self) -> usize {
        self.dim
    }

    fn samples(&self) -> usize {
        self.samples
    }

    fn loss(&mut self, w: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
        Ok(self.evaluate(w, batch, None))
    }

    fn loss_and_gradient(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        grad: &mut [f64],
    ) -> Result<f64, ObjectiveError> {
        if grad.len() != self.dim || w.len() != self.dim {
            return Err(ObjectiveError::msg(format!(
                "the parameters and the gradient need {} entries, as `{}` has",
                self.dim, self.variable
            )));
        }
        Ok(self.evaluate(w, batch, Some(grad)))
    }
}
