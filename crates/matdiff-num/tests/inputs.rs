//! Reading inputs and binding sizes: shapes, ragged rows, conflicts, missing values.

mod common;

use common::function;
use matdiff_num::{Inputs, Plan, Sizes};

const DECLS: &str =
    "X: matrix(N, d); w: vector(d); y: vector(N); r: matrix(1, d); S: symmetric(d); lambda: scalar";
const EXPR: &str = "1/N * norm2(X*w - y)^2 + lambda*norm2(w)^2 + r*w + tr(S)";

/// Binds the inputs and runs the expression; the error message on failure.
fn outcome(inputs: &str) -> Result<f64, String> {
    let f = function(EXPR, DECLS);
    let inputs = Inputs::from_json(inputs, &f.graph).map_err(|e| e.to_string())?;
    let sizes = Sizes::bind(&f.graph, &inputs).map_err(|e| e.to_string())?;
    let mut plan = Plan::compile(&f.graph, &[f.root], &sizes).map_err(|e| e.describe(&f.graph))?;
    let v = plan.run(&inputs).map_err(|e| e.describe(&f.graph))?;
    Ok(v[0].as_scalar().unwrap())
}

const GOOD: &str = r#"{"X": [[1, 2], [3, 4], [5, 6]], "w": [1, -1], "y": [0, 1, 2], "r": [0.5, 0.25],
                       "S": [[1, 2], [2, 3]], "lambda": 0.5}"#;

#[test]
fn good_inputs_evaluate() {
    // X*w - y = (-1, -2, -3); 1/3 * 14 + 0.5 * 2 + 0.25 + 4.
    let v = outcome(GOOD).unwrap();
    assert!((v - (14.0 / 3.0 + 1.0 + 0.25 + 4.0)).abs() < 1e-12, "{v}");
}

#[test]
fn bad_inputs_are_errors_that_name_the_variable() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"X": [[1, 2], [3]], "w": [1, -1], "y": [0, 1], "r": [1, 1], "S": [[1, 0], [0, 1]], "lambda": 1}"#,
            "`X` has ragged rows: row 1 has 1 entries, row 0 has 2",
        ),
        (
            r#"{"X": [[1, 2], [3, "a"]], "w": [1, -1], "y": [0, 1], "r": [1, 1], "S": [[1, 0], [0, 1]], "lambda": 1}"#,
            "`X`[1][1] is not a number",
        ),
        (
            r#"{"X": [[1, 2], [3, 4]], "w": [1, null], "y": [0, 1], "r": [1, 1], "S": [[1, 0], [0, 1]], "lambda": 1}"#,
            "`w`[1] is not a number",
        ),
        (
            r#"{"X": [[1, 2], [3, 4]], "w": [[1, 2], [3, 4]], "y": [0, 1], "r": [1, 1], "S": [[1, 0], [0, 1]], "lambda": 1}"#,
            "`w` is declared vector(d) but was given 2 × 2",
        ),
        (
            r#"{"X": [[1, 2], [3, 4], [5, 6]], "w": [1, -1, 2], "y": [0, 1, 2], "r": [1, 1], "S": [[1, 0], [0, 1]], "lambda": 1}"#,
            "dimension `d` is 2 from `X` but 3 from `w`",
        ),
        (
            r#"{"X": [[1, 2], [3, 4]], "w": [1, -1], "y": [0, 1], "r": [1, 1], "S": [[1, 0], [0, 1]], "lambda": [1, 2]}"#,
            "`lambda` is declared scalar but was given 2 × 1",
        ),
        (
            r#"{"X": [[1, 2], [3, 4]], "w": [1, -1], "y": [0, 1], "r": [1, 1], "S": [[1, 5], [0, 1]], "lambda": 1}"#,
            "`S` is declared symmetric but [0][1] differs from [1][0]",
        ),
        (
            r#"{"X": [[1, 2], [3, 4]], "w": [1, -1], "y": [0, 1], "r": [1, 1], "S": [[1, 0, 0], [0, 1, 0]], "lambda": 1}"#,
            "`S` is declared symmetric(d) but was given 2 × 3",
        ),
        (
            r#"{"X": [[1, 2], [3, 4]], "w": [1, -1], "y": [0, 1], "r": [1, 1], "S": [[1, 0], [0, 1]]}"#,
            "no value for `lambda` — add it to the inputs",
        ),
        (
            r#"{"X": [[1, 2], [3, 4]], "w": [1, -1], "y": [0, 1], "r": [1, 1], "S": [[1, 0], [0, 1]], "lambda": 1, "z": 2}"#,
            "unknown variable `z` in the inputs — the variables are `X`, `w`, `y`, `r`, `S`, `lambda`",
        ),
        (r#"{"X": [], "w": [1], "y": [1], "lambda": 1}"#, "`X` is empty — give at least one entry"),
        (r#"[1, 2]"#, "inputs must be a JSON object mapping variable names to values"),
        (r#"{"X": "#, "inputs are not valid JSON: EOF while parsing a value at line 1 column 6"),
    ];
    let mut failures = Vec::new();
    for (inputs, expected) in cases {
        match outcome(inputs) {
            Ok(v) => failures.push(format!("{inputs}: evaluated to {v}, expected `{expected}`")),
            Err(message) if message != *expected => failures.push(format!(
                "{inputs}:\n  got      `{message}`\n  expected `{expected}`"
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn row_vectors_accept_flat_lists_and_rows() {
    let as_rows = GOOD.replace(r#""r": [0.5, 0.25]"#, r#""r": [[0.5, 0.25]]"#);
    assert_eq!(outcome(GOOD), outcome(&as_rows));
}

#[test]
fn differentials_are_inputs() {
    let f = function("X*w", "X: matrix(N, d); w: vector(d)");
    // `dw` is the differential of `w`; its value comes from the inputs.
    let f = {
        let mut f = f;
        let w = f.graph.variable_named("w").unwrap().name;
        let x = f.graph.variable_named("X").unwrap().name;
        let xn = f.graph.add(matdiff_core::Node::Var(x));
        let dw = f.graph.add(matdiff_core::Node::Differential(w));
        f.root = f.graph.add(matdiff_core::Node::Mul(xn, dw));
        f
    };
    let inputs = Inputs::from_json(
        r#"{"X": [[1, 2], [3, 4]], "dw": [1, 1], "w": [0, 0]}"#,
        &f.graph,
    )
    .unwrap();
    let sizes = Sizes::bind(&f.graph, &inputs).unwrap();
    let v = Plan::compile(&f.graph, &[f.root], &sizes)
        .unwrap()
        .run(&inputs)
        .unwrap();
    assert_eq!(v[0].to_json(), serde_json::json!([3.0, 7.0]));
    let bad = Inputs::from_json(
        r#"{"X": [[1, 2], [3, 4]], "dw": [1, 1, 1], "w": [0, 0]}"#,
        &f.graph,
    )
    .and_then(|i| Sizes::bind(&f.graph, &i));
    assert_eq!(
        bad.unwrap_err().to_string(),
        "`dw` is declared vector(d) but was given 3 × 1"
    );
}

#[test]
fn running_with_other_sizes_is_an_error() {
    let f = function("norm2(X*w)", "X: matrix(N, d); w: vector(d)");
    let small = Inputs::from_json(r#"{"X": [[1, 2]], "w": [1, 1]}"#, &f.graph).unwrap();
    let sizes = Sizes::bind(&f.graph, &small).unwrap();
    let mut plan = Plan::compile(&f.graph, &[f.root], &sizes).unwrap();
    let big = Inputs::from_json(r#"{"X": [[1, 2], [3, 4]], "w": [1, 1]}"#, &f.graph).unwrap();
    assert_eq!(
        plan.run(&big).unwrap_err().to_string(),
        "`X` is declared matrix(N, d) (1 × 2 here) but was given 2 × 2"
    );
}
