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
//! `{"solution": …, "loss": …, "grad_norm": …, "iterations": …, "epochs": …,
//! "stop_reason": "grad_norm", "seconds": …, "variable": "w", "converged": true,
//! "stop_description": "…"}` where `solution` is the JSON value encoding of DESIGN.md
//! §3 (a number, a flat list for a vector, a list of rows for a matrix) and
//! `stop_reason` names the criterion that fired: `grad_norm`, `step_norm`,
//! `loss_change` (a tolerance was met), `max_iter`, `epochs` (a limit was reached),
//! `no_improvement` or `line_search_failed`.
//!
//! With `--lr-sweep η₁,η₂,…` the same problem runs at every rate and stdout gets a
//! table (or, with `--json`, `{"runs": […]}`) while `--plot` shows every loss curve;
//! see [`sweep`].

mod plot;
mod stream;
mod sweep;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use faer::Mat;
use indicatif::{ProgressBar, ProgressStyle};
use matdiff_core::{Graph, Kind};
use matdiff_fit::optim::{
    self, Batch, History, Method, Objective, Observer, OptimError, Options, Outcome, Record,
    Sampling, Schedule, Scope, StopRules,
};
use matdiff_fit::problem::{Hoisted, Problem, ProblemError};
use matdiff_num::Inputs;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use self::plot::{plot_format, Curve};

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
--epochs, --n-iter-no-change); with no tolerance given, --tol-grad 1e-6 applies, and with
neither --max-iter nor --epochs, 1000 epochs. For stochastic methods the rules look at the
full loss after each epoch.

A dimension name used as a scalar is the batch size on a batch: `1/N*norm2(X*w - y)^2`
is the batch mean squared error.

Output: the rule that stopped the run, the final loss, the gradient norm, iterations,
epochs, seconds and the solution. --json prints {\"solution\", \"loss\", \"grad_norm\",
\"iterations\", \"epochs\", \"stop_reason\", \"seconds\", \"variable\", \"converged\",
\"stop_description\"}; stop_reason is one of grad_norm, step_norm, loss_change, max_iter,
epochs, no_improvement, line_search_failed. Exit 1 when the run diverges, 2 on bad input.

A linear model's loss (a sum over samples of a function of X*w, like least squares or
logistic regression) runs SGD and mini-batch steps row by row. --chunk-rows K shuffles
within chunks of K consecutive samples; --stream reads .npy (C order) and CSV data
chunk by chunk, in memory bounded by K, and reports the peak memory (peak_rss_bytes).

--lr-sweep 1e-4,1e-3,1e-2,1e-1 runs the same problem (same start, same seed) at each
rate, draws every loss curve on the --plot chart and prints a table of the final loss,
iterations and stop reason per rate; a rate that diverges is marked, not an error.")]
pub struct Args {
    /// The loss (a scalar expression), or `@file` with declarations and the expression.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// The variable to optimise.
    #[arg(long, value_name = "NAME")]
    pub wrt: String,
    /// Declarations, separated by `;` or `,`: `X: matrix(N, d); w: vector(d)`.
    #[arg(long = "let", value_name = "DECLS")]
    pub decls: Option<String>,
    /// Data for a variable: a CSV with a header row (one column → vector), a .npy file,
    /// or a .json file with the value (number, flat list or list of rows).
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
    /// Run once per learning rate (comma-separated) and draw all loss curves on --plot.
    #[arg(
        long,
        value_name = "η,η,…",
        requires = "plot",
        conflicts_with_all = ["lr", "line_search", "history"]
    )]
    pub lr_sweep: Option<String>,
    /// Samples per step (minibatch: default 32; momentum, nesterov, adam: full batch when unset).
    #[arg(long, value_name = "B")]
    pub batch: Option<usize>,
    /// How η changes during the run.
    #[arg(long, value_enum, default_value_t = ScheduleArg::Constant)]
    pub schedule: ScheduleArg,
    /// How stochastic methods draw samples.
    #[arg(long, value_enum, default_value_t = SamplingArg::Shuffle)]
    pub sampling: SamplingArg,
    /// Shuffle within chunks of K consecutive samples: each epoch visits the chunks in a
    /// random order and the samples of a chunk in a random order (sgd, minibatch and
    /// --batch; with --sampling shuffle). Reads memory far less at random.
    #[arg(long, value_name = "K")]
    pub chunk_rows: Option<usize>,
    /// Read the data files (.npy in C order, or CSV) chunk by chunk instead of loading
    /// them whole, so memory is bounded by --chunk-rows (default 16384), not by the
    /// data. Needs a linear model's loss (a sum over samples of a function of X*w);
    /// stochastic methods then shuffle within chunks.
    #[arg(long, conflicts_with_all = ["lr_sweep"])]
    pub stream: bool,
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
    /// Stop when the loss has not fallen by 1e-4 below its best for K epochs.
    #[arg(long, value_name = "K")]
    pub n_iter_no_change: Option<usize>,
    /// Seed of the random number generator (sampling and --init random).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Starting point: `zeros`; `random` (normal entries of standard deviation 0.01,
    /// drawn with --seed); or a JSON file with the value (or an object naming it).
    #[arg(long, value_name = "zeros|random|FILE.json", default_value = "zeros")]
    pub init: String,
    /// Write iteration, epoch, loss, grad_norm, step_norm, lr and seconds after every
    /// epoch as CSV.
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

/// Rows per chunk of --stream when --chunk-rows is not given.
const DEFAULT_CHUNK_ROWS: usize = 16_384;

/// Runs `matdiff minimize`.
pub fn run(args: Args) -> Result<()> {
    let plot_format = args.plot.as_deref().map(plot_format).transpose()?;
    let rates = args
        .lr_sweep
        .as_deref()
        .map(sweep::parse_rates)
        .transpose()?;
    let (_sources, function) = load_function(&args.expr, args.decls.as_deref())?;
    if args.stream {
        return stream::run(&args, function);
    }
    let data = load_data(&args.data, &function.graph)?;
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
        // Batches of a linear model's loss run row by row on a row-major copy of the
        // data, made here, before the clock of the run starts, like loading.
        let started = std::time::Instant::now();
        if problem.prepare_rows() && args.verbose {
            if let Some(form) = problem.linear_form() {
                eprintln!(
                    "row kernel: per-sample loss {}, slope {}{} (data copied row by row in {:.3} s)",
                    form.texts.sample,
                    form.texts.slope,
                    form.texts
                        .penalty
                        .as_ref()
                        .map(|p| format!(", penalty per coefficient {p}"))
                        .unwrap_or_default(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
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
    let w0 = start(&problem, &args.init, args.seed)?;
    // A loss that cannot be evaluated where the run starts is a fault of the data or
    // the starting point (exit 2); later it is a failure of the fit (exit 1).
    problem.loss(&w0, Batch::All).map_err(|e| {
        Failure::BadInput(format!(
            "the loss cannot be evaluated at the starting point: {e}"
        ))
    })?;

    if let (Some(rates), Some(path), Some(format)) = (rates, &args.plot, plot_format) {
        let report = sweep::Report {
            plot: path,
            format,
            json: args.json,
            quiet: args.quiet,
        };
        print!(
            "{}",
            sweep::sweep(&mut problem, &w0, &options, rates, &report)?
        );
        return Ok(());
    }
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
    write_history_and_plot(&args, &observer.history)?;
    let outcome = result.map_err(|e| optim_failure(e, &problem))?;
    if !args.quiet && !outcome.stop.converged() {
        eprintln!(
            "note: no tolerance was met ({}); raise --epochs/--max-iter or loosen --tol-grad, --tol-step or --tol-loss",
            outcome.stop.description()
        );
    }
    let solution = problem.value(&outcome.w).to_json();
    print!(
        "{}",
        render(problem.variable(), solution, &outcome, args.json, None)
    );
    Ok(())
}

/// Writes `--history` and draws `--plot`, when asked for.
fn write_history_and_plot(args: &Args, history: &History) -> Result<()> {
    if let Some(path) = &args.history {
        history
            .write_csv(path)
            .map_err(|e| Failure::BadInput(format!("cannot write `{}`: {e}", path.display())))?;
    }
    let plot_format = args.plot.as_deref().map(plot_format).transpose()?;
    if let (Some(path), Some(format)) = (&args.plot, plot_format) {
        let curve = Curve {
            label: None,
            points: history
                .records
                .iter()
                .filter(|r| r.loss.is_finite())
                .map(|r| (r.iteration as f64, r.loss))
                .collect(),
        };
        plot::plot(&[curve], path, format).map_err(|e| {
            Failure::BadInput(format!("cannot draw the plot `{}`: {e}", path.display()))
        })?;
    }
    Ok(())
}

/// The optimiser's options from the command line.
pub(crate) fn options(args: &Args) -> Options {
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
        n_iter_no_change: args.n_iter_no_change,
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
        sampling: match (args.sampling, args.chunk_rows) {
            (SamplingArg::Replace, _) => Sampling::Replace,
            (SamplingArg::Shuffle, None) if args.stream => Sampling::Chunks {
                rows: DEFAULT_CHUNK_ROWS,
            },
            (SamplingArg::Shuffle, None) => Sampling::Shuffle,
            (SamplingArg::Shuffle, Some(rows)) => Sampling::Chunks { rows },
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

/// Reads every `--data NAME=FILE`: CSV and `.npy` by the data loader, JSON as the value
/// encoding of DESIGN.md §3 (fitted to the variable's declaration as `eval --at` does).
pub(crate) fn load_data(specs: &[String], graph: &Graph) -> Result<Vec<(String, Mat<f64>)>> {
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
            let name = name.trim();
            let earlier = specs
                .iter()
                .take_while(|s| !std::ptr::eq(*s, spec))
                .any(|s| s.split_once('=').is_some_and(|(n, _)| n.trim() == name));
            if earlier {
                return Err(Failure::BadInput(format!(
                    "--data {spec}: `{name}` is already given by an earlier --data — give each variable once"
                ))
                .into());
            }
            let is_json = std::path::Path::new(file)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let value = if is_json {
                read_json_value(file, name, graph)?
            } else {
                crate::input::load_matrix(file).map_err(|e| Failure::BadInput(e.to_string()))?
            };
            Ok((name.to_owned(), value))
        })
        .collect()
}

/// The starting point: zeros, small random normal entries (seeded), or the value in a
/// JSON file (a bare value, or an object with the variable's name as key).
pub(crate) fn start(problem: &Problem, init: &str, seed: u64) -> Result<Vec<f64>> {
    match init {
        "zeros" => Ok(problem.zeros()),
        "random" => Ok(random_start(problem, seed)),
        file if !std::path::Path::new(file).exists() => Err(Failure::BadInput(format!(
            "--init `{file}`: no such file — use zeros, random or a JSON file with the value"
        ))
        .into()),
        file => {
            let value = read_json_value(file, problem.variable(), problem.graph())?;
            problem
                .flatten(&value)
                .map_err(|e| Failure::BadInput(format!("{file}: {e}")).into())
        }
    }
}

/// Standard deviation of the entries of `--init random`.
const INIT_SCALE: f64 = 0.01;

/// The ChaCha stream of `--init random`, apart from the stream the optimiser samples
/// batches from with the same seed.
const INIT_STREAM: u64 = 1;

/// Entries drawn from `N(0, INIT_SCALE²)`, honouring the variable's kind: symmetric for
/// `symmetric`, and `I + (B + B')/2` for `spd` so that the start is positive definite.
fn random_start(problem: &Problem, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(INIT_STREAM);
    let (rows, cols) = problem.shape();
    let b = Mat::from_fn(rows, cols, |_, _| INIT_SCALE * standard_normal(&mut rng));
    let kind = problem
        .graph()
        .variable_named(problem.variable())
        .map(|v| v.kind);
    let value = match kind {
        Some(kind) if kind.is_symmetric() && rows == cols => {
            let shift = if kind == Kind::Spd { 1.0 } else { 0.0 };
            Mat::from_fn(rows, cols, |i, j| {
                (b[(i, j)] + b[(j, i)]) / 2.0 + if i == j { shift } else { 0.0 }
            })
        }
        _ => b,
    };
    (0..cols)
        .flat_map(|j| value.col_as_slice(j).to_vec())
        .collect()
}

/// A standard normal draw by the Box–Muller transform.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    // `1 − u` lies in (0, 1], so the logarithm is finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// The value in a JSON file, for the variable `name` of `graph`: a number, a flat list
/// or a list of rows, or an object with `name` as a key (other keys are ignored).
fn read_json_value(file: &str, name: &str, graph: &Graph) -> Result<Mat<f64>> {
    let sym = graph.variable_named(name).map(|v| v.name).ok_or_else(|| {
        Failure::BadInput(format!(
            "{file}: `{name}` is not a variable of the expression"
        ))
    })?;
    let text =
        crate::input::read_text(file, crate::input::JSON_FILE_MAX_BYTES, "a JSON value file")?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        // serde_json ends its message with the position, which leads ours instead.
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or_default();
        Failure::BadInput(format!(
            "{file}:{}:{}: not valid JSON: {message}",
            e.line(),
            e.column().max(1)
        ))
    })?;
    let value = match json {
        serde_json::Value::Object(mut object) => object.remove(name).ok_or_else(|| {
            Failure::BadInput(format!(
                "{file}: no value for `{name}` — give the value itself or an object with the key `{name}`"
            ))
        })?,
        value => value,
    };
    let inputs = Inputs::from_json(&json!({ name: value }).to_string(), graph)
        .map_err(|e| Failure::BadInput(format!("{file}: {e}")))?;
    inputs.get(sym).cloned().ok_or_else(|| {
        Failure::BadInput(format!("{file}: no value for `{name}` — give one")).into()
    })
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
    optim_failure_at(error, problem.non_finite())
}

/// [`optim_failure`] for any objective, with where a value turned non-finite.
pub(crate) fn optim_failure_at(error: OptimError, non_finite: Option<&str>) -> anyhow::Error {
    let location = non_finite.map(|at| format!(" ({at})")).unwrap_or_default();
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
fn render(
    variable: &str,
    solution: serde_json::Value,
    outcome: &Outcome,
    json: bool,
    peak_rss_bytes: Option<u64>,
) -> String {
    if json {
        let mut value = json!({
            "solution": solution,
            "loss": outcome.loss,
            "grad_norm": outcome.gradient_norm,
            "iterations": outcome.iterations,
            "epochs": outcome.epochs,
            "stop_reason": outcome.stop.name(),
            "seconds": outcome.seconds,
            "variable": variable,
            "converged": outcome.stop.converged(),
            "stop_description": outcome.stop.description(),
        });
        if let (Some(peak), Some(object)) = (peak_rss_bytes, value.as_object_mut()) {
            object.insert("peak_rss_bytes".to_owned(), json!(peak));
        }
        return format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    }
    let peak = peak_rss_bytes
        .map(|b| format!("peak memory: {:.1} MB\n", b as f64 / 1e6))
        .unwrap_or_default();
    format!(
        "stopped: {}\nloss: {}\ngradient norm: {}\niterations: {}\nepochs: {}\nseconds: {:.3}\n{peak}{} = {}\n",
        outcome.stop.description(),
        outcome.loss,
        outcome.gradient_norm,
        outcome.iterations,
        outcome.epochs,
        outcome.seconds,
        variable,
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
            bar.set_message(format!(
                "iteration {}  loss {:.6e}  grad norm {:.3e}",
                record.iteration, record.loss, record.grad_norm
            ));
        }
    }

    fn wants_steps(&self) -> bool {
        // The bar moves per epoch; only the history might keep steps.
        self.history.wants_steps()
    }
}

fn progress_bar(options: &Options) -> ProgressBar {
    let (length, unit) = match (options.stop.max_epochs, options.stop.max_iter) {
        (Some(epochs), _) => (epochs, "epochs"),
        (None, Some(iterations)) => (iterations, "iterations"),
        (None, None) => (0, "epochs"),
    };
    let bar = ProgressBar::new(length as u64);
    let template = format!("{{prefix}}{{bar:40}} {{pos}}/{{len}} {unit}  {{msg}}  {{elapsed}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}
