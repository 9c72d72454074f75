"""Type stubs of the package ``matdiff``: vector–matrix calculus from Python."""

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from ._native import (
    DataError as DataError,
    DivergenceError as DivergenceError,
    DomainError as DomainError,
    MatdiffError as MatdiffError,
    ParseError as ParseError,
    ShapeError as ShapeError,
)

__version__: str
__all__: List[str]

ArrayLike = Union[float, int, np.ndarray, List[Any], Tuple[Any, ...]]
_Array = npt.NDArray[np.float64]
_Shape = Tuple[Union[str, int], ...]

class Derivative:
    def __init__(self, inner: Any) -> None: ...
    @property
    def kind(self) -> str: ...
    @property
    def latex(self) -> str: ...
    @property
    def pretty(self) -> str: ...
    @property
    def steps(self) -> List[Tuple[str, str]]: ...
    @property
    def derivation(self) -> str: ...
    @property
    def latex_derivation(self) -> str: ...
    def evaluate(self, **values: ArrayLike) -> Union[float, _Array]: ...
    def to_numpy(self) -> str: ...
    def to_rust(self) -> str: ...
    def _repr_latex_(self) -> str: ...

class Check:
    passed: bool
    errors: List[float]
    tol: float
    sizes: Dict[str, int]
    def __init__(
        self, passed: bool, errors: List[float], tol: float, sizes: List[Tuple[str, int]]
    ) -> None: ...
    @property
    def max_error(self) -> float: ...
    def __bool__(self) -> bool: ...

class Compiled:
    def __init__(self, inner: Any, wrt: str) -> None: ...
    def __call__(self, w: ArrayLike) -> Tuple[float, Union[float, _Array]]: ...

class Solution:
    wrt: str
    text: str
    latex: str
    gradient: str
    hessian: str
    definiteness: str
    definite_when: List[str]
    assuming: List[str]
    reasons: List[str]
    verdict: str
    minimum_norm: Optional[Tuple[str, str]]
    steps: List[Tuple[str, str]]
    x: Union[None, float, _Array]
    grad_norm: Optional[float]
    def __init__(self, raw: Dict[str, Any], kind: str) -> None: ...
    def _repr_latex_(self) -> str: ...

class Function:
    def __init__(self, expr: str, let: str = "") -> None: ...
    @property
    def variables(self) -> Dict[str, Tuple[str, _Shape]]: ...
    @property
    def type(self) -> str: ...
    @property
    def pretty(self) -> str: ...
    @property
    def latex(self) -> str: ...
    def _repr_latex_(self) -> str: ...
    def derivative(self, wrt: str, order: int = 1) -> Derivative: ...
    def gradient(self, wrt: str) -> Derivative: ...
    def hessian(self, wrt: str) -> Derivative: ...
    def __call__(self, **values: ArrayLike) -> Union[float, _Array]: ...
    def value_and_grad(self, wrt: str, **values: ArrayLike) -> Tuple[float, Union[float, _Array]]: ...
    def compile(self, wrt: str, **data: ArrayLike) -> Compiled: ...
    def check(self, wrt: str) -> Check: ...
    def solve(self, wrt: str, **values: ArrayLike) -> Solution: ...

def check(f: Function, wrt: str) -> Check: ...

class MinimizeResult:
    x: Union[float, _Array]
    intercept: Optional[float]
    fun: float
    grad_norm: float
    nit: int
    epochs: int
    stop_reason: str
    success: bool
    message: str
    seconds: float
    epoch_loss: str
    history: Dict[str, _Array]
    def __init__(self, raw: Dict[str, Any], kind: str) -> None: ...

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
    **data: Union[ArrayLike, str],
) -> MinimizeResult: ...

class LinregResult:
    coef: _Array
    intercept: float
    r2: float
    mse: float
    condition: float
    rank: int
    solver: str
    why: str
    iterations: Optional[int]
    epochs: Optional[int]
    seconds: float
    warnings: List[str]
    def __init__(self, raw: Dict[str, Any]) -> None: ...
    def predict(self, X: ArrayLike) -> _Array: ...

def linreg(X: ArrayLike, y: ArrayLike, solver: str = "auto") -> LinregResult: ...
