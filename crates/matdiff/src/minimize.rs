//! [`Minimize`]: fitting one variable of a scalar loss to data, with every option of
//! `matdiff minimize`, and the [`Fit`] it reports.

use std::path::PathBuf;

use faer::{ColRef, Mat, MatRef};
use matdiff_fit::optim::{Observer, Record, StopReason};
use matdiff_fit::spec::{Data, FitSpec, Start};
use serde::Serialize;

use crate::data::Stored;
use crate::function::name_known;
use crate::{Error, Function, Method, Sampling, Schedule};

/// A value for a data variable: a faer matrix or column, a slice or vector (a
/// column), a scalar.
///
/// ```
/// let x = matdiff::faer::Mat::<f64>::zeros(3, 2);
/// let y = vec![1.0, 2.0, 3.0];
/// let f = matdiff::Function::parse("norm2(X*w - y)^2", "X: matrix(N,d)")?;
/// let _ = matdiff::Minimize::new(&f, "w").data("X", x.as_ref()).data("y", &y);
/// # Ok::<(), matdiff::Error>(())
/// ```
pub trait DataValue {
    /// The value as a matrix (a vector as one column).
    fn to_matrix(&self) -> Mat<f64>;

    /// The value as a fit stores it: a copy, unless it is [`Stored`] already (shared).
    fn to_stored(&self) -> Stored {
        Stored::from(self.to_matrix())
    }
}

/// Data held as stored (a mapped file, or values lent by their owner with
/// [`Stored::shared`]): a fit reads them in place.
impl DataValue for Stored {
    fn to_matrix(&self) -> Mat<f64> {
        self.to_mat()
    }

    fn to_stored(&self) -> Stored {
        self.clone()
    }
}

impl DataValue for MatRef<'_, f64> {
    fn to_matrix(&self) -> Mat<f64> {
        self.to_owned()
    }
}

impl DataValue for &Mat<f64> {
    fn to_matrix(&self) -> Mat<f64> {
        (*self).to_owned()
    }
}

impl DataValue for ColRef<'_, f64> {
    fn to_matrix(&self) -> Mat<f64> {
        self.as_mat().to_owned()
    }
}

impl DataValue for &[f64] {
    fn to_matrix(&self) -> Mat<f64> {
        Mat::from_fn(self.len(), 1, |i, _| self[i])
    }
}

impl DataValue for &Vec<f64> {
    fn to_matrix(&self) -> Mat<f64> {
        self.as_slice().to_matrix()
    }
}

impl<const N: usize> DataValue for &[f64; N] {
    fn to_matrix(&self) -> Mat<f64> {
        self.as_slice().to_matrix()
    }
}

impl DataValue for f64 {
    fn to_matrix(&self) -> Mat<f64> {
        Mat::from_fn(1, 1, |_, _| *self)
    }
}

/// Minimises a scalar loss over one variable on data: gradient descent, SGD,
/// mini-batch, momentum, Nesterov or Adam, with schedules, the three stop rules and
/// limits, a line search, a seed, a starting point, an observer, and data read from
/// files (also chunk by chunk).
///
/// Unset options take the defaults of `matdiff minimize`: η = 0.01, and with no
/// tolerance `‖∇Q‖ < 1e-6`, with no limit 1000 epochs.
///
/// ```
/// use matdiff::{faer, Function, Method, Minimize};
///
/// let loss = Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
/// let x = faer::mat![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
/// let y = [1.0, 2.0, 3.0];
/// let fit = Minimize::new(&loss, "w")
///     .data("X", x.as_ref())
///     .data("y", &y)
///     .method(Method::Gd)
///     .lr(0.5)
///     .tol_grad(1e-10)
///     .run()?;
/// assert!((fit.solution[(0, 0)] - 1.0).abs() < 1e-9);
/// assert_eq!(fit.stop_reason, matdiff::StopReason::GradientNorm);
/// # Ok::<(), matdiff::Error>(())
/// ```
pub struct Minimize<'a> {
    function: &'a Function,
    spec: FitSpec,
    observer: Option<Callback<'a>>,
}

impl std::fmt::Debug for Minimize<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minimize")
            .field("function", &self.function.to_string())
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl<'a> Minimize<'a> {
    /// Minimise `loss` over the variable `wrt`.
    ///
    /// ```
    /// let f = matdiff::Function::parse("norm2(x - a)^2", "")?;
    /// let fit = matdiff::Minimize::new(&f, "x").data("a", &[1.0, 2.0]).lr(0.25).run()?;
    /// assert!((fit.solution[(1, 0)] - 2.0).abs() < 1e-6);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn new(loss: &'a Function, wrt: &str) -> Minimize<'a> {
        Minimize {
            function: loss,
            spec: FitSpec::new(wrt),
            observer: None,
        }
    }

    /// The value of a data variable.
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x - a)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").data("a", &[1.0, 2.0]);
    /// assert_eq!(m.spec().data.len(), 1);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn data(mut self, name: &str, value: impl DataValue) -> Minimize<'a> {
        self.spec
            .data
            .push((name.to_owned(), Data::Memory(value.to_stored())));
        self
    }

    /// A data variable read from a CSV file (header row) or a `.npy` file; with
    /// [`Minimize::stream`], read chunk by chunk.
    ///
    /// ```
    /// # let f = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// let m = matdiff::Minimize::new(&f, "w").data_file("X", "X.npy").data_file("y", "y.npy");
    /// assert_eq!(m.spec().data.len(), 2);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn data_file(mut self, name: &str, path: impl Into<PathBuf>) -> Minimize<'a> {
        self.spec
            .data
            .push((name.to_owned(), Data::File(path.into())));
        self
    }

    /// The update rule (default: gradient descent).
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").method(matdiff::Method::Adam);
    /// # assert_eq!(m.spec().method, matdiff::Method::Adam);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn method(mut self, method: Method) -> Minimize<'a> {
        self.spec.method = method;
        self
    }

    /// The (initial) step size η (default 0.01).
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").lr(0.1);
    /// # assert_eq!(m.spec().lr, 0.1);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn lr(mut self, lr: f64) -> Minimize<'a> {
        self.spec.lr = lr;
        self
    }

    /// Samples per step: mini-batch (32 when unset), or momentum, Nesterov and Adam
    /// on mini-batches (full batch when unset).
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").method(matdiff::Method::MiniBatch).batch(16);
    /// # assert_eq!(m.spec().batch, Some(16));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn batch(mut self, batch: usize) -> Minimize<'a> {
        self.spec.batch = Some(batch);
        self
    }

    /// How η changes during the run.
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").schedule(matdiff::Schedule::InvScaling);
    /// # assert_eq!(m.spec().schedule, matdiff::Schedule::InvScaling);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn schedule(mut self, schedule: Schedule) -> Minimize<'a> {
        self.spec.schedule = schedule;
        self
    }

    /// How stochastic methods draw samples (default: shuffled epochs).
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").sampling(matdiff::Sampling::Replace);
    /// # assert_eq!(m.spec().sampling, matdiff::Sampling::Replace);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn sampling(mut self, sampling: Sampling) -> Minimize<'a> {
        self.spec.sampling = sampling;
        self
    }

    /// Shuffle within chunks of `rows` consecutive samples (and, streamed, read
    /// chunks of that many rows; 16384 when unset).
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").chunk_rows(1024);
    /// # assert_eq!(m.spec().chunk_rows, Some(1024));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn chunk_rows(mut self, rows: usize) -> Minimize<'a> {
        self.spec.chunk_rows = Some(rows);
        self
    }

    /// Read the [`Minimize::data_file`] data chunk by chunk instead of loading them
    /// whole (a linear model's loss).
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").stream(true);
    /// # assert!(m.spec().stream);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn stream(mut self, stream: bool) -> Minimize<'a> {
        self.spec.stream = stream;
        self
    }

    /// Choose η by Armijo backtracking (full-batch methods, constant schedule).
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").line_search(true);
    /// # assert!(m.spec().line_search);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn line_search(mut self, on: bool) -> Minimize<'a> {
        self.spec.line_search = on;
        self
    }

    /// Stop when `‖w_new − w_old‖ < ε`.
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").tol_step(1e-9);
    /// # assert_eq!(m.spec().stop.tol_step, Some(1e-9));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn tol_step(mut self, eps: f64) -> Minimize<'a> {
        self.spec.stop.tol_step = Some(eps);
        self
    }

    /// Stop when `|Q_new − Q_old| < ε`.
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").tol_loss(1e-12);
    /// # assert_eq!(m.spec().stop.tol_loss, Some(1e-12));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn tol_loss(mut self, eps: f64) -> Minimize<'a> {
        self.spec.stop.tol_loss = Some(eps);
        self
    }

    /// Stop when `‖∇Q(w)‖ < ε` (0: never).
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").tol_grad(1e-8);
    /// # assert_eq!(m.spec().stop.tol_grad, Some(1e-8));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn tol_grad(mut self, eps: f64) -> Minimize<'a> {
        self.spec.stop.tol_grad = Some(eps);
        self
    }

    /// Stop after `k` updates.
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").max_iter(100);
    /// # assert_eq!(m.spec().stop.max_iter, Some(100));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn max_iter(mut self, k: usize) -> Minimize<'a> {
        self.spec.stop.max_iter = Some(k);
        self
    }

    /// Stop after `e` passes over the data.
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").epochs(5);
    /// # assert_eq!(m.spec().stop.epochs, Some(5));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn epochs(mut self, e: usize) -> Minimize<'a> {
        self.spec.stop.epochs = Some(e);
        self
    }

    /// Stop when the loss has not fallen by 1e-4 (or [`Minimize::min_improvement`])
    /// below its best for `k` epochs.
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").n_iter_no_change(5);
    /// # assert_eq!(m.spec().stop.n_iter_no_change, Some(5));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn n_iter_no_change(mut self, k: usize) -> Minimize<'a> {
        self.spec.stop.n_iter_no_change = Some(k);
        self
    }

    /// The fall below the best loss that counts as an improvement for
    /// [`Minimize::n_iter_no_change`] (default 1e-4).
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").n_iter_no_change(5).min_improvement(1e-8);
    /// # assert_eq!(m.spec().stop.min_improvement, Some(1e-8));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn min_improvement(mut self, delta: f64) -> Minimize<'a> {
        self.spec.stop.min_improvement = Some(delta);
        self
    }

    /// What the loss after each epoch of a stochastic run is: exact (one more pass
    /// over the data per epoch) or the running average of the epoch's batch losses;
    /// by default exact where a stop rule or the observer looks at it. The fit's final
    /// loss and gradient norm are exact either way.
    ///
    /// ```
    /// let f = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// let x = matdiff::faer::mat![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]];
    /// let y = [1.0, 2.0, 3.0, 4.0];
    /// let fit = matdiff::Minimize::new(&f, "w")
    ///     .data("X", x.as_ref())
    ///     .data("y", &y)
    ///     .method(matdiff::Method::Sgd)
    ///     .epochs(3)
    ///     .tol_grad(0.0)
    ///     .epoch_loss(matdiff::EpochLoss::Running)
    ///     .run()?;
    /// assert_eq!(fit.epoch_loss, matdiff::EpochLoss::Running);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn epoch_loss(mut self, epoch_loss: crate::EpochLoss) -> Minimize<'a> {
        self.spec.epoch_loss = epoch_loss;
        self
    }

    /// SGD on `k` threads at once, lock-free (Hogwild!): each thread takes a part of
    /// every epoch's samples and steps the shared variable without waiting for the
    /// others. Faster on several cores, but steps may overwrite each other, so a rerun
    /// does not give the same bits; one thread (the default) is reproducible. For
    /// `sgd` on a linear model's loss, shuffled, whole epochs at one `η`.
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").method(matdiff::Method::Sgd).threads(2);
    /// # assert_eq!(m.spec().threads, Some(2));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn threads(mut self, k: usize) -> Minimize<'a> {
        self.spec.threads = Some(k);
        self
    }

    /// Fits an intercept `b` with the variable of a linear model's loss, as
    /// scikit-learn's `fit_intercept`: the predictor `X*w` becomes `X*w + b`, as if
    /// `X` had a last column of ones, which is never built (the data are read in
    /// place), and a penalty in the loss leaves `b` out. [`Fit::intercept`] holds
    /// `b`. Data in memory only; a loss that is not a linear model's is refused.
    ///
    /// ```
    /// let f = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N, d)")?;
    /// let x = matdiff::faer::mat![[0.0], [1.0], [2.0], [3.0]];
    /// let fit = matdiff::Minimize::new(&f, "w")
    ///     .data("X", &x)
    ///     .data("y", &[1.0, 3.0, 5.0, 7.0]) // y = 2x + 1
    ///     .intercept(true)
    ///     .lr(0.1)
    ///     .tol_grad(1e-10)
    ///     .run()?;
    /// assert!((fit.solution[(0, 0)] - 2.0).abs() < 1e-8);
    /// assert!((fit.intercept.unwrap() - 1.0).abs() < 1e-8);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn intercept(mut self, on: bool) -> Minimize<'a> {
        self.spec.intercept = on;
        self
    }

    /// The seed of the sampling and of a random start (default 0).
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").seed(7);
    /// # assert_eq!(m.spec().seed, 7);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn seed(mut self, seed: u64) -> Minimize<'a> {
        self.spec.seed = seed;
        self
    }

    /// Start from small random normal entries drawn with the seed (symmetric for a
    /// `symmetric` variable, positive definite for an `spd` one) instead of zeros.
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x").random_start();
    /// # assert_eq!(m.spec().start, matdiff::fit::Start::Random);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn random_start(mut self) -> Minimize<'a> {
        self.spec.start = Start::Random;
        self
    }

    /// Start from this value of the variable.
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let w0 = matdiff::faer::mat![[1.0], [2.0]];
    /// let m = matdiff::Minimize::new(&f, "x").start(w0.as_ref());
    /// # assert!(matches!(m.spec().start, matdiff::fit::Start::Value(_)));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn start(mut self, value: MatRef<'_, f64>) -> Minimize<'a> {
        self.spec.start = Start::Value(value.to_owned());
        self
    }

    /// The sample dimension that batches slice (default: the named row dimension
    /// most data share, preferring those the fitted variable does not span).
    ///
    /// ```
    /// # let f = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// let m = matdiff::Minimize::new(&f, "w").samples("N");
    /// # assert_eq!(m.spec().samples.as_deref(), Some("N"));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn samples(mut self, dimension: &str) -> Minimize<'a> {
        self.spec.samples = Some(dimension.to_owned());
        self
    }

    /// Called after every epoch (and every step, for full-batch methods) with the
    /// iteration, epoch, loss, gradient norm, step norm, η, seconds and the point.
    ///
    /// ```
    /// let f = matdiff::Function::parse("norm2(x - a)^2", "")?;
    /// let mut losses = Vec::new();
    /// matdiff::Minimize::new(&f, "x").data("a", &[1.0]).lr(0.1).max_iter(3)
    ///     .observer(|r| losses.push(r.loss)).run()?;
    /// assert!(losses.len() >= 3 && losses[0] > losses[2]);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn observer(mut self, observer: impl FnMut(&Record<'_>) + 'a) -> Minimize<'a> {
        self.observer = Some(Callback {
            call: Box::new(observer),
            steps: true,
        });
        self
    }

    /// Like [`Minimize::observer`], for the start and the epochs only: the records of
    /// single steps are not made, which saves their clock readings and norms (SGD
    /// takes a step per sample, and a record costs about as much as the step).
    ///
    /// ```
    /// let f = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N, d)")?;
    /// let x = matdiff::faer::mat![[1.0], [2.0], [3.0]];
    /// let mut scopes = Vec::new();
    /// matdiff::Minimize::new(&f, "w").data("X", &x).data("y", &[2.0, 4.0, 6.0])
    ///     .method(matdiff::Method::Sgd).epochs(2).lr(0.01)
    ///     .epoch_observer(|r| scopes.push(r.scope)).run()?;
    /// assert_eq!(scopes, [matdiff::Scope::Epoch; 3]); // the start, then two epochs
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn epoch_observer(mut self, observer: impl FnMut(&Record<'_>) + 'a) -> Minimize<'a> {
        self.observer = Some(Callback {
            call: Box::new(observer),
            steps: false,
        });
        self
    }

    /// The fit as described so far: what the command line fills from its flags.
    ///
    /// ```
    /// # let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let m = matdiff::Minimize::new(&f, "x");
    /// assert_eq!(m.spec().wrt, "x");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn spec(&self) -> &FitSpec {
        &self.spec
    }

    /// The loss bound to the in-memory data given so far, as an objective of the
    /// flattened variable: what [`plane`](crate::plane) samples on a grid and traces
    /// runs on. The options of the fit play no part.
    ///
    /// ```
    /// use matdiff::fit::Objective as _;
    ///
    /// let f = matdiff::Function::parse("norm2(x - a)^2", "")?;
    /// let mut problem = matdiff::Minimize::new(&f, "x").data("a", &[1.0, 2.0]).problem()?;
    /// assert_eq!(problem.dim(), 2);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn problem(&self) -> Result<crate::fit::Problem, Error> {
        let graph = &self.function.inner.graph;
        let data = self
            .spec
            .data
            .iter()
            .map(|(name, value)| match value {
                Data::Memory(m) => Ok((name.clone(), m.clone())),
                Data::File(path) => Ok((
                    name.clone(),
                    matdiff_num::data::load_matrix_stored(path, self.spec.csv_header)?,
                )),
            })
            .collect::<Result<Vec<_>, Error>>()?;
        matdiff_fit::problem::Problem::with_stored(
            self.function.inner.clone(),
            &self.spec.wrt,
            data,
            self.spec.samples.as_deref(),
        )
        .map_err(|e| name_known(graph, matdiff_fit::spec::FitError::from(e).into()))
    }

    /// Prepares and runs the fit.
    ///
    /// ```
    /// let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let error = matdiff::Minimize::new(&f, "x").lr(-1.0).run().unwrap_err();
    /// assert!(matches!(error, matdiff::Error::Invalid(_)));
    /// let error = matdiff::Minimize::new(&f, "v").run().unwrap_err();
    /// assert_eq!(error.to_string(), "unknown variable `v` — the variables are `x`");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn run(self) -> Result<Fit, Error> {
        let graph = &self.function.inner.graph;
        let named = |e: matdiff_fit::spec::FitError| name_known(graph, e.into());
        let mut prepared = self
            .spec
            .prepare(self.function.inner.clone())
            .map_err(named)?;
        let outcome = match self.observer {
            Some(mut callback) => prepared.run(&mut callback),
            None => prepared.run(&mut matdiff_fit::optim::NoObserver),
        }
        .map_err(named)?;
        Ok(Fit {
            variable: prepared.variable().to_owned(),
            solution: prepared.unflatten(&outcome.w),
            intercept: prepared.intercept(&outcome.w),
            loss: outcome.loss,
            grad_norm: outcome.gradient_norm,
            iterations: outcome.iterations,
            epochs: outcome.epochs,
            stop_reason: outcome.stop,
            converged: outcome.stop.converged(),
            stop_description: outcome.stop.description(),
            epoch_loss: outcome.epoch_loss,
            seconds: outcome.seconds,
            start: prepared.unflatten(&prepared.start),
        })
    }
}

/// An observer that calls a closure, at every step or only at the epochs.
struct Callback<'a> {
    call: Box<dyn FnMut(&Record<'_>) + 'a>,
    steps: bool,
}

impl Observer for Callback<'_> {
    fn record(&mut self, record: &Record<'_>) {
        (self.call)(record)
    }

    fn wants_steps(&self) -> bool {
        self.steps
    }
}

/// The result of [`Minimize::run`], as data (the schema of `matdiff minimize --json`).
///
/// ```
/// let f = matdiff::Function::parse("norm2(x - a)^2", "")?;
/// let fit = matdiff::Minimize::new(&f, "x").data("a", &[3.0]).lr(0.25).run()?;
/// let json = serde_json::to_value(&fit).unwrap();
/// assert_eq!(json["stop_reason"], "grad_norm");
/// assert_eq!(json["converged"], true);
/// assert_eq!(json["variable"], "x");
/// # Ok::<(), matdiff::Error>(())
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct Fit {
    /// The fitted variable.
    pub variable: String,
    /// Its value at the end of the run (a vector as one column).
    #[serde(serialize_with = "serialize_value")]
    pub solution: Mat<f64>,
    /// The fitted intercept `b`, when one was asked for ([`Minimize::intercept`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intercept: Option<f64>,
    /// The full loss there.
    pub loss: f64,
    /// The norm of the full gradient there.
    pub grad_norm: f64,
    /// Updates of the variable.
    pub iterations: usize,
    /// Passes over the data.
    pub epochs: usize,
    /// The rule that stopped the run.
    #[serde(serialize_with = "serialize_stop")]
    pub stop_reason: StopReason,
    /// Whether a tolerance was met (rather than a limit reached).
    pub converged: bool,
    /// The rule that stopped the run, in words.
    pub stop_description: &'static str,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    /// What the loss after each epoch was: `exact`, or `running` (the mean of the
    /// epoch's batch losses).
    #[serde(serialize_with = "serialize_epoch_loss")]
    pub epoch_loss: crate::EpochLoss,
    /// Where the run started.
    #[serde(skip)]
    pub start: Mat<f64>,
}

fn serialize_stop<S: serde::Serializer>(stop: &StopReason, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(stop.name())
}

fn serialize_epoch_loss<S: serde::Serializer>(
    epoch_loss: &crate::EpochLoss,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(epoch_loss.name())
}

/// A value as DESIGN's JSON encoding: a number for 1 × 1, a flat list for a column,
/// a list of rows otherwise.
pub(crate) fn serialize_value<S: serde::Serializer>(m: &Mat<f64>, s: S) -> Result<S::Ok, S::Error> {
    if (m.nrows(), m.ncols()) == (1, 1) {
        return s.serialize_f64(m[(0, 0)]);
    }
    matdiff_num::value::matrix_to_json(m.as_ref()).serialize(s)
}

/// Prepares a fit described as data (what [`Minimize`] builds, and the command line
/// fills from its flags) of `loss`: the method, schedule, stop rules with their
/// defaults, starting point, data (in memory or streamed) and sample dimension.
///
/// The error is the library's own, with the variable and option it concerns, for a
/// shell to word in its terms; [`Error`] converts from it.
///
/// ```
/// use matdiff::fit::{self, FitSpec};
///
/// let f = matdiff::Function::parse("norm2(x - a)^2", "")?;
/// let mut spec = FitSpec::new("x");
/// spec.data.push(("a".into(), fit::Data::Memory(matdiff::faer::mat![[1.0], [2.0]].into())));
/// spec.lr = 0.25;
/// let mut prepared = fit::prepare(&f, &spec).map_err(matdiff::Error::from)?;
/// let outcome = prepared.run(&mut fit::NoObserver).map_err(matdiff::Error::from)?;
/// assert!((prepared.unflatten(&outcome.w)[(1, 0)] - 2.0).abs() < 1e-6);
/// # Ok::<(), matdiff::Error>(())
/// ```
pub fn prepare(
    loss: &Function,
    spec: &FitSpec,
) -> Result<matdiff_fit::spec::PreparedFit, matdiff_fit::spec::FitError> {
    spec.prepare(loss.inner.clone())
}

/// Prepares the same fit with the samples spread over the ranks of `peers`: each rank
/// reads its rows of the `.npy` files spanning the sample dimension, and every
/// evaluation sums over all ranks in rank order (docs/distributed.md). A linear
/// model's loss only, as for streaming; every rank calls it with the same spec.
///
/// ```
/// use matdiff::fit::{self, FitSpec};
///
/// // One process is one rank of one: the same fit as in memory.
/// let dir = std::env::temp_dir().join("matdiff-doc-prepare-distributed");
/// std::fs::create_dir_all(&dir).unwrap();
/// let npy = |name: &str, shape: &str, values: &[f64]| {
///     let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
///     while (11 + header.len()) % 64 != 0 {
///         header.push(' ');
///     }
///     header.push('\n');
///     let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
///     bytes.extend((header.len() as u16).to_le_bytes());
///     bytes.extend(header.as_bytes());
///     values.iter().for_each(|v| bytes.extend(v.to_le_bytes()));
///     let path = dir.join(name);
///     std::fs::write(&path, bytes).unwrap();
///     path
/// };
/// let x = npy("X.npy", "(3, 1)", &[1.0, 2.0, 3.0]);
/// let y = npy("y.npy", "(3,)", &[2.0, 4.0, 6.0]);
/// let f = matdiff::Function::parse("norm2(X*w - y)^2", "X: matrix(N, d)")?;
/// let mut spec = FitSpec::new("w");
/// spec.data = vec![("X".into(), fit::Data::File(x)), ("y".into(), fit::Data::File(y))];
/// spec.lr = 0.02;
/// spec.stop.max_iter = Some(500);
/// let peers = std::rc::Rc::new(matdiff::distributed::Alone);
/// let mut prepared = fit::prepare_distributed(&f, &spec, peers).map_err(matdiff::Error::from)?;
/// let outcome = prepared.run(&mut fit::NoObserver).map_err(matdiff::Error::from)?;
/// assert!((outcome.w[0] - 2.0).abs() < 1e-6);
/// # Ok::<(), matdiff::Error>(())
/// ```
pub fn prepare_distributed(
    loss: &Function,
    spec: &FitSpec,
    peers: std::rc::Rc<dyn crate::distributed::Peers>,
) -> Result<matdiff_fit::spec::PreparedFit, matdiff_fit::spec::FitError> {
    spec.prepare_distributed(loss.inner.clone(), peers)
}

/// The loss of `loss` over the variable `wrt` on data in memory, as an objective of
/// the flattened variable: its value and gradient on all samples or a batch, the
/// starting points, and the sample dimension `samples` (default: the named row
/// dimension most data share, preferring those `wrt` does not span). The data are
/// matrices, or [`Stored`] values read in place (a mapped `.npy` file).
///
/// ```
/// use matdiff::fit::{self, Batch, Objective};
///
/// let f = matdiff::Function::parse("norm2(x - a)^2", "")?;
/// let a = matdiff::faer::mat![[1.0], [2.0]];
/// let mut problem = fit::problem(&f, "x", vec![("a".into(), a)], None)
///     .map_err(|e| matdiff::Error::from(fit::FitError::from(e)))?;
/// let mut gradient = [0.0; 2];
/// let loss = problem.loss_and_gradient(&[0.0, 0.0], Batch::All, &mut gradient).unwrap();
/// assert!((loss - 5.0).abs() < 1e-12);
/// assert_eq!(gradient, [-2.0, -4.0]);
/// # Ok::<(), matdiff::Error>(())
/// ```
pub fn problem(
    loss: &Function,
    wrt: &str,
    data: Vec<(String, impl Into<Stored>)>,
    samples: Option<&str>,
) -> Result<matdiff_fit::problem::Problem, matdiff_fit::problem::ProblemError> {
    let data = data.into_iter().map(|(name, value)| (name, value.into()));
    matdiff_fit::problem::Problem::with_stored(loss.inner.clone(), wrt, data.collect(), samples)
}
