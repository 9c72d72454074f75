#!/usr/bin/env python3
"""Side-by-side timings of matdiff against NumPy and scikit-learn, as a user times
them: the whole process (loading the data included) and its peak memory, next to the
compute time each side reports.

Usage:  python3 bench/compare.py [--quick] [--sizes 1000000x100,100000x1000]
                                [--workloads closed,gradient,gd,minibatch,sgd]
                                [--process-runs 3]
        python3 bench/compare.py --scaling [--plot bench/scaling.png]

Creates bench/.venv (numpy, scikit-learn, threadpoolctl from PyPI) on first use,
builds nothing: it runs the release binary (default target/release/matdiff, or
$MATDIFF, or --matdiff PATH). For each size it writes one random well-conditioned
least-squares problem (X standard normal, y = X w + noise) as .npy into bench/.work
and runs every workload on both sides in this one run, each side as a separate
process, --process-runs times (the best run is kept). Reported per workload: the
in-process compute time each side reports (data loading excluded; the median of
--repeat runs for the single gradient), the whole process's wall time (loading
included, as `time` measures it) and its peak resident memory (the kernel's maxrss
of that child; pages of a mapped file count once). Ratios are peer / matdiff, so
> 1 means matdiff is faster. A reference row gives the machine's memory-bandwidth
floor: NumPy's time for one pass over X in memory (a sum). SGD and mini-batch run as
the peers do, with no tolerance (`--tol-grad 0`): the epochs' losses are running
averages of the batch losses, no extra pass, and the final loss is exact. SGD also
runs on two threads at once (`--threads 2`, Hogwild!). The data files are
deleted at the end unless --keep-data is given.

--scaling times the closed form and one gradient on both sides over a range of N at
fixed d and a range of d at fixed N, prints the times with the slopes of log time
against log N and log d, and draws them on log-log axes (matplotlib, installed into
the virtual environment on first use).
"""

import argparse
import json
import re
import os
import resource
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = HERE / ".venv"
WORK = HERE / ".work"
PEERS = HERE / "peers.py"
LS = "1/N*norm2(X*w - y)^2"
# sklearn's per-sample loss is (x'w - y)^2 / 2: the same loss, scaled for equal steps.
LS_HALF = "1/(2*N)*norm2(X*w - y)^2"
DECLS = "X: matrix(N, d); w: vector(d); y: vector(N)"
WORKLOADS = ("closed", "gradient", "gd", "minibatch", "sgd", "derive")
# --scaling: N at fixed d, then d at fixed N (about two to three minutes in all).
SCALING_N = (10_000, 30_000, 100_000, 300_000, 1_000_000)
SCALING_D = (25, 50, 100, 200, 500, 1000)
SCALING_AT = (100_000, 100)


def python(plot=False):
    exe = VENV / "bin" / "python"
    if not exe.exists():
        print(f"creating {VENV} (numpy, scikit-learn, threadpoolctl)", file=sys.stderr)
        venv.create(VENV, with_pip=True)
        subprocess.run(
            [str(exe), "-m", "pip", "install", "-q", "numpy", "scikit-learn", "threadpoolctl"],
            check=True,
        )
    if plot and subprocess.run([str(exe), "-c", "import matplotlib"], capture_output=True).returncode != 0:
        print(f"installing matplotlib into {VENV}", file=sys.stderr)
        subprocess.run([str(exe), "-m", "pip", "install", "-q", "matplotlib"], check=True)
    return str(exe)


def peer_env():
    """NumPy children run with OpenBLAS's own core detection and cache sizes."""
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    return env


# How many times each side's process runs per workload; the best run is kept.
PROCESS_RUNS = 3


def run_once(cmd, env=None):
    """Runs `cmd`; its JSON output, wall time and peak resident memory (bytes)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        # wait4 gives this child's own resource usage: ru_maxrss in KiB on Linux.
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{stderr}")
    result = json.loads(stdout)
    # `minimize --verbose` says how long computing the loop invariants took.
    hoist = re.search(r"\(in ([0-9.]+) s\)", stderr)
    if hoist:
        result["hoist_seconds"] = float(hoist.group(1))
    return result, wall, usage.ru_maxrss * 1024


def run(cmd, env=None, runs=1):
    """The best of `runs` processes: the fastest run's output, its wall time, and the
    smallest peak memory seen."""
    best = None
    for _ in range(max(1, runs)):
        out, wall, peak = run_once(cmd, env)
        if best is None or wall < best[1]:
            best = (out, wall, min(peak, best[2]) if best else peak)
        else:
            best = (best[0], best[1], min(peak, best[2]))
    out, wall, peak = best
    out["process_peak_bytes"] = peak
    return out, wall


def peer(py, workload, x, y, **kw):
    cmd = [py, str(PEERS), workload, "--x", str(x), "--y", str(y)]
    for k, v in kw.items():
        cmd += [f"--{k}", str(v)]
    out, wall = run(cmd, env=peer_env(), runs=PROCESS_RUNS)
    out["wall"] = wall
    return out


def matdiff(exe, args):
    out, wall = run([exe] + args, runs=PROCESS_RUNS)
    out["wall"] = wall
    return out


def mse(py, x, y, w):
    """The mean squared error of coefficients w on the data, computed by NumPy."""
    code = (
        "import numpy as np,json,sys;X=np.load(sys.argv[1]);y=np.load(sys.argv[2]);"
        "w=np.array(json.loads(sys.argv[3]));r=X@w-y;print(json.dumps(float(r@r/len(y))))"
    )
    p = subprocess.run(
        [py, "-c", code, str(x), str(y), json.dumps(w)],
        capture_output=True, text=True, env=peer_env(), check=True,
    )
    return json.loads(p.stdout)


def derive_table(exe):
    """`matdiff derive` on every case of the differentiation acceptance table, one
    process each: the user + system time of all of them, and how many there were."""
    table = ROOT / "crates/matdiff-num/tests/data/derivatives.txt"
    cases = []
    section = None
    for line in table.read_text().splitlines():
        if line.startswith("# ---"):
            section = line
            continue
        if not line.strip() or line.startswith("#") or "acceptance table" not in (section or ""):
            continue
        expr, decls, wrt, order, _ = [c.strip() for c in line.split("|")]
        cmd = [exe, "derive", expr, "--wrt", wrt, "--order", order]
        if decls:
            cmd += ["--let", decls]
        cases.append(cmd)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for cmd in cases:
        subprocess.run(cmd, capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, len(cases)


def dataset(py, n, d):
    """X and y of size n×d in bench/.work, written once."""
    x, y = WORK / f"X_{n}x{d}.npy", WORK / f"y_{n}x{d}.npy"
    if not x.exists() or not y.exists():
        run([py, str(PEERS), "gen", "--x", str(x), "--y", str(y), "--n", str(n), "--d", str(d)], env=peer_env())
    return x, y


def closed_form(py, exe, x, y, size, rows, peers=("normal", "lstsq", "sk_linreg")):
    """matdiff's closed form against the chosen peers; one table row per peer."""
    names = {"normal": "NumPy normal equations", "lstsq": "NumPy lstsq", "sk_linreg": "sklearn LinearRegression"}
    m = matdiff(exe, ["linreg", "--x", str(x), "--y", str(y), "--solver", "auto", "--no-intercept", "--json"])
    for wl in peers:
        p = peer(py, wl, x, y)
        rows.append((size, "closed form", names[wl], m["seconds"], p["seconds"], m["wall"], p["wall"], m["process_peak_bytes"], p["process_peak_bytes"]))


def gradient(py, exe, x, y, repeat):
    """One full gradient through the generic plan (median of repeat) and NumPy's."""
    data = ["--data", f"X={x}", "--data", f"y={y}"]
    m = matdiff(exe, ["bench", LS, "--wrt", "w", "--let", DECLS, *data, "--repeat", str(repeat), "--json"])
    return m, peer(py, "gradient", x, y, repeat=repeat)


def slope(points):
    """The least-squares slope of log time against log size."""
    import math

    xs = [math.log(v) for v, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((a - mx) ** 2 for a in xs)
    return sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / sxx if sxx > 0 else float("nan")


def scaling(py, exe, args):
    """Times over N at fixed d and over d at fixed N; prints them and draws the plot."""
    n0, d0 = (int(v) for v in args.scaling_at.lower().split("x"))
    grids = {
        "N": [(n, d0) for n in (int(v) for v in args.scaling_n.split(","))],
        "d": [(n0, d) for d in (int(v) for v in args.scaling_d.split(","))],
    }
    series = ("matdiff closed form", "NumPy normal equations", "matdiff one gradient", "NumPy one gradient")
    measured = {}
    for n, d in sorted({size for grid in grids.values() for size in grid}, key=lambda s: s[0] * s[1]):
        x, y = dataset(py, n, d)
        # The best of a few runs of each closed form: on a shared machine the minimum
        # is the time least disturbed by others.
        rows = []
        for _ in range(args.scaling_runs):
            closed_form(py, exe, x, y, f"{n}x{d}", rows, peers=("normal",))
        m, p = gradient(py, exe, x, y, args.repeat)
        closed = (min(r[3] for r in rows), min(r[4] for r in rows))
        measured[(n, d)] = dict(zip(series, (*closed, m["seconds"], p["seconds"])))
        print(f"{n}x{d}: " + ", ".join(f"{k} {fmt_t(v)}" for k, v in measured[(n, d)].items()), file=sys.stderr)
    results = {}
    for axis, grid in grids.items():
        fixed = f"d = {d0}" if axis == "N" else f"N = {n0}"
        print()
        print(f"| {axis} ({fixed}) | " + " | ".join(series) + " |")
        print("|---|" + "---|" * len(series))
        for n, d in grid:
            print(f"| {n if axis == 'N' else d} | " + " | ".join(fmt_t(measured[(n, d)][k]) for k in series) + " |")
        slopes = {k: slope([(n if axis == "N" else d, measured[(n, d)][k]) for n, d in grid]) for k in series}
        print(f"| slope of log time vs log {axis} | " + " | ".join(f"{slopes[k]:.2f}" for k in series) + " |")
        results[axis] = {
            "fixed": fixed,
            "sizes": [n if axis == "N" else d for n, d in grid],
            "seconds": {k: [measured[(n, d)][k] for n, d in grid] for k in series},
            "slopes": slopes,
        }
    data = WORK / "scaling.json"
    data.write_text(json.dumps(results, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    # Drawn by the virtual environment's Python, which has matplotlib.
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import compare; compare.draw(sys.argv[1], sys.argv[2])"
    subprocess.run([python(plot=True), "-c", code, str(data), str(args.plot)], check=True)
    print(f"\nlog-log plot: {args.plot}")


def draw(data, path):
    """Draws scaling()'s results: time against N and against d, log-log, with the
    fitted slopes in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = json.loads(Path(data).read_text())
    styles = {
        "matdiff closed form": ("C0", "-", "o"),
        "NumPy normal equations": ("C1", "-", "s"),
        "matdiff one gradient": ("C0", "--", "o"),
        "NumPy one gradient": ("C1", "--", "s"),
    }
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, axis in zip(axes, ("N", "d")):
        r = results[axis]
        for name, seconds in r["seconds"].items():
            color, line, marker = styles[name]
            ax.loglog(r["sizes"], seconds, color=color, linestyle=line, marker=marker,
                      label=f"{name} (slope {r['slopes'][name]:.2f})")
        # Guides through the closed form's largest point: ∝ N, and ∝ d² (the Gram matrix).
        power = 1 if axis == "N" else 2
        top, t_top = r["sizes"][-1], r["seconds"]["matdiff closed form"][-1]
        ax.loglog(r["sizes"], [t_top * (v / top) ** power for v in r["sizes"]], color="gray",
                  linestyle=":", linewidth=1, label=f"∝ {axis}" + ("²" if power == 2 else ""))
        ax.set_xlabel(axis)
        ax.set_ylabel("seconds (compute, loading excluded)")
        ax.set_title(f"time against {axis}, {r['fixed']}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def stream_workload(py, exe, n, d, epochs, rows):
    """Writes an n x d least-squares problem chunkwise as .npy, trains on it with
    `minimize --stream` (SGD and mini-batch) and reports time and peak memory against
    the file size; the files are deleted afterwards."""
    import shutil

    size_bytes = 8 * n * (d + 1)
    free = shutil.disk_usage(WORK).free
    if free < size_bytes * 1.2:
        print(f"skipping --stream-rows {n}: {size_bytes / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free", file=sys.stderr)
        return []
    x, y = WORK / f"Xs_{n}x{d}.npy", WORK / f"ys_{n}x{d}.npy"
    code = (
        "import numpy as np,sys\n"
        "n,d=int(sys.argv[3]),int(sys.argv[4]);rng=np.random.default_rng(0);w=rng.standard_normal(d)\n"
        "X=np.lib.format.open_memmap(sys.argv[1],mode='w+',dtype=np.float64,shape=(n,d))\n"
        "Y=np.lib.format.open_memmap(sys.argv[2],mode='w+',dtype=np.float64,shape=(n,))\n"
        "for s in range(0,n,1000000):\n"
        " e=min(n,s+1000000);B=rng.standard_normal((e-s,d));X[s:e]=B;Y[s:e]=B@w+0.1*rng.standard_normal(e-s)\n"
        " X.flush();Y.flush()\n"
    )
    out = []
    try:
        subprocess.run([py, "-c", code, str(x), str(y), str(n), str(d)], check=True, env=peer_env())
        data = ["--data", f"X={x}", "--data", f"y={y}"]
        for method, extra, lr, loss in [("sgd", [], 0.001, LS_HALF), ("minibatch", ["--batch", "256"], 0.01, LS)]:
            m = matdiff(exe, ["minimize", loss, "--wrt", "w", "--let", DECLS, *data, "--method", method, *extra,
                              "--lr", str(lr), "--epochs", str(epochs), "--tol-grad", "1e-300", "--json", "--quiet",
                              "--stream"])
            peak = m.get("peak_rss_bytes", 0)
            print(f"stream {method} {n}x{d} ({size_bytes / 1e9:.1f} GB of .npy): {fmt_t(m['seconds'])} "
                  f"({n * epochs / m['seconds']:.3g} samples/s), loss {m['loss']:.6g}, peak memory {peak / 1e6:.1f} MB")
            out.append({"stream": method, "n": n, "d": d, "file_bytes": size_bytes, "seconds": m["seconds"],
                        "wall": m["wall"], "loss": m["loss"], "peak_rss_bytes": peak})
    finally:
        for f in (x, y):
            f.unlink(missing_ok=True)
    return out


def fmt_t(s):
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def fmt_b(b):
    return f"{b / 1e6:.0f} MB" if b < 1e9 else f"{b / 1e9:.2f} GB"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, finishes in about a minute")
    ap.add_argument("--sizes", help="comma-separated NxD list, e.g. 1000000x100,100000x1000")
    ap.add_argument("--matdiff", default=os.environ.get("MATDIFF", str(ROOT / "target/release/matdiff")))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20, help="full-batch GD iterations")
    ap.add_argument("--epochs", type=int, default=5, help="SGD / mini-batch epochs")
    ap.add_argument("--sgd-max-n", type=int, default=1_000_000, help="skip SGD above this N")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help=f"comma-separated subset of {','.join(WORKLOADS)} (default: all)")
    ap.add_argument("--scaling", action="store_true",
                    help="time the closed form and one gradient over N and d, draw a log-log plot")
    ap.add_argument("--scaling-n", default=",".join(map(str, SCALING_N)), help="N values of --scaling, at the fixed d")
    ap.add_argument("--scaling-d", default=",".join(map(str, SCALING_D)), help="d values of --scaling, at the fixed N")
    ap.add_argument("--scaling-at", default="x".join(map(str, SCALING_AT)), help="the fixed NxD of --scaling")
    ap.add_argument("--scaling-runs", type=int, default=3, help="--scaling keeps the best of this many closed-form runs")
    ap.add_argument("--plot", default=str(HERE / "scaling.png"), help="where --scaling draws its plot")
    ap.add_argument("--json", help="also write the raw results to this file")
    ap.add_argument("--process-runs", type=int, default=3,
                    help="runs of each process per workload; the best is kept")
    ap.add_argument("--keep-data", action="store_true", help="keep the generated .npy files in bench/.work")
    ap.add_argument("--stream-rows", type=int, default=0,
                    help="also stream an N x 100 .npy written chunkwise (e.g. 10000000: 8 GB, deleted afterwards)")
    args = ap.parse_args()
    global PROCESS_RUNS
    PROCESS_RUNS = args.process_runs
    workloads = args.workloads.split(",")
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        sys.exit(f"unknown workload(s) {', '.join(unknown)} — choose from {', '.join(WORKLOADS)}")
    if args.sizes:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    elif args.quick:
        sizes = [(100_000, 100), (10_000, 1000)]
    else:
        sizes = [(1_000_000, 100), (100_000, 1000), (300_000, 100)]
    exe = args.matdiff
    if not Path(exe).exists():
        sys.exit(f"no matdiff binary at {exe} — run `cargo build --release` or pass --matdiff")
    py = python(plot=args.scaling)
    WORK.mkdir(exist_ok=True)
    info, _ = run([py, str(PEERS), "blas"], env=peer_env())
    print(f"numpy {info['numpy']}; BLAS: " + "; ".join(
        f"{b.get('internal_api')} {b.get('version')} {b.get('architecture')} threads={b.get('num_threads')}"
        for b in info["blas"]))
    print(f"matdiff: {exe}; cores: {os.cpu_count()}")
    if args.scaling:
        scaling(py, exe, args)
        return
    rows = []
    raw = []
    for n, d in sizes:
        x, y = dataset(py, n, d)
        data = ["--data", f"X={x}", "--data", f"y={y}"]
        size = f"{n}x{d}"
        lr_gd = 0.1
        # 0. the memory-bandwidth floor: one pass over X in memory
        bw = peer(py, "bandwidth", x, y)
        rows.append((size, "one pass over X in memory (bandwidth floor)",
                     f"X is {8 * n * d / 1e6:.0f} MB; NumPy X.sum() at {bw['bytes_per_second'] / 1e9:.1f} GB/s",
                     bw["seconds"], bw["seconds"], None, None, None, None))
        # 1. closed form
        if "closed" in workloads:
            closed_form(py, exe, x, y, size, rows)
        # 2. one full gradient through the generic plan (no hoisting)
        if "gradient" in workloads:
            m, p = gradient(py, exe, x, y, args.repeat)
            rows.append((size, "one gradient (generic plan)", "NumPy 2/N X'(Xw-y)", m["seconds"], p["seconds"], m["wall"], p["wall"], m["process_peak_bytes"], p["process_peak_bytes"]))
        # 3. 20 GD iterations through minimize (hoisting on)
        if "gd" in workloads:
            m = matdiff(exe, ["minimize", LS, "--wrt", "w", "--let", DECLS, *data, "--method", "gd",
                              "--lr", str(lr_gd), "--max-iter", str(args.iters), "--tol-grad", "1e-300", "--json", "--verbose"])
            p = peer(py, "gd", x, y, lr=lr_gd, iters=args.iters)
            rows.append((size, f"GD x{args.iters} (minimize)", "NumPy GD loop", m["seconds"] + m.get("hoist_seconds", 0.0), p["seconds"], m["wall"], p["wall"], m["process_peak_bytes"], p["process_peak_bytes"]))
            raw.append({"size": size, "gd_loss": [m["loss"], p["loss"]]})
        # 4. mini-batch B = 256
        if "minibatch" in workloads:
            lr_mb = 0.01
            m = matdiff(exe, ["minimize", LS, "--wrt", "w", "--let", DECLS, *data, "--method", "minibatch",
                              "--batch", "256", "--lr", str(lr_mb), "--epochs", str(args.epochs), "--tol-grad", "0", "--json", "--quiet"])
            p = peer(py, "minibatch", x, y, lr=lr_mb, epochs=args.epochs, batch=256)
            rows.append((size, f"mini-batch B=256 x{args.epochs} ep", "NumPy loop", m["seconds"], p["seconds"], m["wall"], p["wall"], m["process_peak_bytes"], p["process_peak_bytes"]))
            raw.append({"size": size, "minibatch_loss": [m["loss"], p["loss"]]})
        # 5. SGD, same epochs and η as SGDRegressor
        if "sgd" in workloads and n <= args.sgd_max_n:
            lr_sgd = 0.001
            m = matdiff(exe, ["minimize", LS_HALF, "--wrt", "w", "--let", DECLS, *data, "--method", "sgd",
                              "--lr", str(lr_sgd), "--epochs", str(args.epochs), "--tol-grad", "0", "--json", "--quiet"])
            p = peer(py, "sk_sgd", x, y, lr=lr_sgd, epochs=args.epochs)
            m_loss = mse(py, x, y, m["solution"])
            rows.append((size, f"SGD x{args.epochs} ep (samples/s)", "sklearn SGDRegressor", m["seconds"], p["seconds"], m["wall"], p["wall"], m["process_peak_bytes"], p["process_peak_bytes"]))
            raw.append({"size": size, "sgd_mse": [m_loss, p["loss"]],
                        "sgd_samples_per_s": [n * args.epochs / m["seconds"], n * args.epochs / p["seconds"]]})
            # the same on two threads at once (Hogwild!, not bit-reproducible)
            mt = matdiff(exe, ["minimize", LS_HALF, "--wrt", "w", "--let", DECLS, *data, "--method", "sgd",
                               "--lr", str(lr_sgd), "--epochs", str(args.epochs), "--tol-grad", "0", "--json", "--quiet",
                               "--threads", "2"])
            mt_loss = mse(py, x, y, mt["solution"])
            rows.append((size, f"SGD x{args.epochs} ep, --threads 2 (Hogwild!)", "sklearn SGDRegressor", mt["seconds"], p["seconds"], mt["wall"], p["wall"], mt["process_peak_bytes"], p["process_peak_bytes"]))
            raw.append({"size": size, "sgd_threads_mse": [mt_loss, p["loss"]],
                        "sgd_threads_samples_per_s": [n * args.epochs / mt["seconds"], n * args.epochs / p["seconds"]]})
    if args.stream_rows:
        raw.extend(stream_workload(py, exe, args.stream_rows, 100, args.epochs, rows))
    if "derive" in workloads:
        cpu, count = derive_table(exe)
        rows.append(("-", f"derive, acceptance table ({count} processes)", "target: 50 ms in total",
                     cpu, 0.05, cpu, 0.05, None, None))
    if not args.keep_data:
        for f in WORK.glob("*.npy"):
            f.unlink()
    # the table
    print()
    print("| size N×d | workload | peer | matdiff compute | peer compute | ratio | "
          "matdiff process | peer process | ratio | matdiff peak | peer peak |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size, wl, name, mt, pt, mw, pw, mp, pp in rows:
        if mw is None:
            # A reference row: one time, no sides.
            print(f"| {size} | {wl} | {name} | {fmt_t(mt)} | | | | | | | |")
            continue
        peaks = f"{fmt_b(mp)} | {fmt_b(pp)}" if mp else "– | –"
        print(f"| {size} | {wl} | {name} | {fmt_t(mt)} | {fmt_t(pt)} | {pt / mt:.2f}× | "
              f"{fmt_t(mw)} | {fmt_t(pw)} | {pw / mw:.2f}× | {peaks} |")
    print()
    for r in raw:
        print(json.dumps(r))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "extra": raw}, indent=1))


if __name__ == "__main__":
    main()
