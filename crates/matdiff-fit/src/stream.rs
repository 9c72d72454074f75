//! A linear model's loss over data read from files chunk by chunk, for data sets that
//! do not fit in memory.
//!
//! [`StreamedProblem`] is the [`Objective`] of a loss in the form of
//! [`crate::linear_form`] whose samples stay in their files (`.npy` in C order, or
//! CSV): the files are cut into chunks of `K` rows, and at most three chunks are held at
//! once, so memory is bounded by the chunk size, not by the number of samples. The
//! full loss is a pass over the chunks in order. Batches must come chunk by chunk,
//! as [`Sampling::Chunks`](crate::optim::Sampling::Chunks) with the same `K` draws them
//! (a batch may end one chunk and begin the next): shuffling is then chunk-local, and
//! a run gives the same iterates as the in-memory [`Problem`](crate::problem::Problem)
//! with the same sampling.

use std::path::PathBuf;

use faer::Mat;
use matdiff_core::diff::canonicalize;
use matdiff_core::{print, Dim, Function, Sym};
use matdiff_num::data::{DataError, RowReader};

use crate::linear_form::LinearForm;
use crate::optim::{Batch, Objective, ObjectiveError};
use crate::problem::{
    data_variables, default_sample_dim, dimension_list, sample_dimension_named, variable_list,
    ProblemError,
};
use crate::rows::{non_finite_message, RowKernel, Rows, Sums};

/// How many chunks are held at once: a batch of at most `K` samples drawn chunk by
/// chunk reads the end of one chunk, perhaps the whole last (shorter) chunk, and the
/// start of another.
const SLOTS: usize = 3;

/// A chunk buffer and which chunk it holds.
#[derive(Debug, Default)]
struct Slot {
    chunk: Option<usize>,
    data: Rows,
}

/// A linear model's loss whose samples are read from files chunk by chunk.
#[derive(Debug)]
pub struct StreamedProblem {
    variable: String,
    dim: usize,
    samples: usize,
    kernel: RowKernel,
    chunks: Chunks,
    non_finite: Option<String>,
}

/// The rows of a design file and its data columns, read chunk by chunk into at most
/// [`SLOTS`] buffers: the reader under a streamed loss, of all rows in one process
/// ([`StreamedProblem`]) or of one rank's rows
/// ([`DistributedProblem`](crate::distributed::gradient::DistributedProblem)).
#[derive(Debug)]
pub(crate) struct Chunks {
    chunk_rows: usize,
    design: RowReader,
    columns: Vec<RowReader>,
    slots: [Slot; SLOTS],
    /// When each slot was last used, by a counter: a chunk is read into the slot
    /// used longest ago.
    used: [u64; SLOTS],
    clock: u64,
}

impl Chunks {
    /// The rows of `design` and `columns` (readers of as many rows, in blocks of
    /// `chunk_rows`).
    pub(crate) fn new(design: RowReader, columns: Vec<RowReader>, chunk_rows: usize) -> Chunks {
        Chunks {
            chunk_rows: chunk_rows.max(1),
            design,
            columns,
            slots: Default::default(),
            used: [0; SLOTS],
            clock: 0,
        }
    }

    /// The number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.design.rows()
    }

    /// The slot holding `chunk`, reading it into the slot not used last if needed.
    fn load(&mut self, chunk: usize) -> Result<usize, DataError> {
        self.clock += 1;
        if let Some(k) = self.slots.iter().position(|s| s.chunk == Some(chunk)) {
            self.used[k] = self.clock;
            return Ok(k);
        }
        let k = (0..SLOTS).min_by_key(|&k| self.used[k]).unwrap_or(0);
        let slot = &mut self.slots[k];
        slot.chunk = None;
        slot.data.width = self.design.cols();
        self.design.read_block(chunk, slot.data.design_buffer())?;
        slot.data.columns.resize_with(self.columns.len(), Vec::new);
        for (reader, column) in self.columns.iter_mut().zip(&mut slot.data.columns) {
            reader.read_block(chunk, column)?;
        }
        slot.chunk = Some(chunk);
        self.used[k] = self.clock;
        Ok(k)
    }

    /// `Σ ℓ` over every row, a part of a sample of `samples` rows, one chunk after
    /// another, writing `Σ ℓ' x_i` into `grad` (without the constant and penalty:
    /// [`RowKernel::finish`]).
    pub(crate) fn add_rows(
        &mut self,
        kernel: &mut RowKernel,
        samples: usize,
        w: &[f64],
        mut grad: Option<&mut [f64]>,
    ) -> Result<Sums, DataError> {
        if let Some(g) = grad.as_deref_mut() {
            g.fill(0.0);
        }
        let k = self.chunk_rows;
        let mut total = Sums::default();
        for chunk in 0..self.design.blocks() {
            let slot = self.load(chunk)?;
            let part = kernel.add_rows(&self.slots[slot].data, samples, w, grad.as_deref_mut());
            total.loss += part.loss;
            total.non_finite = total.non_finite.or(part.non_finite.map(|i| chunk * k + i));
        }
        Ok(total)
    }

    /// The part of a batch of `batch` samples that the rows `rows` (drawn chunk by
    /// chunk) contribute, without the constant and penalty, writing the gradient's
    /// part into `grad`.
    pub(crate) fn batch_part(
        &mut self,
        kernel: &mut RowKernel,
        rows: &[usize],
        batch: usize,
        w: &[f64],
        grad: Option<&mut [f64]>,
    ) -> Result<Sums, ProblemError> {
        let k = self.chunk_rows;
        // The chunks the batch reads, in order of first use.
        let mut chunks = [usize::MAX; SLOTS];
        let mut count = 0;
        for &i in rows {
            if !chunks[..count].contains(&(i / k)) {
                if count == SLOTS {
                    return Err(ProblemError::BatchAcrossChunks { chunk: k });
                }
                chunks[count] = i / k;
                count += 1;
            }
        }
        for &chunk in &chunks[..count] {
            self.load(chunk)?;
        }
        let slots = &self.slots;
        let slot_of = |chunk: usize| {
            slots
                .iter()
                .find(|s| s.chunk == Some(chunk))
                .unwrap_or(&slots[0])
        };
        let items = rows.iter().map(|&i| (&slot_of(i / k).data, i % k));
        let sums = kernel.batch_part(items, rows.len(), batch, w, grad);
        Ok(Sums {
            loss: sums.loss,
            non_finite: sums.non_finite.map(|local| {
                rows.iter()
                    .copied()
                    .find(|&i| i % k == local)
                    .unwrap_or(local)
            }),
        })
    }
}

impl StreamedProblem {
    /// Binds `function`, a loss in the variable `wrt`, to data: `streamed` are files
    /// read in chunks of `chunk_rows` rows (the variables spanning the sample
    /// dimension: `X` and `y`), `whole` are values in memory (scalars such as a
    /// penalty weight). `samples` names the sample dimension (by default, as for
    /// [`Problem::new`](crate::problem::Problem::new)). Files are opened and checked
    /// here; their values are read when evaluated.
    pub fn new(
        function: Function,
        wrt: &str,
        streamed: Vec<(String, PathBuf)>,
        whole: Vec<(String, Mat<f64>)>,
        samples: Option<&str>,
        chunk_rows: usize,
    ) -> Result<StreamedProblem, ProblemError> {
        let loss = LinearLoss::recognise(function, wrt, &streamed, &whole, samples)?;
        let design = RowReader::open(&loss.design, chunk_rows)?;
        let mut columns = Vec::new();
        for (name, path) in &loss.columns {
            let reader = RowReader::open(path, chunk_rows)?;
            check_column(&reader, name, &design)?;
            columns.push(reader);
        }
        let (rows, cols) = (design.rows(), design.cols());
        let kernel = loss.kernel(&whole, rows, cols)?;
        Ok(StreamedProblem {
            variable: wrt.to_owned(),
            dim: cols,
            samples: rows,
            kernel,
            chunks: Chunks::new(design, columns, chunk_rows),
            non_finite: None,
        })
    }

    /// The name of the optimised variable.
    pub fn variable(&self) -> &str {
        &self.variable
    }

    /// Rows per chunk.
    pub fn chunk_rows(&self) -> usize {
        self.chunks.chunk_rows
    }

    /// The recognised form of the loss.
    pub fn linear_form(&self) -> &LinearForm {
        self.kernel.form()
    }

    /// Where the last non-finite evaluation turned non-finite, if any.
    pub fn non_finite(&self) -> Option<&str> {
        self.non_finite.as_deref()
    }

    fn evaluate(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        mut grad: Option<&mut [f64]>,
    ) -> Result<f64, ProblemError> {
        let (mut sums, samples) = match batch {
            Batch::All => {
                let sums =
                    self.chunks
                        .add_rows(&mut self.kernel, self.samples, w, grad.as_deref_mut())?;
                (sums, self.samples)
            }
            Batch::Rows(rows) | Batch::Share { rows, .. } => {
                if rows.is_empty() {
                    return Err(ProblemError::EmptyBatch);
                }
                if let Some(&index) = rows.iter().find(|&&i| i >= self.samples) {
                    return Err(ProblemError::SampleOutOfRange {
                        index,
                        samples: self.samples,
                    });
                }
                let sums = self.chunks.batch_part(
                    &mut self.kernel,
                    rows,
                    rows.len(),
                    w,
                    grad.as_deref_mut(),
                )?;
                (sums, rows.len())
            }
        };
        sums.loss += self.kernel.finish(samples, w, grad.as_deref_mut());
        if sums.non_finite.is_none() && sums.loss.is_finite() {
            return Ok(sums.loss);
        }
        self.non_finite = Some(non_finite_message(
            sums.non_finite,
            &self.kernel.form().texts.sample,
        ));
        if let Some(g) = grad {
            g.fill(f64::NAN);
        }
        Ok(f64::NAN)
    }
}

/// Checks that `reader`, the file of the data column `name`, is a column with a value
/// for every row of `design`.
pub(crate) fn check_column(
    reader: &RowReader,
    name: &str,
    design: &RowReader,
) -> Result<(), ProblemError> {
    if reader.cols() != 1 {
        return Err(ProblemError::NotAColumn {
            file: reader.file().to_owned(),
            cols: reader.cols(),
            name: name.to_owned(),
        });
    }
    if reader.rows() != design.rows() {
        return Err(ProblemError::RowCountMismatch {
            file: reader.file().to_owned(),
            rows: reader.rows(),
            first: design.file().to_owned(),
            expected: design.rows(),
        });
    }
    Ok(())
}

/// A loss recognised as a linear model's whose samples are in files: the form, the
/// sample dimension, and the files of the design `X` and of the data columns (`y`),
/// for the readers that hold the rows (chunk by chunk, or one rank's share).
pub(crate) struct LinearLoss {
    graph: matdiff_core::Graph,
    form: LinearForm,
    sample_dim: Sym,
    wrt: String,
    /// The design's file.
    pub(crate) design: PathBuf,
    /// Each data column's name and file, in the form's order.
    pub(crate) columns: Vec<(String, PathBuf)>,
}

impl LinearLoss {
    /// Recognises `function`, a loss in `wrt`, as a linear model's, with `files`
    /// the data that span the sample dimension and `whole` the values in memory.
    pub(crate) fn recognise(
        function: Function,
        wrt: &str,
        files: &[(String, PathBuf)],
        whole: &[(String, Mat<f64>)],
        samples: Option<&str>,
    ) -> Result<LinearLoss, ProblemError> {
        let Function { mut graph, root } = function;
        let var = *graph
            .variable_named(wrt)
            .ok_or_else(|| ProblemError::UnknownVariable {
                name: wrt.to_owned(),
                known: variable_list(&graph),
            })?;
        if !graph.shape(root).is_scalar() {
            return Err(ProblemError::NotScalar {
                shape: print::shape(&graph, graph.shape(root)),
            });
        }
        let loss = canonicalize(&mut graph, root);
        let names = files.iter().map(|(n, _)| n.as_str());
        let given = data_variables(
            &graph,
            loss,
            var.name,
            names.chain(whole.iter().map(|(n, _)| n.as_str())),
        )?;
        let sample_dim = match samples {
            Some(name) => sample_dimension_named(&graph, name)?,
            None => default_sample_dim(&graph, &given, &var).ok_or_else(|| {
                ProblemError::UnknownSampleDimension {
                    name: "(none)".to_owned(),
                    known: dimension_list(&graph),
                }
            })?,
        };
        let not_linear = || {
            let design = files
                .iter()
                .find(|(n, _)| {
                    graph
                        .variable_named(n)
                        .is_some_and(|v| v.kind != matdiff_core::Kind::Vector)
                })
                .map_or("X", |(n, _)| n.as_str());
            ProblemError::NotStreamable {
                design: design.to_owned(),
                wrt: wrt.to_owned(),
            }
        };
        let form = LinearForm::recognise(&graph, loss, var.name, sample_dim, &given)
            .ok_or_else(not_linear)?;
        let file_of = |sym: Sym| {
            files
                .iter()
                .find(|(n, _)| graph.variable_named(n).is_some_and(|v| v.name == sym))
                .map(|(_, path)| path.clone())
        };
        let design = file_of(form.design).ok_or_else(not_linear)?;
        let mut columns = Vec::new();
        for &c in &form.columns {
            let path = file_of(c).ok_or_else(not_linear)?;
            columns.push((graph.name(c).to_owned(), path));
        }
        Ok(LinearLoss {
            graph,
            form,
            sample_dim,
            wrt: wrt.to_owned(),
            design,
            columns,
        })
    }

    /// The row kernel for `rows` samples of `cols` features, the other sizes and the
    /// scalars taken from the values in memory.
    pub(crate) fn kernel(
        self,
        whole: &[(String, Mat<f64>)],
        rows: usize,
        cols: usize,
    ) -> Result<RowKernel, ProblemError> {
        let LinearLoss {
            graph,
            form,
            sample_dim,
            wrt,
            ..
        } = self;
        let x_cols = graph.variable(form.design).map(|v| v.shape.cols);
        let size = |d: Sym| {
            if d == sample_dim {
                return Some(rows);
            }
            if x_cols == Some(Dim::Named(d)) {
                return Some(cols);
            }
            whole.iter().find_map(|(name, m)| {
                let v = graph.variable_named(name)?;
                if v.shape.rows == Dim::Named(d) {
                    Some(m.nrows())
                } else if v.shape.cols == Dim::Named(d) {
                    Some(m.ncols())
                } else {
                    None
                }
            })
        };
        let scalar = |sym: Sym| {
            whole
                .iter()
                .find(|(name, _)| graph.variable_named(name).is_some_and(|v| v.name == sym))
                .filter(|(_, m)| m.nrows() == 1 && m.ncols() == 1)
                .map(|(_, m)| m[(0, 0)])
        };
        let design_name = graph.name(form.design).to_owned();
        RowKernel::new(form, sample_dim, size, scalar).ok_or(ProblemError::NotStreamable {
            design: design_name,
            wrt,
        })
    }
}

impl Objective for StreamedProblem {
    fn dim(&self) -> usize {
        self.dim
    }

    fn samples(&self) -> usize {
        self.samples
    }

    fn loss(&mut self, w: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
        self.evaluate(w, batch, None).map_err(ObjectiveError::new)
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
            .map_err(ObjectiveError::new)
    }
}
