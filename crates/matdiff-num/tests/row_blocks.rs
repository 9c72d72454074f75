//! Row-block fusion: a loss over many rows and its gradient, run in fused passes over
//! blocks of rows, agree with the same plan run one instruction at a time, whatever
//! the number of threads; failures name the same subexpression.

mod common;

use common::function;
use faer::Mat;
use matdiff_core::diff::derive;
use matdiff_num::{Inputs, Plan, PlanOptions, Sizes, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DECLS: &str = "X: matrix(N, d); w: vector(d); y: vector(N); u: vector(N); lambda: scalar";

/// Rows: more than one block, and not a multiple of the block size.
const ROWS: usize = 5003;
const COLS: usize = 7;

/// Losses of `w`, each with the pass structure its fused plan should have.
const LOSSES: &[(&str, &[&str])] = &[
    (
        "1/N*norm2(X*w - y)^2",
        &[
            "divide",
            "divide",
            "row blocks (product (matmul), subtract, norm2, product (matmul))",
            "power",
            "scalar product",
        ],
    ),
    ("1/(2*N)*norm2(X*w - y)^2 + lambda*norm2(w)^2", &[]),
    ("1/N*sum(log(1 + exp(-y .* (X*w))))", &[]),
    (
        "-1/N*(u'*log(sigmoid(X*w)) + (1 - u)'*log(1 - sigmoid(X*w)))",
        &[],
    ),
    ("norm1(X*w - y) + (X*w)'*(X*w)", &[]),
    (
        "<X*w, y> + sum(tanh(X*w) .* u) - sum((X*w) ./ (2 + u .^ 2))",
        &[],
    ),
    ("sum(relu(X*w - y) .^ 2)/N + sqrt(1 + norm2(X*w)^2)", &[]),
    // The centred predictions need the mean first: two passes.
    ("norm2(X*w - sum(X*w)/N)^2", &[]),
];

fn data(rng: &mut ChaCha8Rng, f: &matdiff_core::Function) -> (Inputs, Sizes) {
    let mut normal = |r: usize, c: usize| Mat::from_fn(r, c, |_, _| rng.random_range(-1.0..1.0));
    let mut inputs = Inputs::new();
    let g = &f.graph;
    for (name, value) in [
        ("X", normal(ROWS, COLS)),
        ("w", normal(COLS, 1)),
        ("y", normal(ROWS, 1)),
        ("u", Mat::from_fn(ROWS, 1, |i, _| (i % 3 == 0) as u8 as f64)),
        ("lambda", Mat::from_fn(1, 1, |_, _| 0.3)),
    ] {
        if g.variable_named(name).is_some() {
            inputs.set_named(g, name, value).unwrap();
        }
    }
    let sizes = Sizes::bind(g, &inputs).unwrap();
    (inputs, sizes)
}

fn entries(values: &[Value]) -> Vec<f64> {
    values
        .iter()
        .flat_map(|v| {
            let m = v.to_matrix();
            (0..m.ncols())
                .flat_map(move |j| (0..m.nrows()).map(move |i| (i, j)))
                .map(|(i, j)| v.to_matrix()[(i, j)])
                .collect::<Vec<_>>()
        })
        .collect()
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn fused_losses_and_gradients_agree_with_the_plain_plan() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut failures = Vec::new();
    for (loss, expected_ops) in LOSSES {
        let mut f = function(loss, DECLS);
        let gradient = derive(&mut f, "w", 1).unwrap().expr;
        let roots = [f.root, gradient];
        let (inputs, sizes) = data(&mut rng, &f);
        let plain_options = PlanOptions {
            fuse_rows_from: None,
            ..PlanOptions::default()
        };
        let mut plain = Plan::compile_with(&f.graph, &roots, &sizes, &plain_options).unwrap();
        let mut fused = Plan::compile(&f.graph, &roots, &sizes).unwrap();
        let ops = fused.operations();
        if !ops.iter().any(|o| o.starts_with("row blocks")) {
            failures.push(format!("`{loss}`: nothing fused: {ops:?}"));
        }
        if !expected_ops.is_empty() && ops != *expected_ops {
            failures.push(format!("`{loss}`: {ops:?}, expected {expected_ops:?}"));
        }
        if fused.flops() != plain.flops() {
            failures.push(format!("`{loss}`: fusion changed the flop count"));
        }
        let want = entries(&plain.run(&inputs).unwrap());
        let one = match in_pool(1, || fused.clone().run(&inputs)) {
            Ok(v) => entries(&v),
            Err(e) => {
                failures.push(format!("`{loss}`: {}", e.describe(&f.graph)));
                continue;
            }
        };
        let two = in_pool(2, || entries(&fused.run(&inputs).unwrap()));
        let scale = want.iter().fold(1.0f64, |m, x| m.max(x.abs()));
        let error = want
            .iter()
            .zip(&one)
            .map(|(a, b)| (a - b).abs() / scale)
            .fold(0.0, f64::max);
        if error > 1e-12 {
            failures.push(format!("`{loss}`: fused differs by {error:e}"));
        }
        if one
            .iter()
            .zip(&two)
            .any(|(a, b)| a.to_bits() != b.to_bits())
        {
            failures.push(format!("`{loss}`: one and two threads give different bits"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_centred_loss_takes_two_passes() {
    let mut f = function("norm2(X*w - sum(X*w)/N)^2", DECLS);
    let gradient = derive(&mut f, "w", 1).unwrap().expr;
    let (_, sizes) = data(&mut ChaCha8Rng::seed_from_u64(1), &f);
    let plan = Plan::compile(&f.graph, &[f.root, gradient], &sizes).unwrap();
    let passes = plan
        .operations()
        .iter()
        .filter(|o| o.starts_with("row blocks"))
        .count();
    assert_eq!(passes, 2, "{:?}", plan.operations());
}

#[test]
fn short_dimensions_wide_matrices_and_row_values_read_outside_are_not_fused() {
    // Too few rows; too many columns (read by rows, a column-major X is read in runs
    // too short); a row value that is the result.
    let cases: &[(&str, usize, usize)] = &[
        ("1/N*norm2(X*w - y)^2", 1000, COLS),
        ("1/N*norm2(X*w - y)^2", ROWS, 300),
        ("X*w - y", ROWS, COLS),
    ];
    for &(expr, rows, cols) in cases {
        let f = function(expr, DECLS);
        let mut inputs = Inputs::new();
        inputs
            .set_named(&f.graph, "X", Mat::zeros(rows, cols))
            .unwrap();
        inputs
            .set_named(&f.graph, "w", Mat::zeros(cols, 1))
            .unwrap();
        inputs
            .set_named(&f.graph, "y", Mat::zeros(rows, 1))
            .unwrap();
        let sizes = Sizes::bind(&f.graph, &inputs).unwrap();
        let plan = Plan::compile(&f.graph, &[f.root], &sizes).unwrap();
        assert!(
            !plan
                .operations()
                .iter()
                .any(|o| o.starts_with("row blocks")),
            "`{expr}` at {rows} rows: {:?}",
            plan.operations()
        );
    }
}

#[test]
fn fused_failures_name_the_same_subexpression() {
    // Row 4000 (in a late block) breaks each function; the fused plan must report what
    // the plain one reports.
    let cases = [
        "sum(log(X*w - y))",
        "sum(sqrt(X*w - y))",
        "sum(exp(-1000*(X*w)) .* y)",
        "sum((X*w) ./ u)",
        "sum((X*w)/lambda) + sum(X*w)",
        "sum(log(y)) + sum(log(X*w))",
    ];
    let mut failures = Vec::new();
    for expr in cases {
        let f = function(expr, DECLS);
        let mut inputs = Inputs::new();
        let bad = 4000;
        for (name, value) in [
            (
                "X",
                Mat::from_fn(ROWS, COLS, |i, _| if i == bad { -5.0 } else { 0.1 }),
            ),
            ("w", Mat::from_fn(COLS, 1, |_, _| 1.0)),
            (
                "y",
                Mat::from_fn(ROWS, 1, |i, _| if i == bad { 1.0 } else { 0.2 }),
            ),
            (
                "u",
                Mat::from_fn(ROWS, 1, |i, _| if i == bad { 0.0 } else { 1.0 }),
            ),
            ("lambda", Mat::zeros(1, 1)),
        ] {
            if f.graph.variable_named(name).is_some() {
                inputs.set_named(&f.graph, name, value).unwrap();
            }
        }
        let sizes = Sizes::bind(&f.graph, &inputs).unwrap();
        let plain_options = PlanOptions {
            fuse_rows_from: None,
            ..PlanOptions::default()
        };
        let mut plain = Plan::compile_with(&f.graph, &[f.root], &sizes, &plain_options).unwrap();
        let mut fused = Plan::compile(&f.graph, &[f.root], &sizes).unwrap();
        let want = plain.run(&inputs).map(|v| format!("{v:?}"));
        let got = fused.run(&inputs).map(|v| format!("{v:?}"));
        let describe = |r: Result<String, matdiff_num::EvalError>| match r {
            Ok(v) => format!("value {v}"),
            Err(e) => e.describe(&f.graph),
        };
        let (want, got) = (describe(want), describe(got));
        if want != got || want.starts_with("value") {
            failures.push(format!("`{expr}`:\n  fused `{got}`\n  plain `{want}`"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn matrices_stored_by_rows_give_the_same_values() {
    // Narrow and wide: a wide matrix stored by rows is read by blocks too.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for cols in [COLS, 300] {
        let mut f = function("1/N*sum(log(1 + exp(-y .* (X*w))))", DECLS);
        let gradient = derive(&mut f, "w", 1).unwrap().expr;
        let roots = [f.root, gradient];
        let x = Mat::from_fn(ROWS, cols, |_, _| rng.random_range(-1.0..1.0));
        let mut inputs = Inputs::new();
        inputs.set_named(&f.graph, "X", x.clone()).unwrap();
        let w = Mat::from_fn(cols, 1, |i, _| (i as f64).sin() / cols as f64);
        inputs.set_named(&f.graph, "w", w).unwrap();
        let y = Mat::from_fn(ROWS, 1, |i, _| if i % 2 == 0 { 1.0 } else { -1.0 });
        inputs.set_named(&f.graph, "y", y).unwrap();
        let sizes = Sizes::bind(&f.graph, &inputs).unwrap();
        let want = entries(
            &Plan::compile(&f.graph, &roots, &sizes)
                .unwrap()
                .run(&inputs)
                .unwrap(),
        );

        let sym = f.graph.variable_named("X").unwrap().name;
        let mut by_rows = inputs.clone();
        by_rows.set_by_rows(sym, x.transpose().to_owned());
        assert_eq!(Sizes::bind(&f.graph, &by_rows).unwrap(), sizes);
        let options = PlanOptions {
            by_rows: vec![sym],
            ..PlanOptions::default()
        };
        let mut plan = Plan::compile_with(&f.graph, &roots, &sizes, &options).unwrap();
        assert!(
            plan.operations()
                .iter()
                .any(|o| o.starts_with("row blocks")),
            "{:?}",
            plan.operations()
        );
        let got = entries(&plan.run(&by_rows).unwrap());
        for (a, b) in want.iter().zip(&got) {
            assert!(
                (a - b).abs() <= 1e-12 * a.abs().max(1.0),
                "{cols} columns: {a} vs {b}"
            );
        }
    }
}
