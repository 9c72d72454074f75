//! `matdiff minimize`: minimise a scalar expression over one variable on data, with
//! gradient descent, SGD, mini-batch descent, momentum, Nesterov or Adam.
//!
//! Output on stdout, as text:
//!
//! ```text
//! stopped: the gradient norm ‖∇Q(w)‖ fell below --tol-grad
//! loss: 0.0081…
//! gradient norm: 9.7e-7
//! iterations: 412
//! epochs: 412
//! seconds: 0.004
//! w = [1.0…, -2.0…, 0.5…, 3.0…]
//! ```
//!
//! or, with `--json`, one object:
//! `{"variable": "w", "solution": …, "loss": …, "gradient_norm": …, "iterations": …,
//! "epochs": …, "seconds": …, "stop": "gradient_norm", "stop_description": "…",
//! "converged": true}` where `solution` is the JSON value encoding of DESIGN.md §3 (a
//! number, a flat list for a vector, a list of rows for a matrix) and `stop` is the
//! rule's machine name (`step_size`, `loss_change`, `gradient_norm`, `max_iterations`,
//! `max_epochs`, `no_improvement`, `line_search_failed`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;
use faer::Mat;
use indicatif::{ProgressBar, ProgressStyle};
use matdiff_fit::optim::{
    self, Batch, History, Method, Objective, Observer, OptimError, Options, Outcome, Record,
    Sampling, Schedule, Scope, StopRules,
};
use matdiff_fit::problem::{Hoisted, Problem, ProblemError};
use matdiff_num::Inputs;
use plotters::prelude::*;
use serde_json::json;

use crate::input::load_function;
use crate::report::Failure;

/// The update rules, as the command line spells them.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MethodArg {
    /// Gradient descent on the full loss.
    #[default]
    Gd,
    /// Stochastic gradient descent: one random sample per step.
    Sgd,
    /// Mini-batch gradient descent: --batch random samples per step (32 by default).
    Minibatch,
    /// Heavy-ball momentum (β = 0.9); full batch unless --batch is given.
    Momentum,
    /// Nesterov momentum (β = 0.9); full batch unless --batch is given.
    Nesterov,
    /// Adam (0.9, 0.999, 1e-8); full batch unless --batch is given.
    Adam,
}

/// Step-size schedules.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScheduleArg {
    /// η stays --lr.
    #[default]
    Constant,
    /// η = lr / t^0.25 at step t.
    Invscaling,
    /// η halves every 10 epochs.
    Step,
    /// η is divided by 5 when the loss stops improving for 5 epochs.
    Adaptive,
}

/// How stochastic methods draw samples.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SamplingArg {
    /// Uniformly with replacement.
    Replace,
    /// Every sample once per epoch, in a fresh random order.
    #[default]
    Shuffle,
}

/// Arguments of `matdiff minimize`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Stopping: any rule given stops the run (--tol-step, --tol-loss, --tol-grad, --max-iter,
--epochs); with no tolerance given, --tol-grad 1e-6 applies, and with neither --max-iter
nor --epochs, 1000 epochs. For stochastic methods the rules look at the full loss after
each epoch.

A dimension name used as a scalar is the batch size on a batch: `1/N*norm2(X*w - y)^2`
is the batch mean squared error.

Output: the rule that stopped the run, the final loss, the gradient norm, iterations,
epochs, seconds and the solution. --json prints {\"variable\", \"solution\", \"loss\",
\"gradient_norm\", \"iterations\", \"epochs\", \"seconds\", \"stop\", \"stop_description\",
\"converged\"}. Exit 1 when the run diverges, 2 on bad input.")]
pub struct Args {
    /// The loss (a scalar expression), or `@file` with declarations and the expression.
    pub expr: String,
    /// The variable to optimise.
    #[arg(long, value_name = "NAME")]
    pub wrt: String,
    /// Declarations, separated by `;` or `,`: `X: matrix(N, d); w: vector(d)`.
    #[arg(long = "let", value_name = "DECLS")]
    pub decls: Option<String>,
    /// Data for a variable: a CSV with a header row (one column → vector) or a .npy file.
    #[arg(long = "data", value_name = "NAME=FILE")]
    pub data: Vec<String>,
    /// The sample dimension sliced into batches (default: the row dimension the data share).
    #[arg(long, value_name = "DIM")]
    pub samples: Option<String>,
    /// The update rule.
    #[arg(long, value_enum, default_value_t = MethodArg::Gd)]
    pub method: MethodArg,
    /// Initial step size η.
    #[arg(long, value_name = "η", default_value_t = 0.01)]
    pub lr: f64,
    /// Samples per step (minibatch: default 32; momentum, nesterov, adam: full batch when unset).
    #[arg(long, value_name = "B")]
    pub batch: Option<usize>,
    /// How η changes during the run.
    #[arg(long, value_enum, default_value_t = ScheduleArg::Constant)]
    pub schedule: ScheduleArg,
    /// How stochastic methods draw samples.
    #[arg(long, value_enum, default_value_t = SamplingArg::Shuffle)]
    pub sampling: SamplingArg,
    /// Choose η by Armijo backtracking (full-batch methods, constant schedule).
    #[arg(long)]
    pub line_search: bool,
    /// Stop when ‖w_new − w_old‖ < ε.
    #[arg(long, value_name = "ε")]
    pub tol_step: Option<f64>,
    /// Stop when |Q_new − Q_old| < ε.
    #[arg(long, value_name = "ε")]
    pub tol_loss: Option<f64>,
    /// Stop when ‖∇Q(w)‖ < ε.
    #[arg(long, value_name = "ε")]
    pub tol_grad: Option<f64>,
    /// Stop after K updates of the variable.
    #[arg(long, value_name = "K")]
    pub max_iter: Option<usize>,
    /// Stop after E passes over the data.
    #[arg(long, value_name = "E")]
    pub epochs: Option<usize>,
    /// Seed of the random number generator.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Starting point: `zeros`, or a JSON file with the value (or an object naming it).
    #[arg(long, value_name = "FILE.json|zeros", default_value = "zeros")]
    pub init: String,
    /// Write the loss after every epoch as CSV.
    #[arg(long, value_name = "FILE.csv")]
    pub history: Option<PathBuf>,
    /// Draw the loss against the iteration (PNG or SVG by the extension).
    #[arg(long, value_name = "FILE.png|svg")]
    pub plot: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// No progress bar and no notes on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Say on stderr which loop invariants full-batch methods compute once.
    #[arg(long)]
    pub verbose: bool,
}

/// Batch size of mini-batch descent when --batch is not given.
const DEFAULT_BATCH: usize = 32;

/// Runs `matdiff minimize`.
pub fn run(args: Args) -> Result<()> {
    let plot_format = args.plot.as_deref().map(plot_format).transpose()?;
    let (_sources, function) = load_function(&args.expr, args.decls.as_deref())?;
    let data = load_data(&args.data)?;
    let mut problem =
        Problem::new(function, &args.wrt, data, args.samples.as_deref()).map_err(bad_input)?;
    let options = options(&args);
    options
        .validate()
        .map_err(|e| Failure::BadInput(e.to_string()))?;
    if options.effective_batch(usize::MAX).is_some() {
        if problem.sample_dimension().is_none() {
            return Err(Failure::BadInput(format!(
                "{} draws batches of samples, but no data variable has a named row dimension — declare one, e.g. `X: matrix(N, d)`, or use gd",
                options.method.name()
            ))
            .into());
        }
        problem.check_batches().map_err(bad_input)?;
    }
    if options.effective_batch(problem.samples()).is_none() {
        let started = std::time::Instant::now();
        // One evaluation per iteration (more with a line search).
        let evaluations = options
            .stop
            .max_iter
            .or(options.stop.max_epochs)
            .map(|n| if options.line_search.is_some() { 2 * n } else { n } + 1);
        let hoisted = problem.hoist_for(evaluations).map_err(bad_input)?;
        if args.verbose {
            eprintln!(
                "{} (in {:.3} s)",
                describe_hoisting(&hoisted),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let w0 = start(&problem, &args.init)?;
    // A loss that cannot be evaluated where the run starts is a fault of the data or
    // the starting point (exit 2); later it is a failure of the fit (exit 1).
    problem.loss(&w0, Batch::All).map_err(|e| {
        Failure::BadInput(format!(
            "the loss cannot be evaluated at the starting point: {e}"
        ))
    })?;

    let mut observer = Progress {
        history: History::new(),
        bar: (!args.quiet && std::io::stderr().is_terminal()).then(|| progress_bar(&options)),
        by_epoch: options.stop.max_epochs.is_some(),
    };
    let result = optim::minimize(&mut problem, &w0, &options, &mut observer);
    if let Some(bar) = &observer.bar {
        bar.finish_and_clear();
    }
    // The history and the plot are written even for a diverged run: they show how.
    if let Some(path) = &args.history {
        observer
            .history
            .write_csv(path)
            .map_err(|e| Failure::BadInput(format!("cannot write `{}`: {e}", path.display())))?;
    }
    if let (Some(path), Some(format)) = (&args.plot, plot_format) {
        plot(&observer.history, path, format).map_err(|e| {
            Failure::BadInput(format!("cannot draw the plot `{}`: {e}", path.display()))
        })?;
    }
    let outcome = result.map_err(|e| optim_failure(e, &problem))?;
    if !args.quiet && !outcome.stop.converged() {
        eprintln!(
            "note: no tolerance was met ({}); raise --epochs/--max-iter or loosen --tol-grad, --tol-step or --tol-loss",
            outcome.stop.description()
        );
    }
    print!("{}", render(&problem, &outcome, args.json));
    Ok(())
}

/// The optimiser's options from the command line.
fn options(args: &Args) -> Options {
    let method = match args.method {
        MethodArg::Gd => Method::Gd,
        MethodArg::Sgd => Method::Sgd,
        MethodArg::Minibatch => Method::MiniBatch {
            batch: args.batch.unwrap_or(DEFAULT_BATCH),
        },
        MethodArg::Momentum => Method::MOMENTUM,
        MethodArg::Nesterov => Method::NESTEROV,
        MethodArg::Adam => Method::ADAM,
    };
    // Mini-batch descent takes its batch in the method; the others reject a batch
    // option (gd, sgd) or become stochastic with it (momentum, nesterov, adam).
    let batch = match args.method {
        MethodArg::Minibatch => None,
        _ => args.batch,
    };
    let schedule = match args.schedule {
        ScheduleArg::Constant => Schedule::Constant,
        ScheduleArg::Invscaling => Schedule::InvScaling { power: 0.25 },
        ScheduleArg::Step => Schedule::Step {
            every: 10,
            factor: 0.5,
        },
        ScheduleArg::Adaptive => Schedule::Adaptive,
    };
    let any_tolerance =
        args.tol_step.is_some() || args.tol_loss.is_some() || args.tol_grad.is_some();
    let defaults = StopRules::default();
    let stop = StopRules {
        tol_step: args.tol_step,
        tol_loss: args.tol_loss,
        tol_grad: if any_tolerance {
            args.tol_grad
        } else {
            defaults.tol_grad
        },
        max_iter: args.max_iter,
        max_epochs: match (args.epochs, args.max_iter) {
            (Some(e), _) => Some(e),
            (None, Some(_)) => None,
            (None, None) => defaults.max_epochs,
        },
        ..defaults
    };
    Options {
        method,
        lr: args.lr,
        batch,
        schedule,
        sampling: match args.sampling {
            SamplingArg::Replace => Sampling::Replace,
            SamplingArg::Shuffle => Sampling::Shuffle,
        },
        line_search: args.line_search.then(optim::LineSearch::default),
        stop,
        seed: args.seed,
        ..Options::default()
    }
}

/// The `--verbose` note on hoisting.
fn describe_hoisting(hoisted: &Hoisted) -> String {
    if hoisted.values.is_empty() {
        return format!(
            "hoisted: nothing (computing loop invariants once would not pay off in this run; {:.2e} flops per evaluation)",
            hoisted.flops_before as f64
        );
    }
    format!(
        "hoisted, computed once before the loop: {}; {:.2e} → {:.2e} flops per evaluation",
        hoisted.values.join(", "),
        hoisted.flops_before as f64,
        hoisted.flops_after as f64
    )
}

/// Reads every `--data NAME=FILE`.
pub(crate) fn load_data(specs: &[String]) -> Result<Vec<(String, Mat<f64>)>> {
    specs
        .iter()
        .map(|spec| {
            let (name, file) = spec
                .split_once('=')
                .filter(|(name, file)| !name.is_empty() && !file.is_empty())
                .ok_or_else(|| {
                    Failure::BadInput(format!(
                        "--data `{spec}` is not NAME=FILE — write e.g. --data X=X.csv"
                    ))
                })?;
            let value = matdiff_num::data::load_matrix(file)
                .map_err(|e| Failure::BadInput(e.to_string()))?;
            Ok((name.trim().to_owned(), value))
        })
        .collect()
}

/// The starting point: zeros, or the value in a JSON file (a bare value, or an object
/// with the variable's name as key).
fn start(problem: &Problem, init: &str) -> Result<Vec<f64>> {
    if init == "zeros" {
        return Ok(problem.zeros());
    }
    let text = std::fs::read_to_string(init)
        .map_err(|e| Failure::BadInput(format!("cannot read `{init}`: {e}")))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure::BadInput(format!("{init}: not valid JSON: {e}")))?;
    let name = problem.variable().to_owned();
    let object = if json.is_object() {
        json
    } else {
        json!({ name.clone(): json })
    };
    let inputs = Inputs::from_json(&object.to_string(), problem.graph())
        .map_err(|e| Failure::BadInput(format!("{init}: {e}")))?;
    let sym = problem
        .graph()
        .variable_named(&name)
        .map(|v| v.name)
        .expect("the problem's variable is in its graph");
    let value = inputs
        .get(sym)
        .ok_or_else(|| Failure::BadInput(format!("{init}: no value for `{name}` — give one")))?;
    problem
        .flatten(value)
        .map_err(|e| Failure::BadInput(format!("{init}: {e}")).into())
}

pub(crate) fn bad_input(error: ProblemError) -> anyhow::Error {
    if error.is_input_error() {
        Failure::BadInput(error.to_string()).into()
    } else {
        Failure::Failed(error.to_string()).into()
    }
}

/// The exit code and message of a failed run: 1 when the fit failed, 2 when the
/// options or the data were at fault.
fn optim_failure(error: OptimError, problem: &Problem) -> anyhow::Error {
    let location = problem
        .non_finite()
        .map(|at| format!(" ({at})"))
        .unwrap_or_default();
    match error {
        OptimError::Diverged { .. } => Failure::Failed(format!("{error}{location}")).into(),
        OptimError::NonFiniteStart { .. } => Failure::BadInput(format!("{error}{location}")).into(),
        OptimError::Objective {
            iteration,
            ref source,
        } => {
            let input = source
                .inner()
                .downcast_ref::<ProblemError>()
                .is_some_and(ProblemError::is_input_error);
            let message = format!("evaluating the loss failed at iteration {iteration}: {source}");
            if input {
                Failure::BadInput(message).into()
            } else {
                Failure::Failed(message).into()
            }
        }
        OptimError::InvalidOption { .. }
        | OptimError::DimensionMismatch { .. }
        | OptimError::NoSamples => Failure::BadInput(error.to_string()).into(),
    }
}

/// The report on stdout.
fn render(problem: &Problem, outcome: &Outcome, json: bool) -> String {
    let solution = problem.value(&outcome.w).to_json();
    if json {
        let value = json!({
            "variable": problem.variable(),
            "solution": solution,
            "loss": outcome.loss,
            "gradient_norm": outcome.gradient_norm,
            "iterations": outcome.iterations,
            "epochs": outcome.epochs,
            "seconds": outcome.seconds,
            "stop": outcome.stop.name(),
            "stop_description": outcome.stop.description(),
            "converged": outcome.stop.converged(),
        });
        return format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    }
    format!(
        "stopped: {}\nloss: {}\ngradient norm: {}\niterations: {}\nepochs: {}\nseconds: {:.3}\n{} = {}\n",
        outcome.stop.description(),
        outcome.loss,
        outcome.gradient_norm,
        outcome.iterations,
        outcome.epochs,
        outcome.seconds,
        problem.variable(),
        solution,
    )
}

/// Keeps the history and moves the progress bar.
struct Progress {
    history: History,
    bar: Option<ProgressBar>,
    /// Whether the bar counts epochs (else iterations).
    by_epoch: bool,
}

impl Observer for Progress {
    fn record(&mut self, record: &Record<'_>) {
        self.history.record(record);
        if let (Some(bar), Scope::Epoch) = (&self.bar, record.scope) {
            let position = if self.by_epoch {
                record.epoch
            } else {
                record.iteration
            };
            bar.set_position(position as u64);
            bar.set_message(format!("loss {:.6e}", record.loss));
        }
    }
}

fn progress_bar(options: &Options) -> ProgressBar {
    let (length, unit) = match (options.stop.max_epochs, options.stop.max_iter) {
        (Some(epochs), _) => (epochs, "epochs"),
        (None, Some(iterations)) => (iterations, "iterations"),
        (None, None) => (0, "epochs"),
    };
    let bar = ProgressBar::new(length as u64);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit}  {{msg}}  {{elapsed}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// Image formats of `--plot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PlotFormat {
    Png,
    Svg,
}

fn plot_format(path: &Path) -> Result<PlotFormat> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => Ok(PlotFormat::Png),
        Some("svg") => Ok(PlotFormat::Svg),
        _ => Err(Failure::BadInput(format!(
            "--plot `{}`: use a .png or .svg file",
            path.display()
        ))
        .into()),
    }
}

/// Plot size in pixels.
const PLOT_SIZE: (u32, u32) = (1000, 600);

/// Draws the full loss against the iteration: on a log scale when every loss is
/// positive, else on a linear one.
fn plot(history: &History, path: &Path, format: PlotFormat) -> Result<(), String> {
    let points: Vec<(f64, f64)> = history
        .records
        .iter()
        .filter(|r| r.loss.is_finite())
        .map(|r| (r.iteration as f64, r.loss))
        .collect();
    match format {
        PlotFormat::Png => {
            let root = BitMapBackend::new(path, PLOT_SIZE).into_drawing_area();
            draw(&root, &points)?;
            root.present().map_err(|e| e.to_string())
        }
        PlotFormat::Svg => {
            let root = SVGBackend::new(path, PLOT_SIZE).into_drawing_area();
            draw(&root, &points)?;
            root.present().map_err(|e| e.to_string())
        }
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    points: &[(f64, f64)],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let x_max = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let (lo, hi) = points
        .iter()
        .map(|p| p.1)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (1.0, 1.0) };
    let mut builder = ChartBuilder::on(root);
    builder
        .caption("loss", ("sans-serif", 28))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(90);
    let line = LineSeries::new(points.iter().copied(), BLUE.stroke_width(2));
    if lo > 0.0 {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo / 2.0, hi * 2.0)
        };
        let mut chart = builder
            .build_cartesian_2d(0.0..x_max, (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("loss (log scale)")
            .draw()
            .map_err(err)?;
        chart.draw_series(line).map_err(err)?;
    } else {
        let pad = ((hi - lo) * 0.05).max(1e-12);
        let mut chart = builder
            .build_cartesian_2d(0.0..x_max, (lo - pad)..(hi + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("loss")
            .draw()
            .map_err(err)?;
        chart.draw_series(line).map_err(err)?;
    }
    Ok(())
}
