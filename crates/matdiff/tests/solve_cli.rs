//! `matdiff solve` end to end: the closed forms with their steps in every format,
//! refusals with their exit codes and carets, and the numbers on data, which agree
//! with `matdiff linreg` on the bundled diabetes and Longley data.

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{matdiff, shell_words};
use serde_json::Value;

/// The seminar's five quadratic losses: (expression, declarations, variable).
const SEMINAR: [(&str, &str, &str); 5] = [
    ("1/N*norm2(X*w - y)^2", "X: matrix(N,d)", "w"),
    (
        "norm2(X*w - y)^2 + lambda*norm2(w)^2",
        "X: matrix(N,d)",
        "w",
    ),
    ("(X*w - y)'*W*(X*w - y)", "X: matrix(N,d); W: spd(N)", "w"),
    ("norm2(A*X - B)^2", "A: matrix(m,n); X: matrix(n,k)", "X"),
    ("x'*P*x/2 - b'*x", "P: spd(n)", "x"),
];

#[test]
fn the_seminar_losses_are_solved_with_steps_in_every_format() {
    let mut out = String::new();
    for (expr, decls, wrt) in SEMINAR {
        for format in ["text", "pretty", "latex", "json"] {
            let args = [
                "solve", expr, "--wrt", wrt, "--let", decls, "--steps", "--format", format,
            ];
            let (code, stdout, stderr) = matdiff(&args);
            assert_eq!(code, 0, "{}: {stderr}", shell_words(&args));
            let _ = writeln!(out, "$ matdiff {}\n{stdout}", shell_words(&args));
        }
    }
    insta::assert_snapshot!(out);
}

#[test]
fn without_steps_the_text_starts_with_the_solution_that_parses_back() {
    let (code, stdout, _) = matdiff(&[
        "solve",
        "1/N*norm2(X*w - y)^2",
        "--wrt",
        "w",
        "--let",
        "X: matrix(N,d)",
        "--format",
        "text",
    ]);
    assert_eq!(code, 0);
    let first = stdout.lines().next().unwrap();
    assert_eq!(first, "w = inv(X'*X)*X'*y");
    assert!(stdout.contains("minimum, unique when X has full column rank"));
    assert!(stdout.contains("pinv(X)*y"));
}

#[test]
fn non_affine_gradients_exit_with_1_and_point_at_the_subexpression() {
    let cases = [
        (
            "1/N*sum(log(1 + exp(-y .* (X*w))))",
            "w",
            "exp(-y .* (X*w))",
        ),
        ("norm2(X*w - y)", "w", "norm2(X*w - y)"),
        ("x'*x*x'*x", "x", "x'*x*x'"),
    ];
    let mut out = String::new();
    for (expr, wrt, culprit) in cases {
        let args = ["solve", expr, "--wrt", wrt, "--let", "X: matrix(N,d)"];
        let (code, stdout, stderr) = matdiff(&args);
        assert_eq!(code, 1, "{expr}: {stderr}");
        assert!(stdout.is_empty());
        assert!(
            stderr.contains(&format!(
                "the gradient is not affine in {wrt}: no closed form. Use `matdiff minimize` (or Newton with `--order 2`)"
            )),
            "{stderr}"
        );
        // The caret sits under the culprit.
        let caret_line = stderr.lines().find(|l| l.contains('^')).unwrap();
        let start = caret_line.find('^').unwrap();
        let source_line = stderr.lines().find(|l| l.contains(expr)).unwrap();
        let width = caret_line.matches('^').count();
        assert_eq!(&source_line[start..start + width], culprit, "{stderr}");
        let _ = writeln!(out, "$ matdiff {}\n{stderr}", shell_words(&args));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn sylvester_equations_are_refused_with_the_reason() {
    let (code, _, stderr) = matdiff(&[
        "solve",
        "norm2(A*X + X*B - C)^2",
        "--wrt",
        "X",
        "--let",
        "A: matrix(n,n); B: matrix(n,n)",
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("Sylvester equation"), "{stderr}");
    assert!(stderr.contains("no closed form"), "{stderr}");
}

#[test]
fn bad_input_exits_with_2() {
    let cases: [&[&str]; 4] = [
        &["solve", "norm2(X*w - y)^2", "--wrt", "v"],
        &["solve", "X*w - y", "--wrt", "w"],
        &["solve", "norm2(X*w - y)^2", "--wrt", "w", "--data", "X"],
        &[
            "solve",
            "x'*P*x/2 - b'*x",
            "--wrt",
            "x",
            "--format",
            "numpy",
            "--at",
            "a.json",
        ],
    ];
    for args in cases {
        let (code, _, stderr) = matdiff(args);
        assert_eq!(code, 2, "{}: {stderr}", shell_words(args));
        assert!(stderr.starts_with("error:"), "{stderr}");
    }
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "matdiff-solve-cli-{}-{unique}-{name}",
        std::process::id()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

/// A bundled data set split into a design file (its feature columns, after a column
/// of ones when `ones`) and a target file.
fn design_and_target(data: &str, target: &str, ones: bool) -> (PathBuf, PathBuf) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../data/{data}.csv"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let t = header.iter().position(|h| *h == target).unwrap();
    let keep = |cells: &[&str], one: &str| {
        let mut row: Vec<String> = Vec::new();
        if ones {
            row.push(one.to_string());
        }
        row.extend(
            cells
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != t)
                .map(|(_, c)| c.to_string()),
        );
        row.join(",")
    };
    let mut x = keep(&header, "one") + "\n";
    let mut y = format!("{target}\n");
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        x.push_str(&keep(&cells, "1"));
        x.push('\n');
        y.push_str(cells[t]);
        y.push('\n');
    }
    (
        temp_file(&format!("{data}-X.csv"), &x),
        temp_file(&format!("{data}-y.csv"), &y),
    )
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// `solve` on the normal equations against `linreg` with the normal-equations solver
/// (the same family: a Cholesky-type solve of XᵀX w = Xᵀy): without an intercept, and
/// with one fitted by linreg against an explicit column of ones.
#[test]
fn on_diabetes_and_longley_the_solution_agrees_with_linreg() {
    for (data, target) in [("diabetes", "target"), ("longley", "totemp")] {
        for ones in [false, true] {
            let (x, y) = design_and_target(data, target, ones);
            let (code, stdout, stderr) = matdiff(&[
                "solve",
                "1/N*norm2(X*w - y)^2",
                "--wrt",
                "w",
                "--let",
                "X: matrix(N,d)",
                "--format",
                "json",
                "--data",
                &format!("X={}", x.display()),
                "--data",
                &format!("y={}", y.display()),
            ]);
            assert_eq!(code, 0, "{data}: {stderr}");
            let ours: Value = serde_json::from_str(&stdout).unwrap();
            let solution = numbers(&ours["numbers"]["solution"]);
            assert_eq!(ours["numbers"]["solves"], 1, "{stdout}");
            let mut linreg_args = vec![
                "linreg", data, "--target", target, "--solver", "normal", "--json",
            ];
            if !ones {
                linreg_args.push("--no-intercept");
            }
            let (code, stdout, stderr) = matdiff(&linreg_args);
            assert_eq!(code, 0, "{data}: {stderr}");
            let fit: Value = serde_json::from_str(&stdout).unwrap();
            let mut expected = Vec::new();
            if ones {
                expected.push(fit["intercept"].as_f64().unwrap());
            }
            expected.extend(numbers(&fit["coefficients"]));
            assert_eq!(solution.len(), expected.len(), "{data}");
            // Longley's normal equations have cond ≈ 1e13 with the intercept: both
            // sides lose digits the same way, so the tolerance is by conditioning.
            let tol = if data == "longley" { 1e-4 } else { 1e-8 };
            for (i, (a, b)) in solution.iter().zip(&expected).enumerate() {
                assert!(
                    (a - b).abs() <= tol * b.abs().max(1.0),
                    "{data} (ones {ones}) coefficient {i}: solve {a}, linreg {b}"
                );
            }
            let gradient_norm = ours["numbers"]["gradient_norm"].as_f64().unwrap();
            assert!(gradient_norm.is_finite(), "{stdout}");
        }
    }
}

#[test]
fn at_inputs_report_the_point_and_a_vanishing_gradient() {
    let at = temp_file("inputs.json", r#"{"P": [[4, 1], [1, 3]], "b": [1, 2]}"#);
    let (code, stdout, stderr) = matdiff(&[
        "solve",
        "x'*P*x/2 - b'*x",
        "--wrt",
        "x",
        "--let",
        "P: spd(n)",
        "--at",
        at.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    // P x = b: x = (1/11, 7/11).
    let x = numbers(&v["numbers"]["solution"]);
    assert!(
        (x[0] - 1.0 / 11.0).abs() < 1e-12 && (x[1] - 7.0 / 11.0).abs() < 1e-12,
        "{x:?}"
    );
    assert!(v["numbers"]["gradient_norm"].as_f64().unwrap() < 1e-12);
    assert_eq!(v["verdict"], "minimum, unique");
}
