//! `matdiff minimize --verbose` says which loop invariants full-batch descent computes
//! once, and `matdiff bench` times the derived plan; both on small CSV files.

mod common;

use common::matdiff_in;

use std::path::PathBuf;

/// A fresh directory with `X.csv` (N = 60 rows, d = 3) and `y.csv`.
fn data_dir(name: &str) -> PathBuf {
    let dir = common::scratch(&format!("hoist-{name}"));
    let mut x = String::from("a,b,c\n");
    let mut y = String::from("y\n");
    for i in 0..60 {
        let (a, b, c) = (
            (i as f64 * 0.37).sin(),
            (i as f64 * 0.11).cos(),
            (i % 7) as f64 / 7.0,
        );
        x.push_str(&format!("{a},{b},{c}\n"));
        y.push_str(&format!("{}\n", 2.0 * a - b + 0.5 * c));
    }
    std::fs::write(dir.join("X.csv"), x).unwrap();
    std::fs::write(dir.join("y.csv"), y).unwrap();
    dir
}

const LOSS: &str = "1/N*norm2(X*w - y)^2";
const DECLS: &str = "X: matrix(N, d)";

#[test]
fn verbose_full_batch_descent_names_the_hoisted_products() {
    let dir = data_dir("gd");
    // (method arguments, whether something is hoisted)
    let table: &[(&[&str], Option<&str>)] = &[
        (
            &["--method", "gd", "--max-iter", "500"],
            Some("X'*X (3 × 3)"),
        ),
        (
            &["--method", "minibatch", "--batch", "8", "--epochs", "2"],
            None,
        ),
    ];
    for (method, expected) in table {
        let mut args = vec!["minimize", LOSS, "--wrt", "w", "--let", DECLS];
        args.extend([
            "--data",
            "X=X.csv",
            "--data",
            "y=y.csv",
            "--lr",
            "0.1",
            "--verbose",
        ]);
        args.extend(method.iter());
        let (code, _, stderr) = matdiff_in(&dir, &args);
        assert_eq!(code, 0, "{method:?}: {stderr}");
        match expected {
            Some(text) => assert!(
                stderr.contains("hoisted, computed once before the loop") && stderr.contains(text),
                "{method:?}: {stderr}"
            ),
            None => assert!(!stderr.contains("computed once"), "{method:?}: {stderr}"),
        }
    }
}

#[test]
fn bench_times_the_plain_and_the_hoisted_plan_with_equal_results() {
    let dir = data_dir("bench");
    let run = |hoist: bool| {
        let mut args = vec!["bench", LOSS, "--wrt", "w", "--let", DECLS];
        args.extend([
            "--data", "X=X.csv", "--data", "y=y.csv", "--repeat", "3", "--json",
        ]);
        if hoist {
            args.push("--hoist");
        }
        let (code, stdout, stderr) = matdiff_in(&dir, &args);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()
    };
    let (plain, hoisted) = (run(false), run(true));
    assert!(plain["seconds"].as_f64().unwrap() >= 0.0);
    assert!(plain["hoisted"].as_array().unwrap().is_empty());
    assert!(!hoisted["hoisted"].as_array().unwrap().is_empty());
    let (a, b) = (
        plain["checksum"].as_f64().unwrap(),
        hoisted["checksum"].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} vs {b}");
}
