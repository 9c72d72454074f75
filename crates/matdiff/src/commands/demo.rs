//! `matdiff demo`: the seminar end to end on the bundled diabetes data, through the
//! library's public API alone — the loss in matrix notation, its derivation by the
//! rules, a numerical check, the closed form and its cost, gradient descent with a
//! too small, a good and a too large step (ending by the limit, by a stopping
//! criterion and by divergence), each of the three stopping criteria ending a run,
//! SGD and mini-batch descent, two contour pictures of the descent paths, and where to
//! go from there.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use matdiff::faer::{Mat, Side};
use matdiff::{Error, Fit, Function, Inputs, Method, Minimize, Solver, StopReason};

use crate::commands::plot::{draw_plane, summary, PlaneRequest};
use crate::pictures::DEFAULT_SIZE;
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

/// The accuracy asked of gradient descent: the gradient norm falls to this fraction
/// of its value at the start.
const REDUCTION: f64 = 1e-6;

/// A library error the demo cannot recover from: the demo itself failed (exit 1).
fn failed(error: impl std::fmt::Display) -> anyhow::Error {
    Failure::Failed(error.to_string()).into()
}

/// Runs the demo.
pub fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;
    let loss = Function::parse(LOSS, DECLS).map_err(failed)?;
    derivation(&loss, &args.out)?;

    let (x, y) = matdiff::datasets::diabetes_raw();
    println!(
        "# 4. The diabetes data: N = {} patients, d = {} features (+ intercept), target: disease progression\n",
        x.nrows(),
        x.ncols()
    );
    closed_form(&loss, &x, &y)?;

    let data = Standardised::new(&x, &y);
    let descent = descent(&loss, &data)?;
    stopping_criteria(&loss, &data, &descent)?;
    stochastic(&loss, &data, &descent)?;
    println!("The closed form is exact and cheap at d = 10; iterative methods pay off when d or N is large.\n");

    pictures(&x, &y, &args.out)?;
    further();
    Ok(())
}

/// Sections 1 to 3: the loss, its derivation by the rules (also as LaTeX), the
/// Hessian, and the check against finite differences.
fn derivation(loss: &Function, out: &Path) -> anyhow::Result<()> {
    println!("# 1. The loss of linear regression in matrix form\n");
    println!("    L(w) = {LOSS}      with {DECLS}\n");
    let gradient = loss.gradient("w").map_err(failed)?;
    println!("# 2. Its differential by the rules, and the gradient read off dL = <∇L, dw>\n");
    for step in gradient.pretty_steps() {
        println!("    = {:<44} ({})", step.expr, step.rule);
    }
    println!("    ∇L = {}\n", gradient.pretty());
    let tex_path = out.join("derivation.tex");
    std::fs::write(&tex_path, gradient.latex_document("L"))
        .with_context(|| format!("cannot write {}", tex_path.display()))?;
    println!("    (written as LaTeX to {})\n", tex_path.display());
    let hessian = loss.hessian("w").map_err(failed)?;
    println!(
        "    Hessian: {}  (constant: the loss is a convex quadratic)\n",
        hessian.pretty()
    );

    println!("# 3. Checked against central finite differences on random data\n");
    let check = loss.check("w").map_err(failed)?;
    for (i, (error, floor)) in check.errors.iter().zip(&check.floors).enumerate() {
        println!(
            "    trial {}: max relative error {error:.1e}   (rounding floor of the differences {floor:.1e}, tolerance {:.0e})",
            i + 1,
            check.tol
        );
    }
    if !check.passed {
        return Err(failed(
            "the derived gradient does not match finite differences",
        ));
    }
    println!();
    Ok(())
}

/// Section 5: `∇L = 0` solved by the rules, and the closed-form solvers on the data.
fn closed_form(loss: &Function, x: &Mat<f64>, y: &[f64]) -> anyhow::Result<()> {
    println!("# 5. The closed form w = (X'X)^-1 X'y — O(N d² + d³) — and its stable relatives\n");
    let solved = loss.solve("w").map_err(failed)?;
    for step in solved.pretty_steps() {
        println!("    ⇔ {:<40} ({})", step.expr, step.rule);
    }
    println!(
        "    derived by `matdiff solve`: {}\n",
        solved.report().verdict
    );
    for solver in [Solver::Normal, Solver::Qr, Solver::Svd, Solver::Auto] {
        let fit = matdiff::linreg::fit(x.as_ref(), y, solver).map_err(failed)?;
        println!(
            "    {:<7} R² = {:.12}  MSE = {:.6}  cond = {:.3e}  rank = {}   bmi = {:.10}",
            solver.name(),
            fit.r2,
            fit.mse,
            fit.condition,
            fit.rank,
            fit.coefficients[2]
        );
        if solver == Solver::Auto {
            println!("            auto: {}", fit.why);
        }
    }
    println!("\n    When X'X is singular (a duplicated or constant column) there is no unique");
    println!("    solution: the svd solver returns the minimum-norm one and names the columns.\n");
    Ok(())
}

/// The diabetes data with standardised features (mean 0, standard deviation 1) and a
/// centred target, so that the intercept is the target's mean and `w` alone is fitted.
struct Standardised {
    x: Mat<f64>,
    y: Vec<f64>,
    /// The variance of the target: `L(w)` relative to it is `1 − R²`.
    variance: f64,
}

impl Standardised {
    fn new(x: &Mat<f64>, y: &[f64]) -> Standardised {
        let (x, _) = standardise(x);
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let y: Vec<f64> = y.iter().map(|v| v - mean).collect();
        let variance = y.iter().map(|v| v * v).sum::<f64>() / n;
        Standardised { x, y, variance }
    }

    /// The fit's loss on the data and its distance to the closed form `w*`.
    fn describe(&self, fit: &Fit, closed: &[f64]) -> String {
        let distance = (0..closed.len())
            .map(|i| (fit.solution[(i, 0)] - closed[i]).powi(2))
            .sum::<f64>()
            .sqrt();
        format!(
            "R² = {:.6}  ‖w − w*‖ = {distance:.2e}",
            1.0 - fit.loss / self.variance
        )
    }
}

/// Columns centred and scaled to standard deviation 1 (over N), with the means.
fn standardise(x: &Mat<f64>) -> (Mat<f64>, Vec<f64>) {
    let n = x.nrows() as f64;
    let means: Vec<f64> = (0..x.ncols())
        .map(|j| x.col(j).iter().sum::<f64>() / n)
        .collect();
    let sds: Vec<f64> = (0..x.ncols())
        .map(|j| (x.col(j).iter().map(|v| (v - means[j]).powi(2)).sum::<f64>() / n).sqrt())
        .collect();
    let z = Mat::from_fn(x.nrows(), x.ncols(), |i, j| (x[(i, j)] - means[j]) / sds[j]);
    (z, means)
}

/// What gradient descent with η = 1/L established, for the sections after it.
struct Descent {
    /// The largest eigenvalue of the Hessian, `L`.
    lipschitz: f64,
    /// The iteration limit of every run: the bound's iteration count.
    limit: usize,
    /// `‖∇L(w₀)‖` at the start `w₀ = 0`.
    start_gradient: f64,
    /// The closed-form solution `w*` in standardised units.
    closed: Vec<f64>,
    /// The run with η = 1/L, which ends by `‖∇L‖ < ε`.
    good: Fit,
}

/// Section 6: gradient descent with η too small, η = 1/L and η too large, each with
/// the limit that the seminar's bound gives for η = 1/L: the first ends by the limit,
/// the second by its stopping criterion, the third by divergence.
fn descent(loss: &Function, data: &Standardised) -> anyhow::Result<Descent> {
    println!("# 6. Gradient descent w <- w - η ∇L(w) on standardised features\n");
    let inputs = Inputs::new()
        .matrix("X", data.x.as_ref())
        .vector("y", &data.y);
    let hessian = loss
        .hessian("w")
        .and_then(|h| h.evaluate(&inputs))
        .map_err(failed)?;
    let eigenvalues = hessian
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| failed(format!("the Hessian's eigenvalues: {e:?}")))?;
    let (mu, lipschitz) = (eigenvalues[0], eigenvalues[eigenvalues.len() - 1]);
    let kappa = lipschitz / mu;
    let zero = vec![0.0; data.x.ncols()];
    let (_, gradient) = loss
        .value_and_gradient("w", &inputs.clone().vector("w", &zero))
        .map_err(failed)?;
    let start_gradient = gradient.col(0).iter().map(|v| v * v).sum::<f64>().sqrt();
    let eps = REDUCTION * start_gradient;
    // With η = 1/L every eigencomponent of the gradient shrinks by (1 − λᵢ/L) ≤
    // (1 − 1/κ) per step, so ‖∇L(w_k)‖ ≤ e^(−k/κ) ‖∇L(w₀)‖ ≤ ε once k ≥ κ·ln(1/reduction).
    let limit = (kappa * (1.0 / REDUCTION).ln()).ceil() as usize;
    println!(
        "    The Hessian 2/N·XᵀX has eigenvalues from μ = {mu:.4} to L = {lipschitz:.4}: κ = L/μ = {kappa:.1}."
    );
    println!(
        "    With η = 1/L the seminar's bound ‖∇L(w_k)‖ ≤ (1 − 1/κ)^k ‖∇L(w₀)‖ reaches ε = 10⁻⁶·‖∇L(w₀)‖ = {eps:.2e}"
    );
    println!(
        "    within κ·ln(1/10⁻⁶) = {limit} iterations; every run below gets that many, and stops when ‖∇L(w)‖ < ε.\n"
    );
    let closed = matdiff::linreg::fit(data.x.as_ref(), &data.y, Solver::Qr)
        .map_err(failed)?
        .coefficients;
    let run = |lr: f64| {
        Minimize::new(loss, "w")
            .data("X", data.x.as_ref())
            .data("y", &data.y)
            .method(Method::Gd)
            .lr(lr)
            .tol_grad(eps)
            .max_iter(limit)
            .run()
    };
    let mut good = None;
    for (label, factor) in [("too small", 0.01), ("good (1/L)", 1.0), ("too large", 2.2)] {
        let lr = factor / lipschitz;
        let name = format!("η {label:<11} η = {lr:.4}");
        match run(lr) {
            Ok(fit) => {
                println!(
                    "    {name}  {:>5} iterations  {}\n        stopped: {}",
                    fit.iterations,
                    data.describe(&fit, &closed),
                    ending(&fit, limit)
                );
                if factor == 1.0 {
                    good = Some(fit);
                }
            }
            Err(Error::Divergence(message)) => {
                // The library's advice on what to change is for a run one set up; the
                // demo chose this step to diverge.
                let what = message.split("; try").next().unwrap_or(&message);
                println!(
                    "    {name}  diverged, as η > 2/L = {:.4} must:",
                    2.0 / lipschitz
                );
                println!("        stopped: {what}");
            }
            Err(other) => return Err(failed(other)),
        }
    }
    println!();
    let good = good.ok_or_else(|| failed("gradient descent with η = 1/L failed"))?;
    Ok(Descent {
        lipschitz,
        limit,
        start_gradient,
        closed,
        good,
    })
}

/// How a run ended, in words: the criterion that fired, or the limit.
fn ending(fit: &Fit, limit: usize) -> String {
    match fit.stop_reason {
        StopReason::GradientNorm => "by the criterion ‖∇L(w)‖ < ε".to_owned(),
        StopReason::StepSize => "by the criterion ‖w_new − w_old‖ < ε".to_owned(),
        StopReason::LossChange => "by the criterion |L_new − L_old| < ε".to_owned(),
        StopReason::MaxIterations => {
            format!("at the limit of {limit} iterations, before any criterion was met")
        }
        other => other.description().to_owned(),
    }
}

/// Section 7: each of the seminar's three stopping criteria ends one run of gradient
/// descent with η = 1/L, given alone.
fn stopping_criteria(
    loss: &Function,
    data: &Standardised,
    descent: &Descent,
) -> anyhow::Result<()> {
    println!(
        "# 7. The three stopping criteria, one run each (η = 1/L, the same limit of {} iterations)\n",
        descent.limit
    );
    let lr = 1.0 / descent.lipschitz;
    let base = || {
        Minimize::new(loss, "w")
            .data("X", data.x.as_ref())
            .data("y", &data.y)
            .method(Method::Gd)
            .lr(lr)
            .max_iter(descent.limit)
    };
    let eps_grad = REDUCTION * descent.start_gradient;
    // One step moves w by η‖∇L‖ and lowers L by about η‖∇L‖²/2: tolerances of the
    // same accuracy for the step and for the change of the loss.
    let eps_step = lr * eps_grad;
    let eps_loss = lr * eps_grad * eps_grad / 2.0;
    let step = base().tol_step(eps_step).run().map_err(failed)?;
    let change = base().tol_loss(eps_loss).run().map_err(failed)?;
    for (criterion, eps, fit) in [
        ("‖∇L(w)‖ < ε        ", eps_grad, &descent.good),
        ("‖w_new − w_old‖ < ε", eps_step, &step),
        ("|L_new − L_old| < ε", eps_loss, &change),
    ] {
        println!(
            "    {criterion}  ε = {eps:.2e}  {:>5} iterations  {}  — stopped {}",
            fit.iterations,
            data.describe(fit, &descent.closed),
            ending(fit, descent.limit)
        );
    }
    println!("\n    Given together, whichever criterion is met first ends the run.\n");
    Ok(())
}

/// Section 8: SGD and mini-batch gradient descent on the same loss, ending at their
/// epoch limit: with a constant step the sampling noise keeps ‖∇L‖ above ε.
fn stochastic(loss: &Function, data: &Standardised, descent: &Descent) -> anyhow::Result<()> {
    println!(
        "# 8. Stochastic and mini-batch gradient descent (one sample / 32 samples per step)\n"
    );
    for (method, lr, epochs) in [(Method::Sgd, 0.005, 100), (Method::MiniBatch, 0.1, 300)] {
        let fit = Minimize::new(loss, "w")
            .data("X", data.x.as_ref())
            .data("y", &data.y)
            .method(method)
            .lr(lr)
            .epochs(epochs)
            .seed(1)
            .run()
            .map_err(failed)?;
        println!(
            "    {:<9} η = {lr:<5} {:>4} epochs  {}  — stopped {}",
            match method {
                Method::Sgd => "sgd",
                _ => "minibatch",
            },
            fit.epochs,
            data.describe(&fit, &descent.closed),
            if fit.stop_reason == StopReason::MaxEpochs {
                "at the epoch limit".to_owned()
            } else {
                ending(&fit, descent.limit)
            }
        );
    }
    println!();
    Ok(())
}

/// A run of a picture: the method and its keys as `plot --run` reads them, and an
/// iteration limit where the default one would be too long.
type PictureRun = (&'static str, Option<usize>);

/// Where the runs of the pictures start: off the valley's long axis, so that the
/// zig-zag of a large step shows.
const PICTURE_START: [f64; 2] = [-10.0, 50.0];

/// Section 9: the loss over two standardised features (bmi and s5, the others at
/// zero, the target centred so that the intercept is its mean) as contour pictures
/// with the trajectories of gradient descent and its stochastic relatives. On these
/// features the Hessian's eigenvalues are μ ≈ 1.1 and L ≈ 2.9: η = 2/(L + μ) ≈ 0.5 is
/// the best constant step (it zig-zags across the valley but converges fastest), and
/// gradient descent diverges for η > 2/L ≈ 0.69.
fn pictures(x: &Mat<f64>, y: &[f64], out: &Path) -> anyhow::Result<()> {
    println!(
        "# 9. Pictures: the loss over two standardised features, bmi and s5 (the others at zero)\n"
    );
    // bmi and s5 are the third and the ninth feature.
    let two = Mat::from_fn(x.nrows(), 2, |i, j| x[(i, [2, 8][j])]);
    let data = Standardised::new(&two, y);
    let loss = Function::parse(LOSS, "X: matrix(N,2)").map_err(failed)?;
    let mut problem = Minimize::new(&loss, "w")
        .data("X", data.x.as_ref())
        .data("y", &data.y)
        .problem()
        .map_err(failed)?;
    // (method and step, iteration limit): the limits keep the failing runs short.
    let learning_rates = [
        ("gd:lr=0.01", Some(60)),
        ("gd:lr=0.5", None),
        ("gd:lr=0.75", Some(60)),
    ];
    let stochastic = [
        ("sgd:lr=0.005,epochs=2", None),
        ("minibatch:lr=0.1,batch=32,epochs=10", None),
        ("gd:lr=0.5", None),
    ];
    let pictures: [(&str, &str, &[PictureRun]); 2] = [
        (
            "descent-learning-rates.png",
            "gradient descent: η too small, good, too large",
            &learning_rates,
        ),
        (
            "descent-stochastic.png",
            "SGD vs mini-batch vs full gradient descent",
            &stochastic,
        ),
    ];
    for (file, caption, specs) in pictures {
        let runs = specs
            .iter()
            .map(|(text, limit)| {
                let mut options = matdiff::plane::parse_run(text)?;
                if limit.is_some() {
                    options.stop.max_iter = *limit;
                }
                Ok(options)
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(failed)?;
        let path = out.join(file);
        let request = PlaneRequest {
            coords: [0, 1],
            base: vec![0.0; 2],
            origin: PICTURE_START,
            runs: &runs,
            range: None,
            title: format!("diabetes, {caption}"),
            axes: ["w[bmi]".to_owned(), "w[s5]".to_owned()],
            out: crate::pictures::Output::File(&path),
            size: DEFAULT_SIZE,
        };
        let traces = draw_plane(&mut problem, request)
            .map_err(|e| failed(format!("cannot draw {}: {e}", path.display())))?;
        println!("    {caption}:");
        for trace in &traces {
            println!("      {}", summary(trace));
        }
        println!("    (drawn to {})\n", path.display());
    }
    Ok(())
}

/// Section 10: what to try next.
fn further() {
    println!("# 10. Going further\n");
    for (command, what) in [
        (
            "matdiff linreg diabetes --save model.json",
            "save a fit, then apply it: matdiff predict model.json --x new.csv",
        ),
        (
            "matdiff minimize \"1/N*norm2(X*w - y)^2\" --wrt w --data X=X.csv --data y=y.csv --distributed",
            "one fit over several processes, each with its share of the rows",
        ),
        (
            "matdiff serve",
            "the derivations, checks and fits in the browser",
        ),
        (
            "pip install ./python",
            "the same library from Python: import matdiff (from the repository's root)",
        ),
    ] {
        println!("    {command}\n        {what}");
    }
    println!();
}
