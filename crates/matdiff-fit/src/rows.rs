//! The row kernel: a [`LinearForm`] evaluated sample by sample on row-major data.
//!
//! For a batch `B`, `Q_B(w) = Σ_{i∈B} ℓ(z_i, y_i) + Σ_j ρ(w_j) + κ` with `z_i = x_iᵀw`
//! and `∇Q_B = Σ_{i∈B} ℓ'(z_i, y_i) x_i + ρ'(w)`: per row one dot product and one
//! `axpy` on a contiguous row of `X`, nothing allocated. The full loss runs the same
//! loop over fixed blocks of rows in parallel and adds the blocks' sums in block
//! order, so the result does not depend on the number of threads.
//!
//! With a fitted intercept the predictor is `z_i = x_iᵀw + b`, as if `X` had a last
//! column of ones that is never stored: `b` is the entry after the coefficients,
//! its gradient `Σ ℓ'(z_i, y_i)`, and the penalty leaves it out.

use std::fmt;

use faer::Mat;
use matdiff_core::Sym;
use rayon::prelude::*;

use crate::linear_form::{LinearForm, Param, Tape};
use crate::optim::descend;
use matdiff_num::{kernels, Stored};

/// Rows per block of a parallel full evaluation.
const BLOCK_ROWS: usize = 8192;

/// How many rows ahead a thread of parallel SGD asks the memory system for.
const PREFETCH_AHEAD: usize = 8;

/// How many steps a thread of parallel SGD takes on its own view of `w` before it adds
/// them to the shared `w` and reads that back: writing every step would pass the
/// cache lines of `w` between the cores at every step.
const SHARE_EVERY: usize = 16;

/// Samples stored row by row: the design matrix `X` row-major and the row-aligned data
/// vectors (`y`) as slices, for the rows `0..len`.
#[derive(Clone, Default)]
pub(crate) struct Rows {
    /// The number of columns of `X`.
    pub(crate) width: usize,
    /// `X`, row-major: row `i` is `design()[i*width..(i+1)*width]`.
    design: Design,
    /// The data vectors `ℓ` reads besides `z`, in the order of [`LinearForm::columns`].
    pub(crate) columns: Vec<Vec<f64>>,
}

/// Where the rows of `X` live: a buffer of their own (a streamed chunk), or the data
/// matrix as stored, shared with the plan's inputs (owned, or mapped from a file).
#[derive(Clone)]
enum Design {
    Buffer(Vec<f64>),
    Stored(Stored),
}

impl Default for Design {
    fn default() -> Design {
        Design::Buffer(Vec::new())
    }
}

impl fmt::Debug for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rows({} × {})", self.len(), self.width)
    }
}

impl Rows {
    /// The number of rows held.
    pub(crate) fn len(&self) -> usize {
        self.design().len() / self.width.max(1)
    }

    /// `X`, row-major.
    pub(crate) fn design(&self) -> &[f64] {
        match &self.design {
            Design::Buffer(values) => values,
            Design::Stored(stored) => stored.rows_slice().unwrap_or(&[]),
        }
    }

    /// A buffer for the rows of `X`, row-major, to be filled (by a streamed chunk).
    pub(crate) fn design_buffer(&mut self) -> &mut Vec<f64> {
        if let Design::Stored(_) = self.design {
            self.design = Design::Buffer(Vec::new());
        }
        match &mut self.design {
            Design::Buffer(values) => values,
            Design::Stored(_) => unreachable!("replaced by a buffer above"),
        }
    }

    /// Asks the memory system for the cache lines of the rows `rows` (those in range)
    /// and their entries of the data vectors, so that they arrive while the rows
    /// before them are worked on, rather than one by one when each is used.
    pub(crate) fn prefetch(&self, rows: &[usize]) {
        /// `f64`s per 64-byte cache line.
        const LINE: usize = 8;
        let design = self.design();
        for &i in rows {
            if let Some(row) = design.get(i * self.width..(i + 1) * self.width) {
                for line in row.chunks(LINE) {
                    kernels::prefetch(line);
                }
            }
            for column in &self.columns {
                if let Some(v) = column.get(i..=i) {
                    kernels::prefetch(v);
                }
            }
        }
    }

    /// `X` stored by rows (shared, not copied) and the data vectors, copied.
    pub(crate) fn of(design: &Stored, columns: &[&Mat<f64>]) -> Rows {
        let design = match design.rows_slice() {
            Some(_) => design.clone(),
            None => Stored::rows_of(design.view()),
        };
        Rows {
            width: design.ncols(),
            design: Design::Stored(design),
            columns: columns.iter().map(|c| c.col_as_slice(0).to_vec()).collect(),
        }
    }
}

/// The sums of one pass over rows.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sums {
    /// `Σ ℓ(z_i, y_i)`.
    pub(crate) loss: f64,
    /// The first row whose `ℓ` or `ℓ'` is not finite, if any.
    pub(crate) non_finite: Option<usize>,
}

/// What to say when a loss is not finite: at sample `row` (whose per-sample loss is
/// written `sample`), or somewhere not known.
pub(crate) fn non_finite_message(row: Option<usize>, sample: &str) -> String {
    match row {
        Some(i) => format!(
            "the loss of sample {i}, `{sample}`, is not finite (overflow or an undefined operation)"
        ),
        None => "the loss is not finite (overflow or an undefined operation)".to_owned(),
    }
}

/// A [`LinearForm`] with its parameters bound, ready to run on [`Rows`].
#[derive(Clone, Debug)]
pub(crate) struct RowKernel {
    form: LinearForm,
    sample_dim: Sym,
    /// The values of the tapes' parameters on the whole data set, with the sample
    /// dimension's entry replaced by the batch size when bound for a batch.
    sample_params: Vec<f64>,
    penalty_params: Vec<f64>,
    /// The sample size the tapes are bound for.
    bound: Option<usize>,
    /// Per-row inputs of the sample tape: `[z, y_i, …]`.
    inputs: Vec<f64>,
    /// Per-block state of the parallel full evaluation.
    blocks: Vec<Block>,
    /// Buffers of batches.
    scratch: Scratch,
    /// Whether `w` ends with a fitted intercept `b`, added to every `x_iᵀw`.
    intercept: bool,
}

/// The buffers of a batch, grown to the largest batch and reused.
#[derive(Clone, Debug, Default)]
struct Scratch {
    /// The rows' slopes `ℓ'(z_i, y_i)`.
    slopes: Vec<f64>,
    /// The batch gradient of a step taken in place.
    grad: Vec<f64>,
}

#[derive(Clone, Debug)]
struct Block {
    tape: Tape,
    inputs: Vec<f64>,
    grad: Vec<f64>,
    sums: Sums,
}

impl RowKernel {
    /// Binds `form`'s parameters: `size` gives a dimension's size, `scalar` a scalar
    /// datum's value; `sample_dim` is the dimension that a batch rebinds.
    pub(crate) fn new(
        form: LinearForm,
        sample_dim: Sym,
        size: impl Fn(Sym) -> Option<usize>,
        scalar: impl Fn(Sym) -> Option<f64>,
    ) -> Option<RowKernel> {
        let value = |p: Param| match p {
            Param::Dim(s) => size(s).map(|n| n as f64),
            Param::Scalar(s) => scalar(s),
        };
        let sample_params = form
            .sample
            .params()
            .map(value)
            .collect::<Option<Vec<_>>>()?;
        let penalty_params = match &form.penalty {
            Some(t) => t.params().map(value).collect::<Option<Vec<_>>>()?,
            None => Vec::new(),
        };
        let inputs = vec![0.0; form.sample.inputs()];
        Some(RowKernel {
            form,
            sample_dim,
            sample_params,
            penalty_params,
            bound: None,
            inputs,
            blocks: Vec::new(),
            scratch: Scratch::default(),
            intercept: false,
        })
    }

    /// Fits an intercept `b` with the coefficients: `w` then has one more entry, `b`,
    /// and the predictor is `z_i = x_iᵀw + b`.
    pub(crate) fn fit_intercept(&mut self) {
        self.intercept = true;
    }

    /// The recognised form.
    pub(crate) fn form(&self) -> &LinearForm {
        &self.form
    }

    /// Binds the tapes for a sample of `n` rows (the sample dimension's size).
    fn bind(&mut self, n: usize) {
        if self.bound == Some(n) {
            return;
        }
        let (sample_dim, n_f) = (self.sample_dim, n as f64);
        let fill = |tape: &Tape, values: &mut [f64]| {
            for (v, p) in values.iter_mut().zip(tape.params()) {
                if p == Param::Dim(sample_dim) {
                    *v = n_f;
                }
            }
        };
        fill(&self.form.sample, &mut self.sample_params);
        self.form.sample.bind(&self.sample_params);
        if let Some(penalty) = &mut self.form.penalty {
            fill(penalty, &mut self.penalty_params);
            penalty.bind(&self.penalty_params);
        }
        for block in &mut self.blocks {
            block.tape.bind(&self.sample_params);
        }
        self.bound = Some(n);
    }

    /// The loss on the rows `batch` of `data` (a sample of size `batch.len()`),
    /// writing the gradient into `grad` when given.
    pub(crate) fn batch(
        &mut self,
        data: &Rows,
        batch: &[usize],
        w: &[f64],
        grad: Option<&mut [f64]>,
    ) -> Sums {
        self.batch_of(batch.iter().map(|&i| (data, i)), batch.len(), w, grad)
    }

    /// The loss on a batch of `len` rows, each given as its buffer and its index
    /// there, writing the gradient into `grad` when given.
    pub(crate) fn batch_of<'a>(
        &mut self,
        rows: impl Iterator<Item = (&'a Rows, usize)> + Clone,
        len: usize,
        w: &[f64],
        grad: Option<&mut [f64]>,
    ) -> Sums {
        let mut grad = grad;
        let mut sums = self.batch_part(rows, len, len, w, grad.as_deref_mut());
        sums.loss += self.constant_and_penalty(w, grad);
        sums
    }

    /// The part of a batch of `batch` samples that `count` of its rows contribute
    /// (the rows one process holds), without the constant and the penalty: the sum
    /// of `ℓ` written as the loss, of `ℓ' x_i` into `grad`.
    pub(crate) fn batch_part<'a>(
        &mut self,
        rows: impl Iterator<Item = (&'a Rows, usize)> + Clone,
        count: usize,
        batch: usize,
        w: &[f64],
        grad: Option<&mut [f64]>,
    ) -> Sums {
        self.bind(batch);
        if count == 0 {
            if let Some(grad) = grad {
                grad.fill(0.0);
            }
            return Sums::default();
        }
        self.in_place(rows, w, grad)
    }

    /// `Σ ℓ` over all rows of `data`, part of a sample of `samples` rows, adding
    /// `Σ ℓ' x_i` into `grad`; in parallel blocks. [`RowKernel::finish`] adds the rest.
    pub(crate) fn add_rows(
        &mut self,
        data: &Rows,
        samples: usize,
        w: &[f64],
        grad: Option<&mut [f64]>,
    ) -> Sums {
        let n = data.len();
        let blocks = n.div_ceil(BLOCK_ROWS);
        // Blocks are allocated for the largest buffer seen and reused.
        if self.blocks.len() < blocks {
            self.bound = None;
            let block = Block {
                tape: self.form.sample.clone(),
                inputs: vec![0.0; self.inputs.len()],
                grad: vec![0.0; w.len()],
                sums: Sums::default(),
            };
            self.blocks.resize(blocks, block);
        }
        self.bind(samples);
        let want_grad = grad.is_some();
        let intercept = self.intercept;
        self.blocks[..blocks]
            .par_iter_mut()
            .enumerate()
            .for_each(|(k, b)| {
                let rows = (k * BLOCK_ROWS..((k + 1) * BLOCK_ROWS).min(n)).map(|i| (data, i));
                let g = want_grad.then_some(&mut b.grad[..]);
                b.sums = accumulate(&mut b.tape, &mut b.inputs, rows, w, intercept, g);
            });
        let mut total = Sums::default();
        let mut grad = grad;
        for b in &self.blocks[..blocks] {
            total.loss += b.sums.loss;
            total.non_finite = total.non_finite.or(b.sums.non_finite);
            if let Some(g) = grad.as_deref_mut() {
                axpy(g, 1.0, &b.grad);
            }
        }
        total
    }

    /// The plain step `w ← w − η ∇Q_B(w)` on the rows `batch` of `data`, taken in
    /// place: the rows' `z_i = x_iᵀw` and slopes `ℓ'(z_i, y_i)` first, then their
    /// `axpy`s into the gradient (one row: straight into `w`). The iterates are those
    /// of [`RowKernel::batch`] followed by the step. Returns the batch loss and
    /// `‖∇Q_B‖²`; `None`, with `w` untouched, when the loss has a penalty or a row's
    /// loss or slope is not finite (the caller then takes the step the general way,
    /// which reports why).
    pub(crate) fn descend(
        &mut self,
        data: &Rows,
        batch: &[usize],
        w: &mut [f64],
        lr: f64,
    ) -> Option<(f64, f64)> {
        if self.form.penalty.is_some() || batch.is_empty() {
            return None;
        }
        self.bind(batch.len());
        if let [i] = *batch {
            let width = data.width;
            let x = data.design().get(i * width..(i + 1) * width)?;
            let (value, slope) = self.sample(data, i, predict(x, w, self.intercept));
            if !(value.is_finite() && slope.is_finite()) {
                return None;
            }
            let norm2 = step_along(w, lr, slope, x, self.intercept);
            return Some((value + self.form.sample.output(2), norm2));
        }
        let mut grad = std::mem::take(&mut self.scratch.grad);
        grad.resize(w.len(), 0.0);
        let rows = batch.iter().map(|&i| (data, i));
        let sums = self.in_place(rows, w, Some(&mut grad));
        let step = (sums.non_finite.is_none() && sums.loss.is_finite()).then(|| {
            (
                sums.loss + self.form.sample.output(2),
                descend(w, lr, &grad),
            )
        });
        self.scratch.grad = grad;
        step
    }

    /// SGD steps on the rows `rows` of `data`, one per row, on `threads` threads at
    /// once (Hogwild!): thread `t` takes the `t`-th contiguous part of `rows` and steps
    /// its own view of `w`; every [`SHARE_EVERY`] steps it adds its steps to the shared
    /// `w` entry by entry, without locks (so that one thread's addition may overwrite
    /// another's), and reads the shared `w` back. Returns the sum of the rows' losses (NaN once one is not finite);
    /// `None`, with `w` untouched, when the loss has a penalty.
    pub(crate) fn descend_concurrently(
        &mut self,
        data: &Rows,
        rows: &[usize],
        w: &mut [f64],
        lr: f64,
        threads: usize,
    ) -> Option<f64> {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
        if self.form.penalty.is_some() {
            return None;
        }
        self.bind(1);
        let shared: Vec<AtomicU64> = w.iter().map(|v| AtomicU64::new(v.to_bits())).collect();
        let failed = AtomicBool::new(false);
        let part = rows.len().div_ceil(threads.max(1)).max(1);
        let width = data.width;
        let design = data.design();
        let constant = self.form.sample.output(2);
        let intercept = self.intercept;
        let losses: Vec<f64> = std::thread::scope(|scope| {
            let workers: Vec<_> = rows
                .chunks(part)
                .map(|mine| {
                    let (shared, failed) = (&shared, &failed);
                    let mut tape = self.form.sample.clone();
                    let mut inputs = self.inputs.clone();
                    scope.spawn(move || {
                        // The thread's view of `w`, and that view when last read.
                        let mut local: Vec<f64> = shared
                            .iter()
                            .map(|s| f64::from_bits(s.load(Relaxed)))
                            .collect();
                        let mut read = local.clone();
                        let mut loss = 0.0;
                        for (k, &i) in mine.iter().enumerate() {
                            if let Some(&ahead) = mine.get(k + PREFETCH_AHEAD) {
                                data.prefetch(&[ahead]);
                            }
                            let x = &design[i * width..(i + 1) * width];
                            let z = predict(x, &local, intercept);
                            let (value, slope) = run_sample(&mut tape, &mut inputs, data, i, z);
                            if !(value.is_finite() && slope.is_finite()) || failed.load(Relaxed) {
                                failed.store(true, Relaxed);
                                return f64::NAN;
                            }
                            loss += value + constant;
                            add_row(&mut local, -lr * slope, x, intercept);
                            if (k + 1) % SHARE_EVERY == 0 || k + 1 == mine.len() {
                                publish(shared, &mut local, &mut read);
                            }
                        }
                        loss
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|h| h.join().unwrap_or(f64::NAN))
                .collect()
        });
        for (wj, s) in w.iter_mut().zip(&shared) {
            *wj = f64::from_bits(s.load(Relaxed));
        }
        Some(losses.iter().sum())
    }

    /// `ℓ(z, y_i)` and `ℓ'(z, y_i)` for row `i` of `data`.
    fn sample(&mut self, data: &Rows, i: usize, z: f64) -> (f64, f64) {
        run_sample(&mut self.form.sample, &mut self.inputs, data, i, z)
    }

    /// `Σ ℓ` over `rows` (each given as its buffer and its index there), writing
    /// `Σ ℓ' x_i` into `grad` when given: the rows' dot products first (their reads
    /// independent, so the memory system fetches many rows at once), then their
    /// `axpy`s in batch order while the rows are still in cache.
    fn in_place<'a>(
        &mut self,
        rows: impl Iterator<Item = (&'a Rows, usize)> + Clone,
        w: &[f64],
        grad: Option<&mut [f64]>,
    ) -> Sums {
        let mut slopes = std::mem::take(&mut self.scratch.slopes);
        slopes.clear();
        let mut loss = 0.0;
        let mut non_finite = None;
        for (data, i) in rows.clone() {
            let width = data.width;
            let x = &data.design()[i * width..(i + 1) * width];
            let (value, slope) = self.sample(data, i, predict(x, w, self.intercept));
            if !(value.is_finite() && slope.is_finite()) && non_finite.is_none() {
                non_finite = Some(i);
            }
            loss += value;
            slopes.push(slope);
        }
        if let Some(grad) = grad {
            grad.fill(0.0);
            for ((data, i), &slope) in rows.zip(&slopes) {
                let width = data.width;
                add_row(
                    grad,
                    slope,
                    &data.design()[i * width..(i + 1) * width],
                    self.intercept,
                );
            }
        }
        self.scratch.slopes = slopes;
        Sums { loss, non_finite }
    }

    /// `κ + Σ_j ρ(w_j)` for a sample of `samples` rows, adding `ρ'(w)` into `grad`:
    /// what [`RowKernel::add_rows`] leaves out.
    pub(crate) fn finish(&mut self, samples: usize, w: &[f64], grad: Option<&mut [f64]>) -> f64 {
        self.bind(samples);
        self.constant_and_penalty(w, grad)
    }

    /// Why the loss of row `i` of `data` is not finite, when an elementwise function
    /// met an argument outside its domain there (or in the penalty).
    pub(crate) fn domain_error(
        &mut self,
        data: &Rows,
        i: usize,
        w: &[f64],
    ) -> Option<&'static str> {
        let width = data.width;
        if let Some(x) = data.design().get(i * width..(i + 1) * width) {
            self.sample(data, i, predict(x, w, self.intercept));
            if let Some(error) = self.form.sample.domain_error() {
                return Some(error);
            }
        }
        let coefficients = &w[..w.len() - usize::from(self.intercept)];
        let penalty = self.form.penalty.as_mut()?;
        coefficients.iter().find_map(|&wj| {
            penalty.run1(wj);
            penalty.domain_error()
        })
    }

    /// `κ + Σ_j ρ(w_j)`, adding `ρ'(w)` into `grad` (the intercept is not penalised).
    fn constant_and_penalty(&mut self, w: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let w = &w[..w.len() - usize::from(self.intercept)];
        let mut loss = self.form.sample.output(2);
        if let Some(penalty) = &mut self.form.penalty {
            match grad {
                Some(g) => {
                    for (gj, &wj) in g.iter_mut().zip(w) {
                        let (rho, slope) = penalty.run1(wj);
                        loss += rho;
                        *gj += slope;
                    }
                }
                None => {
                    for &wj in w {
                        loss += penalty.run1(wj).0;
                    }
                }
            }
        }
        loss
    }
}

/// `Σ ℓ(z_i, y_i)` over `rows` of `data`, writing `Σ ℓ'(z_i, y_i) x_i` into `grad`
/// (zero when there are no rows); `z_i = x_iᵀw`, plus the last entry of `w` with an
/// `intercept`.
fn accumulate<'a>(
    tape: &mut Tape,
    inputs: &mut [f64],
    rows: impl Iterator<Item = (&'a Rows, usize)>,
    w: &[f64],
    intercept: bool,
    mut grad: Option<&mut [f64]>,
) -> Sums {
    let mut loss = 0.0;
    let mut non_finite = None;
    // The first row writes the gradient, the others add to it: for SGD's one-row
    // batches that saves clearing it.
    let mut first = true;
    for (data, i) in rows {
        let width = data.width;
        let x = &data.design()[i * width..(i + 1) * width];
        let (value, slope) = run_sample(tape, inputs, data, i, predict(x, w, intercept));
        if !(value.is_finite() && slope.is_finite()) && non_finite.is_none() {
            non_finite = Some(i);
        }
        loss += value;
        if let Some(g) = grad.as_deref_mut() {
            if first {
                for (gj, xj) in g.iter_mut().zip(x) {
                    *gj = slope * xj;
                }
                if intercept {
                    g[x.len()] = slope;
                }
            } else {
                add_row(g, slope, x, intercept);
            }
        }
        first = false;
    }
    if first {
        if let Some(g) = grad {
            g.fill(0.0);
        }
    }
    Sums { loss, non_finite }
}

/// `x · y` with eight independent accumulators, so that the loop vectorises and the
/// additions do not wait for each other.
#[inline]
pub(crate) fn dot(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let mut acc = [0.0; 8];
    let mut xc = x.chunks_exact(8);
    let mut yc = y.chunks_exact(8);
    for (a, b) in (&mut xc).zip(&mut yc) {
        for k in 0..8 {
            acc[k] += a[k] * b[k];
        }
    }
    let tail: f64 = xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .map(|(a, b)| a * b)
        .sum();
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7])) + tail
}

/// `ℓ(z, y_i)` and `ℓ'(z, y_i)`: `tape` run on the per-row inputs `[z, y_i, …]` of row
/// `i` of `data`, written into `inputs`.
#[inline]
fn run_sample(tape: &mut Tape, inputs: &mut [f64], data: &Rows, i: usize, z: f64) -> (f64, f64) {
    inputs[0] = z;
    for (input, column) in inputs[1..].iter_mut().zip(&data.columns) {
        *input = column[i];
    }
    tape.run(inputs);
    (tape.output(0), tape.output(1))
}

/// The predictor `x_iᵀw` of the row `x`, plus `b`, the entry of `w` after the
/// coefficients, with an `intercept`.
#[inline]
fn predict(x: &[f64], w: &[f64], intercept: bool) -> f64 {
    let z = dot(x, w);
    if intercept {
        z + w[x.len()]
    } else {
        z
    }
}

/// `g ← g + a x̃` for the row `x̃ = [x, 1]` with an `intercept`, else `x`.
#[inline]
fn add_row(g: &mut [f64], a: f64, x: &[f64], intercept: bool) {
    axpy(g, a, x);
    if intercept {
        g[x.len()] += a;
    }
}

/// Adds a thread's steps since it last read the shared `w` (`local − read`) to the
/// shared `w`, entry by entry without locks, and reads it back into `local` and `read`.
fn publish(shared: &[std::sync::atomic::AtomicU64], local: &mut [f64], read: &mut [f64]) {
    use std::sync::atomic::Ordering::Relaxed;
    for ((s, l), r) in shared.iter().zip(local.iter_mut()).zip(read.iter_mut()) {
        let now = f64::from_bits(s.load(Relaxed)) + (*l - *r);
        s.store(now.to_bits(), Relaxed);
        *l = now;
        *r = now;
    }
}

/// `w ← w − η s x`, returning `‖s x‖²`: a step along one row's gradient `s x`, with
/// the arithmetic (and so the bits) of the optimiser's `w ← w − η d` for `d = s x`.
/// With an `intercept` the row is `[x, 1]`: the last entry of `w` steps by `η s`.
fn step_along(w: &mut [f64], lr: f64, s: f64, x: &[f64], intercept: bool) -> f64 {
    let (w, bias) = w.split_at_mut(x.len().min(w.len()));
    let mut acc = [0.0; 4];
    let mut wc = w.chunks_exact_mut(4);
    let mut xc = x.chunks_exact(4);
    for (wk, xk) in (&mut wc).zip(&mut xc) {
        for k in 0..4 {
            let d = s * xk[k];
            wk[k] -= lr * d;
            acc[k] += d * d;
        }
    }
    let mut tail = 0.0;
    for (wi, xi) in wc.into_remainder().iter_mut().zip(xc.remainder()) {
        let d = s * xi;
        *wi -= lr * d;
        tail += d * d;
    }
    if let (true, [b, ..]) = (intercept, bias) {
        *b -= lr * s;
        tail += s * s;
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

/// `y ← y + a x`.
#[inline]
pub(crate) fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}
