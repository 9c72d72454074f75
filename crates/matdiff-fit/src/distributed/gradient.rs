//! Gradient methods on rows spread over ranks: a linear model's loss (the form of
//! [`crate::linear_form`], the losses `--stream` takes) as an [`Objective`] whose
//! every evaluation is a sum over all ranks' rows.
//!
//! Every rank runs the same optimiser with the same options and seed. An evaluation
//! sums, on each rank, the terms of the rows of the batch that rank holds, and the
//! ranks' sums (loss, flags and gradient, `8·(d+3)` bytes) are added along the
//! rank-ordered tree of [`combine`]. Every rank then holds the same loss and gradient
//! and takes the same step, and a rerun at the same number of ranks gives the same
//! bits. Full-batch methods read every rank's rows at every step and take the steps of
//! one process, to rounding. A batch of two or more samples is drawn as shares
//! ([`Spread`]): each rank draws its part from its own rows, so one rank takes the
//! steps of one process and more ranks other, stratified, batches. SGD's one sample
//! is drawn from all rows as one process draws it (it lives on one rank, and the step
//! still waits for all); [`DistributedProblem::local_sgd`] steps on each rank's own
//! rows instead. A rank's rows are mapped, or read chunk by chunk at every
//! evaluation through the streamed reader (`stream::Chunks`).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use faer::Mat;
use matdiff_core::Function;
use matdiff_num::data::{load_npy_rows, DataError, RowReader};

use super::shard::{rank_file, rank_rows, settle, ShardError};
use super::{combine, Peers};
use crate::optim::sampler::Sampler;
use crate::optim::{seed_of_rank, Batch, Objective, ObjectiveError, Sampling, Spread};
use crate::problem::ProblemError;
use crate::rows::{non_finite_message, RowKernel, Rows, Sums};
use crate::stream::{Chunks, LinearLoss};

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
    /// The rows every rank holds, in rank order.
    sizes: Vec<usize>,
    kernel: RowKernel,
    held: Held,
    peers: Rc<dyn Peers>,
    non_finite: Option<String>,
    /// This rank's part, reused by every evaluation: `[loss, flag, failed, gradient…]`.
    part: Vec<f64>,
    /// This rank's rows of the last batch, reused.
    mine: Vec<usize>,
}

/// This rank's rows: in memory (mapped from its file), or read chunk by chunk.
enum Held {
    Memory(Rows),
    Streamed(Box<Chunks>),
}

impl Held {
    fn len(&self) -> usize {
        match self {
            Held::Memory(rows) => rows.len(),
            Held::Streamed(chunks) => chunks.rows(),
        }
    }

    /// `Σ ℓ` over every row held, writing `Σ ℓ' x_i` into `grad`.
    fn all(
        &mut self,
        kernel: &mut RowKernel,
        samples: usize,
        w: &[f64],
        grad: Option<&mut [f64]>,
    ) -> Result<Sums, ProblemError> {
        match self {
            Held::Memory(rows) => Ok(kernel.add_rows(rows, samples, w, grad)),
            Held::Streamed(chunks) => Ok(chunks.add_rows(kernel, samples, w, grad)?),
        }
    }

    /// The part of a batch of `batch` samples that the held rows `rows` (numbered
    /// from this rank's first) contribute, writing the gradient's part into `grad`.
    fn part(
        &mut self,
        kernel: &mut RowKernel,
        rows: &[usize],
        batch: usize,
        w: &[f64],
        grad: Option<&mut [f64]>,
    ) -> Result<Sums, ProblemError> {
        match self {
            Held::Memory(data) => {
                let items = rows.iter().map(|&i| (&*data, i));
                Ok(kernel.batch_part(items, rows.len(), batch, w, grad))
            }
            Held::Streamed(chunks) => chunks.batch_part(kernel, rows, batch, w, grad),
        }
    }
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
    /// `[r·N/K, (r+1)·N/K)` of each, or reads its own file whole when the path names
    /// it, `X.{rank}.npy`), `whole` the values in memory. With `chunk_rows`, each rank
    /// reads its rows chunk by chunk at every evaluation instead of mapping them
    /// (`--stream`), holding at most three chunks. Every rank returns the same error
    /// when any rank cannot read its rows.
    pub fn new(
        function: Function,
        wrt: &str,
        files: Vec<(String, PathBuf)>,
        whole: Vec<(String, Mat<f64>)>,
        samples: Option<&str>,
        chunk_rows: Option<usize>,
        peers: Rc<dyn Peers>,
    ) -> Result<DistributedProblem, DistributedError> {
        let loss = LinearLoss::recognise(function, wrt, &files, &whole, samples)?;
        let (rank, size) = (peers.rank(), peers.size());
        let local = read_rows(&loss, rank, size, chunk_rows);
        // What every rank learns of every other: its rows and its columns.
        let ((held, cols), all) = settle(peers.as_ref(), local, |(held, cols): &(Held, usize)| {
            vec![held.len() as f64, *cols as f64]
        })?;
        if let Some(other) = all.iter().position(|s| s[1] as usize != cols) {
            let expected = all[0][1] as usize;
            return Err(ShardError::Columns {
                rank: other,
                file: rank_file(&loss.design, other).0.display().to_string(),
                columns: all[other][1] as usize,
                expected,
            }
            .into());
        }
        let sizes: Vec<usize> = all.iter().map(|s| s[0] as usize).collect();
        let samples_total = sizes.iter().sum();
        let first_row = sizes[..rank].iter().sum();
        let kernel = loss.kernel(&whole, samples_total, cols)?;
        Ok(DistributedProblem {
            variable: wrt.to_owned(),
            dim: cols,
            samples: samples_total,
            first_row,
            sizes,
            kernel,
            held,
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

    /// The rows every rank holds, in rank order.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Whether this rank reads its rows chunk by chunk.
    pub fn streamed(&self) -> bool {
        matches!(self.held, Held::Streamed(_))
    }

    /// Where the loss turned non-finite at the last evaluation, if it did.
    pub fn non_finite(&self) -> Option<&str> {
        self.non_finite.as_deref()
    }

    /// The loss (and gradient) over all ranks' rows of `batch`: this rank's part,
    /// then the sum over ranks in rank order. Rank 0 adds the constant and penalty.
    /// A rank that cannot read its rows still takes part in the sum, so that every
    /// rank returns the error.
    fn evaluate(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        grad: Option<&mut [f64]>,
    ) -> Result<f64, ObjectiveError> {
        // This rank's part: [loss, first non-finite global row + 1 (0: none),
        // 1 when its rows could not be read, gradient…].
        const HEAD: usize = 3;
        let want = grad.is_some();
        let width = if want { HEAD + self.dim } else { HEAD };
        let mut part = std::mem::take(&mut self.part);
        part.clear();
        part.resize(width, 0.0);
        let (head, local_grad) = part.split_at_mut(HEAD);
        let held = self.first_row..self.first_row + self.held.len();
        let samples = match batch {
            Batch::All => self.samples,
            Batch::Rows(drawn) => drawn.len(),
            Batch::Share { of, .. } => of,
        };
        let sums = match batch {
            Batch::All => {
                let g = want.then_some(&mut local_grad[..]);
                self.held.all(&mut self.kernel, self.samples, w, g)
            }
            Batch::Rows(drawn) | Batch::Share { rows: drawn, .. } => {
                self.mine.clear();
                self.mine.extend(
                    drawn
                        .iter()
                        .filter(|&&i| held.contains(&i))
                        .map(|&i| i - held.start),
                );
                let g = want.then_some(&mut local_grad[..]);
                self.held.part(&mut self.kernel, &self.mine, samples, w, g)
            }
        };
        let mut failed = None;
        match sums {
            Ok(sums) => {
                head[0] = sums.loss;
                head[1] = sums
                    .non_finite
                    .map_or(0.0, |i| (self.first_row + i + 1) as f64);
            }
            Err(error) => {
                local_grad.fill(0.0);
                head[2] = (self.peers.rank() + 1) as f64;
                failed = Some(error);
            }
        }
        if self.peers.rank() == 0 {
            head[0] += self.kernel.finish(samples, w, want.then_some(local_grad));
        }
        let total = combine(self.peers.as_ref(), part, |mut left, right| {
            left[0] += right[0];
            if left[1] == 0.0 {
                left[1] = right[1];
            }
            // The first rank that failed, numbered from 1.
            if left[2] == 0.0 {
                left[2] = right[2];
            }
            for (l, r) in left[HEAD..].iter_mut().zip(&right[HEAD..]) {
                *l += r;
            }
            left
        });
        let (loss, flag) = (total[0], total[1]);
        if let Some(g) = grad {
            g.copy_from_slice(&total[HEAD..]);
            if flag != 0.0 || !loss.is_finite() {
                g.fill(f64::NAN);
            }
        }
        let failed_rank = (total[2] != 0.0).then(|| total[2] as usize - 1);
        self.part = total;
        if let Some(rank) = failed_rank {
            let own = failed.filter(|_| rank == self.peers.rank());
            return Err(ObjectiveError::new(failure(rank, own)));
        }
        if flag == 0.0 && loss.is_finite() {
            return Ok(loss);
        }
        let row = (flag > 0.0).then(|| flag as usize - 1);
        self.non_finite = Some(non_finite_message(row, &self.kernel.form().texts.sample));
        Ok(f64::NAN)
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
    /// Seed of the ranks' sampling orders (each rank draws its own from it, by
    /// [`seed_of_rank`]).
    pub seed: u64,
    /// How each rank orders its rows: shuffled each epoch (within chunks when
    /// streamed), or drawn with replacement.
    pub sampling: Sampling,
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
        let started = std::time::Instant::now();
        let rank = self.peers.rank();
        // Every rank steps as often as the largest shard has rows, idling past its own,
        // so that all ranks average at the same steps.
        let steps_per_epoch = self.sizes.iter().copied().max().unwrap_or(0);
        let mut order = Sampler::new(
            run.sampling,
            self.held.len(),
            1,
            seed_of_rank(run.seed, rank),
        );
        let mut w = start.to_vec();
        let mut grad = vec![0.0; self.dim];
        let mut steps = 0;
        let total = run.epochs * steps_per_epoch;
        // A rank that cannot read a row goes on to the next averaging, where every
        // rank learns of it.
        let mut failed = None;
        for _ in 0..run.epochs {
            order.start_epoch();
            for _ in 0..steps_per_epoch {
                if let (Batch::Rows(&[i]), None) = (order.next_batch(), &failed) {
                    let g = Some(&mut grad[..]);
                    match self.held.part(&mut self.kernel, &[i], 1, &w, g) {
                        Ok(_) => {
                            self.kernel.finish(1, &w, Some(&mut grad));
                            crate::rows::axpy(&mut w, -run.lr, &grad);
                        }
                        Err(error) => failed = Some(error),
                    }
                }
                steps += 1;
                if steps % run.sync_every.max(1) == 0 || steps == total {
                    let (average, failed_rank) = self.average(w, failed.is_some());
                    w = average;
                    if let Some(rank) = failed_rank {
                        let own = failed.filter(|_| rank == self.peers.rank());
                        let source = ObjectiveError::new(failure(rank, own));
                        return Err(crate::optim::OptimError::Objective {
                            iteration: steps,
                            source,
                        });
                    }
                }
            }
        }
        let loss = self.evaluate(&w, Batch::All, Some(&mut grad));
        let loss = loss.map_err(|source| crate::optim::OptimError::Objective {
            iteration: steps,
            source,
        })?;
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

    /// The average of every rank's `w`, on every rank, and the first rank that had
    /// `failed`, if any did.
    fn average(&self, mut w: Vec<f64>, failed: bool) -> (Vec<f64>, Option<usize>) {
        let k = self.peers.size() as f64;
        let dim = w.len();
        // The last entry: the first rank that failed, numbered from 1 (0: none).
        w.push(if failed {
            (self.peers.rank() + 1) as f64
        } else {
            0.0
        });
        let sum = combine(self.peers.as_ref(), w, |mut left, right| {
            for (l, r) in left[..dim].iter_mut().zip(&right) {
                *l += r;
            }
            if left[dim] == 0.0 {
                left[dim] = right[dim];
            }
            left
        });
        let failed = (sum[dim] != 0.0).then(|| sum[dim] as usize - 1);
        (sum[..dim].iter().map(|v| v / k).collect(), failed)
    }
}

/// Why an evaluation failed on rank `rank`, the first that did: this rank's own error
/// (`own`) when it is that rank, else that rank's number.
fn failure(rank: usize, own: Option<ProblemError>) -> DistributedError {
    match own {
        Some(ProblemError::Data(source)) => ShardError::Read { rank, source }.into(),
        Some(other) => other.into(),
        None => ShardError::Elsewhere { rank }.into(),
    }
}

/// This rank's rows of the design and the data columns, mapped or (with
/// `chunk_rows`) to be read chunk by chunk, and the number of features.
fn read_rows(
    loss: &LinearLoss,
    rank: usize,
    size: usize,
    chunk_rows: Option<usize>,
) -> Result<(Held, usize), DistributedError> {
    let failed = |source: DataError| DistributedError::from(ShardError::Read { rank, source });
    // The file this rank reads of `path`, and its rows there.
    let open = |path: &Path| rank_rows(path, rank, size).map_err(DistributedError::from);
    let (design, header, range, own) = open(&loss.design)?;
    let mut columns = Vec::new();
    for (name, path) in &loss.columns {
        let (file, column, rows, column_own) = open(path)?;
        let shown = file.display().to_string();
        // A file of its own is this rank's alone to tell about; a shared one, every
        // rank's.
        if column.cols != 1 {
            return Err(if column_own {
                ShardError::TargetColumns {
                    rank,
                    file: shown,
                    columns: column.cols,
                }
                .into()
            } else {
                ProblemError::NotAColumn {
                    file: shown,
                    cols: column.cols,
                    name: name.clone(),
                }
                .into()
            });
        }
        if rows.len() != range.len() {
            return Err(if own || column_own {
                ShardError::Rows {
                    rank,
                    x_file: design.display().to_string(),
                    x_rows: range.len(),
                    y_file: shown,
                    y_rows: rows.len(),
                }
                .into()
            } else {
                ProblemError::RowCountMismatch {
                    file: shown,
                    rows: column.rows,
                    first: design.display().to_string(),
                    expected: header.rows,
                }
                .into()
            });
        }
        columns.push((file, rows));
    }
    let held = match chunk_rows {
        Some(chunk_rows) => {
            let window = |file: &Path, rows: Range<usize>| {
                RowReader::open(file, chunk_rows)
                    .and_then(|reader| reader.window(rows))
                    .map_err(failed)
            };
            let readers = columns
                .into_iter()
                .map(|(file, rows)| window(&file, rows))
                .collect::<Result<Vec<_>, _>>()?;
            let chunks = Chunks::new(window(&design, range)?, readers, chunk_rows);
            Held::Streamed(Box::new(chunks))
        }
        None => {
            let x = load_npy_rows(&design, range).map_err(failed)?;
            let mut values = Vec::new();
            for (file, rows) in columns {
                let column = load_npy_rows(&file, rows).map_err(failed)?;
                values.push(Mat::from_fn(column.nrows(), 1, |i, _| {
                    column.view()[(i, 0)]
                }));
            }
            let refs: Vec<&Mat<f64>> = values.iter().collect();
            Held::Memory(Rows::of(&x, &refs))
        }
    };
    Ok((held, header.cols))
}

impl Objective for DistributedProblem {
    fn dim(&self) -> usize {
        self.dim
    }

    fn samples(&self) -> usize {
        self.samples
    }

    fn loss(&mut self, w: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
        self.evaluate(w, batch, None)
    }

    /// A batch of two or more samples is drawn as shares, each rank from its own
    /// rows; SGD's single sample is drawn from all rows, as in one process.
    fn spread(&self, batch: usize) -> Option<Spread> {
        (batch > 1).then(|| Spread {
            rank: self.peers.rank(),
            sizes: self.sizes.clone(),
        })
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
        self.evaluate(w, batch, Some(grad))
    }
}
