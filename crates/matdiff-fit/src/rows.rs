//! The row kernel: a [`LinearForm`] evaluated sample by sample on row-major data.
//!
//! For a batch `B`, `Q_B(w) = Σ_{i∈B} ℓ(z_i, y_i) + Σ_j ρ(w_j) + κ` with `z_i = x_iᵀw`
//! and `∇Q_B = Σ_{i∈B} ℓ'(z_i, y_i) x_i + ρ'(w)`: per row one dot product and one
//! `axpy` on a contiguous row of `X`, nothing allocated. The full loss runs the same
//! loop over fixed blocks of rows in parallel and adds the blocks' sums in block
//! order, so the result does not depend on the number of threads.

use std::fmt;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use matdiff_core::Sym;
use rayon::prelude::*;

use crate::linear_form::{LinearForm, Param, Tape};
use matdiff_num::{kernels, Stored};

/// Rows per block of a parallel full evaluation.
const BLOCK_ROWS: usize = 8192;

/// Batches of at least this many rows are gathered into a contiguous block and run
/// as matrix–vector products; smaller ones (SGD's single rows) row by row.
const GATHER_ROWS: usize = 16;

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
    /// Buffers of gathered batches.
    scratch: Scratch,
}

/// The buffers of a gathered batch, grown to the largest batch and reused.
#[derive(Clone, Debug, Default)]
struct Scratch {
    rows: Vec<f64>,
    /// The index of each gathered row in its buffer.
    index: Vec<usize>,
    columns: Vec<Vec<f64>>,
    z: Vec<f64>,
    slopes: Vec<f64>,
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
        })
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
        rows: impl Iterator<Item = (&'a Rows, usize)>,
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
        rows: impl Iterator<Item = (&'a Rows, usize)>,
        count: usize,
        batch: usize,
        w: &[f64],
        grad: Option<&mut [f64]>,
    ) -> Sums {
        self.bind(batch);
        if count >= GATHER_ROWS {
            self.gathered(rows, count, w, grad)
        } else {
            accumulate(&mut self.form.sample, &mut self.inputs, rows, w, grad)
        }
    }

    /// A larger batch: its rows are copied into one contiguous block `X_B` (the copies
    /// are independent, so the memory system fetches many rows at once), then
    /// `z = X_B w` and `g = X_Bᵀ ℓ'(z)` are two matrix–vector products by faer, which
    /// picks the widest vector instructions of the processor it runs on.
    fn gathered<'a>(
        &mut self,
        rows: impl Iterator<Item = (&'a Rows, usize)>,
        len: usize,
        w: &[f64],
        grad: Option<&mut [f64]>,
    ) -> Sums {
        let width = w.len();
        let scratch = &mut self.scratch;
        scratch.rows.resize(len * width, 0.0);
        scratch.z.resize(len, 0.0);
        scratch.slopes.resize(len, 0.0);
        scratch.columns.resize_with(self.inputs.len() - 1, Vec::new);
        for column in &mut scratch.columns {
            column.resize(len, 0.0);
        }
        scratch.index.resize(len, 0);
        for (k, (data, i)) in rows.enumerate().take(len) {
            scratch.index[k] = i;
            scratch.rows[k * width..(k + 1) * width]
                .copy_from_slice(&data.design()[i * width..(i + 1) * width]);
            for (column, source) in scratch.columns.iter_mut().zip(&data.columns) {
                column[k] = source[i];
            }
        }
        let block = MatRef::from_row_major_slice(&scratch.rows[..], len, width);
        let w_col = MatRef::from_column_major_slice(w, width, 1);
        matmul(
            MatMut::from_column_major_slice_mut(&mut scratch.z[..], len, 1),
            Accum::Replace,
            block,
            w_col,
            1.0,
            Par::Seq,
        );
        let tape = &mut self.form.sample;
        let mut loss = 0.0;
        let mut non_finite = None;
        for k in 0..len {
            self.inputs[0] = scratch.z[k];
            for (input, column) in self.inputs[1..].iter_mut().zip(&scratch.columns) {
                *input = column[k];
            }
            tape.run(&self.inputs);
            let (value, slope) = (tape.output(0), tape.output(1));
            if !(value.is_finite() && slope.is_finite()) && non_finite.is_none() {
                non_finite = Some(k);
            }
            loss += value;
            scratch.slopes[k] = slope;
        }
        if let Some(g) = grad {
            matmul(
                MatMut::from_column_major_slice_mut(g, width, 1),
                Accum::Replace,
                block.transpose(),
                MatRef::from_column_major_slice(&scratch.slopes[..], len, 1),
                1.0,
                Par::Seq,
            );
        }
        Sums {
            loss,
            non_finite: non_finite.map(|k| scratch.index[k]),
        }
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
        self.blocks[..blocks]
            .par_iter_mut()
            .enumerate()
            .for_each(|(k, b)| {
                let rows = (k * BLOCK_ROWS..((k + 1) * BLOCK_ROWS).min(n)).map(|i| (data, i));
                let g = want_grad.then_some(&mut b.grad[..]);
                b.sums = accumulate(&mut b.tape, &mut b.inputs, rows, w, g);
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
            self.inputs[0] = dot(x, w);
            for (input, column) in self.inputs[1..].iter_mut().zip(&data.columns) {
                *input = column[i];
            }
            self.form.sample.run(&self.inputs);
            if let Some(error) = self.form.sample.domain_error() {
                return Some(error);
            }
        }
        let penalty = self.form.penalty.as_mut()?;
        w.iter().find_map(|&wj| {
            penalty.run1(wj);
            penalty.domain_error()
        })
    }

    /// `κ + Σ_j ρ(w_j)`, adding `ρ'(w)` into `grad`.
    fn constant_and_penalty(&mut self, w: &[f64], grad: Option<&mut [f64]>) -> f64 {
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

/// `Σ ℓ(x_iᵀw, y_i)` over `rows` of `data`, writing `Σ ℓ'(x_iᵀw, y_i) x_i` into
/// `grad` (zero when there are no rows).
fn accumulate<'a>(
    tape: &mut Tape,
    inputs: &mut [f64],
    rows: impl Iterator<Item = (&'a Rows, usize)>,
    w: &[f64],
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
        inputs[0] = dot(x, w);
        for (input, column) in inputs[1..].iter_mut().zip(&data.columns) {
            *input = column[i];
        }
        tape.run(inputs);
        let (value, slope) = (tape.output(0), tape.output(1));
        if !(value.is_finite() && slope.is_finite()) && non_finite.is_none() {
            non_finite = Some(i);
        }
        loss += value;
        if let Some(g) = grad.as_deref_mut() {
            if first {
                for (gj, xj) in g.iter_mut().zip(x) {
                    *gj = slope * xj;
                }
            } else {
                axpy(g, slope, x);
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

/// `y ← y + a x`.
#[inline]
pub(crate) fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}
