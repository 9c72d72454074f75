//! `mpirun -n K matdiff linreg --distributed` and `minimize --distributed` on
//! loopback, against the same fit in one process: K = 1 to 4, every closed-form
//! solver, reruns, Longley's certified values, gradient descent and SGD step for
//! step, mini-batch by shares of every rank, local SGD, ranks streaming their rows,
//! and shards that cannot be read or do not fit together. Needs OpenMPI and a
//! build with `--features mpi` (`.ci/run` installs both):
//! `cargo test -p matdiff --features mpi --test distributed`.
#![cfg(feature = "mpi")]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{npy_bytes, scratch};

const BIN: &str = env!("CARGO_BIN_EXE_matdiff");

/// A C-order float64 `.npy` file of `rows × cols` values (cols 0: a vector).
fn write_npy(path: &Path, rows: usize, cols: usize, values: &[f64]) {
    let shape = if cols == 0 {
        format!("({rows},)")
    } else {
        format!("({rows}, {cols})")
    };
    std::fs::write(path, npy_bytes(&shape, false, values)).unwrap();
}

/// Starts a command with its output captured.
fn spawn(command: &mut Command) -> Child {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts")
}

/// Waits for a command started at `started`, killing it past `limit`: a distributed
/// run must end, never hang. Its exit code, stdout and stderr.
fn finish(mut child: Child, started: Instant, limit: Duration) -> (i32, String, String) {
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the command ran past {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command to its end (see [`finish`]).
fn run(mut command: Command, limit: Duration) -> (i32, String, String) {
    finish(spawn(&mut command), Instant::now(), limit)
}

/// `matdiff linreg` in one process.
fn alone(args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(BIN);
    command.arg("linreg").args(args);
    run(command, Duration::from_secs(120))
}

/// `mpirun -n ranks matdiff linreg … --distributed`.
fn on_ranks(ranks: usize, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new("mpirun");
    command
        .args(["--allow-run-as-root", "--oversubscribe", "-n"])
        .arg(ranks.to_string())
        .arg(BIN)
        .arg("linreg")
        .args(args)
        .arg("--distributed");
    run(command, Duration::from_secs(120))
}

/// `[intercept, coefficients…]` of a `--json` fit.
fn parameters(json: &str) -> Vec<f64> {
    let fit: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let mut out = vec![fit["intercept"].as_f64().unwrap()];
    out.extend(
        fit["coefficients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_f64().unwrap()),
    );
    out
}

/// ‖a − b‖ / ‖b‖.
fn relative(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| y * y).sum();
    (diff / norm).sqrt()
}

/// A regression problem of `rows × cols` with a known linear signal and noise: `X`
/// by rows, and `y`.
fn regression_data(rows: usize, cols: usize) -> (Vec<f64>, Vec<f64>) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let x: Vec<f64> = (0..rows * cols).map(|_| 10.0 * uniform() + 3.0).collect();
    let y: Vec<f64> = (0..rows)
        .map(|i| {
            let row = &x[i * cols..(i + 1) * cols];
            let signal: f64 = row
                .iter()
                .enumerate()
                .map(|(j, v)| (j as f64 - 1.5) * v)
                .sum();
            7.0 + signal + uniform()
        })
        .collect();
    (x, y)
}

/// [`regression_data`] as `X.npy` and `y.npy` in `dir`.
fn regression_files(dir: &Path, rows: usize, cols: usize) -> (String, String) {
    let (x, y) = regression_data(rows, cols);
    let (xp, yp) = (dir.join("X.npy"), dir.join("y.npy"));
    write_npy(&xp, rows, cols, &x);
    write_npy(&yp, rows, 0, &y);
    (
        xp.to_string_lossy().into_owned(),
        yp.to_string_lossy().into_owned(),
    )
}

#[test]
fn every_closed_form_solver_agrees_with_one_process_at_one_to_four_ranks() {
    let dir = scratch("agree");
    let (x, y) = regression_files(&dir, 1001, 6);
    for solver in ["auto", "normal", "qr", "svd"] {
        let args = ["--x", &x, "--y", &y, "--solver", solver, "--json"];
        let (code, single, stderr) = alone(&args);
        assert_eq!(code, 0, "{stderr}");
        let want = parameters(&single);
        let want_fit: Value = serde_json::from_str(&single).unwrap();
        for ranks in 1..=4 {
            let (code, out, stderr) = on_ranks(ranks, &args);
            assert_eq!(code, 0, "{solver} at K = {ranks}: {stderr}");
            let got = parameters(&out);
            let err = relative(&got, &want);
            assert!(
                err < 1e-12,
                "{solver} at K = {ranks}: {got:?} vs {want:?} ({err:e})"
            );
            let fit: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(fit["ranks"], ranks, "{out}");
            assert_eq!(fit["solver"], want_fit["solver"], "{solver} at K = {ranks}");
            assert_eq!(fit["n_train"], 1001);
            let r2 = fit["r2"].as_f64().unwrap();
            assert!(
                (r2 - want_fit["r2"].as_f64().unwrap()).abs() < 1e-12,
                "{out}"
            );
        }
    }
}

#[test]
fn reruns_at_the_same_number_of_ranks_give_the_same_bits() {
    let dir = scratch("rerun");
    let (x, y) = regression_files(&dir, 777, 4);
    let args = [
        "--x",
        x.as_str(),
        "--y",
        y.as_str(),
        "--solver",
        "normal",
        "--json",
    ];
    let (code, first, stderr) = on_ranks(3, &args);
    assert_eq!(code, 0, "{stderr}");
    let (code, second, stderr) = on_ranks(3, &args);
    assert_eq!(code, 0, "{stderr}");
    let bits = |json: &str| -> Vec<u64> { parameters(json).iter().map(|b| b.to_bits()).collect() };
    assert_eq!(bits(&first), bits(&second));
}

#[test]
fn longley_keeps_ten_digits_with_tsqr_on_three_ranks() {
    let dir = scratch("longley");
    let csv = matdiff::datasets::find("longley").expect("bundled").csv;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "totemp");
    let rows: Vec<Vec<f64>> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect();
    let x: Vec<f64> = rows.iter().flat_map(|r| r[1..].to_vec()).collect();
    let y: Vec<f64> = rows.iter().map(|r| r[0]).collect();
    let (xp, yp) = (dir.join("X.npy"), dir.join("y.npy"));
    write_npy(&xp, rows.len(), 6, &x);
    write_npy(&yp, rows.len(), 0, &y);
    let (x, y) = (xp.to_string_lossy(), yp.to_string_lossy());
    let (code, out, stderr) = on_ranks(3, &["--x", &x, "--y", &y, "--solver", "qr", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    // NIST StRD, Longley: certified values.
    let certified = [
        -3482258.63459582,
        15.0618722713733,
        -0.0358191792925910,
        -2.02022980381683,
        -1.03322686717359,
        -0.0511041056535807,
        1829.15146461355,
    ];
    for (k, (got, want)) in parameters(&out).iter().zip(certified).enumerate() {
        assert!(
            ((got - want) / want).abs() < 1e-10,
            "b{k}: {got} vs certified {want}"
        );
    }
}

#[test]
fn files_split_by_rank_are_read_one_per_rank() {
    let dir = scratch("split");
    let (x, y) = regression_files(&dir, 600, 3);
    let args = [
        "--x",
        x.as_str(),
        "--y",
        y.as_str(),
        "--solver",
        "qr",
        "--json",
    ];
    let (code, whole, stderr) = on_ranks(2, &args);
    assert_eq!(code, 0, "{stderr}");
    // The same rows, split beforehand into X.0.npy (rows 0..300) and X.1.npy.
    let (xs, ys) = regression_data(600, 3);
    for rank in 0..2 {
        let rows = rank * 300..(rank + 1) * 300;
        write_npy(
            &dir.join(format!("X.{rank}.npy")),
            300,
            3,
            &xs[rows.start * 3..rows.end * 3],
        );
        write_npy(&dir.join(format!("y.{rank}.npy")), 300, 0, &ys[rows]);
    }
    let xr = dir.join("X.{rank}.npy").to_string_lossy().into_owned();
    let yr = dir.join("y.{rank}.npy").to_string_lossy().into_owned();
    let (code, split, stderr) = on_ranks(2, &["--x", &xr, "--y", &yr, "--solver", "qr", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(relative(&parameters(&split), &parameters(&whole)) < 1e-12);
}

#[test]
fn a_rank_that_cannot_read_its_shard_ends_every_rank_with_exit_2() {
    let dir = scratch("faults");
    let (x, y) = regression_files(&dir, 90, 3);
    // Rank 2's file is missing.
    for rank in 0..2 {
        std::fs::copy(&x, dir.join(format!("X.{rank}.npy"))).unwrap();
        std::fs::copy(&y, dir.join(format!("y.{rank}.npy"))).unwrap();
    }
    std::fs::copy(&y, dir.join("y.2.npy")).unwrap();
    let xr = dir.join("X.{rank}.npy").to_string_lossy().into_owned();
    let yr = dir.join("y.{rank}.npy").to_string_lossy().into_owned();
    let (code, _, stderr) = on_ranks(3, &["--x", &xr, "--y", &yr]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("rank 2"), "{stderr}");
    assert!(stderr.contains("X.2.npy"), "{stderr}");
    // Shards that disagree on the number of columns.
    write_npy(&dir.join("X.2.npy"), 90, 4, &vec![1.0; 360]);
    let (code, _, stderr) = on_ranks(3, &["--x", &xr, "--y", &yr]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("rank 2") && stderr.contains("columns"),
        "{stderr}"
    );
    // Told once, by rank 0, though every rank knows it.
    assert_eq!(
        stderr.matches("every shard needs the same columns").count(),
        1,
        "{stderr}"
    );
    // Not an .npy file.
    let (code, _, stderr) = on_ranks(2, &["--x", "X.csv", "--y", "y.csv"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(".npy"), "{stderr}");
}

/// The processes running the matdiff binary with `folder` on their command line.
fn ranks_using(folder: &Path) -> Vec<u32> {
    let folder = folder.to_string_lossy();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().is_some_and(|a| a == BIN) && args.iter().any(|a| a.contains(&*folder)) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn a_rank_killed_mid_run_ends_the_job_with_an_error() {
    let dir = scratch("killed");
    let (x, y) = regression_files(&dir, 90, 3);
    for rank in [0, 2] {
        std::fs::copy(&x, dir.join(format!("X.{rank}.npy"))).unwrap();
        std::fs::copy(&y, dir.join(format!("y.{rank}.npy"))).unwrap();
    }
    std::fs::copy(&y, dir.join("y.1.npy")).unwrap();
    // Rank 1's features are a pipe nobody writes to: it waits on opening it, the
    // others wait for it, until it is killed.
    let fifo = dir.join("X.1.npy");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let xr = dir.join("X.{rank}.npy").to_string_lossy().into_owned();
    let yr = dir.join("y.{rank}.npy").to_string_lossy().into_owned();
    let started = Instant::now();
    let job = spawn(
        Command::new("mpirun")
            .args([
                "--allow-run-as-root",
                "--oversubscribe",
                "-n",
                "3",
                BIN,
                "linreg",
            ])
            .args(["--x", &xr, "--y", &yr, "--distributed"]),
    );
    let ranks = loop {
        let ranks = ranks_using(&dir);
        if ranks.len() == 3 {
            break ranks;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the ranks did not start: {ranks:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Let them reach the point where they wait for each other.
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-9", &ranks[0].to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let (code, _, stderr) = finish(job, started, Duration::from_secs(120));
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("signal 9"), "{stderr}");
    assert!(ranks_using(&dir).is_empty(), "ranks left running");
}

#[test]
fn options_a_distributed_fit_cannot_honour_are_refused() {
    let dir = scratch("options");
    let (x, y) = regression_files(&dir, 50, 2);
    for (extra, says) in [
        (&["--solver", "gd"][..], "not distributed over rows"),
        (&["--test-fraction", "0.2"][..], "--test-fraction"),
        (&["--model", "logistic"][..], "logistic"),
    ] {
        let mut args = vec!["--x", x.as_str(), "--y", y.as_str()];
        args.extend(extra);
        let (code, _, stderr) = on_ranks(2, &args);
        assert_eq!(code, 2, "{extra:?}: {stderr}");
        assert!(stderr.contains(says), "{extra:?}: {stderr}");
    }
}

/// `mpirun -n ranks matdiff minimize … --distributed`, or the same in one process,
/// on `X.npy` and `y.npy` in `dir`.
fn minimize(ranks: Option<usize>, dir: &Path, extra: &[&str]) -> Value {
    let (code, out, stderr) = minimize_on(ranks, &dir.join("X.npy"), &dir.join("y.npy"), extra);
    assert_eq!(code, 0, "{ranks:?} {extra:?}: {stderr}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// [`minimize`] on the files `x` and `y`: the exit code, stdout and stderr.
fn minimize_on(ranks: Option<usize>, x: &Path, y: &Path, extra: &[&str]) -> (i32, String, String) {
    let x = format!("X={}", x.display());
    let y = format!("y={}", y.display());
    let mut args = vec![
        "minimize",
        "norm2(X*w - y)^2/N + 0.1*norm2(w)^2",
        "--wrt",
        "w",
        "--let",
        "X: matrix(N, d)",
        "--data",
        &x,
        "--data",
        &y,
        "--json",
        "--quiet",
    ];
    args.extend(extra);
    let mut command = match ranks {
        Some(k) => {
            let mut c = Command::new("mpirun");
            c.args(["--allow-run-as-root", "--oversubscribe", "-n"])
                .arg(k.to_string())
                .arg(BIN)
                .args(&args)
                .arg("--distributed");
            c
        }
        None => {
            let mut c = Command::new(BIN);
            c.args(&args);
            c
        }
    };
    command.env("RAYON_NUM_THREADS", "1");
    run(command, Duration::from_secs(120))
}

fn solution(fit: &Value) -> Vec<f64> {
    fit["solution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

#[test]
fn gradient_descent_takes_the_steps_of_one_process() {
    let dir = scratch("minimize-gd");
    regression_files(&dir, 1001, 5);
    let steps = ["--lr", "0.005", "--max-iter", "50"];
    let one = minimize(None, &dir, &steps);
    assert_eq!(one["iterations"], 50);
    for ranks in [2, 4] {
        let fit = minimize(Some(ranks), &dir, &steps);
        assert_eq!(fit["iterations"], 50, "{fit}");
        let err = relative(&solution(&fit), &solution(&one));
        assert!(err < 1e-12, "K = {ranks}: {fit} vs {one} ({err:e})");
        let loss = (fit["loss"].as_f64().unwrap(), one["loss"].as_f64().unwrap());
        assert!((loss.0 - loss.1).abs() <= 1e-12 * loss.1.abs(), "{loss:?}");
    }
    // The stop rules see the global gradient: the same stop at the same iteration.
    let until = [
        "--lr",
        "0.005",
        "--tol-grad",
        "1e-3",
        "--max-iter",
        "100000",
    ];
    let one = minimize(None, &dir, &until);
    let fit = minimize(Some(3), &dir, &until);
    assert_eq!(fit["stop_reason"], one["stop_reason"]);
    assert_eq!(fit["iterations"], one["iterations"]);
}

#[test]
fn sgd_draws_the_samples_of_one_process() {
    let dir = scratch("minimize-sgd");
    regression_files(&dir, 700, 4);
    let run = [
        "--method", "sgd", "--lr", "0.002", "--epochs", "2", "--seed", "5",
    ];
    let one = minimize(None, &dir, &run);
    let fit = minimize(Some(3), &dir, &run);
    assert_eq!(fit["iterations"], one["iterations"]);
    let err = relative(&solution(&fit), &solution(&one));
    assert!(err < 1e-10, "{fit} vs {one} ({err:e})");
}

#[test]
fn mini_batch_draws_a_share_of_every_batch_on_each_rank() {
    let dir = scratch("minimize-minibatch");
    regression_files(&dir, 1001, 5);
    let run = [
        "--method",
        "minibatch",
        "--batch",
        "32",
        "--lr",
        "0.002",
        "--epochs",
        "20",
        "--seed",
        "5",
    ];
    // One rank draws the batches of one process: the same iterates, bit for bit.
    let one = minimize(None, &dir, &run);
    let alone = minimize(Some(1), &dir, &run);
    assert_eq!(alone["solution"], one["solution"], "{alone} vs {one}");
    assert_eq!(alone["iterations"], one["iterations"]);
    // On more ranks each draws 32/K of its own rows per step: other batches, the same
    // loss within the noise of mini-batch descent, and the same bits on a rerun.
    let (loss_one, mut shares) = (one["loss"].as_f64().unwrap(), Vec::new());
    for ranks in [2, 4] {
        let fit = minimize(Some(ranks), &dir, &run);
        let again = minimize(Some(ranks), &dir, &run);
        assert_eq!(fit["solution"], again["solution"], "K = {ranks}");
        // An epoch: every rank through its rows once, ⌈251/8⌉ = 32 steps at K = 4.
        assert_eq!(fit["iterations"], one["iterations"], "K = {ranks}: {fit}");
        let loss = fit["loss"].as_f64().unwrap();
        assert!(
            (loss - loss_one).abs() < 0.03 * loss_one,
            "K = {ranks}: {loss} vs one process {loss_one}"
        );
        shares.push(fit["solution"].clone());
    }
    assert_ne!(shares[0], shares[1], "K = 2 and 4 draw other batches");
}

#[test]
fn a_batch_smaller_than_the_ranks_is_refused() {
    let dir = scratch("minimize-small-batch");
    regression_files(&dir, 100, 2);
    let x = format!("X={}", dir.join("X.npy").display());
    let y = format!("y={}", dir.join("y.npy").display());
    let mut command = Command::new("mpirun");
    command
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "4", BIN])
        .args(["minimize", "norm2(X*w - y)^2/N", "--wrt", "w"])
        .args(["--let", "X: matrix(N, d)", "--data", &x, "--data", &y])
        .args(["--method", "minibatch", "--batch", "3", "--distributed"]);
    let (code, _, stderr) = run(command, Duration::from_secs(120));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.matches("--batch 4 or more").count(), 1, "{stderr}");
}

#[test]
fn local_sgd_averages_the_ranks_and_is_plain_sgd_on_one() {
    let dir = scratch("minimize-local-sgd");
    regression_files(&dir, 700, 4);
    let run = [
        "--method", "sgd", "--lr", "0.002", "--epochs", "3", "--seed", "5",
    ];
    // One rank averaging after every step is SGD in one process, step for step.
    let one = minimize(None, &dir, &run);
    let alone = minimize(Some(1), &dir, &[&run[..], &["--sync-every", "1"]].concat());
    assert!(
        relative(&solution(&alone), &solution(&one)) < 1e-12,
        "{alone} vs {one}"
    );
    // Three ranks on their own rows, averaging every 10 steps: each rank steps once
    // per row it holds per epoch, reruns give the same bits, and the loss is that of
    // SGD at this step size (its noise above the minimum).
    let local = [&run[..], &["--sync-every", "10"]].concat();
    let fit = minimize(Some(3), &dir, &local);
    let again = minimize(Some(3), &dir, &local);
    assert_eq!(fit["solution"], again["solution"]);
    assert_eq!(fit["iterations"], 3 * 234, "{fit}");
    let best = minimize(
        None,
        &dir,
        &[
            "--line-search",
            "--tol-grad",
            "1e-9",
            "--max-iter",
            "100000",
        ],
    );
    let (loss, minimum) = (
        fit["loss"].as_f64().unwrap(),
        best["loss"].as_f64().unwrap(),
    );
    let sgd = one["loss"].as_f64().unwrap();
    assert!(
        loss >= minimum && loss < minimum + 2.0 * (sgd - minimum).max(1e-3),
        "{loss} vs minimum {minimum}, SGD {sgd}"
    );
}

#[test]
fn a_diverging_distributed_run_fails_once_with_exit_1() {
    let dir = scratch("minimize-diverge");
    regression_files(&dir, 300, 3);
    let x = format!("X={}", dir.join("X.npy").display());
    let y = format!("y={}", dir.join("y.npy").display());
    let mut command = Command::new("mpirun");
    command
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "3", BIN])
        .args(["minimize", "norm2(X*w - y)^2/N", "--wrt", "w"])
        .args(["--let", "X: matrix(N, d)", "--data", &x, "--data", &y])
        .args(["--lr", "5", "--max-iter", "100", "--distributed"]);
    let (code, _, stderr) = run(command, Duration::from_secs(120));
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.matches("diverged").count(), 1, "{stderr}");
}

#[test]
fn ranks_streaming_their_rows_take_the_steps_of_mapped_rows() {
    let dir = scratch("minimize-stream");
    regression_files(&dir, 1001, 5);
    // Gradient descent: each rank streams its rows in chunks of 64 at every step;
    // one process holds them all in memory.
    let steps = ["--lr", "0.005", "--max-iter", "50"];
    let one = minimize(None, &dir, &steps);
    let streamed = [&steps[..], &["--stream", "--chunk-rows", "64"]].concat();
    let fit = minimize(Some(2), &dir, &streamed);
    assert_eq!(fit["iterations"], 50, "{fit}");
    let err = relative(&solution(&fit), &solution(&one));
    assert!(err < 1e-12, "{fit} vs {one} ({err:e})");
    // Mini-batch and local SGD draw within chunks of each rank's rows when streamed;
    // mapped rows drawn by the same chunks give the same steps.
    for method in [
        &["--method", "minibatch", "--batch", "32"][..],
        &["--method", "sgd", "--sync-every", "10"][..],
    ] {
        let run = [method, &["--lr", "0.002", "--epochs", "2", "--seed", "5"]].concat();
        let mapped = minimize(Some(3), &dir, &[&run[..], &["--chunk-rows", "64"]].concat());
        let streamed = minimize(
            Some(3),
            &dir,
            &[&run[..], &["--stream", "--chunk-rows", "64"]].concat(),
        );
        assert_eq!(streamed["iterations"], mapped["iterations"], "{method:?}");
        let err = relative(&solution(&streamed), &solution(&mapped));
        assert!(err < 1e-12, "{method:?}: {streamed} vs {mapped} ({err:e})");
    }
}

#[test]
fn a_rank_that_cannot_stream_its_rows_ends_every_rank_with_exit_2() {
    let dir = scratch("minimize-stream-faults");
    let (xs, ys) = regression_data(300, 3);
    for rank in 0..3 {
        let rows = rank * 100..(rank + 1) * 100;
        let mut x = xs[rows.start * 3..rows.end * 3].to_vec();
        if rank == 1 {
            // Found only when rank 1 reads its second chunk.
            x[70 * 3 + 1] = f64::NAN;
        }
        write_npy(&dir.join(format!("X.{rank}.npy")), 100, 3, &x);
        write_npy(&dir.join(format!("y.{rank}.npy")), 100, 0, &ys[rows]);
    }
    let (x, y) = (dir.join("X.{rank}.npy"), dir.join("y.{rank}.npy"));
    let stream = ["--stream", "--chunk-rows", "64", "--max-iter", "5"];
    let (code, _, stderr) = minimize_on(Some(3), &x, &y, &stream);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("rank 1") && stderr.contains("X.1.npy"),
        "{stderr}"
    );
    assert!(stderr.contains("only finite numbers"), "{stderr}");
    // A missing file, found when the ranks open their files.
    std::fs::remove_file(dir.join("X.2.npy")).unwrap();
    let (code, _, stderr) = minimize_on(Some(3), &x, &y, &stream);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("rank 2") && stderr.contains("X.2.npy"),
        "{stderr}"
    );
}
