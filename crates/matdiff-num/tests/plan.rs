//! Plans: domain errors naming the subexpression, reuse with new data, the chosen
//! product order, solves, and stability at extreme inputs.

mod common;

use common::{eval_json, function};
use faer::Mat;
use matdiff_num::{EvalError, Inputs, Plan, Sizes, Value};

const DECLS: &str = "A: matrix(n, n); x: vector(n); y: vector(n); alpha: scalar";

#[test]
fn domain_errors_name_the_subexpression() {
    let inputs = r#"{"A": [[1, 2], [2, 4]], "x": [1, -2], "y": [0, 1], "alpha": 0}"#;
    let cases: &[(&str, &str)] = &[
        ("sum(log(x))", "log of a non-positive entry (-2 at [1]) in `log(x)`"),
        ("sum(log(y))", "log of a non-positive entry (0 at [0]) in `log(y)`"),
        ("sum(sqrt(x))", "sqrt of a negative entry (-2 at [1]) in `sqrt(x)`"),
        ("log(alpha)", "log of a non-positive entry (0) in `log(alpha)`"),
        (
            "logdet(A)",
            "logdet of a singular matrix: the matrix is singular (estimated condition number infinite) in `logdet(A)`",
        ),
        (
            "logdet(diag(x))",
            "logdet of a matrix with a negative determinant in `logdet(diag(x))`",
        ),
        (
            "sum(inv(A))",
            "inv of a singular matrix: the matrix is singular (estimated condition number infinite) in `inv(A)`",
        ),
        (
            "sum(inv(A)*x)",
            "inv of a singular matrix: the matrix is singular (estimated condition number infinite) in `inv(A)*x`",
        ),
        ("sum(x/alpha)", "division by zero in `x/alpha`"),
        ("sum(x ./ y)", "division by a zero entry in `x ./ y`"),
        (
            "sum(x .^ 0.5)",
            "power of a negative number to a non-integer exponent, or of zero to a negative one in `x.^0.5`",
        ),
        ("sum(exp(1000*x))", "`exp(1000*x)` is not finite (overflow or an undefined operation)"),
    ];
    let mut failures = Vec::new();
    for (expr, expected) in cases {
        let f = function(expr, DECLS);
        match eval_json(&f, inputs) {
            Ok(v) => failures.push(format!("`{expr}` evaluated to {v:?}")),
            Err(e) => {
                let message = e.describe(&f.graph);
                if message != *expected {
                    failures.push(format!(
                        "`{expr}`:\n  got      `{message}`\n  expected `{expected}`"
                    ));
                }
                if !matches!(e, EvalError::Domain { .. } | EvalError::NonFinite { .. }) {
                    failures.push(format!("`{expr}`: not a domain error: {e:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_plan_runs_again_on_new_data() {
    let f = function("x'*A*x + sum(A*y) + alpha", DECLS);
    let first = r#"{"A": [[1, 2], [3, 4]], "x": [1, 1], "y": [1, 0], "alpha": 1}"#;
    let second = r#"{"A": [[0, 1], [1, 0]], "x": [2, 3], "y": [0, 1], "alpha": -1}"#;
    let a = Inputs::from_json(first, &f.graph).unwrap();
    let b = Inputs::from_json(second, &f.graph).unwrap();
    let sizes = Sizes::bind(&f.graph, &a).unwrap();
    let mut plan = Plan::compile(&f.graph, &[f.root], &sizes).unwrap();
    // x'Ax = 10, sum(A y) = 4, + 1; then x'Ax = 12, sum(A y) = 1, − 1.
    assert_eq!(plan.run(&a).unwrap(), vec![Value::Scalar(15.0)]);
    assert_eq!(plan.run(&b).unwrap(), vec![Value::Scalar(12.0)]);
    assert_eq!(plan.run(&a).unwrap(), vec![Value::Scalar(15.0)]);
}

fn sizes_for(f: &matdiff_core::Function, dims: &[(&str, usize)]) -> Sizes {
    let mut sizes = Sizes::new();
    for (name, n) in dims {
        sizes.insert(f.graph.symbols.get(name).unwrap(), *n);
    }
    sizes
}

#[test]
fn products_are_ordered_by_cost() {
    let decls = "X: matrix(N, d); w: vector(d); y: vector(N); B: matrix(d, k)";
    let dims = [("N", 100), ("d", 5), ("k", 7)];
    // (rows, inner, cols) of each product, in execution order.
    type Products = &'static [(usize, usize, usize)];
    let cases: &[(&str, Products)] = &[
        ("X'*(X*w)", &[(100, 5, 1), (5, 100, 1)]),
        ("X'*X*w", &[(100, 5, 1), (5, 100, 1)]),
        ("2/N*X'*(X*w - y)", &[(100, 5, 1), (5, 100, 1)]),
        ("w'*B*B'*w", &[(7, 5, 1), (5, 7, 1), (1, 5, 1)]),
        ("X*B*B'", &[(5, 7, 5), (100, 5, 5)]),
    ];
    let mut failures = Vec::new();
    for (expr, expected) in cases {
        let f = function(expr, decls);
        let plan = Plan::compile(&f.graph, &[f.root], &sizes_for(&f, &dims)).unwrap();
        let got = plan.matmul_shapes();
        if got != *expected {
            failures.push(format!("`{expr}`: {got:?}, expected {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn inverse_times_matrix_is_a_solve() {
    let f = function("x'*inv(A)*x + sum(inv(A)*y)", DECLS);
    let plan = Plan::compile(&f.graph, &[f.root], &sizes_for(&f, &[("n", 3)])).unwrap();
    assert_eq!(plan.solve_count(), 2);
    // Only x' times the solved vector remains a product; the inverse is never formed.
    assert_eq!(plan.matmul_shapes(), vec![(1, 3, 1)]);
}

#[test]
fn shared_subexpressions_are_computed_once() {
    let f = function("norm2(A*x)^2 + sum(A*x)", DECLS);
    let plan = Plan::compile(&f.graph, &[f.root], &sizes_for(&f, &[("n", 3)])).unwrap();
    assert_eq!(plan.matmul_shapes(), vec![(3, 3, 1)]);
}

fn column(values: &[f64]) -> Mat<f64> {
    Mat::from_fn(values.len(), 1, |i, _| values[i])
}

#[test]
fn extreme_inputs_stay_finite() {
    let decls = "x: vector(n)";
    let inputs = r#"{"x": [1, 0.5, -1]}"#;
    let cases: &[(&str, Mat<f64>)] = &[
        (
            "logsumexp(1000*x)",
            column(&[1000.0 + (1.0 + (-500.0f64).exp() + (-2000.0f64).exp()).ln()]),
        ),
        (
            "sigmoid(-800*x)",
            column(&[(-800.0f64).exp(), (-400.0f64).exp(), 1.0]),
        ),
        ("softplus(800*x)", column(&[800.0, 400.0, 0.0])),
        ("softplus(-800*x)", column(&[0.0, (-400.0f64).exp(), 800.0])),
        ("softmax(1000*x)", column(&[1.0, (-500.0f64).exp(), 0.0])),
        (
            "logsumexp(-1000*x)",
            column(&[1000.0 + (1.0 + (-1500.0f64).exp() + (-2000.0f64).exp()).ln()]),
        ),
    ];
    let mut failures = Vec::new();
    for (expr, expected) in cases {
        let f = function(expr, decls);
        match eval_json(&f, inputs) {
            Ok(v) => {
                let err = common::relative_error(&v, expected);
                if err > 1e-14 || !v.is_finite() {
                    failures.push(format!("`{expr}` = {v:?}, off by {err:e}"));
                }
            }
            Err(e) => failures.push(format!("`{expr}` failed: {}", e.describe(&f.graph))),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sigmoid_of_large_negative_is_relatively_exact() {
    let f = function("sigmoid(alpha)", "alpha: scalar");
    let v = eval_json(&f, r#"{"alpha": -700}"#)
        .unwrap()
        .as_scalar()
        .unwrap();
    assert!(
        ((v - (-700.0f64).exp()) / (-700.0f64).exp()).abs() < 1e-14,
        "{v}"
    );
}

#[test]
fn plans_do_only_the_needed_work() {
    let decls = "X: matrix(N, d); w: vector(d); y: vector(N); A: matrix(d, d); alpha: scalar";
    let dims = [("N", 6), ("d", 3)];
    let cases: &[(&str, &[&str])] = &[
        // The transpose is a view and the scalar 2/N is applied once, at the end.
        (
            "2/N*X'*(X*w - y)",
            &["divide", "product (matmul)", "subtract", "product (matmul)"],
        ),
        ("-w + A*w", &["product (matmul)", "subtract"]),
        // Negations fold into the product's coefficient.
        ("-X*w", &["product (matmul)"]),
        ("alpha*(-A)*w", &["product (matmul)"]),
        // inv(A) is never formed for inv(A)*w; it is when it stands alone.
        ("inv(A)*w", &["product (solve)"]),
        (
            "sum(inv(A)) + sum(inv(A)*w)",
            &["inv", "sum", "product (solve)", "sum", "add"],
        ),
        // A product computed for another reader is read, not recomputed.
        (
            "sum(softplus(X*w)) - y'*X*w",
            &[
                "product (matmul)",
                "map softplus",
                "sum",
                "product (matmul)",
                "subtract",
            ],
        ),
        ("A^3", &["matrix power 3"]),
        ("A'", &["transpose"]),
    ];
    let mut failures = Vec::new();
    for (expr, expected) in cases {
        let f = function(expr, decls);
        let plan = Plan::compile(&f.graph, &[f.root], &sizes_for(&f, &dims)).unwrap();
        let got = plan.operations();
        if got != *expected {
            failures.push(format!("`{expr}`: {got:?}, expected {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unexpanded_differentials_are_refused() {
    let mut f = function("A*x", DECLS);
    let root = f.graph.add(matdiff_core::Node::DifferentialOf(f.root));
    let err = Plan::compile(&f.graph, &[root], &sizes_for(&f, &[("n", 2)])).unwrap_err();
    assert!(matches!(err, EvalError::Unsupported { .. }), "{err:?}");
}
