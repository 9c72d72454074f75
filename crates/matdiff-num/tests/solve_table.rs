//! The closed-form table (tests/data/solutions.txt): every quadratic loss is solved
//! symbolically, the stationary point is checked to zero the gradient on random
//! instances, compared in length with its textbook form, classified, and the
//! solutions with their steps snapshotted. Non-quadratic losses are refused.

mod common;

use faer::Mat;
use matdiff_core::solve::{equation_text, SolveError};
use matdiff_core::{parse_function, print, solve, Function, Kind};
use matdiff_num::{default_sizes, random_inputs, Plan, Value};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct Case {
    line: usize,
    expr: String,
    decls: String,
    wrt: String,
    textbook: String,
    verdict: String,
}

fn cases() -> Vec<Case> {
    common::table_rows(include_str!("data/solutions.txt"), 5)
        .into_iter()
        .map(|(line, cells)| Case {
            line,
            expr: cells[0].clone(),
            decls: cells[1].clone(),
            wrt: cells[2].clone(),
            textbook: cells[3].clone(),
            verdict: cells[4].clone(),
        })
        .collect()
}

/// Sizes with more rows than columns, so that Gram matrices are invertible.
const SIZES: [(&str, usize); 3] = [("N", 9), ("m", 7), ("p", 8)];

fn largest_entry(v: &Value) -> f64 {
    let m = v.to_matrix();
    let mut worst: f64 = 0.0;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            worst = worst.max(m[(i, j)].abs());
        }
    }
    worst
}

/// `∇f(w*)` and `∇f(0)` on three random instances (scalar parameters positive, as the
/// verdicts assume); the first must vanish relative to the second.
fn gradient_vanishes(f: &mut Function, solution: &matdiff_core::Solution) -> Result<(), String> {
    let at_point = solution.gradient_at_point(&mut f.graph);
    let zero = f.graph.zeros(
        f.graph
            .variable(solution.wrt)
            .map(|v| v.shape)
            .ok_or("no variable")?,
    );
    let at_zero =
        matdiff_core::solve::substitute(&mut f.graph, solution.gradient, solution.wrt, zero);
    let fixed: Vec<(String, usize)> = SIZES.iter().map(|(n, s)| (n.to_string(), *s)).collect();
    let sizes = default_sizes(&f.graph, &fixed);
    let roots = [at_point, at_zero, solution.point];
    let mut plan = Plan::compile(&f.graph, &roots, &sizes).map_err(|e| e.describe(&f.graph))?;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for trial in 0..3 {
        let mut inputs = random_inputs(&f.graph, &sizes, &[f.root], &mut rng)
            .map_err(|e| e.describe(&f.graph))?;
        for v in f.graph.variables() {
            if v.kind == Kind::Scalar || v.shape.is_scalar() {
                let x = inputs.get(v.name).map_or(0.5, |m| m[(0, 0)].abs() + 0.1);
                inputs.set(v.name, Mat::from_fn(1, 1, |_, _| x));
            }
        }
        let values = plan.run(&inputs).map_err(|e| e.describe(&f.graph))?;
        let (residual, scale) = (largest_entry(&values[0]), largest_entry(&values[1]));
        // A NaN residual fails too.
        if residual.is_nan() || residual > 1e-9 * scale.max(1.0) {
            return Err(format!(
                "trial {trial}: |∇f(w*)| = {residual:e} against |∇f(0)| = {scale:e}"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_quadratic_loss_is_solved_in_textbook_form_and_zeroes_the_gradient() {
    let mut report = String::new();
    let mut failures = Vec::new();
    for case in cases() {
        let here = format!("line {}: `{}` wrt {}", case.line, case.expr, case.wrt);
        let mut f = match parse_function(&case.expr, &case.decls) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{here}: does not parse: {e:?}"));
                continue;
            }
        };
        let solution = match solve(&mut f, &case.wrt) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{here}: {e}"));
                continue;
            }
        };
        let text = print::text(&f.graph, solution.point);
        let verdict = solution.curvature.verdict();
        report.push_str(&format!(
            "{} | {} | {text} | {verdict}\n",
            case.expr, case.wrt
        ));
        for step in &solution.steps {
            report.push_str(&format!(
                "    {}    ({})\n",
                equation_text(&f.graph, step, print::text),
                step.rule
            ));
        }
        if let Some(mn) = &solution.minimum_norm {
            report.push_str(&format!("    singular: {} by {}\n", mn.text, mn.solver));
        }
        if let Err(e) = gradient_vanishes(&mut f, &solution) {
            failures.push(format!("{here}: {text}: {e}"));
        }
        if verdict != case.verdict {
            failures.push(format!(
                "{here}: verdict `{verdict}`, expected `{}`",
                case.verdict
            ));
        }
        let ours = print::token_count(&f.graph, solution.point);
        match parse_function(&case.textbook, &case.decls) {
            Ok(t) => {
                let textbook = print::token_count(&t.graph, t.root);
                if ours as f64 > 1.25 * textbook as f64 {
                    failures.push(format!(
                        "{here}: {text} has {ours} tokens, the textbook form {} has {textbook}",
                        case.textbook
                    ));
                }
            }
            Err(e) => failures.push(format!("{here}: textbook form does not parse: {e:?}")),
        }
        // The printed solution parses back.
        if let Err(e) = parse_function(&text, &case.decls) {
            failures.push(format!("{here}: {text} does not parse back: {e:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    insta::assert_snapshot!("solutions", report);
}

/// Losses whose gradient is not affine, with the subexpression the refusal points at.
const NOT_AFFINE: [(&str, &str, &str, &str); 5] = [
    (
        "1/N*sum(log(1 + exp(-y .* (X*w))))",
        "X: matrix(N,d)",
        "w",
        "exp(-y .* (X*w))",
    ),
    ("norm2(X*w - y)", "X: matrix(N,d)", "w", "norm2(X*w - y)"),
    ("x'*x*x'*x", "", "x", "x'*x*x'"),
    ("sum(exp(X*w)) - y'*X*w", "X: matrix(N,d)", "w", "exp(X*w)"),
    ("logdet(X'*X)", "X: matrix(N,d)", "X", "logdet(X'*X)"),
];

#[test]
fn non_affine_gradients_are_refused_at_the_first_non_quadratic_subexpression() {
    for (expr, decls, wrt, culprit) in NOT_AFFINE {
        let mut f = parse_function(expr, decls).expect("parses");
        match solve(&mut f, wrt) {
            Err(SolveError::NotAffine {
                culprit: Some(id),
                why,
                ..
            }) => {
                assert_eq!(print::text(&f.graph, id), culprit, "`{expr}`: {why}");
            }
            other => panic!("`{expr}`: expected a refusal, got {other:?}"),
        }
    }
}

#[test]
fn linear_maps_that_are_not_plain_products_are_refused_with_the_reason() {
    let cases = [
        (
            "norm2(A*X + X*B - C)^2",
            "A: matrix(n,n); B: matrix(n,n); X: matrix(n,n)",
            "X",
        ),
        ("tr(X*X)", "X: matrix(n,n)", "X"),
        ("norm2(A*X*B - C)^2 + norm2(X)^2", "", "X"),
    ];
    for (expr, decls, wrt) in cases {
        let mut f = parse_function(expr, decls).expect("parses");
        match solve(&mut f, wrt) {
            Err(e @ SolveError::NotPlainProduct { .. }) => {
                assert!(e.to_string().contains("no closed form"), "`{expr}`: {e}")
            }
            other => panic!("`{expr}`: expected a refusal, got {other:?}"),
        }
    }
}
