//! `matdiff derive` end to end: the built binary, its results in every format, the
//! text that parses back, and its exit codes.

mod common;

use common::{matdiff, shell_words};

use serde_json::Value;

/// Runs `matdiff derive` and insists on success with nothing on stderr.
fn derive(args: &[&str]) -> String {
    let mut full = vec!["derive"];
    full.extend_from_slice(args);
    let (code, stdout, stderr) = matdiff(&full);
    assert_eq!(code, 0, "{full:?}: exit {code}\n{stderr}");
    assert!(stderr.is_empty(), "{full:?}: {stderr}");
    stdout
}

const LEAST_SQUARES: &str = "1/N*norm2(X*w - y)^2";
const DESIGN_MATRIX: &str = "X: matrix(N,d)";

/// One derivation: expression, variable, declarations (empty for none), order.
struct Row {
    expr: &'static str,
    wrt: &'static str,
    decls: &'static str,
    order: &'static str,
}

const fn row(
    expr: &'static str,
    wrt: &'static str,
    decls: &'static str,
    order: &'static str,
) -> Row {
    Row {
        expr,
        wrt,
        decls,
        order,
    }
}

impl Row {
    fn args(&self) -> Vec<&'static str> {
        let mut args = vec![self.expr, "--wrt", self.wrt];
        if !self.decls.is_empty() {
            args.extend(["--let", self.decls]);
        }
        if self.order != "1" {
            args.extend(["--order", self.order]);
        }
        args
    }
}

/// Gradients, Jacobians, differentials and Hessians across the language.
const ROWS: &[Row] = &[
    row(LEAST_SQUARES, "w", DESIGN_MATRIX, "1"),
    row(LEAST_SQUARES, "w", DESIGN_MATRIX, "2"),
    row("@tests/fixtures/ridge.mdf", "w", "", "1"),
    row("@tests/fixtures/ridge.mdf", "w", "", "2"),
    row("x'*A*x", "x", "", "1"),
    row("x'*S*x", "x", "S: symmetric(n)", "1"),
    row("logdet(X)", "X", "", "1"),
    row("logdet(X)", "X", "", "2"),
    row("det(X)", "X", "", "1"),
    row("tr(A*X*B)", "X", "", "1"),
    row("sum(log(1 + exp(-y .* (X*w))))", "w", DESIGN_MATRIX, "1"),
    row("logsumexp(x)", "x", "", "2"),
    row("softmax(x)", "x", "", "1"),
    row("sigmoid(A*x)", "x", "", "1"),
    row("inv(X)", "X", "", "1"),
    row("X*X", "X", "", "1"),
    row("-x'*x", "x", "", "1"),
    row("x'*S*x", "S", "S: symmetric(n)", "1"),
    row("A*x", "A", "", "1"),
    row("norm2(x)^2", "y", "y: vector(n)", "1"),
    row("norm2(x)^2", "y", "y: vector(n)", "2"),
];

#[test]
fn least_squares_gradient_and_hessian_in_text() {
    let args = ["--wrt", "w", "--let", DESIGN_MATRIX];
    let gradient = derive(&[&[LEAST_SQUARES][..], &args].concat());
    assert_eq!(gradient, "2/N*X'*(X*w - y)\n");
    let hessian = derive(&[&[LEAST_SQUARES][..], &args, &["--order", "2"]].concat());
    assert_eq!(hessian, "2/N*X'*X\n");
}

#[test]
fn text_is_the_default_when_stdout_is_not_a_terminal() {
    let args = [LEAST_SQUARES, "--wrt", "w", "--let", DESIGN_MATRIX];
    let default = derive(&args);
    let text = derive(&[&args[..], &["--format", "text"]].concat());
    assert_eq!(default, text);
}

#[test]
fn results_in_text_pretty_and_latex() {
    let mut out = String::new();
    for row in ROWS {
        for format in ["text", "pretty", "latex"] {
            let args = [&row.args()[..], &["--format", format]].concat();
            let stdout = derive(&args);
            out.push_str(&format!(
                "$ matdiff derive {}\n{stdout}\n",
                shell_words(&args)
            ));
        }
    }
    insta::assert_snapshot!(out);
}

#[test]
fn latex_is_a_complete_align_environment() {
    for row in ROWS {
        let stdout = derive(&[&row.args()[..], &["--format", "latex"]].concat());
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.first(), Some(&"\\begin{align}"), "{stdout}");
        assert_eq!(lines.last(), Some(&"\\end{align}"), "{stdout}");
        assert!(lines[lines.len() - 2].contains(" &= "), "{stdout}");
    }
}

/// A derivation and the kind and shape (as JSON) its `--format json` must report:
/// named dimensions are strings, fixed sizes numbers.
const JSON_ROWS: &[(Row, &str, &str)] = &[
    (
        row(LEAST_SQUARES, "w", DESIGN_MATRIX, "1"),
        "gradient",
        r#"["d", 1]"#,
    ),
    (
        row(LEAST_SQUARES, "w", DESIGN_MATRIX, "2"),
        "hessian",
        r#"["d", "d"]"#,
    ),
    (
        row("inv(X)", "X", "X: matrix(n,n)", "1"),
        "differential",
        r#"["n", "n"]"#,
    ),
    (
        row("softmax(x)", "x", "x: vector(k)", "1"),
        "jacobian",
        r#"["k", "k"]"#,
    ),
    (row("A*x", "x", "A: matrix(3,4)", "1"), "jacobian", "[3, 4]"),
    (
        row("norm2(X)^2", "X", "X: matrix(m,2)", "1"),
        "gradient",
        r#"["m", 2]"#,
    ),
    (
        row("logdet(X)", "X", "X: matrix(n,n)", "2"),
        "hessian",
        r#"["n", "n"]"#,
    ),
];

#[test]
fn json_has_the_documented_keys_kind_and_shape() {
    for (row, kind, shape) in JSON_ROWS {
        let args = row.args();
        let stdout = derive(&[&args[..], &["--format", "json"]].concat());
        let v: Value = serde_json::from_str(&stdout).expect("valid json");
        let object = v.as_object().expect("one object");
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["kind", "latex", "result", "shape", "steps"],
            "{args:?}"
        );
        assert_eq!(v["kind"], *kind, "{args:?}");
        let shape: Value = serde_json::from_str(shape).expect("valid json");
        assert_eq!(v["shape"], shape, "{args:?}");
        assert!(v["steps"].is_array(), "{args:?}");
        // The JSON result and LaTeX are the text and latex formats' results.
        let text = derive(&[&args[..], &["--format", "text"]].concat());
        assert_eq!(v["result"], text.trim_end(), "{args:?}");
        let latex = derive(&[&args[..], &["--format", "latex"]].concat());
        let last = latex.lines().rev().nth(1).unwrap_or_default();
        let rhs = last.split_once(" &= ").map(|(_, r)| r).unwrap_or_default();
        assert_eq!(v["latex"], rhs, "{args:?}");
    }
}

#[test]
fn json_keys_come_in_the_documented_order() {
    let stdout = derive(&[
        LEAST_SQUARES,
        "--wrt",
        "w",
        "--let",
        DESIGN_MATRIX,
        "--format",
        "json",
    ]);
    let positions: Vec<usize> = [
        "\"kind\"",
        "\"result\"",
        "\"latex\"",
        "\"shape\"",
        "\"steps\"",
    ]
    .iter()
    .map(|key| stdout.find(key).unwrap_or(usize::MAX))
    .collect();
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    assert_eq!(positions, sorted, "{stdout}");
    assert!(!positions.contains(&usize::MAX), "{stdout}");
}

/// The variable's declaration, read back from `matdiff parse --format json`, so that
/// its differential `dX` can be declared alongside it.
fn differential_declaration(row: &Row) -> String {
    let mut args = vec!["parse", "--format", "json"];
    if !row.decls.is_empty() {
        args.extend(["--let", row.decls]);
    }
    args.extend(["--", row.expr]);
    let (code, stdout, stderr) = matdiff(&args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    let v: Value = serde_json::from_str(&stdout).expect("valid json");
    let variables = v["variables"].as_array().cloned().unwrap_or_default();
    let variable = variables
        .iter()
        .find(|var| var["name"] == row.wrt)
        .unwrap_or_else(|| panic!("{} is a variable of {}", row.wrt, row.expr));
    let dim = |d: &Value| match d {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let (rows, cols) = (dim(&variable["shape"][0]), dim(&variable["shape"][1]));
    format!("d{}: matrix({rows}, {cols})", row.wrt)
}

#[test]
fn text_parses_back_with_the_same_declarations() {
    for row in ROWS {
        let text = derive(&[&row.args()[..], &["--format", "text"]].concat());
        let text = text.trim_end();
        let mut decls = row.decls.to_string();
        if row.expr.starts_with('@') {
            // A file's declarations are passed with --let on the way back.
            let path = format!("{}/{}", env!("CARGO_MANIFEST_DIR"), &row.expr[1..]);
            let file = std::fs::read_to_string(path).expect("fixture");
            let lines: Vec<&str> = file
                .lines()
                .filter(|l| l.contains(':') && !l.starts_with('#'))
                .collect();
            decls = lines.join("; ");
        }
        if text.contains(&format!("d{}", row.wrt)) {
            let declaration = differential_declaration(row);
            decls = if decls.is_empty() {
                declaration
            } else {
                format!("{decls}; {declaration}")
            };
        }
        let mut args = vec!["parse"];
        if !decls.is_empty() {
            args.extend(["--let", decls.as_str()]);
        }
        args.extend(["--", text]);
        let (code, stdout, stderr) = matdiff(&args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert_eq!(stdout.lines().next(), Some(text), "{args:?}");
    }
}

#[test]
fn steps_come_first_then_the_result() {
    for row in ROWS {
        let with_steps = derive(&[&row.args()[..], &["--steps", "--format", "text"]].concat());
        let result = derive(&[&row.args()[..], &["--format", "text"]].concat());
        let lines: Vec<&str> = with_steps.lines().collect();
        let (last, steps) = lines.split_last().expect("a result line");
        assert_eq!(format!("{last}\n"), result);
        for (i, step) in steps.iter().enumerate() {
            let lead = if i == 0 { "df = d(" } else { "   = " };
            assert!(step.starts_with(lead), "{step}");
            assert!(step.ends_with(')'), "{step}");
        }
        let json = derive(&[&row.args()[..], &["--steps", "--format", "json"]].concat());
        let v: Value = serde_json::from_str(&json).expect("valid json");
        assert_eq!(v["steps"].as_array().map(Vec::len), Some(steps.len()));
    }
}

/// Each case must fail with exit code 2, nothing on stdout, and say why on stderr.
const ERRORS: &[&[&str]] = &[
    &[LEAST_SQUARES, "--wrt", "v", "--let", DESIGN_MATRIX],
    &[LEAST_SQUARES, "--wrt", "N", "--let", DESIGN_MATRIX],
    &["2*3", "--wrt", "x"],
    &["norm2(X*w - y", "--wrt", "w"],
    &[
        "X*w + y",
        "--wrt",
        "w",
        "--let",
        "X: matrix(N, d); y: vector(d)",
    ],
    &["softmax(x)", "--wrt", "x", "--order", "2"],
    &["X*X", "--wrt", "X", "--order", "2"],
    &["x'*x", "--wrt", "x", "--order", "3"],
    &["det(X)", "--wrt", "X", "--order", "2", "--format", "numpy"],
    &["X*X", "--wrt", "X", "--format", "rust"],
    &["@tests/fixtures/missing.mdf", "--wrt", "x"],
];

#[test]
fn errors_exit_with_code_2() {
    let mut out = String::new();
    for args in ERRORS {
        let mut full = vec!["derive"];
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

#[test]
fn an_unknown_variable_is_named_with_the_variables_to_choose_from() {
    let (code, _, stderr) = matdiff(&[
        "derive",
        LEAST_SQUARES,
        "--wrt",
        "v",
        "--let",
        DESIGN_MATRIX,
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("`v`"), "{stderr}");
    for name in ["`X`", "`w`", "`y`"] {
        assert!(stderr.contains(name), "{name} missing in {stderr}");
    }
}
