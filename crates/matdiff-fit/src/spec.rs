//! One fit, described once: the method and its step size, the schedule, the stop
//! rules with their defaults, the starting point, the data (in memory or read from
//! files chunk by chunk) and the sample dimension. Every shell fills a [`FitSpec`]
//! from its own inputs (command-line flags, a builder, keyword arguments) and runs it;
//! the policy (defaults, the random start, which data are streamed) lives here only.
//!
//! ```
//! use faer::Mat;
//! use matdiff_core::parse_function;
//! use matdiff_fit::spec::{Data, FitSpec, MethodKind, StopSpec};
//!
//! let loss = parse_function("1/N*norm2(X*w - y)^2", "X: matrix(N,d)").unwrap();
//! let x = Mat::from_fn(4, 2, |i, j| if i % 2 == j { 1.0 } else { 0.5 });
//! let y = Mat::from_fn(4, 1, |i, _| i as f64);
//! let spec = FitSpec {
//!     data: vec![("X".into(), Data::Memory(x.into())), ("y".into(), Data::Memory(y.into()))],
//!     method: MethodKind::Gd,
//!     lr: 0.2,
//!     stop: StopSpec { tol_grad: Some(1e-9), max_iter: Some(100_000), ..StopSpec::default() },
//!     ..FitSpec::new("w")
//! };
//! let mut fit = spec.prepare(loss).unwrap();
//! let outcome = fit.run(&mut matdiff_fit::optim::NoObserver).unwrap();
//! assert!(outcome.gradient_norm < 1e-9);
//! ```

use std::path::PathBuf;

use faer::Mat;
use matdiff_core::{Dim, Function, Graph, Kind, Sym};
use matdiff_num::data::DataError;
use matdiff_num::Stored;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

use crate::distributed::gradient::{DistributedError, DistributedProblem};
use crate::distributed::Peers;
use crate::optim::{
    self, Batch, EpochLoss, LineSearch, Method, Objective, ObjectiveError, Observer, OptimError,
    Options, Outcome, Sampling, Schedule, StopRules,
};
use crate::problem::{Hoisted, Problem, ProblemError};
use crate::stream::StreamedProblem;

/// Batch size of mini-batch descent when none is given.
pub const DEFAULT_BATCH: usize = 32;

/// Rows per chunk when the data are streamed and no chunk size is given.
pub const DEFAULT_CHUNK_ROWS: usize = 16_384;

/// Standard deviation of the entries of a random start.
pub const INIT_SCALE: f64 = 0.01;

/// The ChaCha stream of a random start, apart from the stream the optimiser samples
/// batches from with the same seed.
const INIT_STREAM: u64 = 1;

/// The update rule, by name; [`FitSpec::options`] gives it its coefficients.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// Gradient descent on the full loss.
    #[default]
    Gd,
    /// Stochastic gradient descent: one random sample per step.
    Sgd,
    /// Mini-batch gradient descent: [`FitSpec::batch`] samples per step
    /// ([`DEFAULT_BATCH`] when unset).
    MiniBatch,
    /// Heavy-ball momentum (β = 0.9); full batch unless a batch is given.
    Momentum,
    /// Nesterov momentum (β = 0.9); full batch unless a batch is given.
    Nesterov,
    /// Adam (0.9, 0.999, 1e-8); full batch unless a batch is given.
    Adam,
}

/// How the step size changes during the run, by name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ScheduleKind {
    /// η stays the learning rate.
    #[default]
    Constant,
    /// η = lr / t^0.25 at step t.
    InvScaling,
    /// η halves every 10 epochs.
    Step,
    /// η is divided by 5 when the loss stops improving for 5 epochs.
    Adaptive,
}

/// How stochastic methods draw samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SamplingKind {
    /// Uniformly with replacement.
    Replace,
    /// Every sample once per epoch, in a fresh random order (within chunks when a
    /// chunk size is given or the data are streamed).
    #[default]
    Shuffle,
}

/// The stop rules as given; [`StopSpec::rules`] fills in the defaults. A tolerance of
/// 0 is given but never met: its rule is off, and the default gradient tolerance does
/// not apply either.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StopSpec {
    /// Stop when `‖w_new − w_old‖ < ε`.
    pub tol_step: Option<f64>,
    /// Stop when `|Q_new − Q_old| < ε`.
    pub tol_loss: Option<f64>,
    /// Stop when `‖∇Q(w)‖ < ε`.
    pub tol_grad: Option<f64>,
    /// Stop after this many updates.
    pub max_iter: Option<usize>,
    /// Stop after this many passes over the data.
    pub epochs: Option<usize>,
    /// Stop when the loss has not fallen by `min_improvement` below its best for this
    /// many epochs.
    pub n_iter_no_change: Option<usize>,
    /// The fall below the best loss that counts as an improvement for
    /// `n_iter_no_change` (default 1e-4).
    pub min_improvement: Option<f64>,
}

impl StopSpec {
    /// The rules of a run: with no tolerance given, `‖∇Q‖ < 1e-6` applies, and with
    /// neither an iteration nor an epoch limit, 1000 epochs. A tolerance given as 0
    /// turns its rule off (no norm or change falls below 0).
    pub fn rules(&self) -> StopRules {
        let any_tolerance =
            self.tol_step.is_some() || self.tol_loss.is_some() || self.tol_grad.is_some();
        let defaults = StopRules::default();
        let on = |tol: Option<f64>| tol.filter(|&t| t != 0.0);
        StopRules {
            tol_step: on(self.tol_step),
            tol_loss: on(self.tol_loss),
            tol_grad: if any_tolerance {
                on(self.tol_grad)
            } else {
                defaults.tol_grad
            },
            max_iter: self.max_iter,
            n_iter_no_change: self.n_iter_no_change,
            min_improvement: self.min_improvement.unwrap_or(defaults.min_improvement),
            max_epochs: match (self.epochs, self.max_iter) {
                (Some(e), _) => Some(e),
                (None, Some(_)) => None,
                (None, None) => defaults.max_epochs,
            },
        }
    }
}

/// Where the run starts.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Start {
    /// All zeros.
    #[default]
    Zeros,
    /// Normal entries of standard deviation [`INIT_SCALE`] drawn with the spec's seed,
    /// symmetric for a `symmetric` variable and `I + (B + Bᵀ)/2` for an `spd` one.
    Random,
    /// This value of the variable.
    Value(Mat<f64>),
}

/// The value of a data variable.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// In memory, shared rather than copied by a fit (an owned matrix, or values
    /// lent by their owner: [`Stored::shared`]).
    Memory(Stored),
    /// A CSV (header row) or `.npy` file: loaded whole, or read chunk by chunk when
    /// the fit is streamed and the variable spans the sample dimension.
    File(PathBuf),
}

/// Everything a fit needs besides the loss. Build it with struct update syntax from
/// [`FitSpec::new`].
#[derive(Clone, Debug, PartialEq)]
pub struct FitSpec {
    /// The variable to fit.
    pub wrt: String,
    /// The update rule.
    pub method: MethodKind,
    /// The (initial) step size η.
    pub lr: f64,
    /// Samples per step (mini-batch: [`DEFAULT_BATCH`] when unset; momentum,
    /// Nesterov, Adam: the full batch when unset).
    pub batch: Option<usize>,
    /// How η changes.
    pub schedule: ScheduleKind,
    /// How stochastic methods draw samples.
    pub sampling: SamplingKind,
    /// Shuffle within chunks of this many consecutive samples.
    pub chunk_rows: Option<usize>,
    /// Choose η by Armijo backtracking (full-batch methods, constant schedule).
    pub line_search: bool,
    /// When to stop.
    pub stop: StopSpec,
    /// Seed of the sampling and of a random start.
    pub seed: u64,
    /// The loss after each epoch of a stochastic method: exact or the running average.
    pub epoch_loss: EpochLoss,
    /// SGD on this many threads at once, lock-free (Hogwild!; not reproducible).
    pub threads: Option<usize>,
    /// Fit an intercept `b` with the variable of a linear model's loss: the
    /// predictor `X*w` becomes `X*w + b` ([`Problem::fit_intercept`]); data in
    /// memory only. The parameters end with `b` ([`PreparedFit::intercept`]).
    pub intercept: bool,
    /// Where to start.
    pub start: Start,
    /// The values of the other variables, by name.
    pub data: Vec<(String, Data)>,
    /// Whether CSV data files start with a header row.
    pub csv_header: matdiff_num::data::CsvHeader,
    /// Read the file data chunk by chunk (a linear model's loss only).
    pub stream: bool,
    /// The sample dimension sliced into batches (by default the named row dimension
    /// most data share, preferring those the fitted variable does not span).
    pub samples: Option<String>,
}

impl FitSpec {
    /// Gradient descent on `wrt` with η = 0.01, the default stop rules, from zeros,
    /// without data.
    pub fn new(wrt: impl Into<String>) -> FitSpec {
        FitSpec {
            wrt: wrt.into(),
            method: MethodKind::Gd,
            lr: 0.01,
            batch: None,
            schedule: ScheduleKind::Constant,
            sampling: SamplingKind::Shuffle,
            chunk_rows: None,
            line_search: false,
            stop: StopSpec::default(),
            seed: 0,
            epoch_loss: EpochLoss::Auto,
            threads: None,
            intercept: false,
            start: Start::Zeros,
            data: Vec::new(),
            csv_header: matdiff_num::data::CsvHeader::default(),
            stream: false,
            samples: None,
        }
    }

    /// The optimiser's options: the method with its coefficients and batch, the
    /// schedule, sampling, line search and the stop rules with their defaults.
    pub fn options(&self) -> Options {
        let method = match self.method {
            MethodKind::Gd => Method::Gd,
            MethodKind::Sgd => Method::Sgd,
            MethodKind::MiniBatch => Method::MiniBatch {
                batch: self.batch.unwrap_or(DEFAULT_BATCH),
            },
            MethodKind::Momentum => Method::MOMENTUM,
            MethodKind::Nesterov => Method::NESTEROV,
            MethodKind::Adam => Method::ADAM,
        };
        // Mini-batch descent takes its batch in the method; the others reject a batch
        // (gd, sgd) or become stochastic with it (momentum, nesterov, adam).
        let batch = match self.method {
            MethodKind::MiniBatch => None,
            _ => self.batch,
        };
        let schedule = match self.schedule {
            ScheduleKind::Constant => Schedule::Constant,
            ScheduleKind::InvScaling => Schedule::InvScaling { power: 0.25 },
            ScheduleKind::Step => Schedule::Step {
                every: 10,
                factor: 0.5,
            },
            ScheduleKind::Adaptive => Schedule::Adaptive,
        };
        let sampling = match (self.sampling, self.chunk_rows) {
            (SamplingKind::Replace, _) => Sampling::Replace,
            (SamplingKind::Shuffle, None) if self.stream => Sampling::Chunks {
                rows: DEFAULT_CHUNK_ROWS,
            },
            (SamplingKind::Shuffle, None) => Sampling::Shuffle,
            (SamplingKind::Shuffle, Some(rows)) => Sampling::Chunks { rows },
        };
        Options {
            method,
            lr: self.lr,
            batch,
            schedule,
            sampling,
            line_search: self.line_search.then(LineSearch::default),
            stop: self.stop.rules(),
            seed: self.seed,
            epoch_loss: self.epoch_loss,
            threads: self.threads,
            ..Options::default()
        }
    }

    /// Binds the loss to the data, checks the options against them, computes loop
    /// invariants once where that pays (full-batch runs), copies the samples row by
    /// row where batches are drawn, and finds the starting point.
    pub fn prepare(&self, function: Function) -> Result<PreparedFit, FitError> {
        let options = self.options();
        options.validate().map_err(FitError::Options)?;
        if self.intercept && self.stream {
            return Err(FitError::InterceptNotInMemory { how: "streamed" });
        }
        if self.stream {
            return self.prepare_streamed(function, options);
        }
        let mut data = Vec::with_capacity(self.data.len());
        for (name, value) in &self.data {
            // A file's values are read as stored (a C-order `.npy` file in place).
            let value = match value {
                Data::Memory(m) => m.clone(),
                Data::File(path) => matdiff_num::data::load_matrix_stored(path, self.csv_header)?,
            };
            data.push((name.clone(), value));
        }
        let mut problem = Problem::with_stored(function, &self.wrt, data, self.samples.as_deref())?;
        let mut notes = Vec::new();
        if self.intercept {
            problem.fit_intercept()?;
            notes.push("an intercept b is fitted: the predictor is X*w + b".to_owned());
        }
        if options.effective_batch(usize::MAX).is_some() {
            if problem.sample_dimension().is_none() {
                return Err(FitError::NoSampleDimension {
                    method: options.method.name(),
                });
            }
            problem.check_batches()?;
            // Batches of a linear model's loss run row by row on the data stored by
            // rows (in place, or a copy made here, before the clock of the run
            // starts, like loading).
            let started = std::time::Instant::now();
            if problem.prepare_rows() {
                if let Some(form) = problem.linear_form() {
                    notes.push(format!(
                        "row kernel: per-sample loss {}, slope {}{} (rows ready in {:.3} s)",
                        form.texts.sample,
                        form.texts.slope,
                        form.texts
                            .penalty
                            .as_ref()
                            .map(|p| format!(", penalty per coefficient {p}"))
                            .unwrap_or_default(),
                        started.elapsed().as_secs_f64()
                    ));
                }
            }
        }
        if options.effective_batch(problem.samples()).is_none() {
            let started = std::time::Instant::now();
            // One evaluation per iteration (two with a line search), and the last.
            let evaluations = options
                .stop
                .max_iter
                .or(options.stop.max_epochs)
                .map(|n| if options.line_search.is_some() { 2 * n } else { n } + 1);
            let hoisted = problem.hoist_for(evaluations)?;
            notes.push(format!(
                "{} (in {:.3} s)",
                describe_hoisting(&hoisted),
                started.elapsed().as_secs_f64()
            ));
        }
        let start = match &self.start {
            Start::Zeros => problem.zeros(),
            Start::Random => problem.random_start(self.seed),
            Start::Value(value) => problem.flatten(value)?,
        };
        // A loss that cannot be evaluated where the run starts is a fault of the data
        // or the starting point, not a failure of the fit.
        problem
            .loss(&start, Batch::All)
            .map_err(|source| FitError::AtStart { source })?;
        Ok(PreparedFit {
            objective: FitObjective::InMemory(Box::new(problem)),
            start,
            options,
            notes,
        })
    }

    /// Binds the loss to the rows this rank holds of the data (rank `r` of `K` maps
    /// rows `[r·N/K, (r+1)·N/K)` of each `.npy` file spanning the sample dimension, or
    /// reads `X.{rank}.npy` whole) and makes the fit whose every evaluation sums over
    /// all ranks ([`DistributedProblem`]): a linear model's loss, like
    /// [`FitSpec::stream`]'s. With [`FitSpec::stream`], each rank reads its rows chunk
    /// by chunk. A batch of `B ≥ 2` samples takes a share from every rank
    /// ([`Spread`](crate::optim::Spread)), so it needs `B ≥ K`. Every rank must call
    /// it, with the same spec.
    pub fn prepare_distributed(
        &self,
        function: Function,
        peers: std::rc::Rc<dyn Peers>,
    ) -> Result<PreparedFit, FitError> {
        let options = self.options();
        options.validate().map_err(FitError::Options)?;
        if self.intercept {
            return Err(FitError::InterceptNotInMemory {
                how: "spread over ranks",
            });
        }
        let ranks = peers.size();
        if let Some(batch) = options.effective_batch(usize::MAX) {
            if batch > 1 && batch < ranks {
                return Err(FitError::BatchBelowRanks { batch, ranks });
            }
        }
        let chunk_rows = if self.stream {
            // Each rank's share of a batch is drawn within its chunks.
            let share =
                options
                    .effective_batch(usize::MAX)
                    .map(|b| if b > 1 { b.div_ceil(ranks) } else { b });
            Some(self.chunking(&options, share)?)
        } else {
            None
        };
        let graph = function.graph.clone();
        let (files, whole) = self.files_and_values(&graph)?;
        let mut problem = DistributedProblem::new(
            function,
            &self.wrt,
            files,
            whole,
            self.samples.as_deref(),
            chunk_rows,
            peers,
        )?;
        let mut notes = vec![format!(
            "rows spread over {} ranks, rank {} of them",
            problem.peers().size(),
            problem.peers().rank()
        )];
        if let Some(rows) = chunk_rows {
            notes.push(format!(
                "each rank streams its rows in chunks of {rows} rows"
            ));
        }
        let start = self.start_of(&graph, Objective::dim(&problem))?;
        // A loss that cannot be evaluated where the run starts is a fault of the data
        // or the starting point (every rank sees the same sum).
        problem.loss(&start, Batch::All).map_err(|source| {
            // A rank that could not read its rows is told as at the start.
            match source.into_inner().downcast::<DistributedError>() {
                Ok(error) => FitError::Distributed(*error),
                Err(other) => FitError::AtStart {
                    source: crate::optim::ObjectiveError::new(other),
                },
            }
        })?;
        if let Some(at) = problem.non_finite() {
            return Err(FitError::AtStart {
                source: crate::optim::ObjectiveError::msg(at.to_owned()),
            });
        }
        Ok(PreparedFit {
            objective: FitObjective::Distributed(Box::new(problem)),
            start,
            options,
            notes,
        })
    }

    /// The data split as a streamed or distributed fit reads them: the files of the
    /// variables spanning the sample dimension, and everything else in memory.
    #[allow(clippy::type_complexity)]
    fn files_and_values(
        &self,
        graph: &Graph,
    ) -> Result<(Vec<(String, PathBuf)>, Vec<(String, Mat<f64>)>), FitError> {
        let names: Vec<&str> = self.data.iter().map(|(n, _)| n.as_str()).collect();
        let sample =
            crate::problem::sample_dimension_of(graph, &self.wrt, &names, self.samples.as_deref())?;
        let mut files = Vec::new();
        let mut whole = Vec::new();
        for (name, value) in &self.data {
            let spans_samples = sample.is_some() && row_dimension(graph, name) == sample;
            match value {
                Data::File(path) if spans_samples => files.push((name.clone(), path.clone())),
                Data::File(path) => {
                    let value = matdiff_num::data::load_matrix_with(path, self.csv_header)?;
                    whole.push((name.clone(), value))
                }
                Data::Memory(m) => whole.push((name.clone(), m.to_mat())),
            }
        }
        Ok((files, whole))
    }

    /// The starting point of a fit of `dim` parameters read by rows (streamed or
    /// distributed): a column.
    fn start_of(&self, graph: &Graph, dim: usize) -> Result<Vec<f64>, FitError> {
        Ok(match &self.start {
            Start::Zeros => vec![0.0; dim],
            Start::Random => random_start(variable_kind(graph, &self.wrt), dim, 1, self.seed),
            Start::Value(value) => {
                if value.nrows() * value.ncols() != dim {
                    return Err(ProblemError::StartShape {
                        name: self.wrt.clone(),
                        expected: format!("{dim} × 1"),
                        given: format!("{} × {}", value.nrows(), value.ncols()),
                    }
                    .into());
                }
                (0..value.ncols())
                    .flat_map(|j| value.col_as_slice(j).to_vec())
                    .collect()
            }
        })
    }

    /// The rows per chunk of a streamed fit, checked against the batches drawn from
    /// the chunks: `batch` samples at most per process.
    fn chunking(&self, options: &Options, batch: Option<usize>) -> Result<usize, FitError> {
        let chunk_rows = match options.sampling {
            Sampling::Chunks { rows } => rows,
            Sampling::Replace if options.effective_batch(usize::MAX).is_some() => {
                return Err(FitError::ReplaceWhileStreaming)
            }
            Sampling::Shuffle | Sampling::Replace => self.chunk_rows.unwrap_or(DEFAULT_CHUNK_ROWS),
        };
        if let Some(batch) = batch {
            if batch > chunk_rows {
                return Err(FitError::BatchExceedsChunk {
                    batch,
                    chunk: chunk_rows,
                });
            }
        }
        Ok(chunk_rows)
    }

    fn prepare_streamed(
        &self,
        function: Function,
        options: Options,
    ) -> Result<PreparedFit, FitError> {
        let chunk_rows = self.chunking(&options, options.effective_batch(usize::MAX))?;
        let graph = function.graph.clone();
        let (streamed, whole) = self.files_and_values(&graph)?;
        let problem = StreamedProblem::new(
            function,
            &self.wrt,
            streamed,
            whole,
            self.samples.as_deref(),
            chunk_rows,
        )?;
        let form = problem.linear_form();
        let notes = vec![format!(
            "streamed in chunks of {chunk_rows} rows: per-sample loss {}, slope {}",
            form.texts.sample, form.texts.slope
        )];
        let start = self.start_of(&graph, Objective::dim(&problem))?;
        Ok(PreparedFit {
            objective: FitObjective::Streamed(Box::new(problem)),
            start,
            options,
            notes,
        })
    }
}

/// The objective of a prepared fit.
#[derive(Debug)]
pub enum FitObjective {
    /// The data in memory.
    InMemory(Box<Problem>),
    /// The samples read from files chunk by chunk.
    Streamed(Box<StreamedProblem>),
    /// The samples spread over ranks, each holding its rows.
    Distributed(Box<DistributedProblem>),
}

/// A fit ready to run: the objective bound to its data, the starting point and the
/// options.
#[derive(Debug)]
pub struct PreparedFit {
    /// The loss bound to the data.
    pub objective: FitObjective,
    /// The starting point, flattened column-major.
    pub start: Vec<f64>,
    /// The optimiser's options.
    pub options: Options,
    /// What preparing did, for a verbose report: the loop invariants computed once,
    /// the row kernel, the chunking.
    pub notes: Vec<String>,
}

impl PreparedFit {
    /// Runs the optimiser from [`PreparedFit::start`].
    pub fn run(&mut self, observer: &mut dyn Observer) -> Result<Outcome, FitError> {
        let result = match &mut self.objective {
            FitObjective::InMemory(p) => {
                optim::minimize(p.as_mut(), &self.start, &self.options, observer)
            }
            FitObjective::Streamed(p) => {
                optim::minimize(p.as_mut(), &self.start, &self.options, observer)
            }
            FitObjective::Distributed(p) => {
                optim::minimize(p.as_mut(), &self.start, &self.options, observer)
            }
        };
        result.map_err(|error| FitError::Run {
            error,
            at: self.non_finite().map(str::to_owned),
        })
    }

    /// The name of the fitted variable.
    pub fn variable(&self) -> &str {
        match &self.objective {
            FitObjective::InMemory(p) => p.variable(),
            FitObjective::Streamed(p) => p.variable(),
            FitObjective::Distributed(p) => p.variable(),
        }
    }

    /// The fitted variable's value for the flattened parameters `w`: its declared
    /// shape in memory, a column when streamed.
    pub fn unflatten(&self, w: &[f64]) -> Mat<f64> {
        match &self.objective {
            FitObjective::InMemory(p) => p.unflatten(w),
            FitObjective::Streamed(_) | FitObjective::Distributed(_) => {
                Mat::from_fn(w.len(), 1, |i, _| w[i])
            }
        }
    }

    /// The fitted variable's value for `w`: a scalar for a scalar variable, else a
    /// matrix (a column for a vector).
    pub fn solution(&self, w: &[f64]) -> matdiff_num::Value {
        match &self.objective {
            FitObjective::InMemory(p) => p.value(w),
            FitObjective::Streamed(_) | FitObjective::Distributed(_) => {
                matdiff_num::Value::Matrix(self.unflatten(w))
            }
        }
    }

    /// The fitted intercept in the parameters `w`, when the fit has one
    /// ([`FitSpec::intercept`]).
    pub fn intercept(&self, w: &[f64]) -> Option<f64> {
        match &self.objective {
            FitObjective::InMemory(p) => p.intercept(w),
            FitObjective::Streamed(_) | FitObjective::Distributed(_) => None,
        }
    }

    /// Where a value turned non-finite during the last evaluation, if one did.
    pub fn non_finite(&self) -> Option<&str> {
        match &self.objective {
            FitObjective::InMemory(p) => p.non_finite(),
            FitObjective::Streamed(p) => p.non_finite(),
            FitObjective::Distributed(p) => p.non_finite(),
        }
    }
}

/// Why a fit could not be prepared or run, in the library's terms.
#[derive(Debug, Error)]
pub enum FitError {
    /// An option is out of range or does not fit the method.
    #[error(transparent)]
    Options(OptimError),
    /// The loss, the variable or the data do not fit together.
    #[error(transparent)]
    Problem(#[from] ProblemError),
    /// A data file could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A stochastic method without a sample dimension to draw batches from.
    #[error("{method} draws batches of samples, but no data variable has a named row dimension — declare one, e.g. `X: matrix(N, d)`, or use gd")]
    NoSampleDimension {
        /// The method's name.
        method: &'static str,
    },
    /// An intercept asked for with data that are not all in memory.
    #[error("an intercept is fitted on data in memory only, and these are {how} — load the data whole, or write the intercept into the loss")]
    InterceptNotInMemory {
        /// How the data are read instead.
        how: &'static str,
    },
    /// Batches drawn with replacement from streamed data.
    #[error("streamed data are read chunk by chunk, so batches are drawn chunk by chunk too — sample by shuffling within chunks, not with replacement")]
    ReplaceWhileStreaming,
    /// A batch larger than a chunk of streamed data.
    #[error("a batch of {batch} samples does not fit in a chunk of {chunk} rows — use chunks of at least {batch} rows")]
    BatchExceedsChunk {
        /// Samples per batch.
        batch: usize,
        /// Rows per chunk.
        chunk: usize,
    },
    /// A batch too small to take a share from every rank of a distributed fit.
    #[error("a batch of {batch} samples cannot take a share from each of {ranks} ranks — draw at least {ranks} samples per batch, or one (SGD)")]
    BatchBelowRanks {
        /// Samples per batch.
        batch: usize,
        /// Ranks.
        ranks: usize,
    },
    /// The loss cannot be evaluated at the starting point.
    #[error("the loss cannot be evaluated at the starting point: {source}")]
    AtStart {
        /// Why.
        source: ObjectiveError,
    },
    /// A distributed fit could not be set up: a rank could not read its rows.
    #[error(transparent)]
    Distributed(#[from] DistributedError),
    /// The run failed: it diverged, or an evaluation failed on the way.
    #[error("{}{}", run_message(.error), .at.as_deref().map(|a| format!(" ({a})")).unwrap_or_default())]
    Run {
        /// The optimiser's error.
        error: OptimError,
        /// Where a value turned non-finite, if one did.
        at: Option<String>,
    },
}

fn run_message(error: &OptimError) -> String {
    match error {
        OptimError::Objective { iteration, source } => {
            format!("evaluating the loss failed at iteration {iteration}: {source}")
        }
        other => other.to_string(),
    }
}

impl FitError {
    /// Whether the inputs (the loss, data, options, starting point) are at fault
    /// rather than the run (a divergence, a domain error on the way).
    pub fn is_input_error(&self) -> bool {
        match self {
            FitError::Problem(e) => e.is_input_error(),
            FitError::Run { error, .. } => match error {
                OptimError::Diverged { .. } => false,
                // A rank that could not read its rows on the way is a fault of the
                // data.
                OptimError::Objective { source, .. }
                    if source.inner().downcast_ref::<DistributedError>().is_some() =>
                {
                    true
                }
                OptimError::Objective { source, .. } => {
                    problem_error(source).is_some_and(ProblemError::is_input_error)
                }
                _ => true,
            },
            _ => true,
        }
    }

    /// Whether the run diverged.
    pub fn is_divergence(&self) -> bool {
        matches!(
            self,
            FitError::Run {
                error: OptimError::Diverged { .. },
                ..
            }
        )
    }

    /// The iteration and the last loss of a run that diverged.
    pub fn diverged_at(&self) -> Option<(usize, f64)> {
        match self {
            FitError::Run {
                error:
                    OptimError::Diverged {
                        iteration,
                        loss_trend,
                        ..
                    },
                ..
            } => Some((*iteration, loss_trend.last().copied().unwrap_or(f64::NAN))),
            _ => None,
        }
    }

    /// The iteration and the message of an evaluation that failed during the run for
    /// a reason of the mathematics (a domain error after an overshooting step), not
    /// of the inputs.
    pub fn failed_evaluation(&self) -> Option<(usize, String)> {
        match self {
            FitError::Run {
                error: OptimError::Objective { iteration, source },
                ..
            } if !self.is_input_error() => Some((*iteration, source.to_string())),
            _ => None,
        }
    }

    /// The problem's error behind this one, if there is one.
    pub fn problem_error(&self) -> Option<&ProblemError> {
        match self {
            FitError::Problem(e) => Some(e),
            FitError::AtStart { source } => problem_error(source),
            FitError::Run {
                error: OptimError::Objective { source, .. },
                ..
            } => problem_error(source),
            _ => None,
        }
    }
}

fn problem_error(source: &ObjectiveError) -> Option<&ProblemError> {
    source.inner().downcast_ref::<ProblemError>()
}

/// What hoisting did, in a sentence.
pub fn describe_hoisting(hoisted: &Hoisted) -> String {
    if hoisted.values.is_empty() {
        return format!(
            "hoisted: nothing (computing loop invariants once would not pay off in this run; {:.2e} flops per evaluation)",
            hoisted.flops_before as f64
        );
    }
    format!(
        "hoisted, computed once before the loop: {}; {:.2e} → {:.2e} flops per evaluation",
        hoisted.values.join(", "),
        hoisted.flops_before as f64,
        hoisted.flops_after as f64
    )
}

fn variable_kind(graph: &Graph, name: &str) -> Option<Kind> {
    graph.variable_named(name).map(|v| v.kind)
}

/// The named row dimension of the data variable `name`.
fn row_dimension(graph: &Graph, name: &str) -> Option<Sym> {
    let v = graph.variable_named(name.trim())?;
    match v.shape.rows {
        Dim::Named(s) if v.kind != Kind::Scalar => Some(s),
        _ => None,
    }
}

/// A random start of a `rows × cols` variable of `kind`, flattened column-major:
/// entries drawn from `N(0, INIT_SCALE²)`, symmetric for `symmetric`, and
/// `I + (B + Bᵀ)/2` for `spd` so that the start is positive definite.
pub fn random_start(kind: Option<Kind>, rows: usize, cols: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(INIT_STREAM);
    let b = Mat::from_fn(rows, cols, |_, _| INIT_SCALE * standard_normal(&mut rng));
    let value = match kind {
        Some(kind) if kind.is_symmetric() && rows == cols => {
            let shift = if kind == Kind::Spd { 1.0 } else { 0.0 };
            Mat::from_fn(rows, cols, |i, j| {
                (b[(i, j)] + b[(j, i)]) / 2.0 + if i == j { shift } else { 0.0 }
            })
        }
        _ => b,
    };
    (0..cols)
        .flat_map(|j| value.col_as_slice(j).to_vec())
        .collect()
}

/// A standard normal draw by the Box–Muller transform.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    // `1 − u` lies in (0, 1], so the logarithm is finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The random start honours the declared kind: symmetric entries for `symmetric`,
    /// and `I` plus a small symmetric matrix for `spd`; the same seed, the same start.
    #[test]
    fn the_random_start_honours_symmetric_and_spd() {
        let cases = [
            (Some(Kind::Matrix), 0.0, false),
            (Some(Kind::Symmetric), 0.0, true),
            (Some(Kind::Spd), 1.0, true),
        ];
        for (kind, diagonal, symmetric) in cases {
            let w = random_start(kind, 3, 3, 5);
            assert_eq!(w, random_start(kind, 3, 3, 5), "{kind:?}");
            let at = |i: usize, j: usize| w[i + 3 * j];
            for i in 0..3 {
                assert!((at(i, i) - diagonal).abs() < 0.1, "{kind:?}");
                for j in 0..3 {
                    assert!(
                        (at(i, j) - at(j, i)).abs() < 1e-15 || !symmetric,
                        "{kind:?}"
                    );
                    assert!(at(i, j) != at(j, i) || i == j || symmetric, "{kind:?}");
                }
            }
        }
    }

    /// With no tolerance the gradient rule applies, with no limit 1000 epochs; a
    /// limit given alone replaces the epoch default.
    #[test]
    fn stop_defaults_fill_what_is_not_given() {
        let cases = [
            (StopSpec::default(), Some(1e-6), None, Some(1000)),
            (
                StopSpec {
                    tol_loss: Some(1e-9),
                    ..StopSpec::default()
                },
                None,
                None,
                Some(1000),
            ),
            (
                StopSpec {
                    max_iter: Some(50),
                    ..StopSpec::default()
                },
                Some(1e-6),
                Some(50),
                None,
            ),
        ];
        for (spec, tol_grad, max_iter, max_epochs) in cases {
            let rules = spec.rules();
            assert_eq!(
                (rules.tol_grad, rules.max_iter, rules.max_epochs),
                (tol_grad, max_iter, max_epochs),
                "{spec:?}"
            );
        }
    }
}
