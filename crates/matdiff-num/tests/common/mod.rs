//! Helpers shared by the integration tests.
#![allow(dead_code)]

use faer::Mat;
use matdiff_core::{parse_function, Function};
use matdiff_num::{Inputs, Plan, Sizes, Value};

/// Parses `expr` with `decls`, panicking with the diagnostics on failure.
pub fn function(expr: &str, decls: &str) -> Function {
    match parse_function(expr, decls) {
        Ok(f) => f,
        Err(d) => panic!("`{expr}` with `{decls}` does not parse: {d:?}"),
    }
}

/// The JSON value as a matrix (numbers 1 × 1, flat lists columns, lists of rows).
pub fn json_matrix(v: &serde_json::Value) -> Mat<f64> {
    match v {
        serde_json::Value::Number(x) => Mat::from_fn(1, 1, |_, _| x.as_f64().unwrap()),
        serde_json::Value::Array(items) if items.first().is_some_and(|r| r.is_array()) => {
            let rows: Vec<Vec<f64>> = items
                .iter()
                .map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap())
                        .collect()
                })
                .collect();
            Mat::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j])
        }
        serde_json::Value::Array(items) => {
            Mat::from_fn(items.len(), 1, |i, _| items[i].as_f64().unwrap())
        }
        other => panic!("not a numeric JSON value: {other}"),
    }
}

/// The largest entry difference relative to `max(1, max |expected|)`, or infinity when
/// the shapes differ.
pub fn relative_error(got: &Value, expected: &Mat<f64>) -> f64 {
    let got = got.to_matrix();
    if (got.nrows(), got.ncols()) != (expected.nrows(), expected.ncols()) {
        return f64::INFINITY;
    }
    let mut scale: f64 = 1.0;
    let mut worst: f64 = 0.0;
    for j in 0..got.ncols() {
        for i in 0..got.nrows() {
            scale = scale.max(expected[(i, j)].abs());
            worst = worst.max((got[(i, j)] - expected[(i, j)]).abs());
        }
    }
    worst / scale
}

/// Evaluates `f` on JSON inputs with a fresh plan.
pub fn eval_json(f: &Function, inputs: &str) -> Result<Value, matdiff_num::EvalError> {
    let inputs = Inputs::from_json(inputs, &f.graph)?;
    let sizes = Sizes::bind(&f.graph, &inputs)?;
    let mut plan = Plan::compile(&f.graph, &[f.root], &sizes)?;
    Ok(plan.run(&inputs)?.swap_remove(0))
}

/// The rows of a `|`-separated table of cases: `(line number, columns)` for every line
/// that is neither empty nor a `#` comment, each with exactly `columns` trimmed cells.
pub fn table_rows(text: &str, columns: usize) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<String> = line.split('|').map(|c| c.trim().to_string()).collect();
        assert_eq!(
            cells.len(),
            columns,
            "line {}: expected {columns} columns",
            i + 1
        );
        out.push((i + 1, cells));
    }
    out
}
