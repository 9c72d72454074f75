//! `matdiff eval`: values and derivatives as JSON, agreeing with NumPy; input errors
//! and domain errors at the given point exit 2, naming the subexpression.

mod common;

use common::matdiff;

use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../matdiff-num/tests/fixtures")
        .join(name)
}

/// Writes `text` to a fresh file and returns its path.
fn inputs_file(tag: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("matdiff-eval-{}-{tag}.json", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn numbers(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Number(n) => vec![n.as_f64().unwrap()],
        serde_json::Value::Array(items) => items.iter().flat_map(numbers).collect(),
        other => panic!("not numeric: {other}"),
    }
}

fn assert_close(got: &serde_json::Value, expected: &serde_json::Value, tol: f64, what: &str) {
    let (g, e) = (numbers(got), numbers(expected));
    assert_eq!(g.len(), e.len(), "{what}: {got} vs {expected}");
    assert_eq!(
        got.is_array(),
        expected.is_array(),
        "{what}: {got} vs {expected}"
    );
    for (a, b) in g.iter().zip(&e) {
        assert!(
            (a - b).abs() <= tol * b.abs().max(1e-300),
            "{what}: {a} vs {b} (NumPy)"
        );
    }
}

#[test]
fn least_squares_agrees_with_numpy() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("least_squares.json")).unwrap())
            .unwrap();
    let at = fixture("least_squares_inputs.json");
    let (code, stdout, stderr) = matdiff(&[
        "eval",
        expected["expr"].as_str().unwrap(),
        "--let",
        expected["decls"].as_str().unwrap(),
        "--at",
        at.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let got: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_close(&got["value"], &expected["value"], 1e-12, "value");
    assert_eq!(got.as_object().unwrap().len(), 1, "{stdout}");

    let (code, stdout, stderr) = matdiff(&[
        "eval",
        expected["expr"].as_str().unwrap(),
        "--let",
        expected["decls"].as_str().unwrap(),
        "--at",
        at.to_str().unwrap(),
        "--wrt",
        "w",
        "--order",
        "2",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("{\"value\": "), "{stdout}");
    let got: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_close(&got["value"], &expected["value"], 1e-12, "value");
    assert_close(&got["gradient"], &expected["gradient"], 1e-10, "gradient");
    assert_close(&got["hessian"], &expected["hessian"], 1e-10, "hessian");
}

#[test]
fn jacobians_and_gradients_have_the_right_shapes() {
    let at = inputs_file("jac", r#"{"A": [[1, 2], [3, 4], [5, 6]], "x": [1, -1]}"#);
    let cases: &[(&str, &str, &str)] = &[
        (
            "A*x",
            "x",
            r#"{"value": [-1.0,-1.0,-1.0], "jacobian": [[1.0,2.0],[3.0,4.0],[5.0,6.0]]}"#,
        ),
        (
            "sum(A*x)",
            "x",
            r#"{"value": -3.0, "gradient": [9.0,12.0]}"#,
        ),
        (
            "sum(A*x)",
            "A",
            r#"{"value": -3.0, "gradient": [[1.0,-1.0],[1.0,-1.0],[1.0,-1.0]]}"#,
        ),
    ];
    for (expr, wrt, expected) in cases {
        let (code, stdout, stderr) = matdiff(&[
            "eval",
            expr,
            "--let",
            "A: matrix(m, n); x: vector(n)",
            "--at",
            &at,
            "--wrt",
            wrt,
        ]);
        assert_eq!(code, 0, "{expr}: {stderr}");
        assert_eq!(stdout.trim(), *expected, "{expr} d/d{wrt}");
    }
}

#[test]
fn errors_exit_with_their_codes_and_print_no_numbers() {
    let at = inputs_file(
        "err",
        r#"{"A": [[1, 2], [2, 4]], "x": [1, -2], "y": [0, 1], "alpha": 0}"#,
    );
    let decls = "A: matrix(n, n); x: vector(n); y: vector(n); alpha: scalar";
    // (expression, extra arguments, exit code, message on stderr)
    let cases: &[(&str, &[&str], i32, &str)] = &[
        ("sum(log(x))", &[], 2, "error: log of a non-positive entry (-2 at [1]) in `log(x)`"),
        ("sum(sqrt(x))", &[], 2, "error: sqrt of a negative entry (-2 at [1]) in `sqrt(x)`"),
        ("logdet(A)", &[], 2, "in `logdet(A)`"),
        ("sum(inv(A)*x)", &[], 2, "inv of a singular matrix: the matrix is singular"),
        ("sum(x)/alpha", &[], 2, "error: division by zero in `sum(x)/alpha`"),
        ("inv(A)", &["--wrt", "A"], 2, "is a differential form, not an array of numbers — see it with `matdiff derive EXPR --wrt A`"),
        ("x'*A*x", &["--order", "1"], 2, "--order 1 needs --wrt NAME"),
        ("x'*A*x + norm2(z)", &[], 2, "no value for `z` — add it to the inputs"),
    ];
    for (expr, extra, code, message) in cases {
        let mut args = vec!["eval", expr, "--let", decls, "--at", &at];
        args.extend_from_slice(extra);
        let (got, stdout, stderr) = matdiff(&args);
        assert_eq!(got, *code, "{expr}: {stderr}");
        assert!(stdout.is_empty(), "{expr} printed {stdout}");
        assert!(stderr.contains(message), "{expr}: {stderr}");
        assert!(!stderr.contains("NaN"), "{expr}: {stderr}");
    }
}

#[test]
fn shape_mismatches_name_the_variable() {
    let at = inputs_file(
        "shape",
        r#"{"X": [[1, 2], [3, 4]], "w": [1, 2, 3], "y": [1, 2]}"#,
    );
    let (code, stdout, stderr) = matdiff(&[
        "eval",
        "norm2(X*w - y)",
        "--let",
        "X: matrix(N, d); w: vector(d); y: vector(N)",
        "--at",
        &at,
    ]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("dimension `d` is 2 from `X` but 3 from `w`"),
        "{stderr}"
    );
}

#[test]
fn data_files_bind_variables_alongside_json() {
    let dir = common::scratch("eval-data");
    let x = dir.join("X.csv");
    std::fs::write(&x, "a,b\n1,2\n3,4\n5,6\n").unwrap();
    let at = inputs_file("data", r#"{"w": [1, -1]}"#);
    let x_arg = format!("X={}", x.display());
    let (code, out, err) = matdiff(&[
        "eval",
        "sum(X*w)",
        "--let",
        "X: matrix(N,d)",
        "--at",
        &at,
        "--data",
        &x_arg,
    ]);
    assert_eq!(code, 0, "{err}");
    // (1 - 2) + (3 - 4) + (5 - 6) = -3.
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["value"], serde_json::json!(-3.0));
    // A non-numeric cell names the file, line and column.
    std::fs::write(&x, "a,b\n1,2\n3,oops\n").unwrap();
    let (code, _, err) = matdiff(&[
        "eval",
        "sum(X*w)",
        "--let",
        "X: matrix(N,d)",
        "--at",
        &at,
        "--data",
        &x_arg,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("X.csv:3:2"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_expression_may_start_with_a_minus_sign() {
    let at = inputs_file("minus", r#"{"x": [1, 2]}"#);
    let (code, out, err) = matdiff(&["eval", "-x'*x", "--at", &at, "--wrt", "x"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["value"], serde_json::json!(-5.0));
    assert_eq!(v["gradient"], serde_json::json!([-2.0, -4.0]));
    let (code, out, err) = matdiff(&["check", "-x'*x", "--wrt", "x"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn compositions_that_overflow_as_written_evaluate_in_their_stable_form() {
    let at = inputs_file("stable", r#"{"z": 1000, "x": [1000, -1000]}"#);
    let cases: &[(&str, &[&str], &str)] = &[
        ("log(1 + exp(z))", &[], r#"{"value": 1000.0}"#),
        (
            "log(1 + exp(z))",
            &["--wrt", "z"],
            r#"{"value": 1000.0, "gradient": 1.0}"#,
        ),
        ("log(sigmoid(-z))", &[], r#"{"value": -1000.0}"#),
        ("log(1 - sigmoid(z))", &[], r#"{"value": -1000.0}"#),
        ("log(sum(exp(x)))", &[], r#"{"value": 1000.0}"#),
        ("1 ./ (1 + exp(-x))", &[], r#"{"value": [1.0,0.0]}"#),
    ];
    for (expr, extra, expected) in cases {
        let mut args = vec![
            "eval",
            expr,
            "--let",
            "z: scalar; x: vector(2)",
            "--at",
            &at,
        ];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = matdiff(&args);
        assert_eq!(code, 0, "{expr}: {stderr}");
        assert_eq!(stdout.trim(), *expected, "{expr}");
    }
}
