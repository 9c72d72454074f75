//! Every generated function runs and agrees with the evaluation plan of matdiff-num
//! (value and derivative, to 1e-10 relative) on random inputs honouring the
//! declarations; so does every generated closed-form solution, on inputs whose sizes
//! give its inverses full rank.

use faer::Mat;
use matdiff_codegen_check::{Generated, GeneratedSolution, GENERATED, SOLUTIONS};
use matdiff_core::{derive, parse_function, solve};
use matdiff_num::{default_sizes, random_inputs, Plan};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The largest difference relative to the larger entry (at least 1).
fn relative(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    if (a.nrows(), a.ncols()) != (b.nrows(), b.ncols()) {
        return f64::INFINITY;
    }
    let mut diff: f64 = 0.0;
    let mut scale: f64 = 1.0;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            diff = diff.max((a[(i, j)] - b[(i, j)]).abs());
            scale = scale.max(a[(i, j)].abs()).max(b[(i, j)].abs());
        }
    }
    diff / scale
}

/// Compares one generated function with the plan on one random instance.
fn compare(case: &Generated, seed: u64) -> Result<(), String> {
    let mut f = parse_function(case.expr, case.decls).map_err(|e| format!("{e:?}"))?;
    let d = derive(&mut f, case.wrt, case.order).map_err(|e| e.to_string())?;
    let graph = &f.graph;
    let sizes = default_sizes(graph, &[]);
    let roots = [f.root, d.expr];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let inputs = random_inputs(graph, &sizes, &roots, &mut rng).map_err(|e| e.describe(graph))?;
    let mut plan = Plan::compile(graph, &roots, &sizes).map_err(|e| e.describe(graph))?;
    let expected = plan.run(&inputs).map_err(|e| e.describe(graph))?;
    let args: Vec<Mat<f64>> = graph
        .variables()
        .iter()
        .map(|v| {
            inputs
                .get(v.name)
                .cloned()
                .unwrap_or_else(|| Mat::zeros(0, 0))
        })
        .collect();
    let (value, derivative) = (case.run)(&args);
    for (what, got, want) in [
        ("value", value, &expected[0]),
        ("derivative", derivative, &expected[1]),
    ] {
        let err = relative(&got, &want.to_matrix());
        if err.is_nan() || err > 1e-10 {
            return Err(format!("{what} differs by {err:e}: {got:?} vs {want:?}"));
        }
    }
    Ok(())
}

#[test]
fn generated_rust_agrees_with_the_plan() {
    let mut failures = Vec::new();
    for case in GENERATED {
        for seed in 0..3 {
            if let Err(e) = compare(case, seed) {
                failures.push(format!(
                    "{} (`{}` wrt {}, seed {seed}): {e}",
                    case.module, case.expr, case.wrt
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_curated_cases_and_every_array_row_of_the_table_are_generated() {
    let table = GENERATED
        .iter()
        .filter(|c| c.module.starts_with("table_line_"))
        .count();
    // Every row of the table but the eleven linear maps in dX (`inv(X)`, `X*X`,
    // `inv(X)*a`, `x*x'`, and the second differentials of `det(X)`, `tr(X'*A*X)`,
    // `tr(inv(X))`, `logsumexp(X)`, `logsumexp(A*X)`, `logsumexp(W*X)` and
    // `sum(logsumexp_cols(Z))`), which the generator refuses.
    let rows = include_str!("../../matdiff-num/tests/data/derivatives.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(table, rows - 11);
    for name in [
        "least_squares",
        "logistic",
        "det",
        "inv_quadratic",
        "softmax_jacobian",
        "least_squares_hessian",
    ] {
        assert!(GENERATED.iter().any(|c| c.module == name), "{name}");
    }
}

/// Compares one generated solution with the plan's evaluation of the same point on
/// one random instance (scalars positive, as the table's verdicts assume).
fn compare_solution(case: &GeneratedSolution, seed: u64) -> Result<(), String> {
    let mut f = parse_function(case.expr, case.decls).map_err(|e| format!("{e:?}"))?;
    let solution = solve(&mut f, case.wrt).map_err(|e| e.to_string())?;
    let graph = &f.graph;
    let sizes = matdiff_num::check::full_rank_sizes(graph, &[solution.point], &[]);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut inputs =
        random_inputs(graph, &sizes, &[f.root], &mut rng).map_err(|e| e.describe(graph))?;
    for v in graph.variables().iter().filter(|v| v.shape.is_scalar()) {
        let x = inputs.get(v.name).map_or(0.5, |m| m[(0, 0)].abs() + 0.1);
        inputs.set(v.name, Mat::from_fn(1, 1, |_, _| x));
    }
    let mut plan =
        Plan::compile(graph, &[solution.point], &sizes).map_err(|e| e.describe(graph))?;
    let expected = plan.run(&inputs).map_err(|e| e.describe(graph))?;
    let args: Vec<Mat<f64>> = case
        .parameters
        .iter()
        .map(|name| {
            graph
                .symbols
                .get(name)
                .and_then(|s| inputs.get(s).cloned())
                .ok_or_else(|| format!("no input for `{name}`"))
        })
        .collect::<Result<_, _>>()?;
    let got = (case.run)(&args);
    let err = relative(&got, &expected[0].to_matrix());
    if err.is_nan() || err > 1e-10 {
        return Err(format!(
            "the solution differs by {err:e}: {got:?} vs {:?}",
            expected[0]
        ));
    }
    Ok(())
}

#[test]
fn every_generated_solution_agrees_with_the_plan() {
    let rows = include_str!("../../matdiff-num/tests/data/solutions.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(
        SOLUTIONS.len(),
        rows,
        "one generated solution per row of the table"
    );
    let mut failures = Vec::new();
    for case in SOLUTIONS {
        for seed in 0..3 {
            if let Err(e) = compare_solution(case, seed) {
                failures.push(format!(
                    "{} (`{}` for {}, seed {seed}): {e}",
                    case.module, case.expr, case.wrt
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
