#!/usr/bin/env python3
"""Load on `matdiff serve`: N requests from C concurrent clients on loopback.

Starts `matdiff serve --port 0` (the release binary by default), sends the requests
the page sends while someone types — parse, derive with steps, check, and a picture
now and then — over one keep-alive connection per client, and prints the latency
percentiles and the failures (any answer that is not 200). Ends the server at the end.

    cargo build --release
    python3 bench/serve_load.py                      # 2000 requests, 16 clients
    python3 bench/serve_load.py --requests 500 --clients 4 --json out.json
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (endpoint, body): the examples of the page, as it asks for them.
FUNCTIONS = [
    ("x'*A*x", "A: matrix(n, n)", "x"),
    ("<A, X>", "A: matrix(m, n); X: matrix(m, n)", "X"),
    ("det(X)", "X: matrix(n, n)", "X"),
    ("1/N*norm2(X*w - y)^2", "X: matrix(N, d)", "w"),
    ("1/N*norm2(X*w - y)^2 + lambda*norm2(w)^2", "X: matrix(N, d)", "w"),
    ("1/N*sum(log(1 + exp(-y .* (X*w))))", "X: matrix(N, d)", "w"),
    ("1/2*logdet(S) + 1/2*(x - mu)'*inv(S)*(x - mu)", "S: spd(n); mu: vector(n)", "mu"),
    ("-y'*log(softmax(W*x))", "W: matrix(k, d)", "W"),
]


def requests(count):
    """The k-th request: parse, derive, check in turn over the functions, and every
    tenth a picture of a scalar function."""
    out = []
    for k in range(count):
        f, decls, wrt = FUNCTIONS[k % len(FUNCTIONS)]
        if k % 10 == 9:
            f, decls, wrt = FUNCTIONS[3]
            out.append(("plot", {"f": f, "let": decls, "wrt": wrt, "lr": 0.1}))
            continue
        endpoint = ("parse", "derive", "check")[k % 3]
        body = {"f": f, "let": decls}
        if endpoint != "parse":
            body["wrt"] = wrt
        if endpoint == "derive":
            body["steps"] = True
        out.append((endpoint, body))
    return out


def client(host, port, work, results, lock):
    connection = http.client.HTTPConnection(host, port, timeout=30)
    while True:
        with lock:
            if not work:
                break
            endpoint, body = work.pop()
        data = json.dumps(body).encode()
        started = time.perf_counter()
        try:
            connection.request("POST", f"/api/{endpoint}", data, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            status = response.status
        except OSError as error:
            status = f"{type(error).__name__}: {error}"
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=30)
        elapsed = time.perf_counter() - started
        with lock:
            results.append((endpoint, status, elapsed))
    connection.close()


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--matdiff", default=os.environ.get("MATDIFF", os.path.join(ROOT, "target", "release", "matdiff")))
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args()

    server = subprocess.Popen([args.matdiff, "serve", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline().strip()
        url = line.removeprefix("matdiff serve: ").removeprefix("http://").rstrip("/")
        host, port = url.rsplit(":", 1)
        work = requests(args.requests)
        work.reverse()
        results, lock = [], threading.Lock()
        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(host, int(port), work, results, lock)) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)

    failures = [r for r in results if r[1] != 200]
    ms = [r[2] * 1000 for r in results]
    summary = {
        "requests": len(results),
        "clients": args.clients,
        "failures": len(failures),
        "seconds": round(wall, 2),
        "requests_per_second": round(len(results) / wall, 1),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
        "by_endpoint": {},
    }
    for endpoint in ("parse", "derive", "check", "plot"):
        times = [r[2] * 1000 for r in results if r[0] == endpoint]
        if times:
            summary["by_endpoint"][endpoint] = {
                "count": len(times),
                "p50_ms": round(percentile(times, 50), 2),
                "p99_ms": round(percentile(times, 99), 2),
            }
    print(f"{summary['requests']} requests from {args.clients} clients in {summary['seconds']} s "
          f"({summary['requests_per_second']} requests/s): p50 {summary['p50_ms']} ms, "
          f"p99 {summary['p99_ms']} ms, max {summary['max_ms']} ms, failures {summary['failures']}")
    print("| endpoint | requests | p50 (ms) | p99 (ms) |")
    print("|---|---|---|---|")
    for endpoint, row in summary["by_endpoint"].items():
        print(f"| {endpoint} | {row['count']} | {row['p50_ms']} | {row['p99_ms']} |")
    for endpoint, status, _ in failures[:10]:
        print(f"failure: {endpoint}: {status}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(summary, out, indent=2)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
