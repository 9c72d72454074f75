//! `matdiff linreg` end to end: the binary on bundled data, files and bad input.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

mod common;

fn matdiff(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_matdiff"))
        .args(args)
        .output()
        .unwrap()
}

fn temp_file(suffix: &str, text: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "matdiff-linreg-cli-{}-{unique}-{suffix}",
        std::process::id()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const DIABETES_COEFFICIENTS: [f64; 10] = [
    -0.0363612242236254,
    -22.8596480904984,
    5.60296209192371,
    1.11680799331819,
    -1.08999633406324,
    0.746450455514226,
    0.372004715089153,
    6.53383193599034,
    68.4831249647883,
    0.280116989321504,
];

#[test]
fn json_on_bundled_diabetes() {
    let output = matdiff(&["linreg", "diabetes", "--target", "target", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let value: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let close = |got: &Value, want: f64| (got.as_f64().unwrap() - want).abs() <= 1e-8 * want.abs();
    assert!(close(&value["intercept"], -334.567138518787));
    let coefficients = value["coefficients"].as_array().unwrap();
    assert_eq!(coefficients.len(), 10);
    for (got, want) in coefficients.iter().zip(DIABETES_COEFFICIENTS) {
        assert!(close(got, want), "{got} vs {want}");
    }
    assert!(close(&value["r2"], 0.51774842222035));
    assert!(close(&value["mse"], 2859.69634758675));
    assert_eq!(value["features"][2], "bmi");
    assert_eq!(value["rank"], 10);
    assert!(["normal", "qr", "svd"].contains(&value["solver"].as_str().unwrap()));
    assert!(value["condition_number"].as_f64().unwrap() > 1.0);
    assert!(value["iterations"].is_null());
    assert!(value["seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(value["warnings"].as_array().unwrap().len(), 0);
}

#[test]
fn json_with_a_test_split_and_an_iterative_solver() {
    let output = matdiff(&[
        "linreg",
        "diabetes",
        "--solver",
        "gd",
        "--standardize",
        "--test-fraction",
        "0.25",
        "--seed",
        "5",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let value: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value["solver"], "gd");
    assert_eq!(value["n_test"], 111);
    assert_eq!(value["n_train"], 331);
    assert!(value["iterations"].as_u64().unwrap() > 0);
    assert!(value["test"]["r2"].as_f64().unwrap() > 0.3);
}

#[test]
fn human_output_names_solver_coefficients_and_scores() {
    let output = matdiff(&["linreg", "diabetes", "--target", "target", "--solver", "qr"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for needle in [
        "solver: qr",
        "intercept",
        "bmi",
        "R² 0.517748",
        "MSE 2859.69",
        "rank 10 of 10",
        "condition number",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
}

#[test]
fn all_solvers_side_by_side_on_longley() {
    let output = matdiff(&["linreg", "longley", "--target", "totemp", "--solver", "all"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let distance = |solver: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(solver))
            .unwrap_or_else(|| panic!("no row for {solver} in\n{text}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    for solver in ["normal", "qr", "svd"] {
        assert!(distance(solver) < 1e-9, "{solver}\n{text}");
    }
    for solver in ["gd", "sgd", "minibatch"] {
        assert!(distance(solver).is_finite(), "{solver}\n{text}");
    }
    assert!(text.contains("iter / epochs"));
}

#[test]
fn features_from_separate_files() {
    let x = temp_file("x.csv", "a,b\n0,1\n1,0\n2,2\n3,1\n");
    let y = temp_file("y.csv", "y\n3\n3\n9\n9\n");
    let output = matdiff(&[
        "linreg",
        "--x",
        x.to_str().unwrap(),
        "--y",
        y.to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let value: Value = serde_json::from_str(&stdout(&output)).unwrap();
    // y = 1 + 2a + 2b exactly.
    let b: Vec<f64> = value["coefficients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        (b[0] - 2.0).abs() < 1e-12 && (b[1] - 2.0).abs() < 1e-12,
        "{b:?}"
    );
    assert!((value["intercept"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(value["features"], serde_json::json!(["x1", "x2"]));
}

/// Bad input: exit 2 and a message naming the file with line and column where there is one.
#[test]
fn bad_input_exits_with_2_and_says_where() {
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        (
            "ragged.csv",
            "a,y\n1,2\n3\n",
            &["--target", "y"],
            &[":3:", "ragged row", "expected 2 fields, found 1"],
        ),
        (
            "text.csv",
            "a,y\n1,2\n3,four\n",
            &["--target", "y"],
            &[":3:2:", "non-numeric", "\"four\""],
        ),
        (
            "nan.csv",
            "a,y\n1,2\nnan,3\n",
            &["--target", "y"],
            &[":3:1:", "not a finite number"],
        ),
        ("empty.csv", "", &["--target", "y"], &["empty"]),
        ("header.csv", "a,y\n", &["--target", "y"], &["header only"]),
        (
            "target.csv",
            "a,b\n1,2\n",
            &["--target", "y"],
            &["no column 'y'", "available columns: a, b"],
        ),
        (
            "notarget.csv",
            "a,b\n1,2\n",
            &[],
            &["--target", "columns: a, b"],
        ),
    ];
    for (name, text, extra, words) in cases {
        let path = temp_file(name, text);
        let file = path.to_str().unwrap();
        let mut args = vec!["linreg", file];
        args.extend_from_slice(extra);
        let output = matdiff(&args);
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        let message = stderr(&output);
        assert!(message.contains(file), "{name}: {message}");
        for word in *words {
            assert!(message.contains(word), "{name}: {message} lacks {word}");
        }
    }
}

#[test]
fn unknown_data_solver_and_options_exit_with_2() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["linreg", "no-such-data"],
            "bundled: diabetes, longley, spector",
        ),
        (
            &["linreg", "diabetes", "--solver", "newton"],
            "unknown solver 'newton'",
        ),
        (&["linreg", "diabetes", "--ridge=-1"], "--ridge"),
        (
            &["linreg", "diabetes", "--test-fraction", "1.5"],
            "--test-fraction",
        ),
        (
            &["linreg", "diabetes", "--features", "bmi,nope"],
            "no column 'nope'",
        ),
    ];
    for (args, words) in cases {
        let output = matdiff(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(words),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn a_diverging_iterative_fit_exits_with_1() {
    let output = matdiff(&["linreg", "diabetes", "--solver", "gd", "--lr", "10"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("diverged"), "{}", stderr(&output));
}

/// The messages themselves, run from the data's directory so they show the bare file
/// name: one snapshot of every bad-input class.
#[test]
fn bad_input_messages() {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "matdiff-linreg-messages-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let files = [
        ("ragged.csv", "a,y\n1,2\n3\n"),
        ("text.csv", "a,y\n1,2\n3,four\n"),
        ("inf.csv", "a,y\n1,2\n3,-inf\n"),
        ("empty.csv", ""),
        ("header.csv", "a,y\n"),
        ("twice.csv", "a,a,y\n1,2,3\n"),
        ("good.csv", "a,b\n1,2\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let runs: &[&[&str]] = &[
        &["linreg", "ragged.csv", "--target", "y"],
        &["linreg", "text.csv", "--target", "y"],
        &["linreg", "inf.csv", "--target", "y"],
        &["linreg", "empty.csv", "--target", "y"],
        &["linreg", "header.csv", "--target", "y"],
        &["linreg", "twice.csv", "--target", "y"],
        &["linreg", "good.csv", "--target", "y"],
        &["linreg", "good.csv"],
        &["linreg", "good.csv", "--target", "b", "--features", "a,b"],
        &["linreg", "missing.csv", "--target", "y"],
    ];
    let mut transcript = String::new();
    for args in runs {
        let output = Command::new(env!("CARGO_BIN_EXE_matdiff"))
            .args(*args)
            .current_dir(&dir)
            .output()
            .unwrap();
        transcript.push_str(&format!(
            "$ matdiff {}\nexit {}\n{}\n",
            args.join(" "),
            output.status.code().unwrap_or(-1),
            stderr(&output).trim_end()
        ));
    }
    insta::assert_snapshot!(transcript);
}

/// A version-1 `.npy` file of little-endian f64 values, written by hand.
fn npy(suffix: &str, shape: &str, fortran: bool, values: &[f64]) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "matdiff-linreg-npy-{}-{}-{suffix}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, common::npy_bytes(shape, fortran, values)).unwrap();
    path
}

#[test]
fn features_and_target_from_npy_files() {
    // X = [[0 1] [1 0] [2 2] [3 1]] in Fortran order, y = 1 + 2a − b.
    let x = npy(
        "x.npy",
        "(4, 2)",
        true,
        &[0.0, 1.0, 2.0, 3.0, 1.0, 0.0, 2.0, 1.0],
    );
    let y = npy("y.npy", "(4,)", false, &[0.0, 3.0, 3.0, 6.0]);
    let output = matdiff(&[
        "linreg",
        "--x",
        x.to_str().unwrap(),
        "--y",
        y.to_str().unwrap(),
        "--solver",
        "svd",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let value: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let b = &value["coefficients"];
    assert!((b[0].as_f64().unwrap() - 2.0).abs() < 1e-12, "{b}");
    assert!((b[1].as_f64().unwrap() + 1.0).abs() < 1e-12, "{b}");
    assert!((value["intercept"].as_f64().unwrap() - 1.0).abs() < 1e-12);

    let short = npy("short.npy", "(3,)", false, &[1.0, 2.0, 3.0]);
    let output = matdiff(&[
        "linreg",
        "--x",
        x.to_str().unwrap(),
        "--y",
        short.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("has 4 rows but"),
        "{}",
        stderr(&output)
    );
}

/// Without the `mpi` feature, `--distributed` (linreg and minimize) says how to build
/// with it; with it, the options it cannot honour are refused before any rank starts
/// reading (`tests/distributed.rs` runs it under mpirun).
#[test]
fn distributed_without_mpi_names_the_build_that_has_it() {
    let x = npy("dx.npy", "(2, 1)", false, &[1.0, 2.0]);
    let y = npy("dy.npy", "(2,)", false, &[1.0, 2.0]);
    let (x, y) = (x.to_str().unwrap(), y.to_str().unwrap());
    let output = matdiff(&["linreg", "diabetes", "--distributed"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--x X.npy --y y.npy"),
        "{}",
        stderr(&output)
    );
    let output = matdiff(&[
        "linreg",
        "--x",
        x,
        "--y",
        y,
        "--distributed",
        "--test-fraction",
        "0.5",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--test-fraction"),
        "{}",
        stderr(&output)
    );
    let (xd, yd) = (format!("X={x}"), format!("y={y}"));
    let minimize = [
        "minimize",
        "norm2(X*w - y)^2",
        "--wrt",
        "w",
        "--data",
        &xd,
        "--data",
        &yd,
        "--distributed",
    ];
    let plain = &minimize[..minimize.len() - 1];
    for (extra, says) in [
        (
            &["--sync-every", "5", "--method", "sgd", "--epochs", "1"][..],
            "add --distributed",
        ),
        (
            &["--distributed", "--sync-every", "5", "--epochs", "1"][..],
            "--method sgd",
        ),
        (
            &["--distributed", "--sync-every", "5", "--method", "sgd"][..],
            "give --epochs",
        ),
        (
            &[
                "--distributed",
                "--sync-every",
                "0",
                "--method",
                "sgd",
                "--epochs",
                "1",
            ][..],
            "at least 1",
        ),
    ] {
        let output = matdiff(&[plain, extra].concat());
        assert_eq!(output.status.code(), Some(2), "{extra:?}");
        assert!(
            stderr(&output).contains(says),
            "{extra:?}: {}",
            stderr(&output)
        );
    }
    if cfg!(not(feature = "mpi")) {
        for args in [
            &["linreg", "--x", x, "--y", y, "--distributed"][..],
            &minimize[..],
        ] {
            let output = matdiff(args);
            assert_eq!(output.status.code(), Some(2), "{args:?}");
            assert!(
                stderr(&output).contains("cargo build --release --features mpi"),
                "{}",
                stderr(&output)
            );
        }
    }
}
