"""The peer side of bench/compare.py: one workload per process, on NumPy / scikit-learn.

Run by compare.py with the virtual environment's Python; prints one JSON object on
stdout with the in-process compute time (`seconds`, data loading excluded) and what
the workload produced (a loss, a coefficient vector) so the two sides can be compared.
"""

import argparse
import json
import sys
import time

import numpy as np


def mse(X, y, w):
    r = X @ w - y
    return float(r @ r / len(y))


def gen(args):
    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((args.n, args.d))
    w = rng.standard_normal(args.d)
    y = X @ w + 0.1 * rng.standard_normal(args.n)
    np.save(args.x, X)
    np.save(args.y, y)
    return {"seconds": 0.0}


def blas_info():
    try:
        from threadpoolctl import threadpool_info

        return [
            {k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for p in threadpool_info()
        ]
    except Exception as e:  # noqa: BLE001 - informational only
        return [{"error": str(e)}]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workload")
    p.add_argument("--x")
    p.add_argument("--y")
    p.add_argument("--n", type=int, default=0)
    p.add_argument("--d", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()

    if args.workload == "gen":
        print(json.dumps(gen(args)))
        return
    if args.workload == "blas":
        print(json.dumps({"numpy": np.__version__, "blas": blas_info()}))
        return

    X = np.load(args.x)
    y = np.load(args.y)
    N, d = X.shape
    out = {}
    if args.workload == "normal":
        t = time.perf_counter()
        w = np.linalg.solve(X.T @ X, X.T @ y)
        out["seconds"] = time.perf_counter() - t
    elif args.workload == "lstsq":
        t = time.perf_counter()
        w = np.linalg.lstsq(X, y, rcond=None)[0]
        out["seconds"] = time.perf_counter() - t
    elif args.workload == "sk_linreg":
        from sklearn.linear_model import LinearRegression

        t = time.perf_counter()
        w = LinearRegression(fit_intercept=False).fit(X, y).coef_
        out["seconds"] = time.perf_counter() - t
    elif args.workload == "sk_sgd":
        from sklearn.linear_model import SGDRegressor

        # sklearn's squared loss is (x'w - y)^2 / 2 per sample, gradient (x'w - y) x:
        # compare.py gives matdiff the loss 1/(2N)·‖Xw − y‖² with the same η.
        m = SGDRegressor(
            loss="squared_error",
            penalty=None,
            fit_intercept=False,
            learning_rate="constant",
            eta0=args.lr,
            max_iter=args.epochs,
            tol=None,
            shuffle=True,
            random_state=args.seed,
            average=False,
        )
        t = time.perf_counter()
        m.fit(X, y)
        out["seconds"] = time.perf_counter() - t
        w = m.coef_
    elif args.workload == "gd":
        t = time.perf_counter()
        w = np.zeros(d)
        for _ in range(args.iters):
            g = (2.0 / N) * (X.T @ (X @ w - y))
            w -= args.lr * g
        out["seconds"] = time.perf_counter() - t
    elif args.workload == "minibatch":
        rng = np.random.default_rng(args.seed)
        B = args.batch
        t = time.perf_counter()
        w = np.zeros(d)
        for _ in range(args.epochs):
            perm = rng.permutation(N)
            for s in range(0, N, B):
                idx = perm[s : s + B]
                Xb = X[idx]
                g = (2.0 / len(idx)) * (Xb.T @ (Xb @ w - y[idx]))
                w -= args.lr * g
        out["seconds"] = time.perf_counter() - t
    elif args.workload == "bandwidth":
        # One pass over X in memory (a sum): the floor for anything that reads X.
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            total = float(X.sum())
            times.append(time.perf_counter() - t)
        out["seconds"] = min(times)
        out["bytes_per_second"] = X.nbytes / min(times)
        out["checksum"] = total
        w = None
    elif args.workload == "gradient":
        w = np.sin(np.arange(1, d + 1, dtype=float))
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            g = (2.0 / N) * (X.T @ (X @ w - y))
            times.append(time.perf_counter() - t)
        out["seconds"] = float(np.median(times))
        out["checksum"] = float(np.sum(g))
        w = g
    else:
        sys.exit(f"unknown workload {args.workload}")
    out["loss"] = mse(X, y, w) if args.workload not in ("gradient", "bandwidth") else None
    print(json.dumps(out))


if __name__ == "__main__":
    main()
