"""The session of the package's documentation, call by call, with numbers checked
against NumPy and finite differences."""

import numpy as np
import pytest

import matdiff as md
from conftest import finite_difference_gradient

LOSS = "1/N*norm2(X*w - y)^2"


@pytest.fixture
def f():
    return md.Function(LOSS, let="X: matrix(N,d)")


def test_variables(f):
    assert f.variables == {
        "X": ("matrix", ("N", "d")),
        "w": ("vector", ("d",)),
        "y": ("vector", ("N",)),
    }
    assert f.type == "scalar"
    assert str(f) == LOSS


def test_gradient_and_hessian_as_text(f):
    g = f.gradient("w")
    assert isinstance(g, md.Derivative)
    assert str(g) == "2/N*X'*(X*w - y)"
    assert g.kind == "gradient"
    assert "X^{\\top}" in g.latex
    assert g.pretty == "2/N·Xᵀ·(X·w − y)"
    h = f.hessian("w")
    assert (str(h), h.kind) == ("2/N*X'*X", "hessian")


def test_steps_and_latex_rendering(f):
    g = f.gradient("w")
    steps = g.steps
    assert steps[0] == ("d(1/N*norm2(X*w - y)^2)", "the differential of f")
    assert all(isinstance(e, str) and isinstance(r, str) for e, r in steps)
    tex = g._repr_latex_()
    assert tex.startswith("\\begin{align}") and tex.count("\\\\") >= len(steps) - 1
    assert "df" in g.derivation


def test_generated_numpy_code_computes_the_gradient(f, regression):
    X, w, y = regression
    source = f.gradient("w").to_numpy()
    namespace = {"__name__": "generated"}
    exec(source, namespace)
    value, grad = namespace["f_and_grad"](X=X, w=w, y=y)
    assert value == pytest.approx(np.mean((X @ w - y) ** 2), rel=1e-12)
    np.testing.assert_allclose(grad, 2 / len(y) * X.T @ (X @ w - y), rtol=1e-10)
    assert "fn " in f.gradient("w").to_rust()


def test_value(f, regression):
    X, w, y = regression
    value = f(X=X, w=w, y=y)
    assert isinstance(value, float)
    assert value == pytest.approx(np.mean((X @ w - y) ** 2), rel=1e-12)


def test_vector_and_matrix_values_come_back_1d_and_2d(rng):
    A = rng.standard_normal((3, 2))
    x = rng.standard_normal(2)
    Ax = md.Function("A*x", let="A: matrix(m,n)")(A=A, x=x)
    assert Ax.shape == (3,)
    np.testing.assert_allclose(Ax, A @ x)
    AtA = md.Function("A'*A", let="A: matrix(m,n)")(A=A)
    assert AtA.shape == (2, 2)
    np.testing.assert_allclose(AtA, A.T @ A)


def test_value_and_grad_against_finite_differences(f, regression):
    X, w, y = regression
    value, grad = f.value_and_grad("w", X=X, w=w, y=y)
    assert value == pytest.approx(f(X=X, w=w, y=y))
    assert grad.shape == w.shape
    numeric = finite_difference_gradient(lambda v: np.mean((X @ v - y) ** 2), w)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "expr, let, wrt, numpy_value",
    [
        ("x'*A*x", "A: matrix(n,n)", "x", lambda A, x: x @ A @ x),
        ("log(det(X))", "X: spd(n)", "X", lambda X: np.log(np.linalg.det(X))),
        ("sum(exp(x))", "", "x", lambda x: np.exp(x).sum()),
        ("tr(A*X*B)", "A: matrix(p,m); X: matrix(m,n); B: matrix(n,p)", "X",
         lambda A, X, B: np.trace(A @ X @ B)),
    ],
)
def test_gradients_of_matrix_functions_against_finite_differences(rng, expr, let, wrt, numpy_value):
    f = md.Function(expr, let=let)
    sizes = {"n": 3, "m": 4, "p": 2}
    values = {}
    for name, (kind, shape) in f.variables.items():
        dims = [sizes[s] if isinstance(s, str) else s for s in shape]
        if kind == "spd":
            a = rng.standard_normal((dims[0], dims[0]))
            values[name] = a @ a.T + dims[0] * np.eye(dims[0])
        elif kind == "scalar":
            values[name] = float(rng.standard_normal())
        else:
            values[name] = rng.standard_normal(dims)
    _, grad = f.value_and_grad(wrt, **values)

    def at(v):
        return numpy_value(**{**values, wrt: v})

    numeric = finite_difference_gradient(at, values[wrt])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_hessian_evaluates_to_numpy(f, regression):
    X, _, _ = regression
    H = f.hessian("w").evaluate(X=X)
    np.testing.assert_allclose(H, 2 / len(X) * X.T @ X, rtol=1e-12)


def test_compiled_value_and_gradient(f, regression):
    X, w, y = regression
    fg = f.compile("w", X=X, y=y)
    value, grad = fg(w)
    expected_value, expected_grad = f.value_and_grad("w", X=X, w=w, y=y)
    assert value == pytest.approx(expected_value, rel=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12)
    # Called again at another point: the same plan, the new values.
    value2, grad2 = fg(w + 1.0)
    assert value2 == pytest.approx(np.mean((X @ (w + 1.0) - y) ** 2), rel=1e-12)
    np.testing.assert_allclose(grad2, 2 / len(y) * X.T @ (X @ (w + 1.0) - y), rtol=1e-10)


def test_scipy_minimize_with_jac_true(f, regression):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    X, _, y = regression
    fg = f.compile("w", X=X, y=y)
    result = scipy_optimize.minimize(fg, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B")
    assert result.success
    np.testing.assert_allclose(result.x, np.linalg.lstsq(X, y, rcond=None)[0], atol=1e-5)


def test_check(f):
    report = md.check(f, "w")
    assert report.passed and bool(report)
    assert 0.0 <= report.max_error < report.tol
    assert len(report.errors) == 5


def test_other_dtypes_and_layouts_are_converted(f, regression):
    X, w, y = regression
    expected = f(X=X, w=w, y=y)
    assert f(X=np.asfortranarray(X), w=w, y=y) == pytest.approx(expected, rel=1e-12)
    assert f(X=X.astype(np.float32), w=w, y=y) == pytest.approx(
        f(X=X.astype(np.float32).astype(np.float64), w=w, y=y), rel=1e-12
    )
    wide = np.zeros((X.shape[0], 2 * X.shape[1]))
    wide[:, ::2] = X
    assert f(X=wide[:, ::2], w=w, y=y) == pytest.approx(expected, rel=1e-12)
    assert f(X=X.tolist(), w=list(w), y=y) == pytest.approx(expected, rel=1e-12)
    assert md.Function("a*x'*x")(a=2, x=np.array([1, 2])) == 10.0
