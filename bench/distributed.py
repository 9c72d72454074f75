#!/usr/bin/env python3
"""Strong scaling of `--distributed` on this machine: the same problem on K = 1 and 2
ranks (and one process without MPI), for `linreg` (closed form) and 20 steps of
gradient descent by `minimize`.

Usage:  python3 bench/distributed.py [--rows 1000000] [--cols 100] [--ranks 1,2]
                                     [--runs 3] [--matdiff target/release/matdiff]

Needs a release build with MPI (`cargo build --release --features mpi`), OpenMPI's
`mpirun` and NumPy. Writes one random least-squares problem (X standard normal,
y = X w + noise) as .npy into bench/.work, runs each case `--runs` times as a whole
process (best kept) and prints, per case: the wall time as `time` sees it (MPI start,
mapping the rows and printing included), the compute time matdiff reports for
`linreg` (`seconds`), the speed-up against one rank, and the communication the cost
model of docs/distributed.md predicts for that K (bytes and time at α = 2 µs,
β = 10 GB/s). The data files are deleted at the end unless --keep-data is given.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ALPHA, BETA = 2e-6, 1e10


def run(command, runs):
    """Best wall time of `runs` runs, and the last run's stdout."""
    best, out = math.inf, ""
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
        best, out = min(best, elapsed), done.stdout
    return best, out


def mpirun(ranks):
    return ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", str(ranks)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--ranks", default="1,2")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--matdiff", default=os.environ.get("MATDIFF", os.path.join(ROOT, "target/release/matdiff")))
    parser.add_argument("--keep-data", action="store_true")
    args = parser.parse_args()
    ranks = [int(k) for k in args.ranks.split(",")]
    n, d = args.rows, args.cols

    work = os.path.join(HERE, ".work")
    os.makedirs(work, exist_ok=True)
    x_path, y_path = os.path.join(work, "dist_X.npy"), os.path.join(work, "dist_y.npy")
    rng = np.random.default_rng(19)
    x = rng.standard_normal((n, d))
    y = x @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    np.save(x_path, x)
    np.save(y_path, y)
    del x, y

    linreg = [args.matdiff, "linreg", "--x", x_path, "--y", y_path, "--json"]
    gd = [args.matdiff, "minimize", "norm2(X*w - y)^2/N", "--wrt", "w",
          "--let", "X: matrix(N, d)", "--data", f"X={x_path}", "--data", f"y={y_path}",
          "--lr", "0.1", "--max-iter", "20", "--json", "--quiet"]
    cases = [("linreg", linreg, True), ("gd 20 steps", gd, False)]
    print(f"{n} × {d} on {os.cpu_count()} cores; best of {args.runs} whole-process runs")
    print(f"{'case':<14} {'ranks':>6} {'wall (s)':>9} {'compute (s)':>12} {'speed-up':>9} {'model: bytes':>13} {'model: comm (s)':>16}")
    for name, command, closed in cases:
        wall, out = run(command, args.runs)
        compute = json.loads(out).get("seconds", float("nan"))
        print(f"{name:<14} {'none':>6} {wall:>9.3f} {compute:>12.3f} {'':>9} {'':>13} {'':>16}")
        base = None
        for k in ranks:
            wall, out = run(mpirun(k) + command + ["--distributed"], args.runs)
            compute = json.loads(out).get("seconds", float("nan"))
            base = base or wall
            stages = math.ceil(math.log2(k)) if k > 1 else 0
            per_message = 8 * (d + 1) ** 2 if closed else 8 * (d + 2)
            messages = 2 * stages * (1 if closed else 20)
            comm = messages * (ALPHA + per_message / BETA)
            print(f"{name:<14} {k:>6} {wall:>9.3f} {compute:>12.3f} {base / wall:>9.2f} "
                  f"{messages * per_message:>13} {comm:>16.2e}")
    if not args.keep_data:
        os.remove(x_path)
        os.remove(y_path)


if __name__ == "__main__":
    main()
