//! `matdiff parse` end to end: the built binary, its stdout, its diagnostics with
//! carets on stderr, and its exit codes.

mod common;

use common::{matdiff, shell_words};

/// Each case must fail with exit code 2 and carets under the culprit.
const ERRORS: &[&[&str]] = &[
    &["x + y'"],
    &["x*y"],
    &["tr(x)"],
    &["X*w", "--let", "X: matrix(N,d); w: vector(N)"],
    &["x + ones(3)", "--let", "x: vector(4)"],
    &["X*w + y", "--let", "X: matrix(N, d); y: vector(d)"],
    &["x / y"],
    &["x^2"],
    &["A^0.5"],
    &["A^2", "--let", "A: matrix(2, 3)"],
    &["softmax(alpha)"],
    &["diag(x')"],
    &["<x, A>"],
    &["dot(x, y')"],
    &["inv(x)"],
    &["det(X)", "--let", "X: matrix(N, d)"],
    &["eye(2.5)"],
    &["x .* y'"],
    &["A + x"],
    &["x ./ A"],
    &[
        "A*B + C",
        "--let",
        "A: matrix(2,3); B: matrix(3,4); C: matrix(4,2)",
    ],
    &["1/N*x", "--let", "N: scalar; x: vector(N)"],
    &["x'*x", "--let", "x: vector; x: matrix"],
    &["alpha^x"],
    &["exp"],
    &["x +"],
    &["norm2(x"],
    &["nrom2(x)"],
    &["X*w", "--let", "X: matrix(N)"],
    &["@tests/fixtures/mismatch.mdf"],
    &["@tests/fixtures/decls_only.mdf"],
    &["@tests/fixtures/missing.mdf"],
];

#[test]
fn errors_are_reported_with_carets_and_exit_code_2() {
    let mut out = String::new();
    for args in ERRORS {
        let mut full = vec!["parse"];
        full.extend_from_slice(args);
        let (code, stdout, stderr) = matdiff(&full);
        assert_eq!(code, 2, "{full:?}: exit {code}\n{stderr}");
        assert!(stdout.is_empty(), "{full:?} printed {stdout}");
        assert!(stderr.contains("error"), "{full:?}: {stderr}");
        out.push_str(&format!(
            "$ matdiff {}\nexit: {code}\n{stderr}\n",
            shell_words(&full)
        ));
    }
    insta::assert_snapshot!(out);
}

/// Well-formed inputs in every format.
const OUTPUTS: &[&[&str]] = &[
    &["1/N * norm2(X*w - y)^2", "--let", "X: matrix(N,d)"],
    &[
        "1/N * norm2(X*w - y)^2",
        "--let",
        "X: matrix(N,d)",
        "--format",
        "pretty",
    ],
    &[
        "1/N * norm2(X*w - y)^2",
        "--let",
        "X: matrix(N,d)",
        "--format",
        "latex",
    ],
    &[
        "1/N * norm2(X*w - y)^2",
        "--let",
        "X: matrix(N,d)",
        "--format",
        "json",
    ],
    &["x'*S*x + logdet(P)", "--let", "S: symmetric(n), P: spd(n)"],
    &["@tests/fixtures/ridge.mdf"],
    &["@tests/fixtures/ridge.mdf", "--format", "json"],
    &["A*x + b"],
    &["-(2*x) - -x + n*ones(n)", "--format", "pretty"],
];

#[test]
fn parse_prints_expression_shape_variables_and_dimensions() {
    let mut out = String::new();
    for args in OUTPUTS {
        let mut full = vec!["parse"];
        full.extend_from_slice(args);
        let (code, stdout, stderr) = matdiff(&full);
        assert_eq!(code, 0, "{full:?}: {stderr}");
        assert!(stderr.is_empty(), "{full:?}: {stderr}");
        out.push_str(&format!("$ matdiff {}\n{stdout}\n", shell_words(&full)));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn the_least_squares_example_reports_scalar_and_inferred_vectors() {
    let (code, stdout, _) =
        matdiff(&["parse", "1/N * norm2(X*w - y)^2", "--let", "X: matrix(N,d)"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[1], "scalar");
    for expected in [
        "w: vector(d)",
        "y: vector(N)",
        "N: scalar (dimension)",
        "d: scalar (dimension)",
    ] {
        assert!(lines.contains(&expected), "missing {expected} in\n{stdout}");
    }
}

#[test]
fn json_output_is_one_object_with_the_documented_fields() {
    let (code, stdout, _) = matdiff(&[
        "parse",
        "X*w",
        "--let",
        "X: matrix(N,d)",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("valid json");
    assert_eq!(v["expr"], "X*w");
    assert_eq!(v["shape"], serde_json::json!(["N", 1]));
    assert_eq!(v["dims"], serde_json::json!(["N", "d"]));
    assert_eq!(v["variables"][1]["name"], "w");
    assert_eq!(v["variables"][1]["kind"], "vector");
    assert_eq!(v["variables"][1]["shape"], serde_json::json!(["d", 1]));
}
