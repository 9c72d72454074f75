"""The session of the package's description, as written, with its results checked."""

import numpy as np
import pytest
import scipy.optimize

import matdiff as md


def test_the_session_runs_as_written():
    rng = np.random.default_rng(42)
    N, d = 200, 3
    X = rng.standard_normal((N, d))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.01 * rng.standard_normal(N)
    w = rng.standard_normal(d)

    f = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")
    assert f.variables == {
        "X": ("matrix", ("N", "d")),
        "w": ("vector", ("d",)),
        "y": ("vector", ("N",)),
    }
    g = f.gradient("w")
    assert isinstance(g, md.Derivative)
    assert str(g) == "2/N*X'*(X*w - y)"
    kind, latex, pretty = g.kind, g.latex, g.pretty
    assert kind == "gradient" and "X^{\\top}" in latex and "X" in pretty
    assert g.steps and all(len(step) == 2 for step in g.steps)
    numpy_source, rust_source = g.to_numpy(), g.to_rust()
    assert "def " in numpy_source and "fn " in rust_source
    h = f.hessian("w")
    assert str(h) == "2/N*X'*X"

    value = f(X=X, w=w, y=y)
    assert isinstance(value, float)
    assert value == pytest.approx(np.mean((X @ w - y) ** 2), rel=1e-12)
    value, grad = f.value_and_grad("w", X=X, w=w, y=y)
    np.testing.assert_allclose(grad, 2 / N * X.T @ (X @ w - y), rtol=1e-12)

    fg = f.compile("w", X=X, y=y)
    result = scipy.optimize.minimize(fg, np.zeros(d), jac=True, method="L-BFGS-B")
    np.testing.assert_allclose(result.x, np.linalg.lstsq(X, y, rcond=None)[0], atol=1e-5)

    report = md.check(f, "w")
    assert report.passed and report.max_error < 1e-6

    res = md.minimize(f, "w", X=X, y=y, method="sgd", lr=0.01, epochs=5, batch=32, seed=0, tol_grad=1e-6)
    assert res.x.shape == (d,) and res.fun < value and res.epochs == 5
    assert res.nit == 5 * -(-N // 32) and isinstance(res.stop_reason, str)
    assert all(isinstance(column, np.ndarray) for column in res.history.values())

    fit = md.linreg(X, y, solver="auto")
    np.testing.assert_allclose(fit.coef, [1.0, -2.0, 0.5], atol=0.01)
    assert abs(fit.intercept) < 0.01 and fit.r2 > 0.999
    assert fit.rank == d and fit.condition >= 1.0 and fit.solver and fit.warnings == []
