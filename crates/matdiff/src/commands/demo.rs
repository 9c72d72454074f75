//! `matdiff demo`: the seminar end to end on the bundled diabetes data — the loss in
//! matrix notation, its derivation by the rules, a numerical check, the closed form
//! and its cost, gradient descent with small, good and too large learning rates,
//! SGD and mini-batch gradient descent, the stopping rule that fired, and two contour
//! pictures of the descent paths on two features.

use std::path::PathBuf;

use anyhow::Context as _;
use faer::{Col, Mat};
use matdiff_core::solve::equation_text;
use matdiff_core::{derive, diff::derivation, parse_function, print, solve};
use matdiff_fit::datasets;
use matdiff_fit::linreg::{IterativeOptions, LinearRegression, Solver};
use matdiff_fit::problem::Problem;
use matdiff_num::check::{check_derivative, CheckOptions};

use crate::commands::plot::{draw_plane, summary, PlaneRequest};
use crate::pictures::{plane, DEFAULT_SIZE};
use crate::report::Failure;

/// Arguments of `matdiff demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder for the files the demo writes (the derivation as LaTeX, two pictures).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
}

const LOSS: &str = "1/N * norm2(X*w - y)^2";
const DECLS: &str = "X: matrix(N,d)";

/// Runs the demo.
pub fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;

    println!("# 1. The loss of linear regression in matrix form\n");
    println!("    L(w) = {LOSS}      with {DECLS}\n");
    let mut f = parse_function(LOSS, DECLS)
        .map_err(|_| Failure::Failed("the demo's loss does not parse".into()))?;
    let d = derive(&mut f, "w", 1).map_err(|e| Failure::Failed(e.to_string()))?;
    let steps = derivation(&mut f, &d).map_err(|e| Failure::Failed(e.to_string()))?;
    println!("# 2. Its differential by the rules, and the gradient read off dL = <∇L, dw>\n");
    for s in &steps {
        println!("    = {:<44} ({})", print::pretty(&f.graph, s.expr), s.rule);
    }
    println!("    ∇L = {}\n", print::pretty(&f.graph, d.expr));
    let tex = print::latex_document(&print::latex_derivation(
        &f.graph,
        &steps,
        "\\mathrm{d}L",
        "\\nabla L",
        d.expr,
    ));
    let tex_path = args.out.join("derivation.tex");
    std::fs::write(&tex_path, tex)
        .with_context(|| format!("cannot write {}", tex_path.display()))?;
    println!("    (written as LaTeX to {})\n", tex_path.display());
    let hessian = {
        let mut g = parse_function(LOSS, DECLS).map_err(|_| Failure::Failed("parse".into()))?;
        let h = derive(&mut g, "w", 2).map_err(|e| Failure::Failed(e.to_string()))?;
        print::pretty(&g.graph, h.expr)
    };
    println!("    Hessian: {hessian}  (constant: the loss is a convex quadratic)\n");

    println!("# 3. Checked against central finite differences on random data\n");
    let report = check_derivative(&f, &d, &CheckOptions::default())
        .map_err(|e| Failure::Failed(e.describe(&f.graph)))?;
    for (i, e) in report.errors.iter().enumerate() {
        println!("    trial {}: max relative error {e:.1e}", i + 1);
    }
    if !report.passed {
        return Err(Failure::Failed(
            "the derived gradient does not match finite differences".into(),
        )
        .into());
    }
    println!();

    let table = datasets::load("diabetes")
        .ok_or_else(|| Failure::Failed("the diabetes data set is not bundled".into()))?
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let target = table
        .column_index("target")
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let features: Vec<String> = table
        .columns
        .iter()
        .filter(|c| c.as_str() != "target")
        .cloned()
        .collect();
    let names: Vec<&str> = features.iter().map(String::as_str).collect();
    let x: Mat<f64> = table
        .select(&names)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let y: Col<f64> = Col::from_fn(table.data.nrows(), |i| table.data[(i, target)]);
    println!(
        "# 4. The diabetes data: N = {} patients, d = {} features (+ intercept), target: disease progression\n",
        x.nrows(),
        x.ncols()
    );

    println!("# 5. The closed form w = (X'X)^-1 X'y — O(N d² + d³) — and its stable relatives\n");
    // The same formula, derived from ∇L = 0 by `matdiff solve`.
    let mut loss = parse_function(LOSS, DECLS)
        .map_err(|_| Failure::Failed("the demo's loss does not parse".into()))?;
    let solved = solve(&mut loss, "w").map_err(|e| Failure::Failed(e.to_string()))?;
    for step in &solved.steps {
        let line = equation_text(&loss.graph, step, print::pretty);
        println!("    ⇔ {line:<40} ({})", step.rule);
    }
    println!(
        "    derived by `matdiff solve`: {}\n",
        solved.curvature.verdict()
    );
    for solver in [Solver::Normal, Solver::Qr, Solver::Svd, Solver::Auto] {
        let model = LinearRegression {
            solver,
            ..LinearRegression::default()
        };
        let fit = model.fit(x.as_ref(), y.as_ref(), &features)?;
        let scores = fit.score(x.as_ref(), y.as_ref());
        println!(
            "    {:<7} R² = {:.12}  MSE = {:.6}  cond = {:.3e}  rank = {}   bmi = {:.10}",
            solver.name(),
            scores.r2,
            scores.mse,
            fit.condition_number,
            fit.rank,
            fit.coefficients[2]
        );
        if solver == Solver::Auto {
            println!("            auto: {}", fit.why);
        }
    }
    println!("\n    When X'X is singular (a duplicated or constant column) there is no unique");
    println!("    solution: the svd solver returns the minimum-norm one and names the columns.\n");

    println!("# 6. Gradient descent w <- w - η ∇L(w) on standardised features\n");
    let closed = LinearRegression {
        standardize: true,
        solver: Solver::Qr,
        ..LinearRegression::default()
    }
    .fit(x.as_ref(), y.as_ref(), &features)?;
    for (label, lr) in [
        ("too small", Some(1e-4)),
        ("good (1/L)", None),
        ("too large", Some(5.0)),
    ] {
        let model = LinearRegression {
            standardize: true,
            solver: Solver::Gd,
            iterative: IterativeOptions {
                learning_rate: lr,
                max_epochs: Some(2000),
                ..IterativeOptions::default()
            },
            ..LinearRegression::default()
        };
        match model.fit(x.as_ref(), y.as_ref(), &features) {
            Ok(fit) => {
                let r2 = fit.score(x.as_ref(), y.as_ref()).r2;
                println!(
                    "    η {label:<11} {:>6} steps  R² = {r2:.6}  ‖w − w*‖ = {:.2e}{}",
                    fit.iterations.unwrap_or(0),
                    distance(&fit.coefficients, &closed.coefficients),
                    fit.warnings
                        .first()
                        .map(|w| format!("  ({w})"))
                        .unwrap_or_default()
                );
            }
            Err(e) => println!("    η {label:<11} diverged: {e}"),
        }
    }
    println!();

    println!(
        "# 7. Stochastic and mini-batch gradient descent (one sample / 32 samples per step)\n"
    );
    for solver in [Solver::Sgd, Solver::MiniBatch] {
        let model = LinearRegression {
            standardize: true,
            solver,
            ..LinearRegression::default()
        };
        let fit = model.fit(x.as_ref(), y.as_ref(), &features)?;
        let r2 = fit.score(x.as_ref(), y.as_ref()).r2;
        println!(
            "    {:<9} {:>5} epochs  R² = {r2:.6}  ‖w − w*‖ = {:.2e}",
            solver.name(),
            fit.epochs.unwrap_or(0),
            distance(&fit.coefficients, &closed.coefficients)
        );
    }
    println!("\nThe closed form is exact and cheap at d = 10; iterative methods pay off when d or N is large.\n");

    pictures(&table, &args.out)
}

/// The runs of the demo's two pictures: gradient descent with a small, a good and a
/// too large step, then SGD, mini-batch and full GD. On these features the Hessian's
/// eigenvalues are μ ≈ 1.1 and L ≈ 2.9: η = 2/(L + μ) ≈ 0.5 is the best constant step
/// (it zig-zags across the valley but converges fastest), and gradient descent
/// diverges for η > 2/L ≈ 0.69.
const LEARNING_RATE_RUNS: [&str; 3] = [
    "gd:lr=0.01,iterations=60",
    "gd:lr=0.5",
    "gd:lr=0.75,iterations=60",
];
const STOCHASTIC_RUNS: [&str; 3] = [
    "sgd:lr=0.005,epochs=2",
    "minibatch:lr=0.1,batch=32,epochs=10",
    "gd:lr=0.5",
];

/// Where the runs of the pictures start: off the valley's long axis, so that the
/// zig-zag of a large step shows.
const PICTURE_START: [f64; 2] = [-10.0, 50.0];

/// Section 8: the loss over two standardised features (bmi and s5, the others at zero,
/// the target centred so that the intercept is its mean) as contour pictures with the
/// trajectories of gradient descent and its stochastic relatives.
fn pictures(table: &matdiff_num::data::Table, out: &std::path::Path) -> anyhow::Result<()> {
    println!(
        "# 8. Pictures: the loss over two standardised features, bmi and s5 (the others at zero)\n"
    );
    let failed = |e: &dyn std::fmt::Display| Failure::Failed(e.to_string());
    let x = table.select(&["bmi", "s5"]).map_err(|e| failed(&e))?;
    let n = x.nrows();
    let standardised = Mat::from_fn(n, 2, |i, j| {
        let column = x.col(j);
        let mean = column.iter().sum::<f64>() / n as f64;
        let sd = (column.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
        (x[(i, j)] - mean) / sd
    });
    let target = table.column_index("target").map_err(|e| failed(&e))?;
    let mean_y = (0..n).map(|i| table.data[(i, target)]).sum::<f64>() / n as f64;
    let y = Mat::from_fn(n, 1, |i, _| table.data[(i, target)] - mean_y);
    let function = parse_function(LOSS, "X: matrix(N,2)")
        .map_err(|_| Failure::Failed("the demo's loss does not parse".into()))?;
    let mut problem = Problem::new(
        function,
        "w",
        vec![("X".to_owned(), standardised), ("y".to_owned(), y)],
        None,
    )
    .map_err(|e| failed(&e))?;
    let pictures = [
        (
            "descent-learning-rates.png",
            "gradient descent: η too small, good, too large",
            &LEARNING_RATE_RUNS[..],
        ),
        (
            "descent-stochastic.png",
            "SGD vs mini-batch vs full gradient descent",
            &STOCHASTIC_RUNS[..],
        ),
    ];
    for (file, caption, specs) in pictures {
        let runs = specs
            .iter()
            .map(|s| plane::parse_run(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(&e))?;
        let path = out.join(file);
        let request = PlaneRequest {
            coords: [0, 1],
            base: problem.zeros(),
            origin: PICTURE_START,
            runs: &runs,
            range: None,
            title: format!("diabetes, {caption}"),
            axes: ["w[bmi]".to_owned(), "w[s5]".to_owned()],
            out: crate::pictures::Output::File(&path),
            size: DEFAULT_SIZE,
        };
        let traces = draw_plane(&mut problem, request)
            .map_err(|e| failed(&format!("cannot draw {}: {e}", path.display())))?;
        println!("    {caption}:");
        for trace in &traces {
            println!("      {}", summary(trace));
        }
        println!("    (drawn to {})\n", path.display());
    }
    Ok(())
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}
