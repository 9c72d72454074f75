#!/usr/bin/env python3
"""matdiff from Python against NumPy and scikit-learn, in one process.

Usage:  python bench/python_compare.py [--n 1000000] [--d 100] [--repeat 5]

Needs the package installed (``pip install ./python``) with numpy and scikit-learn.
Builds one well-conditioned least-squares problem in memory (X standard normal,
float64, C order; y = X w + 0.1 ε) and prints a Markdown table:

- ``fg(w)``: the compiled value and gradient of ``1/N‖Xw − y‖²`` against NumPy's
  ``r = X@w - y; (r@r/N, 2/N*X.T@r)`` (median of --repeat calls each);
- ``LinearRegression().fit`` against scikit-learn's;
- ``SGDRegressor`` against scikit-learn's at equal epochs (5 epochs, one sample a
  step, η = 0.001 constant, no early stop), on one thread and with ``n_jobs=2``, and
  matdiff's default mini-batches of 32;
- the call overhead of ``fg`` on a 10 × 3 problem (mean over 10⁵ calls);
- the growth of resident memory during each fit (sampled every millisecond), as a
  share of X's size, each fit in a fresh process (``--memory WHAT``, run by this
  script) after a warm-up on a small problem.

Not run in CI; the numbers depend on the machine (cores, BLAS, load).
"""

import argparse
import resource
import statistics
import subprocess
import sys
import time

import numpy as np


def problem(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    return X, y


def median_time(fun, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fun()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def once(fun):
    started = time.perf_counter()
    fun()
    return time.perf_counter() - started


def resident_bytes():
    """The process's resident memory now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def peak_during(fun):
    """The largest growth of resident memory while ``fun`` runs, sampled every
    millisecond by a second thread (the fits release the GIL)."""
    import threading

    start = resident_bytes()
    peak = [start]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], resident_bytes())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        fun()
    finally:
        done.set()
        sampler.join()
    return max(peak[0], resident_bytes()) - start


FITS = {
    "LinearRegression": lambda X, y: __import__("matdiff.sklearn").sklearn.LinearRegression().fit(X, y),
    "SGDRegressor": lambda X, y: __import__("matdiff.sklearn").sklearn.SGDRegressor(
        epochs=5, batch_size=1, lr=0.001, random_state=0
    ).fit(X, y),
    "fg(w) + L-BFGS": lambda X, y: lbfgs(X, y),
    "sklearn LinearRegression": lambda X, y: __import__("sklearn.linear_model").linear_model.LinearRegression().fit(X, y),
}


def lbfgs(X, y):
    import matdiff as md
    import scipy.optimize

    f = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")
    fg = f.compile("w", X=X, y=y)
    return scipy.optimize.minimize(fg, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 20})


def memory(what, n, d):
    """Prints the peak memory growth of one fit, in a fresh process."""
    X, y = problem(n, d)
    X = np.ascontiguousarray(X)
    # The modules are imported and warmed up on a small problem first, so that only
    # the fit's own memory counts.
    FITS[what](X[:1000].copy(), y[:1000].copy())
    print(peak_during(lambda: FITS[what](X, y)), X.nbytes)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--memory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        memory(args.memory, args.n, args.d)
        return

    import matdiff as md
    import sklearn
    from sklearn import linear_model

    from matdiff import sklearn as md_sklearn

    n, d = args.n, args.d
    X, y = problem(n, d)
    assert X.flags.c_contiguous and X.dtype == np.float64
    rows = []

    def row(what, ours, theirs, note=""):
        rows.append((what, ours, theirs, theirs / ours if ours > 0 else float("nan"), note))

    # fg(w) against NumPy.
    f = md.Function("1/N*norm2(X*w - y)^2", let="X: matrix(N,d)")
    fg = f.compile("w", X=X, y=y)
    w = np.full(d, 0.01)

    def numpy_fg():
        r = X @ w - y
        return r @ r / n, 2 / n * X.T @ r

    value, grad = fg(w)
    v2, g2 = numpy_fg()
    assert abs(value - v2) <= 1e-9 * abs(v2) and np.allclose(grad, g2, rtol=1e-9, atol=1e-12)
    row("fg(w): value and gradient", median_time(lambda: fg(w), args.repeat), median_time(numpy_fg, args.repeat), "NumPy")

    # Closed-form linear regression.
    ours = md_sklearn.LinearRegression()
    theirs = linear_model.LinearRegression()
    t_ours, t_theirs = once(lambda: ours.fit(X, y)), once(lambda: theirs.fit(X, y))
    assert np.allclose(ours.coef_, theirs.coef_, rtol=1e-8, atol=1e-10)
    row("LinearRegression().fit", t_ours, t_theirs, f"scikit-learn; solver {ours.solver_}")

    # SGD at equal epochs: one sample a step, constant step size.
    sgd_ours = md_sklearn.SGDRegressor(lr=0.001, epochs=5, batch_size=1, random_state=0)
    sgd_theirs = linear_model.SGDRegressor(
        learning_rate="constant", eta0=0.001, max_iter=5, tol=None, penalty=None, random_state=0
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns that 5 epochs did not converge
        t_ours, t_theirs = once(lambda: sgd_ours.fit(X, y)), once(lambda: sgd_theirs.fit(X, y))
    r2_ours, r2_theirs = sgd_ours.score(X[:10_000], y[:10_000]), sgd_theirs.score(X[:10_000], y[:10_000])
    row("SGDRegressor, 5 epochs, batch 1", t_ours, t_theirs, f"scikit-learn; R² {r2_ours:.4f} vs {r2_theirs:.4f}")
    # The same on two threads (Hogwild!), against the same scikit-learn run.
    sgd_threads = md_sklearn.SGDRegressor(lr=0.001, epochs=5, batch_size=1, random_state=0, n_jobs=2)
    t_threads = once(lambda: sgd_threads.fit(X, y))
    r2_threads = sgd_threads.score(X[:10_000], y[:10_000])
    row("SGDRegressor, same, n_jobs=2 (Hogwild!)", t_threads, t_theirs, f"scikit-learn; R² {r2_threads:.4f}")
    minibatch = md_sklearn.SGDRegressor(lr=0.01, epochs=5, batch_size=32, random_state=0)
    t_mb = once(lambda: minibatch.fit(X, y))
    rows.append(("SGDRegressor, 5 epochs, batch 32 (default)", t_mb, float("nan"), float("nan"), f"R² {minibatch.score(X[:10_000], y[:10_000]):.4f}"))

    # Call overhead on a tiny problem.
    Xs, ys = problem(10, 3)
    fg_small = f.compile("w", X=Xs, y=ys)
    ws = np.zeros(3)
    calls = 100_000
    started = time.perf_counter()
    for _ in range(calls):
        fg_small(ws)
    per_call = (time.perf_counter() - started) / calls

    def numpy_small():
        r = Xs @ ws - ys
        return r @ r / 10, 2 / 10 * Xs.T @ r

    started = time.perf_counter()
    for _ in range(calls):
        numpy_small()
    per_numpy = (time.perf_counter() - started) / calls
    row("fg(w) call on 10 × 3", per_call, per_numpy, "NumPy")

    del X, y, fg
    memory_rows = []
    for what in FITS:
        out = subprocess.run(
            [sys.executable, __file__, "--memory", what, "--n", str(n), "--d", str(d)],
            capture_output=True, text=True, check=True,
        )
        grown, size = map(int, out.stdout.split())
        memory_rows.append((what, grown, size))

    print(f"X: {n} × {d} float64, C order ({n * d * 8 / 1e6:.0f} MB); numpy {np.__version__}, "
          f"scikit-learn {sklearn.__version__}, matdiff {md.__version__}")
    print()
    print("| workload | matdiff | peer | peer / matdiff | note |")
    print("|---|---:|---:|---:|---|")
    for what, ours, theirs, ratio, note in rows:
        def fmt(t):
            if t != t:
                return "—"
            return f"{t * 1e6:.2f} µs" if t < 1e-3 else f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"
        ratio_text = "—" if ratio != ratio else f"{ratio:.2f}×"
        print(f"| {what} | {fmt(ours)} | {fmt(theirs)} | {ratio_text} | {note} |")
    print()
    print("| fit | peak memory growth | share of X |")
    print("|---|---:|---:|")
    for what, grown, size in memory_rows:
        print(f"| {what} | {grown / 1e6:.0f} MB | {100 * grown / size:.0f}% |")


if __name__ == "__main__":
    main()
