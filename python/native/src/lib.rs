//! `matdiff._native`: the matdiff library for Python, on NumPy arrays.
//!
//! A thin layer over the library's facade: parsing, derivatives, evaluation,
//! compiled gradients, finite-difference checks, minimisation and linear regression.
//! The pure-Python package `matdiff` shapes the results (floats, 1-D and 2-D arrays)
//! and converts inputs to float64 once; this module reads float64 arrays in C or
//! Fortran order in place, computes with the GIL released, turns every library error
//! into a `matdiff.MatdiffError` subclass with the command line's located message, and
//! catches panics so that none reaches Python.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use matdiff::data::{Order, SharedValues, Stored};
use matdiff::faer::{Mat, MatRef};
use matdiff::{EpochLoss, Error, Function, Inputs, Method, Minimize, Sampling, Schedule, Solver};
use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray2, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

/// `(passed, errors, tol, sizes)` of a check, as Python receives it.
type CheckTuple = (bool, Vec<f64>, f64, Vec<(String, usize)>);

create_exception!(matdiff, MatdiffError, PyValueError, "Any error of matdiff.");
create_exception!(
    matdiff,
    ParseError,
    MatdiffError,
    "The text does not parse."
);
create_exception!(
    matdiff,
    ShapeError,
    MatdiffError,
    "Kinds or shapes do not fit, or a name is not a variable."
);
create_exception!(
    matdiff,
    DomainError,
    MatdiffError,
    "A value outside a function's domain, or a result that is not finite."
);
create_exception!(
    matdiff,
    DivergenceError,
    MatdiffError,
    "An iterative fit diverged; `advice` says what to try instead."
);
create_exception!(
    matdiff,
    DataError,
    MatdiffError,
    "Data that cannot be read or used."
);

/// The Python exception for a library error: the class by its variant, the message
/// as the command line prints it (carets under the place for syntax and shapes).
fn to_py(py: Python<'_>, error: Error) -> PyErr {
    let message = error.render().trim_end().to_owned();
    match error {
        Error::Syntax(_) => ParseError::new_err(message),
        Error::Shape(_) | Error::UnknownVariable { .. } => ShapeError::new_err(message),
        Error::Domain(_) => DomainError::new_err(message),
        Error::Divergence(text) => {
            let err = DivergenceError::new_err(message);
            // The divergence message ends with the advice, after the loss trend.
            let advice = text
                .split_once("); ")
                .map(|(_, advice)| advice.to_owned())
                .unwrap_or(text);
            let _ = err.value(py).setattr("advice", advice);
            err
        }
        Error::DataFile(_) | Error::Io(_) => DataError::new_err(message),
        _ => MatdiffError::new_err(message),
    }
}

/// Runs `body`, turning a panic into a `MatdiffError`.
fn guarded<T>(body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".to_owned());
            Err(MatdiffError::new_err(format!(
                "error: internal error in matdiff ({what}); please report it"
            )))
        }
    }
}

/// A value given for a variable, borrowed from Python for the call.
enum Held<'py> {
    Scalar(f64),
    /// A data file (CSV with a header row, or `.npy`), for a fit.
    Path(String),
    Array(PyReadonlyArrayDyn<'py, f64>),
}

/// Borrows the values of `values` (name → float or float64 ndarray) for the call.
fn hold<'py>(values: &Bound<'py, PyDict>) -> PyResult<Vec<(String, Held<'py>)>> {
    let mut held = Vec::with_capacity(values.len());
    for (name, value) in values.iter() {
        let name: String = name.extract()?;
        let value = held_value(&name, value)?;
        held.push((name, value));
    }
    Ok(held)
}

/// One value borrowed for the call: an array is tried first, the common case.
fn held_value<'py>(name: &str, value: Bound<'py, PyAny>) -> PyResult<Held<'py>> {
    if let Ok(array) = value.extract::<PyReadonlyArrayDyn<'py, f64>>() {
        return Ok(Held::Array(array));
    }
    if value.is_instance_of::<PyString>() {
        return Ok(Held::Path(value.extract()?));
    }
    Ok(Held::Scalar(value.extract::<f64>().map_err(|_| {
        ShapeError::new_err(format!(
            "error: `{name}` must be a number or a float64 array, not {}",
            value.get_type()
        ))
    })?))
}

/// A borrowed value as the library takes it.
enum View<'a> {
    Scalar(f64),
    /// A column vector.
    Vector(&'a [f64]),
    /// `rows × cols` stored row by row.
    ByRows(&'a [f64], usize, usize),
    /// Stored column by column.
    Matrix(MatRef<'a, f64>),
    /// A data file.
    Path(&'a str),
}

fn view<'a>(name: &str, held: &'a Held<'_>) -> PyResult<View<'a>> {
    let array = match held {
        Held::Scalar(v) => return Ok(View::Scalar(*v)),
        Held::Path(path) => return Ok(View::Path(path)),
        Held::Array(a) => a,
    };
    let not_contiguous = || {
        ShapeError::new_err(format!(
            "error: `{name}` is not contiguous (pass it through numpy.ascontiguousarray)"
        ))
    };
    let shape = array.shape().to_vec();
    match shape.as_slice() {
        [] => {
            let data = array.as_slice().map_err(|_| not_contiguous())?;
            Ok(View::Scalar(data[0]))
        }
        [_] => Ok(View::Vector(
            array.as_slice().map_err(|_| not_contiguous())?,
        )),
        &[rows, cols] => {
            let data = array.as_slice().map_err(|_| not_contiguous())?;
            if array.is_c_contiguous() {
                Ok(View::ByRows(data, rows, cols))
            } else {
                Ok(View::Matrix(MatRef::from_column_major_slice(
                    data, rows, cols,
                )))
            }
        }
        more => Err(ShapeError::new_err(format!(
            "error: `{name}` has {} dimensions; matdiff takes scalars, vectors and matrices",
            more.len()
        ))),
    }
}

/// A contiguous float64 array's buffer, kept alive by a reference to the array: what
/// a fit reads in place instead of a copy.
struct ArrayValues {
    _array: Py<PyUntypedArray>,
    start: *const f64,
    len: usize,
}

// SAFETY: the buffer is read only, never written, and lives as long as the array,
// which `_array` keeps alive; the documented rule is that Python does not change an
// array during a call that reads it.
unsafe impl Send for ArrayValues {}
unsafe impl Sync for ArrayValues {}

impl SharedValues for ArrayValues {
    fn values(&self) -> &[f64] {
        // SAFETY: `start..start + len` is the array's contiguous buffer (see above).
        unsafe { std::slice::from_raw_parts(self.start, self.len) }
    }
}

/// A C- or Fortran-contiguous float64 matrix or vector lent to a fit without a copy;
/// `None` for scalars, files and strided arrays.
fn lend(held: &Held<'_>) -> Option<Stored> {
    let Held::Array(array) = held else {
        return None;
    };
    let data = array.as_slice().ok()?;
    let (rows, cols, order) = match *array.shape() {
        [n] => (n, 1, Order::Columns),
        [rows, cols] if array.is_c_contiguous() => (rows, cols, Order::Rows),
        [rows, cols] => (rows, cols, Order::Columns),
        _ => return None,
    };
    let values = ArrayValues {
        _array: array.as_untyped().clone().unbind(),
        start: data.as_ptr(),
        len: data.len(),
    };
    Stored::shared(rows, cols, values, order)
}

/// The library's inputs over borrowed values.
fn inputs<'a>(held: &'a [(String, Held<'_>)]) -> PyResult<Inputs<'a>> {
    let mut inputs = Inputs::new();
    for (name, value) in held {
        inputs = match view(name, value)? {
            View::Scalar(v) => inputs.scalar(name, v),
            View::Vector(v) => inputs.vector(name, v),
            View::ByRows(data, rows, cols) => inputs.by_rows(name, data, rows, cols),
            View::Matrix(m) => inputs.matrix(name, m),
            View::Path(_) => {
                return Err(ShapeError::new_err(format!(
                    "error: `{name}` is a file name; only a fit reads data from files"
                )))
            }
        };
    }
    Ok(inputs)
}

/// `compute` on the library's inputs over `values`, with the GIL released; a
/// library error becomes the matching Python exception.
fn on_inputs<T: Send>(
    py: Python<'_>,
    values: &Bound<'_, PyDict>,
    compute: impl FnOnce(&Inputs<'_>) -> Result<T, Error> + Send,
) -> PyResult<T> {
    let held = hold(values)?;
    let inputs = inputs(&held)?;
    py.detach(|| compute(&inputs)).map_err(|e| to_py(py, e))
}

/// A matrix as a 2-D NumPy array.
fn to_numpy<'py>(py: Python<'py>, m: MatRef<'_, f64>) -> Bound<'py, PyArray2<f64>> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)]).into_pyarray(py)
}

/// A parsed, shape-checked function.
#[pyclass(frozen, name = "Function", module = "matdiff._native")]
struct PyFunction {
    inner: Function,
}

#[pymethods]
impl PyFunction {
    #[new]
    #[pyo3(signature = (expr, decls = ""))]
    fn new(py: Python<'_>, expr: &str, decls: &str) -> PyResult<Self> {
        guarded(|| {
            Function::parse(expr, decls)
                .map(|inner| PyFunction { inner })
                .map_err(|e| to_py(py, e))
        })
    }

    fn text(&self) -> String {
        self.inner.to_string()
    }

    fn pretty(&self) -> String {
        self.inner.pretty()
    }

    fn latex(&self) -> String {
        self.inner.latex()
    }

    /// `(type, [(name, kind, (rows, cols))...])`; a dimension is its name or size.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<(String, Bound<'py, PyList>)> {
        let summary = self.inner.summary();
        let list = PyList::empty(py);
        for v in summary.variables {
            let entry = |e: &matdiff::ShapeEntry| -> PyResult<Py<PyAny>> {
                Ok(match e {
                    matdiff::ShapeEntry::Named(n) => {
                        n.clone().into_pyobject(py)?.into_any().unbind()
                    }
                    matdiff::ShapeEntry::Size(n) => n.into_pyobject(py)?.into_any().unbind(),
                })
            };
            let shape = (entry(&v.shape[0])?, entry(&v.shape[1])?);
            list.append((v.name, v.kind, shape))?;
        }
        Ok((summary.type_, list))
    }

    fn derivative(&self, py: Python<'_>, wrt: &str, order: u8) -> PyResult<PyDerivative> {
        guarded(|| {
            let inner = py
                .detach(|| self.inner.derivative(wrt, order))
                .map_err(|e| to_py(py, e))?;
            Ok(PyDerivative { inner })
        })
    }

    /// The value at `values`, as a 2-D array (a scalar is 1 × 1).
    fn value<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyDict>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        guarded(|| {
            let value = on_inputs(py, values, |inputs| self.inner.value(inputs))?;
            Ok(to_numpy(py, value.as_ref()))
        })
    }

    /// The value of a scalar function and its gradient with respect to `wrt`.
    fn value_and_grad<'py>(
        &self,
        py: Python<'py>,
        wrt: &str,
        values: &Bound<'py, PyDict>,
    ) -> PyResult<(f64, Bound<'py, PyArray2<f64>>)> {
        guarded(|| {
            let (value, gradient) = on_inputs(py, values, |inputs| {
                self.inner.value_and_gradient(wrt, inputs)
            })?;
            Ok((value, to_numpy(py, gradient.as_ref())))
        })
    }

    /// `(passed, errors, tol, sizes)` of a finite-difference check of the gradient.
    fn check(&self, py: Python<'_>, wrt: &str) -> PyResult<CheckTuple> {
        guarded(|| {
            let check = py
                .detach(|| self.inner.check(wrt))
                .map_err(|e| to_py(py, e))?;
            Ok((check.passed, check.errors, check.tol, check.sizes))
        })
    }

    /// The value and gradient with respect to `wrt` compiled, with `data` bound.
    fn compile(&self, py: Python<'_>, wrt: &str, data: &Bound<'_, PyDict>) -> PyResult<PyCompiled> {
        guarded(|| {
            let compiled = self.inner.compile(wrt).map_err(|e| to_py(py, e))?;
            let data = data
                .iter()
                .map(|(k, v)| Ok((k.extract::<String>()?, v.unbind())))
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PyCompiled {
                wrt: wrt.to_owned(),
                data,
                compiled: Mutex::new(compiled),
            })
        })
    }

    /// The closed-form stationary point in `wrt`: a dict of the solution as text and
    /// LaTeX, the gradient, the Hessian and its definiteness, the verdict, the
    /// minimum-norm solution of the singular case and the steps; with `values` (every
    /// other variable), also the point on those numbers and the gradient norm there.
    fn solve<'py>(
        &self,
        py: Python<'py>,
        wrt: &str,
        values: &Bound<'py, PyDict>,
    ) -> PyResult<Bound<'py, PyDict>> {
        guarded(|| {
            let solved = py
                .detach(|| self.inner.solve(wrt))
                .map_err(|e| to_py(py, e))?;
            let report = solved.report();
            let result = PyDict::new(py);
            result.set_item("wrt", &report.wrt)?;
            result.set_item("text", &report.solution)?;
            result.set_item("latex", &report.latex)?;
            result.set_item("gradient", &report.gradient)?;
            result.set_item("hessian", &report.hessian)?;
            let definiteness = match report.definiteness {
                matdiff::Definiteness::PositiveDefinite => "positive_definite",
                matdiff::Definiteness::PositiveSemidefinite => "positive_semidefinite",
                matdiff::Definiteness::Unknown => "unknown",
            };
            result.set_item("definiteness", definiteness)?;
            result.set_item("definite_when", &report.definite_when)?;
            result.set_item("assuming", &report.assuming)?;
            result.set_item("reasons", &report.reasons)?;
            result.set_item("verdict", &report.verdict)?;
            let minimum_norm = report
                .minimum_norm
                .as_ref()
                .map(|m| (m.text.clone(), m.solver.clone()));
            result.set_item("minimum_norm", minimum_norm)?;
            let steps: Vec<(String, String)> = report
                .steps
                .iter()
                .map(|s| (s.equation.clone(), s.rule.clone()))
                .collect();
            result.set_item("steps", steps)?;
            if !values.is_empty() {
                let numbers = on_inputs(py, values, |inputs| solved.evaluate(inputs))?;
                result.set_item("point", to_numpy(py, numbers.solution.as_ref()))?;
                result.set_item("gradient_norm", numbers.gradient_norm)?;
            }
            Ok(result)
        })
    }

    /// Minimises over `wrt` on `data` with `options` (the keywords of
    /// `matdiff.minimize`); returns a dict with the solution, the outcome and the
    /// history of full-loss records.
    #[pyo3(signature = (wrt, data, options, callback = None))]
    fn minimize<'py>(
        &self,
        py: Python<'py>,
        wrt: &str,
        data: &Bound<'py, PyDict>,
        options: &Bound<'py, PyDict>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        guarded(|| minimize(py, &self.inner, wrt, data, options, callback))
    }
}

/// An option that is given (and not `None`).
fn option<'py>(options: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(options.get_item(key)?.filter(|v| !v.is_none()))
}

fn unknown(what: &str, given: &str, known: &[&str]) -> PyErr {
    MatdiffError::new_err(format!(
        "error: unknown {what} `{given}` — one of {}",
        known.join(", ")
    ))
}

fn method(name: &str) -> PyResult<Method> {
    Ok(match name {
        "gd" => Method::Gd,
        "sgd" => Method::Sgd,
        "minibatch" => Method::MiniBatch,
        "momentum" => Method::Momentum,
        "nesterov" => Method::Nesterov,
        "adam" => Method::Adam,
        other => {
            let known = ["gd", "sgd", "minibatch", "momentum", "nesterov", "adam"];
            return Err(unknown("method", other, &known));
        }
    })
}

fn schedule(name: &str) -> PyResult<Schedule> {
    Ok(match name {
        "constant" => Schedule::Constant,
        "invscaling" => Schedule::InvScaling,
        "step" => Schedule::Step,
        "adaptive" => Schedule::Adaptive,
        other => {
            let known = ["constant", "invscaling", "step", "adaptive"];
            return Err(unknown("schedule", other, &known));
        }
    })
}

fn epoch_loss(name: &str) -> PyResult<EpochLoss> {
    Ok(match name {
        "auto" => EpochLoss::Auto,
        "exact" => EpochLoss::Exact,
        "running" => EpochLoss::Running,
        other => return Err(unknown("epoch_loss", other, &["auto", "exact", "running"])),
    })
}

fn sampling(name: &str) -> PyResult<Sampling> {
    Ok(match name {
        "shuffle" => Sampling::Shuffle,
        "replace" => Sampling::Replace,
        other => return Err(unknown("sampling", other, &["shuffle", "replace"])),
    })
}

/// The full-loss records of a run, column by column.
#[derive(Default)]
struct History {
    iteration: Vec<f64>,
    epoch: Vec<f64>,
    loss: Vec<f64>,
    grad_norm: Vec<f64>,
    step_norm: Vec<f64>,
    lr: Vec<f64>,
    seconds: Vec<f64>,
}

/// The options of a fit, read from Python before the GIL is released.
#[derive(Default)]
struct Options {
    method: Option<Method>,
    lr: Option<f64>,
    batch: Option<usize>,
    schedule: Option<Schedule>,
    sampling: Option<Sampling>,
    chunk_rows: Option<usize>,
    line_search: bool,
    tol_step: Option<f64>,
    tol_loss: Option<f64>,
    tol_grad: Option<f64>,
    max_iter: Option<usize>,
    epochs: Option<usize>,
    n_iter_no_change: Option<usize>,
    epoch_loss: Option<EpochLoss>,
    threads: Option<usize>,
    intercept: bool,
    seed: Option<u64>,
    samples: Option<String>,
    start: Option<Mat<f64>>,
    random_start: bool,
    stream: bool,
}

fn read_options(options: &Bound<'_, PyDict>) -> PyResult<Options> {
    let get = |key: &str| option(options, key);
    let start = match get("x0")? {
        Some(v) => {
            let held = Held::Array(v.extract::<PyReadonlyArrayDyn<'_, f64>>()?);
            Some(match view("x0", &held)? {
                View::Scalar(v) => Mat::from_fn(1, 1, |_, _| v),
                View::Vector(v) => Mat::from_fn(v.len(), 1, |i, _| v[i]),
                View::ByRows(d, rows, cols) => MatRef::from_column_major_slice(d, cols, rows)
                    .transpose()
                    .to_owned(),
                View::Matrix(m) => m.to_owned(),
                View::Path(_) => return Err(ShapeError::new_err("error: `x0` must be an array")),
            })
        }
        None => None,
    };
    Ok(Options {
        method: get("method")?
            .map(|v| method(&v.extract::<String>()?))
            .transpose()?,
        lr: get("lr")?.map(|v| v.extract()).transpose()?,
        batch: get("batch")?.map(|v| v.extract()).transpose()?,
        schedule: get("schedule")?
            .map(|v| schedule(&v.extract::<String>()?))
            .transpose()?,
        sampling: get("sampling")?
            .map(|v| sampling(&v.extract::<String>()?))
            .transpose()?,
        chunk_rows: get("chunk_rows")?.map(|v| v.extract()).transpose()?,
        line_search: get("line_search")?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or(false),
        tol_step: get("tol_step")?.map(|v| v.extract()).transpose()?,
        tol_loss: get("tol_loss")?.map(|v| v.extract()).transpose()?,
        tol_grad: get("tol_grad")?.map(|v| v.extract()).transpose()?,
        max_iter: get("max_iter")?.map(|v| v.extract()).transpose()?,
        epochs: get("epochs")?.map(|v| v.extract()).transpose()?,
        n_iter_no_change: get("n_iter_no_change")?.map(|v| v.extract()).transpose()?,
        epoch_loss: get("epoch_loss")?
            .map(|v| epoch_loss(&v.extract::<String>()?))
            .transpose()?,
        threads: get("threads")?.map(|v| v.extract()).transpose()?,
        intercept: get("intercept")?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or(false),
        seed: get("seed")?.map(|v| v.extract()).transpose()?,
        samples: get("samples")?.map(|v| v.extract()).transpose()?,
        start,
        stream: get("stream")?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or(false),
        random_start: get("random_start")?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or(false),
    })
}

/// The fit described by `options` on `data`.
fn configure<'a>(
    function: &'a Function,
    wrt: &str,
    data: &[(&str, View<'_>)],
    options: &Options,
) -> Minimize<'a> {
    let mut run = Minimize::new(function, wrt);
    for (name, value) in data {
        run = match value {
            View::Scalar(v) => run.data(name, *v),
            View::Vector(v) => run.data(name, *v),
            View::ByRows(d, rows, cols) => run.data(
                name,
                MatRef::from_column_major_slice(d, *cols, *rows).transpose(),
            ),
            View::Matrix(m) => run.data(name, *m),
            View::Path(path) => run.data_file(name, *path),
        };
    }
    if let Some(v) = options.method {
        run = run.method(v);
    }
    if let Some(v) = options.lr {
        run = run.lr(v);
    }
    if let Some(v) = options.batch {
        run = run.batch(v);
    }
    if let Some(v) = options.schedule {
        run = run.schedule(v);
    }
    if let Some(v) = options.sampling {
        run = run.sampling(v);
    }
    if let Some(v) = options.chunk_rows {
        run = run.chunk_rows(v);
    }
    if options.line_search {
        run = run.line_search(true);
    }
    if let Some(v) = options.tol_step {
        run = run.tol_step(v);
    }
    if let Some(v) = options.tol_loss {
        run = run.tol_loss(v);
    }
    if let Some(v) = options.tol_grad {
        run = run.tol_grad(v);
    }
    if let Some(v) = options.max_iter {
        run = run.max_iter(v);
    }
    if let Some(v) = options.epochs {
        run = run.epochs(v);
    }
    if let Some(v) = options.n_iter_no_change {
        run = run.n_iter_no_change(v);
    }
    if let Some(v) = options.epoch_loss {
        run = run.epoch_loss(v);
    }
    if let Some(v) = options.threads {
        run = run.threads(v);
    }
    if options.intercept {
        run = run.intercept(true);
    }
    if let Some(v) = options.seed {
        run = run.seed(v);
    }
    if let Some(v) = &options.samples {
        run = run.samples(v);
    }
    if let Some(v) = &options.start {
        run = run.start(v.as_ref());
    }
    if options.stream {
        run = run.stream(true);
    }
    if options.random_start {
        run = run.random_start();
    }
    run
}

fn minimize<'py>(
    py: Python<'py>,
    function: &Function,
    wrt: &str,
    data: &Bound<'py, PyDict>,
    options: &Bound<'py, PyDict>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let held = hold(data)?;
    let mut views = Vec::with_capacity(held.len());
    let mut shared = Vec::new();
    for (name, value) in &held {
        match lend(value) {
            Some(stored) => shared.push((name.as_str(), stored)),
            None => views.push((name.as_str(), view(name, value)?)),
        }
    }
    let options = read_options(options)?;

    let mut history = History::default();
    let mut callback_error: Option<PyErr> = None;
    let outcome = py.detach(|| {
        let observer = |record: &matdiff::Record<'_>| {
            if record.scope == matdiff::Scope::Epoch {
                history.iteration.push(record.iteration as f64);
                history.epoch.push(record.epoch as f64);
                history.loss.push(record.loss);
                history.grad_norm.push(record.grad_norm);
                history.step_norm.push(record.step_norm);
                history.lr.push(record.lr);
                history.seconds.push(record.seconds);
            }
            if let (Some(callback), None) = (&callback, &callback_error) {
                if let Err(e) = Python::attach(|py| call_back(py, callback, record)) {
                    callback_error = Some(e);
                }
            }
        };
        let mut run = configure(function, wrt, &views, &options);
        // Arrays are lent to the fit in place rather than copied into it.
        for (name, stored) in &shared {
            run = run.data(name, stored.clone());
        }
        // Without a Python callback only the epochs' records (the history) are made.
        if callback.is_some() {
            run.observer(observer).run()
        } else {
            run.epoch_observer(observer).run()
        }
    });
    if let Some(error) = callback_error {
        return Err(error);
    }
    let fit = outcome.map_err(|e| to_py(py, e))?;
    let result = PyDict::new(py);
    result.set_item("x", to_numpy(py, fit.solution.as_ref()))?;
    result.set_item("intercept", fit.intercept)?;
    result.set_item("fun", fit.loss)?;
    result.set_item("grad_norm", fit.grad_norm)?;
    result.set_item("nit", fit.iterations)?;
    result.set_item("epochs", fit.epochs)?;
    result.set_item("stop_reason", fit.stop_reason.name())?;
    result.set_item("converged", fit.converged)?;
    result.set_item("message", fit.stop_description)?;
    result.set_item("seconds", fit.seconds)?;
    result.set_item("epoch_loss", fit.epoch_loss.name())?;
    let columns = PyDict::new(py);
    columns.set_item("iteration", history.iteration.into_pyarray(py))?;
    columns.set_item("epoch", history.epoch.into_pyarray(py))?;
    columns.set_item("loss", history.loss.into_pyarray(py))?;
    columns.set_item("grad_norm", history.grad_norm.into_pyarray(py))?;
    columns.set_item("step_norm", history.step_norm.into_pyarray(py))?;
    columns.set_item("lr", history.lr.into_pyarray(py))?;
    columns.set_item("seconds", history.seconds.into_pyarray(py))?;
    result.set_item("history", columns)?;
    Ok(result)
}

/// Calls the Python callback with one record as a dict.
fn call_back(py: Python<'_>, callback: &Py<PyAny>, record: &matdiff::Record<'_>) -> PyResult<()> {
    let info = PyDict::new(py);
    let scope = match record.scope {
        matdiff::Scope::Step => "step",
        matdiff::Scope::Epoch => "epoch",
    };
    info.set_item("scope", scope)?;
    info.set_item("iteration", record.iteration)?;
    info.set_item("epoch", record.epoch)?;
    info.set_item("loss", record.loss)?;
    info.set_item("grad_norm", record.grad_norm)?;
    info.set_item("step_norm", record.step_norm)?;
    info.set_item("lr", record.lr)?;
    info.set_item("seconds", record.seconds)?;
    info.set_item("x", record.w.to_vec().into_pyarray(py))?;
    callback.call1(py, (info,))?;
    Ok(())
}

/// A derivative with its derivation.
#[pyclass(frozen, name = "Derivative", module = "matdiff._native")]
struct PyDerivative {
    inner: matdiff::Derivative,
}

#[pymethods]
impl PyDerivative {
    fn text(&self) -> String {
        self.inner.to_string()
    }

    fn kind(&self) -> &'static str {
        self.inner.kind().name()
    }

    fn latex(&self) -> String {
        self.inner.latex()
    }

    fn pretty(&self) -> String {
        self.inner.pretty()
    }

    fn latex_derivation(&self) -> String {
        self.inner.latex_derivation()
    }

    fn text_derivation(&self) -> String {
        self.inner.text_derivation()
    }

    /// `[(expr, rule), ...]`.
    fn steps(&self) -> Vec<(String, String)> {
        self.inner
            .steps()
            .into_iter()
            .map(|s| (s.expr, s.rule))
            .collect()
    }

    /// The derivative's value at `values`, as a 2-D array.
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyDict>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        guarded(|| {
            let value = on_inputs(py, values, |inputs| self.inner.evaluate(inputs))?;
            Ok(to_numpy(py, value.as_ref()))
        })
    }

    fn to_numpy(&self, py: Python<'_>) -> PyResult<String> {
        guarded(|| self.inner.to_numpy().map_err(|e| to_py(py, e)))
    }

    fn to_rust(&self, py: Python<'_>) -> PyResult<String> {
        guarded(|| self.inner.to_rust().map_err(|e| to_py(py, e)))
    }
}

/// The value and gradient of a scalar function with its data bound.
#[pyclass(frozen, name = "Compiled", module = "matdiff._native")]
struct PyCompiled {
    wrt: String,
    data: Vec<(String, Py<PyAny>)>,
    compiled: Mutex<matdiff::Compiled>,
}

#[pymethods]
impl PyCompiled {
    /// `(value, gradient)` at `w`, the gradient as a 2-D array.
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        w: &Bound<'py, PyAny>,
    ) -> PyResult<(f64, Bound<'py, PyArray2<f64>>)> {
        guarded(|| {
            // The bound arrays are borrowed again at each call, never copied.
            let mut held = Vec::with_capacity(self.data.len() + 1);
            for (name, value) in &self.data {
                held.push((name.clone(), held_value(name, value.bind(py).clone())?));
            }
            held.push((self.wrt.clone(), held_value(&self.wrt, w.clone())?));
            let inputs = inputs(&held)?;
            let (value, gradient) = py
                .detach(|| {
                    let mut compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
                    compiled
                        .value_and_gradient(&inputs)
                        .map(|(v, g)| (v, g.to_owned()))
                })
                .map_err(|e| to_py(py, e))?;
            Ok((value, to_numpy(py, gradient.as_ref())))
        })
    }
}

/// Linear regression `y ≈ b₀ + X b`: a dict of the fit.
#[pyfunction]
#[pyo3(signature = (x, y, solver = "auto"))]
fn linreg<'py>(
    py: Python<'py>,
    x: PyReadonlyArrayDyn<'py, f64>,
    y: PyReadonlyArrayDyn<'py, f64>,
    solver: &str,
) -> PyResult<Bound<'py, PyDict>> {
    guarded(|| {
        let solver: Solver = solver.parse().map_err(|e| to_py(py, Error::from(e)))?;
        let (x, y) = (Held::Array(x), Held::Array(y));
        let x = match view("X", &x)? {
            View::ByRows(d, rows, cols) => {
                MatRef::from_column_major_slice(d, cols, rows).transpose()
            }
            View::Matrix(m) => m,
            _ => return Err(ShapeError::new_err("error: `X` must be a 2-D array")),
        };
        let y = match view("y", &y)? {
            View::Vector(v) => v,
            _ => return Err(ShapeError::new_err("error: `y` must be a 1-D array")),
        };
        let fit = py
            .detach(|| matdiff::linreg::fit(x, y, solver))
            .map_err(|e| to_py(py, e))?;
        let result = PyDict::new(py);
        result.set_item("coef", fit.coefficients.into_pyarray(py))?;
        result.set_item("intercept", fit.intercept)?;
        result.set_item("r2", fit.r2)?;
        result.set_item("mse", fit.mse)?;
        result.set_item("condition", fit.condition)?;
        result.set_item("rank", fit.rank)?;
        result.set_item("solver", fit.solver)?;
        result.set_item("why", fit.why)?;
        result.set_item("iterations", fit.iterations)?;
        result.set_item("epochs", fit.epochs)?;
        result.set_item("seconds", fit.seconds)?;
        result.set_item("warnings", fit.warnings)?;
        Ok(result)
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyFunction>()?;
    m.add_class::<PyDerivative>()?;
    m.add_class::<PyCompiled>()?;
    m.add_function(wrap_pyfunction!(linreg, m)?)?;
    m.add("MatdiffError", py.get_type::<MatdiffError>())?;
    m.add("ParseError", py.get_type::<ParseError>())?;
    m.add("ShapeError", py.get_type::<ShapeError>())?;
    m.add("DomainError", py.get_type::<DomainError>())?;
    m.add("DivergenceError", py.get_type::<DivergenceError>())?;
    m.add("DataError", py.get_type::<DataError>())?;
    Ok(())
}
