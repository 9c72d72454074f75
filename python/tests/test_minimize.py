import numpy as np
import pytest

import matdiff as md

LOSS = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")


def test_sgd_as_in_the_documentation(regression):
    X, _, y = regression
    res = md.minimize(LOSS, "w", X=X, y=y, method="sgd", lr=0.01, epochs=5, batch=32, seed=0, tol_grad=1e-6)
    assert res.x.shape == (X.shape[1],)
    assert res.fun == pytest.approx(np.mean((X @ res.x - y) ** 2), rel=1e-10)
    assert res.epochs == 5 and res.nit == 5 * 2  # 60 samples in batches of 32
    assert res.stop_reason == "epochs"
    assert set(res.history) >= {"iteration", "epoch", "loss", "grad_norm", "step_norm", "lr", "seconds"}
    assert all(isinstance(v, np.ndarray) for v in res.history.values())
    assert res.history["loss"][-1] < res.history["loss"][0]


def test_gd_converges_to_least_squares(regression):
    X, _, y = regression
    res = md.minimize(LOSS, "w", X=X, y=y, lr=0.3, tol_grad=1e-10, max_iter=5000)
    assert res.stop_reason == "grad_norm" and res.success
    np.testing.assert_allclose(res.x, np.linalg.lstsq(X, y, rcond=None)[0], atol=1e-8)


@pytest.mark.parametrize(
    "options",
    [
        dict(method="momentum", lr=0.05, max_iter=300),
        dict(method="nesterov", lr=0.05, max_iter=300),
        dict(method="adam", lr=0.1, max_iter=500),
        dict(method="minibatch", batch=16, lr=0.05, epochs=30, seed=3),
        dict(method="sgd", lr=0.01, epochs=20, schedule="invscaling", sampling="replace", seed=1),
        dict(method="gd", lr=1.0, line_search=True, max_iter=200),
        dict(method="gd", lr=0.1, tol_step=1e-9, max_iter=10_000),
        dict(method="gd", lr=0.1, tol_loss=1e-14, max_iter=10_000),
        dict(method="sgd", lr=0.01, epochs=50, n_iter_no_change=3, seed=2, schedule="adaptive"),
    ],
)
def test_every_method_and_option_decreases_the_loss(regression, options):
    X, _, y = regression
    start = LOSS(X=X, w=np.zeros(X.shape[1]), y=y)
    res = md.minimize(LOSS, "w", X=X, y=y, **options)
    assert res.fun < 0.5 * start, res


def test_start_point_and_callback(regression):
    X, _, y = regression
    records = []
    x0 = np.ones(X.shape[1])
    res = md.minimize(LOSS, "w", X=X, y=y, lr=0.1, max_iter=3, x0=x0, callback=records.append)
    assert res.nit == 3
    assert records[0]["iteration"] == 0
    np.testing.assert_allclose(records[0]["x"], x0)
    assert records[0]["loss"] == pytest.approx(LOSS(X=X, w=x0, y=y))
    assert [r["iteration"] for r in records] == [0, 1, 2, 3]


def test_callback_exception_propagates(regression):
    X, _, y = regression

    def boom(record):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        md.minimize(LOSS, "w", X=X, y=y, max_iter=3, callback=boom)


def test_divergence_raises_with_advice(regression):
    X, _, y = regression
    with pytest.raises(md.DivergenceError) as info:
        md.minimize(LOSS, "w", X=X, y=y, lr=50.0, max_iter=1000)
    assert isinstance(info.value, md.MatdiffError)
    assert info.value.advice and "learning rate" in info.value.advice


def test_unknown_method(regression):
    X, _, y = regression
    with pytest.raises(md.MatdiffError, match="unknown method `newton`"):
        md.minimize(LOSS, "w", X=X, y=y, method="newton")


def test_linreg(regression):
    X, _, y = regression
    fit = md.linreg(X, y, solver="auto")
    A = np.column_stack([X, np.ones(len(y))])
    expected = np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose(fit.coef, expected[:-1], rtol=1e-10)
    assert fit.intercept == pytest.approx(expected[-1], abs=1e-10)
    residual = y - fit.predict(X)
    assert fit.r2 == pytest.approx(1 - residual @ residual / np.sum((y - y.mean()) ** 2), rel=1e-10)
    assert fit.rank == X.shape[1] and fit.condition >= 1.0
    assert fit.solver in {"normal", "qr", "svd"}
    assert fit.warnings == []
    for solver in ("normal", "qr", "svd"):
        np.testing.assert_allclose(md.linreg(X, y, solver=solver).coef, expected[:-1], rtol=1e-8)


def test_linreg_warns_on_collinear_columns(regression):
    X, _, y = regression
    X2 = np.column_stack([X, X[:, 0]])
    fit = md.linreg(X2, y)
    assert fit.rank == X.shape[1]
    assert fit.warnings


def test_epoch_losses_running_or_exact_and_sgd_on_threads(regression):
    X, _, y = regression
    X = np.ascontiguousarray(X)
    common = dict(method="minibatch", batch=8, lr=0.05, epochs=6, seed=4, tol_grad=0)
    exact = md.minimize(LOSS, "w", X=X, y=y, **common)
    running = md.minimize(LOSS, "w", X=X, y=y, epoch_loss="running", **common)
    assert (exact.epoch_loss, running.epoch_loss) == ("exact", "running")
    # The same steps; the final loss exact either way, the epochs' losses not.
    np.testing.assert_array_equal(exact.x, running.x)
    assert running.fun == exact.fun == pytest.approx(np.mean((X @ exact.x - y) ** 2), rel=1e-12)
    assert exact.history["loss"][-1] == pytest.approx(exact.fun, rel=1e-12)
    assert np.isnan(running.history["grad_norm"][1:]).all()
    assert running.history["loss"][-1] != exact.history["loss"][-1]
    with pytest.raises(md.MatdiffError, match="epoch_loss"):
        md.minimize(LOSS, "w", X=X, y=y, epoch_loss="sometimes", **common)
    with pytest.raises(md.MatdiffError, match="gradient"):
        md.minimize(LOSS, "w", X=X, y=y, epoch_loss="running", method="sgd", epochs=2, tol_grad=1e-3)

    # SGD on two threads (Hogwild!) lands near the one-thread fit.
    sgd = dict(method="sgd", lr=0.01, epochs=40, seed=1, tol_grad=0)
    one = md.minimize(LOSS, "w", X=X, y=y, **sgd)
    two = md.minimize(LOSS, "w", X=X, y=y, threads=2, **sgd)
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    assert np.abs(two.x - best).max() < 3 * np.abs(one.x - best).max() + 0.05
    with pytest.raises(md.MatdiffError, match="threads"):
        md.minimize(LOSS, "w", X=X, y=y, method="gd", max_iter=3, threads=2)


def test_an_intercept_is_fitted_without_a_column_of_ones(regression):
    X, _, y = regression
    y = y + 4.0
    f = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")
    res = md.minimize(f, "w", X=X, y=y, intercept=True, lr=0.2, tol_grad=1e-11, max_iter=20_000)
    # The least-squares solution on [X, 1], computed by NumPy.
    exact, *_ = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)
    np.testing.assert_allclose(res.x, exact[:-1], atol=1e-8)
    assert res.intercept == pytest.approx(exact[-1], abs=1e-8)
    assert res.x.shape == (X.shape[1],)
    r = X @ res.x + res.intercept - y
    assert res.fun == pytest.approx(r @ r / len(y), rel=1e-12)
    # Stochastic methods too; without the option there is no intercept.
    sgd = md.minimize(f, "w", X=X, y=y, intercept=True, method="sgd", lr=0.01, epochs=100,
                      seed=0, tol_grad=0)
    assert sgd.intercept == pytest.approx(exact[-1], abs=0.05)
    assert md.minimize(f, "w", X=X, y=y, max_iter=2).intercept is None
    # The penalty leaves the intercept out: ridge on [X, 1] with an unpenalised b.
    ridge = md.Function("1/N*norm2(X*w - y)^2 + lam*norm2(w)^2", let="X: matrix(N,d); lam: scalar")
    res = md.minimize(ridge, "w", X=X, y=y, lam=0.5, intercept=True, lr=0.2, tol_grad=1e-11,
                      max_iter=20_000)
    n, d = X.shape
    A = np.column_stack([X, np.ones(n)])
    P = np.diag([0.5] * d + [0.0])
    exact = np.linalg.solve(A.T @ A / n + P, A.T @ y / n)
    np.testing.assert_allclose(res.x, exact[:-1], atol=1e-8)
    assert res.intercept == pytest.approx(exact[-1], abs=1e-8)


def test_an_intercept_needs_a_linear_model_in_memory(regression, tmp_path):
    X, _, y = regression
    f = md.Function("norm2(X*w - y)", let="X: matrix(N,d)")
    with pytest.raises(md.MatdiffError, match="write the intercept into the loss"):
        md.minimize(f, "w", X=X, y=y, intercept=True)
    g = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")
    np.save(tmp_path / "X.npy", X)
    with pytest.raises(md.MatdiffError, match="data in memory only"):
        md.minimize(g, "w", X=str(tmp_path / "X.npy"), y=y, intercept=True, stream=True,
                    method="sgd")
