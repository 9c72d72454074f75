//! `matdiff demo`: the seminar end to end on the bundled diabetes data, through the
//! library's public API alone — the loss in matrix notation, its derivation by the
//! rules, a numerical check, the closed form and its cost, gradient descent with a
//! too small, a good and a too large step (ending by the limit, by a stopping
//! criterion and by divergence), each of the three stopping criteria ending a run,
//! SGD and mini-batch descent, two contour pictures of the descent paths, and where to
//! go from there. With `--json` the same lesson is one JSON document instead of text.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use matdiff::faer::{Mat, Side};
use matdiff::{Error, Fit, Function, Inputs, Method, Minimize, Solver, StopReason};
use serde_json::{json, Value};

use crate::commands::plot::{draw_plane, summary, PlaneRequest};
use crate::pictures::DEFAULT_SIZE;
use crate::report::{number, Failure};

/// Arguments of `matdiff demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder for the files the demo writes (the derivation as LaTeX, two pictures).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Print the lesson as one JSON document: {"loss", "declarations", "derivation",
    /// "check", "data", "closed_form", "descent", "stopping_criteria", "stochastic",
    /// "pictures", "further"}, with the numbers the text shows.
    #[arg(long)]
    pub json: bool,
}

/// Where the lesson goes: printed as text as it runs, or, with `--json`, gathered
/// into one document printed at the end.
#[derive(Clone, Copy)]
struct Lesson {
    json: bool,
}

/// Prints a line of the lesson's text; nothing with `--json`.
macro_rules! say {
    ($lesson:expr) => {
        if !$lesson.json {
            println!();
        }
    };
    ($lesson:expr, $($arg:tt)*) => {
        if !$lesson.json {
            println!($($arg)*);
        }
    };
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
    let lesson = Lesson { json: args.json };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;
    let loss = Function::parse(LOSS, DECLS).map_err(failed)?;
    let (derivation, check) = derivation(lesson, &loss, &args.out)?;

    let (x, y) = matdiff::datasets::diabetes_raw();
    say!(
        lesson,
        "# 4. The diabetes data: N = {} patients, d = {} features (+ intercept), target: disease progression\n",
        x.nrows(),
        x.ncols()
    );
    let data_json = json!({"name": "diabetes", "n": x.nrows(), "d": x.ncols()});
    let closed_form = closed_form(lesson, &loss, &x, &y)?;

    let data = Standardised::new(&x, &y);
    let (descent, descent_json) = descent(lesson, &loss, &data)?;
    let criteria = stopping_criteria(lesson, &loss, &data, &descent)?;
    let stochastic = stochastic(lesson, &loss, &data, &descent)?;
    say!(lesson, "The closed form is exact and cheap at d = 10; iterative methods pay off when d or N is large.\n");

    let pictures = pictures(lesson, &x, &y, &args.out)?;
    let further = further(lesson);
    if lesson.json {
        let document = json!({
            "loss": LOSS,
            "declarations": DECLS,
            "derivation": derivation,
            "check": check,
            "data": data_json,
            "closed_form": closed_form,
            "descent": descent_json,
            "stopping_criteria": criteria,
            "stochastic": stochastic,
            "pictures": pictures,
            "further": further,
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
    }
    Ok(())
}

/// Sections 1 to 3: the loss, its derivation by the rules (also as LaTeX), the
/// Hessian, and the check against finite differences: the derivation's and the
/// check's JSON.
fn derivation(lesson: Lesson, loss: &Function, out: &Path) -> anyhow::Result<(Value, Value)> {
    say!(
        lesson,
        "# 1. The loss of linear regression in matrix form\n"
    );
    say!(lesson, "    L(w) = {LOSS}      with {DECLS}\n");
    let gradient = loss.gradient("w").map_err(failed)?;
    say!(
        lesson,
        "# 2. Its differential by the rules, and the gradient read off dL = <∇L, dw>\n"
    );
    let steps = gradient.pretty_steps();
    for step in &steps {
        say!(lesson, "    = {:<44} ({})", step.expr, step.rule);
    }
    say!(lesson, "    ∇L = {}\n", gradient.pretty());
    let tex_path = out.join("derivation.tex");
    std::fs::write(&tex_path, gradient.latex_document("L"))
        .with_context(|| format!("cannot write {}", tex_path.display()))?;
    say!(lesson, "    (written as LaTeX to {})\n", tex_path.display());
    let hessian = loss.hessian("w").map_err(failed)?;
    say!(
        lesson,
        "    Hessian: {}  (constant: the loss is a convex quadratic)\n",
        hessian.pretty()
    );
    let derivation = json!({
        "steps": gradient
            .steps()
            .iter()
            .map(|step| json!({"expr": step.expr, "rule": step.rule}))
            .collect::<Vec<_>>(),
        "gradient": gradient.to_string(),
        "hessian": hessian.to_string(),
        "latex_file": tex_path.display().to_string(),
    });

    say!(
        lesson,
        "# 3. Checked against central finite differences on random data\n"
    );
    let check = loss.check("w").map_err(failed)?;
    for (i, (error, floor)) in check.errors.iter().zip(&check.floors).enumerate() {
        say!(
            lesson,
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
    say!(lesson);
    let check = json!({
        "passed": check.passed,
        "tol": check.tol,
        "errors": check.errors.iter().map(|&e| number(e)).collect::<Vec<_>>(),
        "floors": check.floors.iter().map(|&f| number(f)).collect::<Vec<_>>(),
    });
    Ok((derivation, check))
}

/// Section 5: `∇L = 0` solved by the rules, and the closed-form solvers on the data.
fn closed_form(lesson: Lesson, loss: &Function, x: &Mat<f64>, y: &[f64]) -> anyhow::Result<Value> {
    say!(
        lesson,
        "# 5. The closed form w = (X'X)^-1 X'y — O(N d² + d³) — and its stable relatives\n"
    );
    let solved = loss.solve("w").map_err(failed)?;
    for step in solved.pretty_steps() {
        say!(lesson, "    ⇔ {:<40} ({})", step.expr, step.rule);
    }
    let verdict = solved.report().verdict;
    say!(lesson, "    derived by `matdiff solve`: {verdict}\n");
    let mut fits = Vec::new();
    for solver in [Solver::Normal, Solver::Qr, Solver::Svd, Solver::Auto] {
        let fit = matdiff::linreg::fit(x.as_ref(), y, solver).map_err(failed)?;
        say!(
            lesson,
            "    {:<7} R² = {:.12}  MSE = {:.6}  cond = {:.3e}  rank = {}   bmi = {:.10}",
            solver.name(),
            fit.r2,
            fit.mse,
            fit.condition,
            fit.rank,
            fit.coefficients[2]
        );
        if solver == Solver::Auto {
            say!(lesson, "            auto: {}", fit.why);
        }
        fits.push(json!({
            "solver": solver.name(),
            "r2": number(fit.r2),
            "mse": number(fit.mse),
            "condition": number(fit.condition),
            "rank": fit.rank,
            "coefficients": fit.coefficients.iter().map(|&c| number(c)).collect::<Vec<_>>(),
            "why": fit.why,
        }));
    }
    say!(
        lesson,
        "\n    When X'X is singular (a duplicated or constant column) there is no unique"
    );
    say!(
        lesson,
        "    solution: the svd solver returns the minimum-norm one and names the columns.\n"
    );
    Ok(json!({"solution": solved.to_string(), "verdict": verdict, "fits": fits}))
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

    /// The fit's `R²` on the data and its distance `‖w − w*‖` to the closed form.
    fn scores(&self, fit: &Fit, closed: &[f64]) -> (f64, f64) {
        let distance = (0..closed.len())
            .map(|i| (fit.solution[(i, 0)] - closed[i]).powi(2))
            .sum::<f64>()
            .sqrt();
        (1.0 - fit.loss / self.variance, distance)
    }

    /// The fit's scores in words.
    fn describe(&self, fit: &Fit, closed: &[f64]) -> String {
        let (r2, distance) = self.scores(fit, closed);
        format!("R² = {r2:.6}  ‖w − w*‖ = {distance:.2e}")
    }

    /// A run as JSON: its name, step, counts, scores and how it ended.
    fn run_json(&self, name: &str, lr: f64, fit: &Fit, closed: &[f64], ending: String) -> Value {
        let (r2, distance) = self.scores(fit, closed);
        json!({
            "name": name,
            "lr": number(lr),
            "iterations": fit.iterations,
            "epochs": fit.epochs,
            "loss": number(fit.loss),
            "r2": number(r2),
            "distance_to_closed_form": number(distance),
            "stop_reason": fit.stop_reason.name(),
            "ending": ending,
        })
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
fn descent(
    lesson: Lesson,
    loss: &Function,
    data: &Standardised,
) -> anyhow::Result<(Descent, Value)> {
    say!(
        lesson,
        "# 6. Gradient descent w <- w - η ∇L(w) on standardised features\n"
    );
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
    say!(
        lesson,
        "    The Hessian 2/N·XᵀX has eigenvalues from μ = {mu:.4} to L = {lipschitz:.4}: κ = L/μ = {kappa:.1}."
    );
    say!(
        lesson,
        "    With η = 1/L the seminar's bound ‖∇L(w_k)‖ ≤ (1 − 1/κ)^k ‖∇L(w₀)‖ reaches ε = 10⁻⁶·‖∇L(w₀)‖ = {eps:.2e}"
    );
    say!(
        lesson,
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
    let mut runs = Vec::new();
    for (label, factor) in [("too small", 0.01), ("good (1/L)", 1.0), ("too large", 2.2)] {
        let lr = factor / lipschitz;
        let name = format!("η {label:<11} η = {lr:.4}");
        match run(lr) {
            Ok(fit) => {
                let ended = ending(&fit, limit);
                say!(
                    lesson,
                    "    {name}  {:>5} iterations  {}\n        stopped: {ended}",
                    fit.iterations,
                    data.describe(&fit, &closed),
                );
                runs.push(data.run_json(label, lr, &fit, &closed, ended));
                if factor == 1.0 {
                    good = Some(fit);
                }
            }
            Err(Error::Divergence(message)) => {
                // The library's advice on what to change is for a run one set up; the
                // demo chose this step to diverge.
                let what = message.split("; try").next().unwrap_or(&message);
                say!(
                    lesson,
                    "    {name}  diverged, as η > 2/L = {:.4} must:",
                    2.0 / lipschitz
                );
                say!(lesson, "        stopped: {what}");
                runs.push(json!({
                    "name": label,
                    "lr": number(lr),
                    "stop_reason": "diverged",
                    "ending": what,
                }));
            }
            Err(other) => return Err(failed(other)),
        }
    }
    say!(lesson);
    let good = good.ok_or_else(|| failed("gradient descent with η = 1/L failed"))?;
    let json = json!({
        "mu": number(mu),
        "lipschitz": number(lipschitz),
        "kappa": number(kappa),
        "tol_grad": number(eps),
        "iteration_bound": limit,
        "runs": runs,
    });
    let descent = Descent {
        lipschitz,
        limit,
        start_gradient,
        closed,
        good,
    };
    Ok((descent, json))
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
    lesson: Lesson,
    loss: &Function,
    data: &Standardised,
    descent: &Descent,
) -> anyhow::Result<Value> {
    say!(
        lesson,
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
    let mut runs = Vec::new();
    for (criterion, option, eps, fit) in [
        ("‖∇L(w)‖ < ε        ", "tol_grad", eps_grad, &descent.good),
        ("‖w_new − w_old‖ < ε", "tol_step", eps_step, &step),
        ("|L_new − L_old| < ε", "tol_loss", eps_loss, &change),
    ] {
        let ended = ending(fit, descent.limit);
        say!(
            lesson,
            "    {criterion}  ε = {eps:.2e}  {:>5} iterations  {}  — stopped {ended}",
            fit.iterations,
            data.describe(fit, &descent.closed),
        );
        let mut run = data.run_json(criterion.trim_end(), lr, fit, &descent.closed, ended);
        run["criterion"] = json!(option);
        run["tol"] = number(eps);
        runs.push(run);
    }
    say!(
        lesson,
        "\n    Given together, whichever criterion is met first ends the run.\n"
    );
    Ok(Value::Array(runs))
}

/// Section 8: SGD and mini-batch gradient descent on the same loss, ending at their
/// epoch limit: with a constant step the sampling noise keeps ‖∇L‖ above ε.
fn stochastic(
    lesson: Lesson,
    loss: &Function,
    data: &Standardised,
    descent: &Descent,
) -> anyhow::Result<Value> {
    say!(
        lesson,
        "# 8. Stochastic and mini-batch gradient descent (one sample / 32 samples per step)\n"
    );
    let mut runs = Vec::new();
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
        let name = match method {
            Method::Sgd => "sgd",
            _ => "minibatch",
        };
        let ended = if fit.stop_reason == StopReason::MaxEpochs {
            "at the epoch limit".to_owned()
        } else {
            ending(&fit, descent.limit)
        };
        say!(
            lesson,
            "    {name:<9} η = {lr:<5} {:>4} epochs  {}  — stopped {ended}",
            fit.epochs,
            data.describe(&fit, &descent.closed),
        );
        runs.push(data.run_json(name, lr, &fit, &descent.closed, ended));
    }
    say!(lesson);
    Ok(Value::Array(runs))
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
fn pictures(lesson: Lesson, x: &Mat<f64>, y: &[f64], out: &Path) -> anyhow::Result<Value> {
    say!(
        lesson,
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
    let mut drawn = Vec::new();
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
        say!(lesson, "    {caption}:");
        for trace in &traces {
            say!(lesson, "      {}", summary(trace));
        }
        say!(lesson, "    (drawn to {})\n", path.display());
        drawn.push(json!({
            "file": path.display().to_string(),
            "caption": caption,
            "runs": traces.iter().map(summary).collect::<Vec<_>>(),
        }));
    }
    Ok(Value::Array(drawn))
}

/// Section 10: what to try next.
fn further(lesson: Lesson) -> Value {
    say!(lesson, "# 10. Going further\n");
    let mut next = Vec::new();
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
        say!(lesson, "    {command}\n        {what}");
        next.push(json!({"command": command, "what": what}));
    }
    say!(lesson);
    Value::Array(next)
}
