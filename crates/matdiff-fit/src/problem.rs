//! A loss written in matdiff's language, bound to data, as an optimiser [`Objective`].
//!
//! [`Problem`] takes a scalar [`Function`] such as `1/N * norm2(X*w - y)^2`, the name of
//! the variable to fit (`w`) and the values of every other variable (the data). It
//! derives the gradient symbolically once, compiles one evaluation [`Plan`] for
//! `[loss, gradient]` and then only runs it.
//!
//! # Samples and mini-batches
//!
//! One named dimension is the **sample dimension** (by default the row dimension that
//! most data variables share, `N` above). A batch of sample indices is evaluated by
//! gathering those rows (and, for a variable such as a kernel matrix `K: matrix(N, N)`,
//! those columns) of every data variable into preallocated buffers and running a plan
//! compiled with the sample dimension bound to the batch size `B`. A dimension name
//! used as a scalar is that size too, so `1/N * …` is the batch average on a batch, as
//! stochastic gradient descent expects, while a plain `sum(…)` is the batch sum. One
//! plan is compiled (and kept) per batch size; shuffled epochs need at most two.
//!
//! The loss is evaluated in the form the differentiation engine works on, so
//! `log(1 + exp(z))` runs as the overflow-free `softplus(z)`.
//!
//! # Hoisting
//!
//! [`Problem::hoist`] computes the subexpressions that do not depend on the fitted
//! variable once, for full-batch evaluations, when that makes one evaluation cheaper
//! by flop count for the bound sizes: full-batch least squares then costs `O(d²)`
//! per step (`X'*X` and `X'*y` are computed once) instead of `O(N d)`. Batches keep the
//! plain plan, since their data change at every step.

use std::collections::BTreeMap;
use std::fmt;

use faer::Mat;
use matdiff_core::diff::canonicalize;
use matdiff_core::{derive, print, DiffError, Dim, Function, Graph, Id, Kind, Node, Sym, Variable};
use matdiff_num::inputs::{check_shape, declared_shape, dim_text};
use matdiff_num::{EvalError, InputError, Inputs, Plan, PlanOptions, Sizes, Stored, Value};
use thiserror::Error;

use crate::hoist;
use crate::linear_form::LinearForm;
use crate::optim::{Batch, Objective, ObjectiveError};
use crate::rows::{RowKernel, Rows, Sums};

/// Why a problem could not be set up or evaluated.
#[derive(Debug, PartialEq, Error)]
pub enum ProblemError {
    /// The variable to optimise is not in the function.
    #[error("`{name}` is not a variable of the expression — the variables are {known}")]
    UnknownVariable {
        /// The name asked for.
        name: String,
        /// The variables there are, quoted and comma-separated.
        known: String,
    },
    /// The function is not scalar.
    #[error("the loss must be a scalar, but the expression is {shape} — reduce it with sum(…) or norm2(…)^2")]
    NotScalar {
        /// The expression's shape, as declarations write it.
        shape: String,
    },
    /// Data were given for a name that is not a variable of the function.
    #[error("data given for `{name}`, which is not a variable of the expression — the variables are {known}")]
    UnknownData {
        /// The name the data were given for.
        name: String,
        /// The variables there are.
        known: String,
    },
    /// Data were given for the variable being optimised.
    #[error("`{name}` is the variable being optimised and takes no data — give its starting point instead")]
    DataForVariable {
        /// The optimised variable.
        name: String,
    },
    /// The same variable was given data twice.
    #[error("data for `{name}` are given twice — give each variable once")]
    DuplicateData {
        /// The variable.
        name: String,
    },
    /// Variables the loss needs have neither data nor are optimised.
    #[error("no data for {} — give a value for each", quoted(.names))]
    MissingData {
        /// The variables without a value, in the expression's order.
        names: Vec<String>,
    },
    /// The data do not fit the declarations (shapes, conflicting dimension sizes).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The gradient could not be derived.
    #[error(transparent)]
    Derivative(#[from] DiffError),
    /// The named sample dimension is not a dimension of the function.
    #[error("`{name}` is not a dimension of the expression — the dimensions are {known}")]
    UnknownSampleDimension {
        /// The name asked for.
        name: String,
        /// The dimensions there are.
        known: String,
    },
    /// A dimension of the optimised variable is bound by no data.
    #[error("dimension `{dim}` of `{name}` is not bound by the data — declare its size, e.g. `{example}`")]
    UnboundDimension {
        /// The dimension.
        dim: String,
        /// The optimised variable.
        name: String,
        /// A declaration that would fix it.
        example: String,
    },
    /// The optimised variable spans the sample dimension, so batches cannot slice it.
    #[error("`{name}` has the sample dimension `{dim}`, so the data cannot be split into batches — use full-batch gd, or choose another sample dimension")]
    NotBatchable {
        /// The optimised variable.
        name: String,
        /// The sample dimension.
        dim: String,
    },
    /// A batch index past the last sample.
    #[error("sample index {index} is out of range: there are {samples} samples")]
    SampleOutOfRange {
        /// The index.
        index: usize,
        /// The number of samples.
        samples: usize,
    },
    /// A batch without samples.
    #[error("a batch needs at least one sample")]
    EmptyBatch,
    /// A starting point of the wrong shape.
    #[error("the starting point of `{name}` is {given}, but `{name}` is {expected} here")]
    StartShape {
        /// The optimised variable.
        name: String,
        /// Its shape, rows × columns.
        expected: String,
        /// The shape given.
        given: String,
    },
    /// A streamed data file could not be read.
    #[error(transparent)]
    Data(#[from] matdiff_num::data::DataError),
    /// Streaming needs a linear model's loss.
    #[error("reading the samples chunk by chunk needs a loss that sums a function of `{design}*{wrt}` over the samples (a linear model's, like 1/N*norm2(X*w - y)^2), and this one does not — load the data whole instead")]
    NotStreamable {
        /// The data matrix.
        design: String,
        /// The optimised variable.
        wrt: String,
    },
    /// Streamed files disagree on the number of samples.
    #[error("`{file}` has {rows} rows but `{first}` has {expected} — streamed files need one row per sample")]
    RowCountMismatch {
        /// The file that disagrees.
        file: String,
        /// Its rows.
        rows: usize,
        /// The first streamed file.
        first: String,
        /// Its rows.
        expected: usize,
    },
    /// A streamed data vector with several columns.
    #[error("`{file}` has {cols} columns, but `{name}` is a vector — give it a one-column file")]
    NotAColumn {
        /// The file.
        file: String,
        /// Its columns.
        cols: usize,
        /// The variable.
        name: String,
    },
    /// A batch that reads from more chunks than are held at once.
    #[error("a batch reads samples from more than three chunks of {chunk} rows — draw batches chunk by chunk, with chunks of at least the batch size")]
    BatchAcrossChunks {
        /// Rows per chunk.
        chunk: usize,
    },
    /// An intercept asked for with a loss that is not a linear model's.
    #[error("an intercept is added to the linear predictor `X*{wrt}` of a linear model's loss (one that sums a function of `X*{wrt}` over the samples, like 1/N*norm2(X*w - y)^2), and this loss has none — write the intercept into the loss instead")]
    InterceptWithoutLinearModel {
        /// The optimised variable.
        wrt: String,
    },
    /// Compiling or running the evaluation failed; the message names the subexpression.
    #[error("{message}")]
    Evaluation {
        /// What went wrong, where.
        message: String,
        /// Whether the inputs were at fault (shapes) rather than the mathematics (a
        /// domain error such as `log` of a negative entry).
        input: bool,
    },
}

impl ProblemError {
    /// Whether the error is the user's input (declarations, data, options) rather than a
    /// failure of the mathematics during the run.
    pub fn is_input_error(&self) -> bool {
        match self {
            ProblemError::Evaluation { input, .. } => *input,
            _ => true,
        }
    }
}

/// How many times more flops per second the one-off products of hoisting (matrix
/// times matrix, `X'*X`: compute-bound, each loaded entry reused) run than the
/// per-evaluation matrix–vector products they replace (bound by memory bandwidth).
/// [`Problem::hoist_for`] divides the one-off flops by it.
const MATRIX_PRODUCT_SPEEDUP: usize = 8;

/// What [`Problem::hoist`] moved out of the loop.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hoisted {
    /// Each value computed once, as `text (rows × cols)`, in computation order; empty
    /// when hoisting would not make an evaluation cheaper.
    pub values: Vec<String>,
    /// The estimated flops of one full-batch evaluation before hoisting.
    pub flops_before: usize,
    /// The estimated flops of one full-batch evaluation with the hoisted values.
    pub flops_after: usize,
}

/// A data variable and, if it spans the sample dimension, how a batch slices it. Its
/// full value lives in the full-data evaluator's inputs.
#[derive(Clone, Debug)]
struct DataVar {
    sym: Sym,
    /// Whether batches take a subset of its rows / of its columns.
    slice_rows: bool,
    slice_cols: bool,
    /// A matrix whose rows are the samples (`X`), stored by rows in the full inputs:
    /// a block of samples is one contiguous stretch of memory, for the plan's passes
    /// over blocks of rows and for gathering a batch.
    by_rows: bool,
}

/// The row kernel of a linear-model loss and the data it reads.
#[derive(Clone, Debug)]
struct RowPath {
    kernel: RowKernel,
    /// The samples row by row (the stored data matrix, shared), readied at the
    /// first batch (or by [`Problem::prepare_rows`]); until then full evaluations
    /// run the plan.
    data: Option<Rows>,
    enabled: bool,
}

/// A plan compiled for one batch size, with its inputs: gathered batch buffers, the
/// data that batches do not slice, and the optimised variable; and the loss and
/// gradient it last computed, whose buffers the next run reuses.
#[derive(Clone, Debug)]
struct Evaluator {
    plan: Plan,
    inputs: Inputs,
    values: [Value; 2],
}

impl Evaluator {
    fn new(plan: Plan, inputs: Inputs) -> Evaluator {
        Evaluator {
            plan,
            inputs,
            values: [Value::Scalar(0.0), Value::Scalar(0.0)],
        }
    }
}

/// A scalar loss of one variable over bound data: an [`Objective`] for
/// [`minimize`](crate::optim::minimize).
///
/// The optimised variable (scalar, vector or matrix) is flattened column-major into
/// `w`. [`Batch::All`] evaluates on the whole data set; [`Batch::Rows`] on the gathered
/// samples, with the sample dimension bound to the batch size.
#[derive(Clone, Debug)]
pub struct Problem {
    graph: Graph,
    loss: Id,
    gradient: Id,
    wrt: Sym,
    rows: usize,
    cols: usize,
    data: Vec<DataVar>,
    sample_dim: Option<Sym>,
    samples: usize,
    /// Whether the optimised variable spans the sample dimension, so that batches are
    /// impossible.
    unbatchable: bool,
    sizes: Sizes,
    full: Evaluator,
    batches: BTreeMap<usize, Evaluator>,
    non_finite: Option<String>,
    hoisted: Option<Hoisted>,
    /// For a loss of a linear model: the per-sample evaluation.
    row_path: Option<RowPath>,
    /// The data matrices stored by rows (see [`DataVar::by_rows`]).
    by_rows: Vec<Sym>,
    /// Whether an intercept is fitted with the variable ([`Problem::fit_intercept`]).
    intercept: bool,
}

impl Problem {
    /// Binds `data` (values by variable name) to `function`, derives the gradient with
    /// respect to `wrt` and compiles the evaluation.
    ///
    /// `samples` names the sample dimension; by default it is the named row dimension
    /// shared by the most data variables, among those the optimised variable does not
    /// span when there are any (the first such data variable on ties). Every
    /// variable the loss mentions must be `wrt` or have data.
    pub fn new(
        function: Function,
        wrt: &str,
        data: Vec<(String, Mat<f64>)>,
        samples: Option<&str>,
    ) -> Result<Problem, ProblemError> {
        let data = data
            .into_iter()
            .map(|(n, m)| (n, Stored::from(m)))
            .collect();
        Problem::with_stored(function, wrt, data, samples)
    }

    /// [`Problem::new`] with data as they are stored: a matrix of samples stored by
    /// rows (a C-order `.npy` file mapped into memory, a CSV file) is read in place,
    /// without a copy; others are copied once.
    pub fn with_stored(
        mut function: Function,
        wrt: &str,
        data: Vec<(String, Stored)>,
        samples: Option<&str>,
    ) -> Result<Problem, ProblemError> {
        let var =
            *function
                .graph
                .variable_named(wrt)
                .ok_or_else(|| ProblemError::UnknownVariable {
                    name: wrt.to_owned(),
                    known: variable_list(&function.graph),
                })?;
        let root_shape = function.graph.shape(function.root);
        if !root_shape.is_scalar() {
            return Err(ProblemError::NotScalar {
                shape: print::shape(&function.graph, root_shape),
            });
        }
        let derivative = derive(&mut function, wrt, 1)?;
        let mut graph = function.graph;
        // The engine differentiates the canonical form (`softplus` for `log(1 + exp)`);
        // hash-consing gives back the same root, which also evaluates more stably.
        let loss = canonicalize(&mut graph, function.root);
        let gradient = derivative.expr;

        let given = data_variables(&graph, loss, var.name, data.iter().map(|(n, _)| n.as_str()))?;
        let mut inputs = Inputs::new();
        for (name, value) in data {
            let declared = graph.variable_named(&name).copied();
            match declared {
                // A wide matrix stored by rows is kept as it is, in case its rows turn
                // out to be the samples (decided below).
                Some(declared)
                    if value.rows_slice().is_some()
                        && value.ncols() > 1
                        && !declared.kind.is_symmetric() =>
                {
                    check_shape(&graph, &name, value.nrows(), value.ncols())?;
                    inputs.set_stored_by_rows(declared.name, value);
                }
                // A wide matrix stored by columns (a Fortran-order file, an array
                // lent by its owner) is read in place too.
                Some(declared) if value.ncols() > 1 && !declared.kind.is_symmetric() => {
                    check_shape(&graph, &name, value.nrows(), value.ncols())?;
                    inputs.set_stored(declared.name, value);
                }
                _ => inputs.set_named(&graph, &name, value.into_mat())?,
            }
        }
        let sizes = Sizes::bind(&graph, &inputs)?;
        let unbound = |d: Dim| ProblemError::UnboundDimension {
            dim: dim_text(&graph, d),
            name: wrt.to_owned(),
            example: sized_declaration(&graph, &var, &sizes),
        };
        let rows = sizes
            .dim(var.shape.rows)
            .ok_or_else(|| unbound(var.shape.rows))?;
        let cols = sizes
            .dim(var.shape.cols)
            .ok_or_else(|| unbound(var.shape.cols))?;

        let sample_dim = match samples {
            Some(name) => Some(sample_dimension_named(&graph, name)?),
            None => default_sample_dim(&graph, &given, &var),
        };
        let n_samples = match sample_dim {
            Some(d) => sizes.get(d).ok_or_else(|| InputError::UnboundDimension {
                dim: graph.name(d).to_owned(),
            })?,
            None => 0,
        };
        let unbatchable = sample_dim
            .is_some_and(|d| var.shape.rows == Dim::Named(d) || var.shape.cols == Dim::Named(d));

        let data: Vec<DataVar> = given
            .iter()
            .map(|&sym| {
                let shape = graph.variable(sym).map(|v| v.shape);
                let spans = |d: Option<Dim>| sample_dim.is_some_and(|s| d == Some(Dim::Named(s)));
                let (slice_rows, slice_cols) =
                    (spans(shape.map(|s| s.rows)), spans(shape.map(|s| s.cols)));
                let wide = inputs.view(sym).is_some_and(|m| m.ncols() > 1);
                DataVar {
                    sym,
                    slice_rows,
                    slice_cols,
                    by_rows: slice_rows && !slice_cols && wide,
                }
            })
            .collect();
        let row_path = sample_dim
            .filter(|_| !unbatchable)
            .and_then(|s| {
                let form = LinearForm::recognise(&graph, loss, var.name, s, &given)?;
                let scalar = |sym: Sym| {
                    inputs
                        .get(sym)
                        .filter(|m| m.nrows() == 1 && m.ncols() == 1)
                        .map(|m| m[(0, 0)])
                };
                RowKernel::new(form, s, |d| sizes.get(d), scalar)
            })
            .map(|kernel| RowPath {
                kernel,
                data: None,
                enabled: true,
            });
        for v in &data {
            let stored = inputs.stored_by_rows(v.sym).is_some();
            if v.by_rows && !stored {
                let m = inputs.view(v.sym).expect("data variables have values");
                let rows = Stored::rows_of(m);
                inputs.set_stored_by_rows(v.sym, rows);
            } else if !v.by_rows && stored {
                let m = inputs.view(v.sym).expect("data variables have values");
                let m = m.to_owned();
                inputs.set(v.sym, m);
            }
        }
        let by_rows: Vec<Sym> = data.iter().filter(|v| v.by_rows).map(|v| v.sym).collect();
        inputs.set(var.name, Mat::zeros(rows, cols));
        let plan = compile(&graph, &[loss, gradient], &sizes, &by_rows)?;
        Ok(Problem {
            graph,
            loss,
            gradient,
            wrt: var.name,
            rows,
            cols,
            data,
            sample_dim,
            samples: n_samples,
            unbatchable,
            sizes,
            full: Evaluator::new(plan, inputs),
            batches: BTreeMap::new(),
            non_finite: None,
            hoisted: None,
            row_path,
            by_rows,
            intercept: false,
        })
    }

    /// Fits an intercept `b` with the variable of a linear model's loss: the
    /// predictor becomes `z_i = x_iᵀw + b`, as if the data matrix had a last column
    /// of ones, which is never stored (the data are read in place as before). The
    /// parameters are then the variable's entries followed by `b`
    /// ([`Problem::intercept`] reads it off), every evaluation runs the row kernel,
    /// and a penalty in the loss leaves `b` out.
    pub fn fit_intercept(&mut self) -> Result<(), ProblemError> {
        let Some(path) = &mut self.row_path else {
            return Err(ProblemError::InterceptWithoutLinearModel {
                wrt: self.variable().to_owned(),
            });
        };
        path.kernel.fit_intercept();
        path.enabled = true;
        self.intercept = true;
        self.prepare_rows();
        Ok(())
    }

    /// The fitted intercept in the parameters `w`, when the problem has one.
    pub fn intercept(&self, w: &[f64]) -> Option<f64> {
        self.intercept.then(|| w.last().copied()).flatten()
    }

    /// The loss as a linear model's, `Σ_i ℓ(x_iᵀw, y_i) + Σ_j ρ(w_j)`, when it has that
    /// form: batches are then evaluated row by row (see [`crate::linear_form`]).
    pub fn linear_form(&self) -> Option<&LinearForm> {
        self.row_path.as_ref().map(|p| p.kernel.form())
    }

    /// Readies the samples row by row for the row kernel of a linear-model loss (the
    /// data matrix stored by rows is shared, other data vectors copied), which
    /// batches otherwise do at their first evaluation (full evaluations keep the
    /// plan). Returns whether the loss has a row kernel.
    pub fn prepare_rows(&mut self) -> bool {
        let Some(path) = &mut self.row_path else {
            return false;
        };
        if path.data.is_none() {
            let form = path.kernel.form();
            let full = &self.full.inputs;
            // The samples stored by rows are shared, not copied.
            let design = match full.stored_by_rows(form.design) {
                Some(stored) => stored.clone(),
                None => Stored::rows_of(
                    full.view(form.design)
                        .expect("the full inputs hold every data variable"),
                ),
            };
            let columns: Vec<&Mat<f64>> = form
                .columns
                .iter()
                .map(|&c| {
                    full.get(c)
                        .expect("the full inputs hold every data variable")
                })
                .collect();
            path.data = Some(Rows::of(&design, &columns));
        }
        true
    }

    /// Switches the row kernel of a linear-model loss off (`false`: every evaluation
    /// runs the generic plan) or back on; for comparing the two.
    pub fn use_row_kernel(&mut self, enabled: bool) {
        if let Some(path) = &mut self.row_path {
            // The plan knows nothing of an intercept.
            path.enabled = enabled || self.intercept;
        }
    }

    /// The graph holding the loss and its gradient.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The name of the optimised variable.
    pub fn variable(&self) -> &str {
        self.graph.name(self.wrt)
    }

    /// The optimised variable's declaration, e.g. `vector(d)`.
    pub fn variable_declaration(&self) -> String {
        self.graph
            .variable(self.wrt)
            .map(|v| declared_shape(&self.graph, v))
            .unwrap_or_default()
    }

    /// Rows × columns of the optimised variable for the bound data.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The loss as it is evaluated, in ASCII that parses back.
    pub fn loss_text(&self) -> String {
        print::text(&self.graph, self.loss)
    }

    /// The gradient with respect to the optimised variable, in ASCII that parses back.
    pub fn gradient_text(&self) -> String {
        print::text(&self.graph, self.gradient)
    }

    /// The name of the sample dimension, if the data have one.
    pub fn sample_dimension(&self) -> Option<&str> {
        self.sample_dim.map(|d| self.graph.name(d))
    }

    /// Fails when batches cannot be drawn (the optimised variable spans the sample
    /// dimension), so a caller can refuse a stochastic method before the run.
    pub fn check_batches(&self) -> Result<(), ProblemError> {
        if self.unbatchable {
            Err(ProblemError::NotBatchable {
                name: self.variable().to_owned(),
                dim: self.sample_dimension().unwrap_or_default().to_owned(),
            })
        } else {
            Ok(())
        }
    }

    /// The sizes of the named dimensions on the whole data set.
    pub fn sizes(&self) -> &Sizes {
        &self.sizes
    }

    /// The starting point `w = 0` (and `b = 0`).
    pub fn zeros(&self) -> Vec<f64> {
        vec![0.0; self.dim()]
    }

    /// A random starting point drawn with `seed`, as
    /// [`random_start`](crate::spec::random_start) draws it for the variable's
    /// declaration (symmetric for `symmetric`, positive definite for `spd`).
    pub fn random_start(&self, seed: u64) -> Vec<f64> {
        let kind = self.graph().variable_named(self.variable()).map(|v| v.kind);
        let mut w = crate::spec::random_start(kind, self.rows, self.cols, seed);
        w.resize(self.dim(), 0.0);
        w
    }

    /// Flattens a value of the optimised variable column-major, checking its shape
    /// (with an intercept, `b = 0` follows).
    pub fn flatten(&self, value: &Mat<f64>) -> Result<Vec<f64>, ProblemError> {
        if (value.nrows(), value.ncols()) != (self.rows, self.cols) {
            return Err(ProblemError::StartShape {
                name: self.variable().to_owned(),
                expected: format!("{} × {}", self.rows, self.cols),
                given: format!("{} × {}", value.nrows(), value.ncols()),
            });
        }
        let mut w = Vec::with_capacity(self.dim());
        for j in 0..self.cols {
            w.extend_from_slice(value.col_as_slice(j));
        }
        w.resize(self.dim(), 0.0);
        Ok(w)
    }

    /// The optimised variable with the flattened parameters `w` (column-major; an
    /// intercept after them is left out).
    ///
    /// # Panics
    ///
    /// If `w` does not have [`Objective::dim`] entries.
    pub fn unflatten(&self, w: &[f64]) -> Mat<f64> {
        assert_eq!(w.len(), self.dim(), "w has the variable's size");
        Mat::from_fn(self.rows, self.cols, |i, j| w[i + j * self.rows])
    }

    /// The optimised variable as a [`Value`]: a scalar for a scalar variable, else a
    /// matrix (its JSON encoding is then a flat list for a vector).
    ///
    /// # Panics
    ///
    /// If `w` does not have [`Objective::dim`] entries.
    pub fn value(&self, w: &[f64]) -> Value {
        let is_scalar = self
            .graph
            .variable(self.wrt)
            .is_some_and(|v| v.shape.is_scalar());
        if is_scalar && w.len() == 1 + usize::from(self.intercept) {
            Value::Scalar(w[0])
        } else {
            Value::Matrix(self.unflatten(w))
        }
    }

    /// Computes the subexpressions of the loss and the gradient that do not depend on
    /// the optimised variable once, so that full-batch evaluations ([`Batch::All`])
    /// only combine them with the variable — when that is cheaper per evaluation by
    /// flop count for the bound sizes. For least squares, `X'*(X*w - y)` becomes
    /// `(X'*X)*w - X'*y` with both products computed here, when `N > d`. Batches are
    /// unaffected. Calling it again returns the first answer.
    pub fn hoist(&mut self) -> Result<Hoisted, ProblemError> {
        self.hoist_for(None)
    }

    /// Like [`Problem::hoist`], for a run of about `evaluations` full-batch
    /// evaluations: the values are hoisted only when computing them once plus the
    /// cheaper evaluations costs less than the plain evaluations, with the one-off
    /// flops weighted by `MATRIX_PRODUCT_SPEEDUP` (so 20 steps on `N = 10⁵, d = 1000`
    /// least squares do not pay `N d²` for `X'*X`, while on `N = 10⁶, d = 100` they do).
    pub fn hoist_for(&mut self, evaluations: Option<usize>) -> Result<Hoisted, ProblemError> {
        if let Some(h) = &self.hoisted {
            return Ok(h.clone());
        }
        let before = self.full.plan.flops();
        if self.intercept {
            // The row kernel takes every evaluation; the plan is not run.
            let answer = Hoisted {
                values: Vec::new(),
                flops_before: before,
                flops_after: before,
            };
            self.hoisted = Some(answer.clone());
            return Ok(answer);
        }
        let mut graph = self.graph.clone();
        let rewritten = hoist::hoist(&mut graph, &[self.loss, self.gradient], self.wrt);
        let mut answer = Hoisted {
            values: Vec::new(),
            flops_before: before,
            flops_after: before,
        };
        if !rewritten.values.is_empty() {
            let plan = compile(&graph, &rewritten.roots, &self.sizes, &self.by_rows)?;
            let exprs: Vec<Id> = rewritten.values.iter().map(|&(_, e)| e).collect();
            let mut once = compile(&graph, &exprs, &self.sizes, &self.by_rows)?;
            let after = plan.flops();
            let pays = after < before
                && evaluations.is_none_or(|n| {
                    (once.flops() / MATRIX_PRODUCT_SPEEDUP).saturating_add(n.saturating_mul(after))
                        < n.saturating_mul(before)
                });
            if pays {
                let values = once
                    .run(&self.full.inputs)
                    .map_err(|e| ProblemError::Evaluation {
                        message: e.describe(&graph),
                        input: e.is_input_error(),
                    })?;
                for (&(sym, expr), value) in rewritten.values.iter().zip(values) {
                    let m = match value {
                        Value::Scalar(x) => Mat::from_fn(1, 1, |_, _| x),
                        Value::Matrix(m) => m,
                    };
                    answer.values.push(format!(
                        "{} ({} × {})",
                        print::text(&graph, expr),
                        m.nrows(),
                        m.ncols()
                    ));
                    self.full.inputs.set(sym, m);
                }
                answer.flops_after = plan.flops();
                self.full.plan = plan;
                self.graph = graph;
            }
        }
        self.hoisted = Some(answer.clone());
        Ok(answer)
    }

    /// The subexpression that turned NaN or infinite in the last evaluation that did,
    /// if any. Such an evaluation reports the loss as NaN, so the optimiser treats it
    /// as a rejected trial or a divergence; this says where it happened.
    pub fn non_finite(&self) -> Option<&str> {
        self.non_finite.as_deref()
    }

    /// Evaluates on `batch`, writing the gradient when asked.
    fn evaluate(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        mut grad: Option<&mut [f64]>,
    ) -> Result<f64, ObjectiveError> {
        let dim = self.dim();
        if w.len() != dim {
            return Err(ObjectiveError::msg(format!(
                "the parameters have {} entries, `{}` has {dim}",
                w.len(),
                self.variable()
            )));
        }
        if let Some(sums) = self.row_kernel(w, batch, grad.as_deref_mut())? {
            return self.row_result(w, sums, grad);
        }
        let evaluator = match batch {
            Batch::All => &mut self.full,
            Batch::Rows(rows) | Batch::Share { rows, .. } => {
                self.check_batches().map_err(ObjectiveError::new)?;
                if rows.is_empty() {
                    return Err(ObjectiveError::new(ProblemError::EmptyBatch));
                }
                if let Some(&index) = rows.iter().find(|&&i| i >= self.samples) {
                    return Err(ObjectiveError::new(ProblemError::SampleOutOfRange {
                        index,
                        samples: self.samples,
                    }));
                }
                self.gather(rows).map_err(ObjectiveError::new)?;
                self.batches
                    .get_mut(&rows.len())
                    .expect("gather compiles the batch's evaluator")
            }
        };
        set_parameters(&mut evaluator.inputs, self.wrt, w, self.rows);
        let values = &mut evaluator.values;
        match evaluator.plan.run_into(&evaluator.inputs, values) {
            Ok(()) => {}
            Err(EvalError::NonFinite { node, what }) => {
                let error = EvalError::NonFinite { node, what };
                self.non_finite = Some(error.describe(&self.graph));
                if let Some(grad) = grad {
                    grad.fill(f64::NAN);
                }
                return Ok(f64::NAN);
            }
            Err(e) => {
                return Err(ObjectiveError::new(ProblemError::Evaluation {
                    message: e.describe(&self.graph),
                    input: e.is_input_error(),
                }))
            }
        };
        let loss = values[0].as_scalar().unwrap_or(f64::NAN);
        if let Some(grad) = grad {
            match &values[1] {
                Value::Scalar(g) => grad.fill(*g),
                Value::Matrix(g) => {
                    for j in 0..g.ncols() {
                        let rows = g.nrows();
                        grad[j * rows..(j + 1) * rows].copy_from_slice(g.col_as_slice(j));
                    }
                }
            }
        }
        Ok(loss)
    }

    /// The row kernel and the rows, readied, for steps taken in place on the samples
    /// `rows` from `w`; `None` when the loss has no row kernel or they do not fit.
    fn steps_in_place(&mut self, w: &[f64], rows: &[usize]) -> Option<(&mut RowKernel, &Rows)> {
        let usable = self.row_path.as_ref().is_some_and(|p| p.enabled)
            && w.len() == self.dim()
            && rows.iter().all(|&i| i < self.samples);
        if !usable {
            return None;
        }
        self.prepare_rows();
        match &mut self.row_path {
            Some(RowPath {
                kernel,
                data: Some(data),
                ..
            }) => Some((kernel, &*data)),
            _ => None,
        }
    }

    /// Runs the row kernel when the loss has one and the batch is rows; `None` leaves
    /// the evaluation to the plan, which also takes every full evaluation (its passes
    /// over blocks of the rows stored by rows read `X` once, in parallel) but with an
    /// intercept, which only the row kernel knows.
    fn row_kernel(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        grad: Option<&mut [f64]>,
    ) -> Result<Option<Sums>, ObjectiveError> {
        if !self.row_path.as_ref().is_some_and(|p| p.enabled)
            || (batch == Batch::All && !self.intercept)
        {
            return Ok(None);
        }
        if let Batch::Rows(rows) | Batch::Share { rows, .. } = batch {
            if rows.is_empty() {
                return Err(ObjectiveError::new(ProblemError::EmptyBatch));
            }
            if let Some(&index) = rows.iter().find(|&&i| i >= self.samples) {
                return Err(ObjectiveError::new(ProblemError::SampleOutOfRange {
                    index,
                    samples: self.samples,
                }));
            }
            self.prepare_rows();
        }
        let Some(RowPath {
            kernel,
            data: Some(data),
            ..
        }) = &mut self.row_path
        else {
            return Ok(None);
        };
        Ok(Some(match batch {
            Batch::Rows(rows) | Batch::Share { rows, .. } => kernel.batch(data, rows, w, grad),
            Batch::All => {
                let mut grad = grad;
                if let Some(g) = grad.as_deref_mut() {
                    g.fill(0.0);
                }
                let mut sums = kernel.add_rows(data, self.samples, w, grad.as_deref_mut());
                sums.loss += kernel.finish(self.samples, w, grad);
                sums
            }
        }))
    }

    /// The loss from the row kernel's sums. As with the plan, a function evaluated
    /// outside its domain is an error, and any other non-finite value a NaN loss (and
    /// gradient) with [`Problem::non_finite`] saying where.
    fn row_result(
        &mut self,
        w: &[f64],
        sums: Sums,
        grad: Option<&mut [f64]>,
    ) -> Result<f64, ObjectiveError> {
        if sums.non_finite.is_none() && sums.loss.is_finite() {
            return Ok(sums.loss);
        }
        let Some(RowPath {
            kernel,
            data: Some(data),
            ..
        }) = &mut self.row_path
        else {
            return Ok(f64::NAN);
        };
        let sample = kernel.form().texts.sample.clone();
        let at = sums.non_finite.unwrap_or(0);
        if let Some(problem) = kernel.domain_error(data, at, w) {
            return Err(ObjectiveError::new(ProblemError::Evaluation {
                message: format!("{problem} in the loss of sample {at}, {sample}"),
                input: false,
            }));
        }
        self.non_finite = Some(crate::rows::non_finite_message(sums.non_finite, &sample));
        if let Some(grad) = grad {
            grad.fill(f64::NAN);
        }
        Ok(f64::NAN)
    }

    /// Copies the samples `rows` of every sliced data variable into the buffers of the
    /// evaluator for `rows.len()`, compiling it on first use.
    fn gather(&mut self, rows: &[usize]) -> Result<(), ProblemError> {
        let b = rows.len();
        if !self.batches.contains_key(&b) {
            let evaluator = self.batch_evaluator(b)?;
            self.batches.insert(b, evaluator);
        }
        let evaluator = self.batches.get_mut(&b).expect("inserted above");
        for var in self
            .data
            .iter_mut()
            .filter(|v| v.slice_rows || v.slice_cols)
        {
            let full = self
                .full
                .inputs
                .view(var.sym)
                .expect("the full inputs hold every data variable");
            let buf = evaluator
                .inputs
                .get_mut(var.sym)
                .expect("batch inputs hold every data variable");
            if var.by_rows {
                // Sample i is column i of the stored transpose: one contiguous read.
                let stored = full.transpose();
                for (k, &i) in rows.iter().enumerate() {
                    let sample = stored
                        .col(i)
                        .try_as_col_major()
                        .expect("stored columns are contiguous");
                    for (j, &v) in sample.as_slice().iter().enumerate() {
                        buf[(k, j)] = v;
                    }
                }
                continue;
            }
            let full = self
                .full
                .inputs
                .view(var.sym)
                .expect("the full inputs hold every data variable");
            let src_col = |k: usize| if var.slice_cols { rows[k] } else { k };
            for k in 0..buf.ncols() {
                let source = full
                    .col(src_col(k))
                    .try_as_col_major()
                    .expect("data not stored by rows is stored by columns")
                    .as_slice();
                let target = buf.col_as_slice_mut(k);
                if var.slice_rows {
                    for (t, &i) in target.iter_mut().zip(rows) {
                        *t = source[i];
                    }
                } else {
                    target.copy_from_slice(source);
                }
            }
        }
        Ok(())
    }

    /// Compiles the plan for batches of `b` samples and allocates its inputs.
    fn batch_evaluator(&self, b: usize) -> Result<Evaluator, ProblemError> {
        let mut sizes = self.sizes.clone();
        if let Some(d) = self.sample_dim {
            sizes.insert(d, b);
        }
        let plan = compile(&self.graph, &[self.loss, self.gradient], &sizes, &[])?;
        let mut inputs = Inputs::new();
        for var in &self.data {
            let full = self
                .full
                .inputs
                .view(var.sym)
                .expect("the full inputs hold every data variable");
            let value = if var.slice_rows || var.slice_cols {
                let r = if var.slice_rows { b } else { full.nrows() };
                let c = if var.slice_cols { b } else { full.ncols() };
                Mat::zeros(r, c)
            } else {
                full.to_owned()
            };
            inputs.set(var.sym, value);
        }
        inputs.set(self.wrt, Mat::zeros(self.rows, self.cols));
        Ok(Evaluator::new(plan, inputs))
    }
}

impl Objective for Problem {
    fn dim(&self) -> usize {
        self.rows * self.cols + usize::from(self.intercept)
    }

    fn samples(&self) -> usize {
        self.samples
    }

    fn loss(&mut self, w: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
        self.evaluate(w, batch, None)
    }

    fn prefetch(&mut self, rows: &[usize]) {
        if let Some(RowPath {
            data: Some(data),
            enabled: true,
            ..
        }) = &self.row_path
        {
            data.prefetch(rows);
        }
    }

    fn descend(&mut self, w: &mut [f64], rows: &[usize], lr: f64) -> Option<(f64, f64)> {
        let (kernel, data) = self.steps_in_place(w, rows)?;
        kernel.descend(data, rows, w, lr)
    }

    fn descend_concurrently(
        &mut self,
        w: &mut [f64],
        rows: &[usize],
        lr: f64,
        threads: usize,
    ) -> Option<f64> {
        let (kernel, data) = self.steps_in_place(w, rows)?;
        kernel.descend_concurrently(data, rows, w, lr, threads)
    }

    fn loss_and_gradient(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        grad: &mut [f64],
    ) -> Result<f64, ObjectiveError> {
        if grad.len() != self.dim() {
            return Err(ObjectiveError::msg(format!(
                "the gradient buffer has {} entries, `{}` has {}",
                grad.len(),
                self.variable(),
                self.dim()
            )));
        }
        self.evaluate(w, batch, Some(grad))
    }
}

/// Copies the column-major parameters into the variable's matrix.
fn set_parameters(inputs: &mut Inputs, wrt: Sym, w: &[f64], rows: usize) {
    let m = inputs
        .get_mut(wrt)
        .expect("the inputs hold the optimised variable");
    for j in 0..m.ncols() {
        m.col_as_slice_mut(j)
            .copy_from_slice(&w[j * rows..(j + 1) * rows]);
    }
}

/// The variables the data `names` are for, in order. Each must be a variable of the
/// graph other than the optimised `var`, named once, and every other variable the
/// `loss` uses must have data.
pub(crate) fn data_variables<'a>(
    graph: &Graph,
    loss: Id,
    var: Sym,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Sym>, ProblemError> {
    let mut given: Vec<Sym> = Vec::new();
    for name in names {
        let name = name.to_owned();
        let Some(v) = graph.variable_named(&name) else {
            return Err(ProblemError::UnknownData {
                name,
                known: variable_list(graph),
            });
        };
        if v.name == var {
            return Err(ProblemError::DataForVariable { name });
        }
        if given.contains(&v.name) {
            return Err(ProblemError::DuplicateData { name });
        }
        given.push(v.name);
    }
    let missing: Vec<String> = used_variables(graph, loss)
        .into_iter()
        .filter(|s| *s != var && !given.contains(s))
        .map(|s| graph.name(s).to_owned())
        .collect();
    if !missing.is_empty() {
        return Err(ProblemError::MissingData { names: missing });
    }
    Ok(given)
}

/// The dimension `name`, given as the sample dimension.
pub(crate) fn sample_dimension_named(graph: &Graph, name: &str) -> Result<Sym, ProblemError> {
    graph
        .dims()
        .iter()
        .copied()
        .find(|&d| graph.name(d) == name)
        .ok_or_else(|| ProblemError::UnknownSampleDimension {
            name: name.to_owned(),
            known: dimension_list(graph),
        })
}

/// Compiles `roots` for `sizes`, with the data matrices `by_rows` stored by rows.
fn compile(
    graph: &Graph,
    roots: &[Id],
    sizes: &Sizes,
    by_rows: &[Sym],
) -> Result<Plan, ProblemError> {
    let options = PlanOptions {
        by_rows: by_rows.to_vec(),
        ..PlanOptions::default()
    };
    Plan::compile_with(graph, roots, sizes, &options).map_err(|e| ProblemError::Evaluation {
        message: e.describe(graph),
        input: e.is_input_error(),
    })
}

/// The declaration of `var` with every unbound dimension given the size 3.
fn sized_declaration(graph: &Graph, var: &Variable, sizes: &Sizes) -> String {
    let dim = |d: Dim| match sizes.dim(d) {
        Some(_) => dim_text(graph, d),
        None => "3".to_owned(),
    };
    let (rows, cols) = (dim(var.shape.rows), dim(var.shape.cols));
    let kind = match var.kind {
        Kind::Scalar => "scalar".to_owned(),
        Kind::Vector => format!("vector({rows})"),
        Kind::Matrix => format!("matrix({rows}, {cols})"),
        Kind::Symmetric | Kind::Spd => format!("{}({rows})", var.kind.keyword()),
    };
    format!("{}: {kind}", graph.name(var.name))
}

/// The variables the expression `root` mentions, in order of first appearance.
pub(crate) fn used_variables(graph: &Graph, root: Id) -> Vec<Sym> {
    let mut out: Vec<Sym> = Vec::new();
    for id in graph.reachable(&[root]) {
        if let Node::Var(s) = graph.node(id) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    // Keep the declaration order of the variable table, which is how users read them.
    let order = |s: &Sym| graph.variables().iter().position(|v| v.name == *s);
    out.sort_by_key(order);
    out
}

/// The sample dimension of a fit of `wrt` on data for the variables `names`: the one
/// named `samples`, else the default of [`Problem::new`]. Names that are not variables
/// are left out here (binding the data reports them).
pub(crate) fn sample_dimension_of(
    graph: &Graph,
    wrt: &str,
    names: &[&str],
    samples: Option<&str>,
) -> Result<Option<Sym>, ProblemError> {
    if let Some(name) = samples {
        return sample_dimension_named(graph, name).map(Some);
    }
    let Some(var) = graph.variable_named(wrt) else {
        return Ok(None);
    };
    let given: Vec<Sym> = names
        .iter()
        .filter_map(|n| graph.variable_named(n.trim()))
        .filter(|v| v.kind != Kind::Scalar && v.name != var.name)
        .map(|v| v.name)
        .collect();
    Ok(default_sample_dim(graph, &given, var))
}

/// The named row dimension shared by the most data variables, preferring dimensions
/// that the optimised variable does not span (batches could not slice it); on a tie,
/// the one of the data variable given first.
pub(crate) fn default_sample_dim(
    graph: &Graph,
    given: &[Sym],
    optimised: &Variable,
) -> Option<Sym> {
    let rows: Vec<Sym> = given
        .iter()
        .filter_map(|&s| match graph.variable(s)?.shape.rows {
            Dim::Named(d) => Some(d),
            Dim::Size(_) => None,
        })
        .collect();
    let spans = |d: Sym| [optimised.shape.rows, optimised.shape.cols].contains(&Dim::Named(d));
    let count = |d: Sym| rows.iter().filter(|&&r| r == d).count();
    // `max_by_key` keeps the last maximum; walking backwards makes it the first.
    rows.iter()
        .rev()
        .copied()
        .max_by_key(|&d| (!spans(d), count(d)))
}

pub(crate) fn variable_list(graph: &Graph) -> String {
    let names: Vec<String> = graph
        .variables()
        .iter()
        .map(|v| graph.name(v.name).to_owned())
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        quoted(&names).to_string()
    }
}

pub(crate) fn dimension_list(graph: &Graph) -> String {
    let names: Vec<String> = graph
        .dims()
        .iter()
        .map(|&d| graph.name(d).to_owned())
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        quoted(&names).to_string()
    }
}

/// Names as `` `a`, `b` ``.
fn quoted(names: &[String]) -> Quoted<'_> {
    Quoted(names)
}

struct Quoted<'a>(&'a [String]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{name}`")?;
        }
        Ok(())
    }
}
