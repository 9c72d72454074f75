"""Arrays are read in place (no copy of a float64 X in C or Fortran order), and the
GIL is released while matdiff computes."""

import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import matdiff as md
from matdiff import _as_input

LEAST_SQUARES = ("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")


@pytest.mark.parametrize("order", ["C", "F"])
def test_float64_arrays_pass_through_untouched(order, rng):
    X = np.asarray(rng.standard_normal((50, 4)), order=order)
    pointer = X.__array_interface__["data"][0]
    assert _as_input(X) is X
    f = md.Function(*LEAST_SQUARES)
    fg = f.compile("w", X=X, y=np.ones(50))
    fg(np.zeros(4))
    assert X.__array_interface__["data"][0] == pointer
    assert X.flags.writeable and X.flags.owndata


@pytest.mark.parametrize("order", ["C", "F"])
def test_compiled_function_reads_bound_data_at_every_call(order, rng):
    # Bound arrays are read where they are: a change between calls is seen.
    X = np.asarray(rng.standard_normal((30, 3)), order=order)
    y = rng.standard_normal(30)
    fg = md.Function(*LEAST_SQUARES).compile("w", X=X, y=y)
    w = np.array([0.5, -1.0, 2.0])
    before, _ = fg(w)
    X *= 2.0
    after, grad = fg(w)
    r = X @ w - y
    assert after == pytest.approx(r @ r / 30, rel=1e-12)
    np.testing.assert_allclose(grad, 2 / 30 * X.T @ r, rtol=1e-12)
    assert after != before


# A fresh interpreter: its peak memory is that of X plus what the calls add.
NO_COPY = textwrap.dedent(
    """
    import resource, sys
    import numpy as np, matdiff as md

    order = sys.argv[1]
    n, d = 200_000, 50                      # X: 80 MB
    X = np.ones((n, d), order=order)
    X[:, 1] = np.linspace(0.0, 1.0, n)
    y = np.linspace(-1.0, 1.0, n)
    w = np.full(d, 0.01)
    f = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")
    f.value_and_grad("w", X=X, w=w, y=y)    # warm up the module's own memory
    try:                                    # and scikit-learn's, when it is there
        from matdiff.sklearn import SGDRegressor
        SGDRegressor(epochs=1, random_state=0).fit(X[:100].copy(), y[:100].copy())
    except ImportError:
        SGDRegressor = None

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    start = peak()
    fg = f.compile("w", X=X, y=y)
    for _ in range(3):
        fg(w)
    f(X=X, w=w, y=y)
    f.value_and_grad("w", X=X, w=w, y=y)
    md.linreg(X[:, 1:3], y)                 # a strided view: converted once, small
    if order == "C":                        # a fit reads the rows in place
        md.minimize(f, "w", X=X, y=y, method="gd", lr=0.1, max_iter=3, tol_grad=0)
        md.minimize(f, "w", X=X, y=y, method="sgd", lr=1e-3, epochs=1, tol_grad=0)
        md.minimize(f, "w", X=X, y=y, method="minibatch", batch=64, lr=1e-2, epochs=1,
                    tol_grad=0, epoch_loss="running")
        md.minimize(f, "w", X=X, y=y, method="sgd", lr=1e-3, epochs=1, tol_grad=0,
                    intercept=True)             # no [X, 1] built for the intercept
        if SGDRegressor is not None:
            SGDRegressor(epochs=1, batch_size=1, lr=1e-3, random_state=0).fit(X, y)
    print(peak() - start, X.nbytes)
    """
)


@pytest.mark.parametrize("order", ["C", "F"])
def test_calls_on_a_large_x_do_not_copy_it(order):
    out = subprocess.run(
        [sys.executable, "-c", NO_COPY, order], capture_output=True, text=True, check=True
    )
    grown, size = map(int, out.stdout.split())
    assert grown < size // 4, f"peak memory grew by {grown} bytes for an X of {size} bytes"


def test_the_gil_is_released_during_a_long_fit():
    rng = np.random.default_rng(1)
    n, d = 20_000, 20
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d)
    # The logistic loss: nothing to hoist out of the loop, every step reads X twice.
    f = md.Function("1/N*sum(softplus(-y .* (X*w)))", let="X: matrix(N,d)")
    y = np.sign(y)
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    fit_span = []

    def fit():
        started = time.perf_counter()
        md.minimize(f, "w", X=X, y=y, method="gd", lr=1e-3, max_iter=300, tol_grad=1e-12)
        fit_span.extend([started, time.perf_counter()])

    counter = threading.Thread(target=count)
    counter.start()
    fit()
    done.set()
    counter.join()
    started, ended = fit_span
    during = [t for t in ticks if started < t < ended]
    assert ended - started > 0.05, "the fit is too short to tell"
    # With the GIL held for the whole fit the other thread would not tick at all.
    assert len(during) >= 5, f"{len(during)} ticks in {ended - started:.3f} s"
