"""matdiff: vector–matrix calculus from Python.

Write a function in matrix notation, get its gradient or Hessian by the seminar's
rules (with the derivation, simplified to textbook form), check it by finite
differences, evaluate and compile it on NumPy arrays, minimise it on data, and fit a
linear regression::

    import numpy as np, matdiff as md
    f = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")
    str(f.gradient("w"))                 # "2/N*X'*(X*w - y)"
    value, grad = f.value_and_grad("w", X=X, w=w, y=y)

Arrays
------
float64 arrays in C or Fortran order are handed to the engine as they are and read
in place, with no copy (a C-order matrix is read as stored by rows); only
:func:`minimize` copies its data into the fit. Other dtypes, strided
views, lists and scalars are converted once, to float64. Results are NumPy arrays:
vectors 1-D, matrices 2-D, scalars ``float``.

The GIL is released while matdiff computes. The arrays given to a call are borrowed
for its duration, not copied first: do not change them from another thread while the
call runs (the result is then unspecified, as with NumPy's own functions). Arrays
bound by :meth:`Function.compile` are read again at every call of the compiled
function, so changing them between calls changes the data it uses.

Errors
------
Every error is a :class:`MatdiffError` (a ``ValueError``): :class:`ParseError`,
:class:`ShapeError`, :class:`DomainError`, :class:`DivergenceError` (with
``.advice``) or :class:`DataError`. The message is the command line's, with carets
under the place in the expression. A failure inside the engine is a
:class:`MatdiffError` too, never a crash.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import os

import numpy as np

from . import _native
from ._native import (
    DataError,
    DivergenceError,
    DomainError,
    MatdiffError,
    ParseError,
    ShapeError,
)

__all__ = [
    "Function",
    "Derivative",
    "Compiled",
    "Check",
    "Solution",
    "MinimizeResult",
    "LinregResult",
    "check",
    "minimize",
    "linreg",
    "MatdiffError",
    "ParseError",
    "ShapeError",
    "DomainError",
    "DivergenceError",
    "DataError",
]

__version__ = "0.1.0"

ArrayLike = Union[float, int, np.ndarray, List[Any], Tuple[Any, ...]]


def _as_input(value: Any) -> Any:
    """A value as the engine reads it: a float, or a float64 array in C or F order.

    float64 arrays that are C- or F-contiguous pass through untouched (no copy);
    anything else is converted once.
    """
    if isinstance(value, np.ndarray):
        if value.dtype == np.float64 and (
            value.flags.c_contiguous or value.flags.f_contiguous
        ):
            return value
        return np.ascontiguousarray(value, dtype=np.float64)
    if isinstance(value, (bool, np.bool_)):
        raise ShapeError(f"error: a boolean is not a number: {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    try:
        return np.ascontiguousarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"error: cannot read {type(value).__name__} as numbers: {exc}") from None


def _inputs(values: Mapping[str, Any], files: bool = False) -> Dict[str, Any]:
    out = {}
    for name, value in values.items():
        if files and isinstance(value, (str, os.PathLike)):
            out[name] = os.fspath(value)
        else:
            out[name] = _as_input(value)
    return out


def _shaped(array: np.ndarray, kind: str) -> Any:
    """A 2-D result as the variable or value it is: float, 1-D or 2-D."""
    if kind == "scalar":
        return float(array[0, 0])
    if kind == "vector":
        return array.reshape(-1)
    return array


def _kind_of_type(type_: str) -> str:
    """`scalar`, `vector(m)`, `matrix(m, n)` → scalar, vector, matrix."""
    return type_.split("(", 1)[0]


class Derivative:
    """A gradient, Jacobian, differential or Hessian, with its derivation.

    ``str(d)`` is the result as text that parses back; :attr:`pretty` is Unicode,
    :attr:`latex` LaTeX; :attr:`steps` the derivation as ``(expr, rule)`` pairs. In a
    notebook it renders as LaTeX, the steps as an aligned block.
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __str__(self) -> str:
        return self._inner.text()

    def __repr__(self) -> str:
        return f"<matdiff.Derivative {self.kind}: {self._inner.text()}>"

    @property
    def kind(self) -> str:
        """``'gradient'``, ``'jacobian'``, ``'differential'`` or ``'hessian'``."""
        return self._inner.kind()

    @property
    def latex(self) -> str:
        """The result in LaTeX math."""
        return self._inner.latex()

    @property
    def pretty(self) -> str:
        """The result in Unicode, textbook look."""
        return self._inner.pretty()

    @property
    def steps(self) -> List[Tuple[str, str]]:
        """The derivation: ``(expression after the step, rule)`` per step."""
        return list(self._inner.steps())

    @property
    def derivation(self) -> str:
        """The derivation and the result as lines of text."""
        return self._inner.text_derivation()

    @property
    def latex_derivation(self) -> str:
        """The derivation as a LaTeX ``align`` environment."""
        return self._inner.latex_derivation()

    def evaluate(self, **values: ArrayLike) -> Any:
        """The derivative's value at ``values``: a Hessian as a 2-D array, a gradient
        of a vector variable as a 1-D array, a 1 × 1 result as a float."""
        value = self._inner.evaluate(_inputs(values))
        if value.shape == (1, 1):
            return float(value[0, 0])
        if self.kind == "gradient" and value.shape[1] == 1:
            return value.reshape(-1)
        return value

    def to_numpy(self) -> str:
        """Python source of a NumPy function computing the derivative."""
        return self._inner.to_numpy()

    def to_rust(self) -> str:
        """Rust source of a function computing the derivative."""
        return self._inner.to_rust()

    def _repr_latex_(self) -> str:
        return self._inner.latex_derivation()


class Check:
    """The outcome of a finite-difference check: :attr:`passed`, :attr:`max_error`."""

    __slots__ = ("passed", "errors", "tol", "sizes")

    def __init__(
        self, passed: bool, errors: List[float], tol: float, sizes: List[Tuple[str, int]]
    ) -> None:
        self.passed = passed
        self.errors = list(errors)
        self.tol = tol
        self.sizes = dict(sizes)

    @property
    def max_error(self) -> float:
        """The largest relative error over the trials."""
        return max(self.errors) if self.errors else 0.0

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"<matdiff.Check {verdict}: max error {self.max_error:.3g} (tol {self.tol:g})>"


class Compiled:
    """The value and gradient of a scalar function with its data bound:
    ``fg(w) -> (value, grad)``, the gradient shaped as ``w``. Suited to
    ``scipy.optimize.minimize(fg, w0, jac=True)``."""

    __slots__ = ("_inner", "_wrt")

    def __init__(self, inner: Any, wrt: str) -> None:
        self._inner = inner
        self._wrt = wrt

    def __call__(self, w: ArrayLike) -> Tuple[float, Any]:
        given = _as_input(w)
        value, grad = self._inner(given)
        if isinstance(given, float):
            return value, float(grad[0, 0])
        return value, grad.reshape(np.shape(given))

    def __repr__(self) -> str:
        return f"<matdiff.Compiled value and gradient in {self._wrt}>"


class Solution:
    """The closed-form stationary point of a quadratic function, from
    :meth:`Function.solve`: ``∇f = 0`` solved for the variable in textbook form.

    ``str(s)`` is the point as text that parses back (``inv(X'*X)*X'*y``);
    :attr:`latex` the same in LaTeX; :attr:`steps` the derivation from ``∇f = 0`` as
    ``(equation, rule)`` pairs; :attr:`hessian` with its :attr:`definiteness` and
    :attr:`verdict` (``minimum, unique when X has full column rank``, …);
    :attr:`minimum_norm` the minimum-norm solution of the singular case as
    ``(expression, solver)``, or ``None``. When values were given, :attr:`x` is the
    point on them (shaped as the variable) and :attr:`grad_norm` the norm of the
    gradient there; otherwise both are ``None``. In a notebook it renders as LaTeX.
    """

    __slots__ = (
        "wrt",
        "text",
        "latex",
        "gradient",
        "hessian",
        "definiteness",
        "definite_when",
        "assuming",
        "reasons",
        "verdict",
        "minimum_norm",
        "steps",
        "x",
        "grad_norm",
    )

    def __init__(self, raw: Dict[str, Any], kind: str) -> None:
        self.wrt: str = raw["wrt"]
        self.text: str = raw["text"]
        self.latex: str = raw["latex"]
        self.gradient: str = raw["gradient"]
        self.hessian: str = raw["hessian"]
        self.definiteness: str = raw["definiteness"]
        self.definite_when: List[str] = list(raw["definite_when"])
        self.assuming: List[str] = list(raw["assuming"])
        self.reasons: List[str] = list(raw["reasons"])
        self.verdict: str = raw["verdict"]
        self.minimum_norm: Optional[Tuple[str, str]] = raw["minimum_norm"]
        self.steps: List[Tuple[str, str]] = list(raw["steps"])
        self.x: Any = _shaped(raw["point"], kind) if "point" in raw else None
        self.grad_norm: Optional[float] = raw.get("gradient_norm")

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<matdiff.Solution {self.wrt} = {self.text}: {self.verdict}>"

    def _repr_latex_(self) -> str:
        return f"$${self.wrt}^{{*}} = {self.latex}$$"


class Function:
    """A scalar, vector or matrix function of named variables, parsed and
    shape-checked: ``Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")``.

    Undeclared names are inferred (vectors, or scalars where the shapes say so).
    Calling it on values gives its value: ``f(X=X, w=w, y=y)``.
    """

    __slots__ = ("_inner", "_type", "_variables")

    def __init__(self, expr: str, let: str = "") -> None:
        self._inner = _native.Function(expr, let)
        type_, variables = self._inner.summary()
        self._type: str = type_
        self._variables: Dict[str, Tuple[str, Tuple[Union[str, int], ...]]] = {
            name: (kind, tuple(shape)) for name, kind, shape in variables
        }

    @property
    def variables(self) -> Dict[str, Tuple[str, Tuple[Union[str, int], ...]]]:
        """``{name: (kind, shape)}``: ``{'w': ('vector', ('d',)), 'X': ('matrix', ('N', 'd'))}``.

        A vector's shape is its length alone; a scalar's is ``()``.
        """
        out = {}
        for name, (kind, shape) in self._variables.items():
            if kind == "scalar":
                out[name] = (kind, ())
            elif kind == "vector":
                out[name] = (kind, shape[:1])
            else:
                out[name] = (kind, shape)
        return out

    @property
    def type(self) -> str:
        """The shape of the value in words: ``scalar``, ``vector(m)``, ``matrix(m, n)``."""
        return self._type

    @property
    def pretty(self) -> str:
        """The expression in Unicode."""
        return self._inner.pretty()

    @property
    def latex(self) -> str:
        """The expression in LaTeX."""
        return self._inner.latex()

    def __str__(self) -> str:
        return self._inner.text()

    def __repr__(self) -> str:
        return f"<matdiff.Function {self._inner.text()}: {self._type}>"

    def _repr_latex_(self) -> str:
        return f"$${self._inner.latex()}$$"

    def _variable_kind(self, wrt: str) -> str:
        kind = self._variables.get(wrt, ("matrix", ()))[0]
        return kind if kind in ("scalar", "vector") else "matrix"

    def derivative(self, wrt: str, order: int = 1) -> Derivative:
        """The derivative of order 1 or 2 with respect to ``wrt``."""
        return Derivative(self._inner.derivative(wrt, order))

    def gradient(self, wrt: str) -> Derivative:
        """The gradient (Jacobian, differential for non-scalar functions) in ``wrt``."""
        return self.derivative(wrt, 1)

    def hessian(self, wrt: str) -> Derivative:
        """The Hessian of a scalar function in ``wrt``."""
        return self.derivative(wrt, 2)

    def __call__(self, **values: ArrayLike) -> Any:
        """The value at ``values``: a float, a 1-D array (vector) or a 2-D array."""
        value = self._inner.value(_inputs(values))
        return _shaped(value, _kind_of_type(self._type))

    def value_and_grad(self, wrt: str, **values: ArrayLike) -> Tuple[float, Any]:
        """The value of a scalar function and its gradient in ``wrt``."""
        value, grad = self._inner.value_and_grad(wrt, _inputs(values))
        return value, _shaped(grad, self._variable_kind(wrt))

    def compile(self, wrt: str, **data: ArrayLike) -> Compiled:
        """``fg(w) -> (value, grad)`` with ``data`` bound once."""
        if wrt in data:
            raise ShapeError(f"error: `{wrt}` is the variable of the compiled function, not data")
        return Compiled(self._inner.compile(wrt, _inputs(data)), wrt)

    def check(self, wrt: str) -> Check:
        """Compares the gradient in ``wrt`` with central finite differences."""
        return Check(*self._inner.check(wrt))

    def solve(self, wrt: str, **values: ArrayLike) -> Solution:
        """Solves ``∇f = 0`` for ``wrt`` in closed form, when ``f`` is quadratic in it:
        ``f.solve("w")`` for ``1/N*norm2(X*w - y)^2`` is ``inv(X'*X)*X'*y``, a minimum,
        unique when ``X`` has full column rank. With ``values`` (every other variable)
        the point is also computed on them, ``inv(A)*b`` as a linear solve.

        A gradient that is not affine in ``wrt`` (logistic regression) has no closed
        form: :class:`MatdiffError`, with a caret under the first part that is not
        quadratic.
        """
        if wrt in values:
            raise ShapeError(f"error: `{wrt}` is the variable solved for; give the others")
        raw = self._inner.solve(wrt, _inputs(values))
        return Solution(raw, self._variable_kind(wrt))


def check(f: Function, wrt: str) -> Check:
    """Compares ``f``'s gradient in ``wrt`` with central finite differences on five
    random instances that honour the declarations: ``.passed``, ``.max_error``."""
    return f.check(wrt)


class MinimizeResult:
    """The outcome of :func:`minimize`, in the manner of ``scipy.optimize.OptimizeResult``.

    ``x`` (shaped as the variable), ``fun`` (the full loss there), ``nit`` (updates),
    ``epochs``, ``stop_reason``, ``success`` (a tolerance was met), ``message``,
    ``grad_norm``, ``seconds`` and ``history``: a dict of NumPy arrays (``iteration``,
    ``epoch``, ``loss``, ``grad_norm``, ``step_norm``, ``lr``, ``seconds``), one entry
    per epoch. ``epoch_loss`` says what a stochastic run's epoch losses are:
    ``"exact"`` (the full loss), or ``"running"`` (the mean of the epoch's batch
    losses, with ``grad_norm`` NaN); ``fun`` and ``grad_norm`` are exact either way.
    ``intercept`` is the fitted intercept with ``intercept=True``, else ``None``.
    """

    def __init__(self, raw: Dict[str, Any], kind: str) -> None:
        self.x = _shaped(raw["x"], kind)
        self.intercept: Optional[float] = raw["intercept"]
        self.fun: float = raw["fun"]
        self.grad_norm: float = raw["grad_norm"]
        self.nit: int = raw["nit"]
        self.epochs: int = raw["epochs"]
        self.stop_reason: str = raw["stop_reason"]
        self.success: bool = raw["converged"]
        self.message: str = raw["message"]
        self.seconds: float = raw["seconds"]
        self.epoch_loss: str = raw["epoch_loss"]
        self.history: Dict[str, np.ndarray] = dict(raw["history"])

    def __repr__(self) -> str:
        return (
            f"<matdiff.MinimizeResult fun={self.fun:.6g} nit={self.nit} "
            f"epochs={self.epochs} stop_reason={self.stop_reason!r}>"
        )


def minimize(
    f: Function,
    wrt: str,
    *,
    method: str = "gd",
    lr: Optional[float] = None,
    epochs: Optional[int] = None,
    batch: Optional[int] = None,
    seed: Optional[int] = None,
    max_iter: Optional[int] = None,
    tol_step: Optional[float] = None,
    tol_loss: Optional[float] = None,
    tol_grad: Optional[float] = None,
    n_iter_no_change: Optional[int] = None,
    epoch_loss: Optional[str] = None,
    threads: Optional[int] = None,
    intercept: bool = False,
    schedule: Optional[str] = None,
    sampling: Optional[str] = None,
    chunk_rows: Optional[int] = None,
    line_search: bool = False,
    stream: bool = False,
    samples: Optional[str] = None,
    x0: Optional[ArrayLike] = None,
    random_start: bool = False,
    callback: Optional[Callable[[Dict[str, Any]], None]] = None,
    **data: ArrayLike,
) -> MinimizeResult:
    """Minimises the scalar loss ``f`` over ``wrt`` on ``data`` (the other variables,
    by name), with the options of ``matdiff minimize``.

    ``method``: ``gd``, ``sgd``, ``minibatch``, ``momentum``, ``nesterov``, ``adam``
    (``sgd`` with ``batch`` > 1 is ``minibatch``);
    ``schedule``: ``constant``, ``invscaling``, ``step``, ``adaptive``; ``sampling``:
    ``shuffle``, ``replace``. Unset options take the command line's defaults (η = 0.01;
    with no tolerance ``‖∇Q‖ < 1e-6``; with no limit 1000 epochs); a tolerance of 0
    turns its rule off. ``epoch_loss``: ``exact`` (the full loss after every epoch of
    a stochastic method, one more pass over the data; the default, as the history
    keeps it) or ``running`` (the mean of the epoch's batch losses, as scikit-learn
    reports; no extra pass, and no gradient tolerance). ``threads``: SGD on that many
    threads at once, lock-free (Hogwild!): faster, but not reproducible bit for bit. ``momentum`` is
    the command line's: β = 0.9 for the methods ``momentum`` and ``nesterov``.

    ``intercept=True`` fits an intercept ``b`` with the variable of a linear model's
    loss, as scikit-learn's ``fit_intercept``: the predictor ``X*w`` becomes
    ``X*w + b``, as if ``X`` had a last column of ones, which is never built (``X`` is
    still read in place); a penalty in the loss leaves ``b`` out. The result's
    ``intercept`` holds ``b``, and a callback's ``x`` ends with it. Data in memory
    only; another loss raises :class:`MatdiffError`.

    ``callback(record)`` is called at the start, after every step of a full-batch
    method and after every step and epoch of a stochastic one, with a dict (``scope``,
    ``iteration``, ``epoch``, ``loss``, ``grad_norm``, ``step_norm``, ``lr``,
    ``seconds``, ``x``). An exception it raises ends the call once the run is over.

    A data value may be a file name (CSV with a header row, or ``.npy``); with
    ``stream=True`` such files are read chunk by chunk (a linear model's loss). A
    malformed file raises :class:`DataError`.

    A run that diverges raises :class:`DivergenceError`, whose ``advice`` says what to
    try instead.
    """
    if method == "sgd" and batch is not None:
        # SGD on batches of more than one sample is mini-batch descent.
        method, batch = ("sgd", None) if batch == 1 else ("minibatch", batch)
    options = {
        "method": method,
        "lr": lr,
        "epochs": epochs,
        "batch": batch,
        "seed": seed,
        "max_iter": max_iter,
        "tol_step": tol_step,
        "tol_loss": tol_loss,
        "tol_grad": tol_grad,
        "n_iter_no_change": n_iter_no_change,
        "epoch_loss": epoch_loss,
        "threads": threads,
        "intercept": intercept,
        "schedule": schedule,
        "sampling": sampling,
        "chunk_rows": chunk_rows,
        "line_search": line_search,
        "stream": stream,
        "samples": samples,
        "random_start": random_start,
        "x0": None if x0 is None else np.ascontiguousarray(x0, dtype=np.float64),
    }
    if wrt in data:
        raise ShapeError(f"error: `{wrt}` is the variable to fit; give its start as x0=")
    raw = f._inner.minimize(wrt, _inputs(data, files=True), options, callback)
    return MinimizeResult(raw, f._variable_kind(wrt))


class LinregResult:
    """A fitted linear regression ``y ≈ intercept + X @ coef``."""

    def __init__(self, raw: Dict[str, Any]) -> None:
        self.coef: np.ndarray = raw["coef"]
        self.intercept: float = raw["intercept"]
        self.r2: float = raw["r2"]
        self.mse: float = raw["mse"]
        self.condition: float = raw["condition"]
        self.rank: int = raw["rank"]
        self.solver: str = raw["solver"]
        self.why: str = raw["why"]
        self.iterations: Optional[int] = raw["iterations"]
        self.epochs: Optional[int] = raw["epochs"]
        self.seconds: float = raw["seconds"]
        self.warnings: List[str] = list(raw["warnings"])

    def predict(self, X: ArrayLike) -> np.ndarray:
        """``intercept + X @ coef``."""
        return np.asarray(X, dtype=np.float64) @ self.coef + self.intercept

    def __repr__(self) -> str:
        return (
            f"<matdiff.LinregResult solver={self.solver!r} r2={self.r2:.6g} "
            f"rank={self.rank} condition={self.condition:.3g}>"
        )


def linreg(X: ArrayLike, y: ArrayLike, solver: str = "auto") -> LinregResult:
    """Least squares ``y ≈ b₀ + X b``: closed forms (``normal``, ``qr``, ``svd``,
    chosen by the conditioning with ``auto``) or gradient methods (``gd``, ``sgd``,
    ``minibatch``)."""
    X = _as_input(X)
    y = _as_input(y)
    if isinstance(X, float) or X.ndim != 2:
        raise ShapeError("error: `X` must be a 2-D array (samples × features)")
    if isinstance(y, float):
        raise ShapeError("error: `y` must be a 1-D array, one target per row of X")
    y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    for name, values in (("X", X), ("y", y)):
        place = _first_non_finite(values)
        if place is not None:
            raise DataError(f"error: `{name}` has a non-finite value at [{place}] — remove or impute it")
    return LinregResult(_native.linreg(X, y, solver))


# Rows checked at a time for non-finite values: the check's temporary array stays a
# few megabytes, not the size of X.
_CHECK_ROWS = 65536


def _first_non_finite(values: np.ndarray) -> Optional[str]:
    """The index of the first NaN or infinity in ``values`` (row-major order), as
    ``"i, j"``; ``None`` when every value is finite."""
    for start in range(0, max(len(values), 1), _CHECK_ROWS):
        block = values[start : start + _CHECK_ROWS]
        if not np.isfinite(block).all():
            first = np.argwhere(~np.isfinite(block))[0]
            first[0] += start
            return ", ".join(str(i) for i in first)
    return None
