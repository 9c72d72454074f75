//! `matdiff minimize`: minimise a scalar expression over one variable on data, with
//! gradient descent, SGD, mini-batch descent, momentum, Nesterov or Adam.
//!
//! Output on stdout, as text:
//!
//! ```text
//! stopped: the gradient norm ‖∇f(w)‖ fell below --tol-grad
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
//! "stop_description": "…", "epoch_loss": "exact"}` where `solution` is the JSON value encoding
//! (a number, a flat list for a vector, a list of rows for a matrix) and
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
use matdiff::data::Stored;
use matdiff::distributed::LocalSgd;
use matdiff::fit::{
    self, Data, FitError, FitObjective, FitSpec, History, Observer, OptimError, Options, Outcome,
    PreparedFit, Problem, ProblemError, Record, Scope, Start, StopSpec,
};
use matdiff::{
    EpochLoss, Function, Method as MethodKind, Sampling as SamplingKind, Schedule as ScheduleKind,
};
use serde_json::json;

use self::plot::{plot_format, Curve};

use super::ranks::Ranks;
use crate::input::load;
use crate::report::{short, stopped, Failure};

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

/// What the loss after each epoch of a stochastic method is.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EpochLossArg {
    /// Exact when a stop rule (--tol-grad, --tol-loss, --n-iter-no-change, the adaptive
    /// schedule), --history or --plot looks at it; else the running average.
    #[default]
    Auto,
    /// The full loss and gradient after every epoch (one more pass over the data).
    Exact,
    /// The mean of the epoch's batch losses, as scikit-learn reports (no extra pass).
    Running,
}

/// Arguments of `matdiff minimize`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Stopping: any rule given stops the run (--tol-step, --tol-loss, --tol-grad, --max-iter,
--epochs, --n-iter-no-change); with no tolerance given, --tol-grad 1e-6 applies, and with
neither --max-iter nor --epochs, 1000 epochs. A tolerance of 0 turns its rule off. For
stochastic methods the rules look at the loss after each epoch: the full loss where a
rule, --history or --plot needs it, else the running average of the epoch's batch
losses (--epoch-loss; the final loss and gradient norm are always exact).

A dimension name used as a scalar is the batch size on a batch: `1/N*norm2(X*w - y)^2`
is the batch mean squared error.

Output: the rule that stopped the run, the final loss, the gradient norm, iterations,
epochs, seconds and the solution. --json prints {\"solution\", \"loss\", \"grad_norm\",
\"iterations\", \"epochs\", \"stop_reason\", \"seconds\", \"variable\", \"converged\",
\"stop_description\", \"epoch_loss\"}; stop_reason is one of grad_norm, step_norm,
loss_change, max_iter, epochs, no_improvement, line_search_failed; epoch_loss is exact or
running; with --intercept, \"intercept\" holds b. Exit 1 when the run diverges, 2 on
bad input.

A linear model's loss (a sum over samples of a function of X*w, like least squares or
logistic regression) runs SGD and mini-batch steps row by row, in place; --threads K runs
SGD on K threads at once (Hogwild!, not bit-reproducible); --intercept fits an intercept b
in X*w + b without building a column of ones. --chunk-rows K shuffles
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
    /// Fit across the MPI ranks of `mpirun -n K matdiff minimize … --distributed`: each
    /// rank maps only its rows of the .npy data spanning the sample dimension (or reads
    /// its own file, `--data 'X=X.{rank}.npy'`; with --stream, chunk by chunk), every
    /// loss and gradient is summed over the ranks in rank order, and rank 0 reports
    /// (docs/distributed.md). A batch of B ≥ 2 samples takes B/K from each rank's rows;
    /// SGD draws its one sample from all rows. A linear model's loss, as for --stream.
    /// Needs a build with `--features mpi`.
    #[arg(long)]
    pub distributed: bool,
    /// Local SGD under --distributed (--method sgd, with --epochs): each rank steps on
    /// its own rows, and the ranks average their parameters every S steps, instead of
    /// one global step per sample that every rank waits for.
    #[arg(long, value_name = "S")]
    pub sync_every: Option<usize>,
    /// Choose η by Armijo backtracking (full-batch methods, constant schedule).
    #[arg(long)]
    pub line_search: bool,
    /// Stop when ‖w_new − w_old‖ < ε (0: never).
    #[arg(long, value_name = "ε")]
    pub tol_step: Option<f64>,
    /// Stop when |Q_new − Q_old| < ε (0: never).
    #[arg(long, value_name = "ε")]
    pub tol_loss: Option<f64>,
    /// Stop when ‖∇Q(w)‖ < ε (0: never).
    #[arg(long, value_name = "ε")]
    pub tol_grad: Option<f64>,
    /// The loss after each epoch of sgd and mini-batch runs: the exact full loss, or
    /// the running average of the epoch's batch losses (no extra pass over the data).
    #[arg(long, value_enum, default_value_t = EpochLossArg::Auto)]
    pub epoch_loss: EpochLossArg,
    /// SGD on K threads at once, lock-free (Hogwild!): faster on several cores, but
    /// steps may overwrite each other, so reruns differ in the last bits. Without it,
    /// one thread and the same bits on every run.
    #[arg(long, value_name = "K")]
    pub threads: Option<usize>,
    /// Fit an intercept b with the variable of a linear model's loss: the predictor
    /// X*w becomes X*w + b, as if X had a last column of ones, which is never built;
    /// a penalty leaves b out. Data loaded whole only; a saved model has no place for
    /// b yet, so not with --save.
    #[arg(long, conflicts_with = "save")]
    pub intercept: bool,
    /// Stop after K updates of the variable.
    #[arg(long, value_name = "K")]
    pub max_iter: Option<usize>,
    /// Stop after E passes over the data.
    #[arg(long, value_name = "E")]
    pub epochs: Option<usize>,
    /// Stop when the loss has not fallen by --min-improvement below its best for K epochs.
    #[arg(long, value_name = "K")]
    pub n_iter_no_change: Option<usize>,
    /// The fall below the best loss that counts as an improvement for
    /// --n-iter-no-change [default: 1e-4].
    #[arg(long, value_name = "δ", requires = "n_iter_no_change")]
    pub min_improvement: Option<f64>,
    /// Seed of the random number generator (sampling and --init random).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Starting point: `zeros`; `random` (normal entries of standard deviation 0.01,
    /// drawn with --seed); or the value as JSON (bare, or an object naming it), inline
    /// or `@FILE`.
    #[arg(
        long,
        value_name = "zeros|random|JSON|@FILE",
        default_value = "zeros",
        allow_hyphen_values = true
    )]
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
    #[arg(short, long)]
    pub quiet: bool,
    /// Say on stderr which loop invariants full-batch methods compute once.
    #[arg(short, long)]
    pub verbose: bool,
    /// Write the fit as JSON (the loss, its declarations, the variable's value and the
    /// data's shapes), for `matdiff predict --expr`.
    #[arg(long, value_name = "FILE.json", conflicts_with = "lr_sweep")]
    pub save: Option<PathBuf>,
}

/// Runs `matdiff minimize`: fills the library's description of the fit from the
/// flags, runs it with a progress bar, and prints the report.
pub fn run(args: Args) -> Result<()> {
    // A picture that cannot be drawn is refused before the run.
    if let Some(path) = &args.plot {
        plot_format(path)?;
    }
    let rates = args
        .lr_sweep
        .as_deref()
        .map(sweep::parse_rates)
        .transpose()?;
    if args.stream && crate::input::csv_header() == matdiff::data::CsvHeader::Absent {
        return Err(Failure::BadInput(
            "--stream reads CSV files with a header row only — add one (names for the columns), or drop --no-header and --stream".to_owned(),
        )
        .into());
    }
    let function = load(&args.expr, args.decls.as_deref())?;
    let spec = spec(&args, &function)?;
    let init_file = matches!(spec.start, Start::Value(_)).then_some(args.init.as_str());
    let ranks = start_ranks(&args)?;
    let mut fit = match &ranks {
        Some(ranks) => prepare_on_ranks(ranks, &function, &spec)
            .map_err(|e| ranks.tell(fit_failure(&e, init_file), is_local(&e, ranks)))?,
        None => fit::prepare(&function, &spec).map_err(|e| fit_failure(&e, init_file))?,
    };
    // Every rank of a distributed run takes the same steps; rank 0 alone reports.
    let reports = ranks.as_ref().is_none_or(Ranks::reports);
    if args.verbose {
        for note in &fit.notes {
            eprintln!("{note}");
        }
    }
    if let (Some(rates), Some(path)) = (rates, &args.plot) {
        let report = sweep::Report {
            plot: path,
            json: args.json,
            quiet: args.quiet,
        };
        print!("{}", sweep::sweep(&mut fit, rates, &report)?);
        return Ok(());
    }
    let mut observer = Progress {
        history: History::new(),
        keeps_losses: args.history.is_some() || args.plot.is_some(),
        bar: (reports && !args.quiet && std::io::stderr().is_terminal())
            .then(|| progress_bar(&fit.options)),
        by_epoch: fit.options.stop.max_epochs.is_some(),
    };
    let result = match (args.sync_every, &mut fit.objective) {
        (Some(sync_every), FitObjective::Distributed(problem)) => {
            let run = LocalSgd {
                lr: spec.lr,
                epochs: args.epochs.unwrap_or(1),
                sync_every,
                seed: spec.seed,
                sampling: fit.options.sampling,
            };
            problem
                .local_sgd(&fit.start, &run)
                .map_err(|error| FitError::Run { error, at: None })
        }
        _ => fit.run(&mut observer),
    };
    if let Some(bar) = &observer.bar {
        observer.finish(bar, result.as_ref().ok());
    }
    if let Some(ranks) = ranks.as_ref().filter(|r| !r.reports()) {
        return result
            .map(|_| ())
            .map_err(|e| ranks.tell(fit_failure(&e, None), false));
    }
    // The history and the plot are written even for a diverged run: they show how.
    write_history_and_plot(&args, &observer.history)?;
    // Rank 0 tells a failed distributed run while the other ranks wait for it.
    let outcome = result.map_err(|e| match &ranks {
        Some(ranks) => ranks.tell(fit_failure(&e, None), false),
        None => fit_failure(&e, None),
    })?;
    if !args.quiet && !outcome.stop.converged() {
        eprintln!(
            "note: no tolerance was met ({}); raise --epochs/--max-iter or loosen --tol-grad, --tol-step or --tol-loss",
            stopped(outcome.stop, fit.variable())
        );
    }
    if let Some(path) = &args.save {
        save_model(
            &args,
            &spec,
            fit.variable(),
            &fit.unflatten(&outcome.w),
            path,
        )?;
    }
    let solution = fit.solution(&outcome.w).to_json();
    let peak = matches!(fit.objective, FitObjective::Streamed(_))
        .then(stream::peak_rss_bytes)
        .flatten();
    let fitted = Fitted {
        variable: fit.variable(),
        solution,
        intercept: fit.intercept(&outcome.w),
    };
    print!("{}", render(&fitted, &outcome, args.json, peak));
    Ok(())
}

/// The ranks when `--distributed` is given, with the options it cannot honour refused.
fn start_ranks(args: &Args) -> Result<Option<Ranks>> {
    if let Some(every) = args.sync_every {
        let refusal = if !args.distributed {
            Some("--sync-every averages the ranks of --distributed — add --distributed (and run under mpirun)")
        } else if args.method != MethodArg::Sgd {
            Some("--sync-every is local SGD — use --method sgd")
        } else if args.epochs.is_none() {
            Some("--sync-every runs a number of epochs — give --epochs")
        } else if every == 0 {
            Some("--sync-every 0: give the number of local steps between averagings, at least 1")
        } else {
            None
        };
        if let Some(message) = refusal {
            return Err(Failure::BadInput(message.to_owned()).into());
        }
    }
    if !args.distributed {
        return Ok(None);
    }
    let refusal = if args.lr_sweep.is_some() {
        Some("--lr-sweep is not distributed — sweep in one process")
    } else if args.save.is_some() {
        Some("--save is not distributed yet — fit in one process to save the model")
    } else {
        None
    };
    if let Some(message) = refusal {
        return Err(Failure::BadInput(message.to_owned()).into());
    }
    Ranks::start().map(Some)
}

/// The fit on this rank's rows of the data.
#[cfg(feature = "mpi")]
fn prepare_on_ranks(
    ranks: &Ranks,
    function: &Function,
    spec: &FitSpec,
) -> Result<PreparedFit, FitError> {
    fit::prepare_distributed(function, spec, ranks.peers())
}

#[cfg(not(feature = "mpi"))]
fn prepare_on_ranks(_: &Ranks, _: &Function, _: &FitSpec) -> Result<PreparedFit, FitError> {
    unreachable!("Ranks::start fails without MPI")
}

/// Whether a fit's error is about this rank alone (it could not read its rows).
fn is_local(error: &FitError, ranks: &Ranks) -> bool {
    matches!(error, FitError::Distributed(e) if e.is_local(ranks.rank()))
}

/// Writes `--save`: the library's model of the minimised loss at `solution`, with the
/// shapes of the data it was fitted on.
fn save_model(
    args: &Args,
    spec: &FitSpec,
    variable: &str,
    solution: &Mat<f64>,
    path: &std::path::Path,
) -> Result<()> {
    let loss = crate::input::load(&args.expr, args.decls.as_deref())?;
    let shapes = spec
        .data
        .iter()
        .map(|(name, data)| match data {
            Data::Memory(m) => Ok((name.as_str(), m.nrows(), m.ncols())),
            Data::File(file) => {
                let reader = matdiff::data::RowReader::open_with(file, 1, spec.csv_header)
                    .map_err(|e| Failure::BadInput(e.to_string()))?;
                Ok((name.as_str(), reader.rows(), reader.cols()))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    matdiff::model::Model::minimized(&loss, variable, solution.as_ref(), &shapes)
        .save(path)
        .map_err(crate::commands::predict::failure)
}

/// The library's description of the fit, from the flags.
fn spec(args: &Args, function: &Function) -> Result<FitSpec> {
    let start = match args.init.as_str() {
        "zeros" => Start::Zeros,
        "random" => Start::Random,
        point => Start::Value(read_point_value("--init", point, &args.wrt, function)?),
    };
    Ok(FitSpec {
        wrt: args.wrt.clone(),
        method: match args.method {
            MethodArg::Gd => MethodKind::Gd,
            MethodArg::Sgd => MethodKind::Sgd,
            MethodArg::Minibatch => MethodKind::MiniBatch,
            MethodArg::Momentum => MethodKind::Momentum,
            MethodArg::Nesterov => MethodKind::Nesterov,
            MethodArg::Adam => MethodKind::Adam,
        },
        lr: args.lr,
        batch: args.batch,
        schedule: match args.schedule {
            ScheduleArg::Constant => ScheduleKind::Constant,
            ScheduleArg::Invscaling => ScheduleKind::InvScaling,
            ScheduleArg::Step => ScheduleKind::Step,
            ScheduleArg::Adaptive => ScheduleKind::Adaptive,
        },
        sampling: match args.sampling {
            SamplingArg::Replace => SamplingKind::Replace,
            SamplingArg::Shuffle => SamplingKind::Shuffle,
        },
        chunk_rows: args.chunk_rows,
        line_search: args.line_search,
        stop: StopSpec {
            tol_step: args.tol_step,
            tol_loss: args.tol_loss,
            tol_grad: args.tol_grad,
            max_iter: args.max_iter,
            epochs: args.epochs,
            n_iter_no_change: args.n_iter_no_change,
            min_improvement: args.min_improvement,
        },
        seed: args.seed,
        epoch_loss: match args.epoch_loss {
            EpochLossArg::Auto => EpochLoss::Auto,
            EpochLossArg::Exact => EpochLoss::Exact,
            EpochLossArg::Running => EpochLoss::Running,
        },
        threads: args.threads,
        intercept: args.intercept,
        start,
        data: data_specs(&args.data, function)?,
        csv_header: crate::input::csv_header(),
        stream: args.stream,
        samples: args.samples.clone(),
    })
}

/// The message and exit code of a fit that could not be prepared or failed: the
/// library's message, with the flag to change where one applies.
fn fit_failure(error: &FitError, init_file: Option<&str>) -> anyhow::Error {
    let message = match (error, error.problem_error()) {
        (_, Some(ProblemError::MissingData { names })) => {
            let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!(
                "no data for {} — give each one with --data NAME=FILE",
                quoted.join(", ")
            )
        }
        (_, Some(ProblemError::NotBatchable { .. })) => format!("{error} with --samples"),
        (_, Some(ProblemError::StartShape { .. })) if init_file.is_some() => {
            format!("{}: {error}", init_file.unwrap_or_default())
        }
        (FitError::ReplaceWhileStreaming, _) => "--stream reads the data chunk by chunk, so batches are drawn chunk by chunk too — use --sampling shuffle (within chunks), not replace".to_owned(),
        (FitError::BatchExceedsChunk { batch, chunk }, _) => format!(
            "a batch of {batch} samples does not fit in a chunk of {chunk} rows — raise --chunk-rows to at least {batch}"
        ),
        (FitError::BatchBelowRanks { batch, ranks }, _) => format!(
            "a batch of {batch} samples cannot take a share from each of {ranks} ranks — use --batch {ranks} or more, --method sgd, or fewer ranks"
        ),
        (FitError::Options(OptimError::InvalidOption { option, reason }), _) => {
            format!("invalid {}: {reason}", crate::report::flag(option))
        }
        // The library's advice speaks of a learning rate and a line search; the
        // flags that set them follow.
        _ if error.is_divergence() => format!("{error} (--lr, --line-search)"),
        _ => error.to_string(),
    };
    if error.is_input_error() {
        Failure::BadInput(message).into()
    } else {
        Failure::Failed(message).into()
    }
}

/// Writes `--history` and draws `--plot`, when asked for.
fn write_history_and_plot(args: &Args, history: &History) -> Result<()> {
    if let Some(path) = &args.history {
        history
            .write_csv(path)
            .map_err(|e| Failure::BadInput(format!("cannot write `{}`: {e}", path.display())))?;
    }
    if let Some(path) = &args.plot {
        let curve = Curve {
            label: None,
            points: history
                .records
                .iter()
                .filter(|r| r.loss.is_finite())
                .map(|r| (r.iteration as f64, r.loss))
                .collect(),
        };
        plot::plot(&[curve], path).map_err(|e| {
            Failure::BadInput(format!("cannot draw the plot `{}`: {e}", path.display()))
        })?;
    }
    Ok(())
}

/// Reads every `--data NAME=FILE` whole: CSV and `.npy` by the data loader as stored (a
/// C-order `.npy` file read in place), JSON as the value encoding of values (fitted to
/// the variable's declaration as `eval --at` does).
pub(crate) fn load_data(specs: &[String], function: &Function) -> Result<Vec<(String, Stored)>> {
    specs
        .iter()
        .map(|spec| {
            let (name, file) = split_data_spec(spec)?;
            refuse_repeated(specs, spec, name)?;
            let value = if is_json(file) {
                read_json_value(file, name, function)?.into()
            } else {
                matdiff::data::load_matrix_stored(file, crate::input::csv_header())
                    .map_err(|e| Failure::BadInput(e.to_string()))?
            };
            Ok((name.to_owned(), value))
        })
        .collect()
}

/// Every `--data NAME=FILE` for the library: JSON files read here as values (a
/// number, a flat list or a list of rows), CSV and `.npy` files left to the library to load whole
/// or to stream.
fn data_specs(specs: &[String], function: &Function) -> Result<Vec<(String, Data)>> {
    specs
        .iter()
        .map(|spec| {
            let (name, file) = split_data_spec(spec)?;
            refuse_repeated(specs, spec, name)?;
            let value = if is_json(file) {
                Data::Memory(read_json_value(file, name, function)?.into())
            } else {
                Data::File(file.into())
            };
            Ok((name.to_owned(), value))
        })
        .collect()
}

/// A variable given by an earlier `--data` than `spec` is bad input.
fn refuse_repeated(specs: &[String], spec: &String, name: &str) -> Result<()> {
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
    Ok(())
}

fn split_data_spec(spec: &str) -> Result<(&str, &str)> {
    let (name, file) = spec
        .split_once('=')
        .filter(|(name, file)| !name.is_empty() && !file.is_empty())
        .ok_or_else(|| {
            Failure::BadInput(format!(
                "--data `{spec}` is not NAME=FILE — write e.g. --data X=X.csv"
            ))
        })?;
    Ok((name.trim(), file))
}

fn is_json(file: &str) -> bool {
    std::path::Path::new(file)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// The starting point of `matdiff plot`'s runs: zeros, the library's random start
/// (seeded), or the value in a JSON file (a bare value, or an object with the
/// variable's name as key).
pub(crate) fn start(
    problem: &Problem,
    function: &Function,
    init: &str,
    seed: u64,
) -> Result<Vec<f64>> {
    match init {
        "zeros" => Ok(problem.zeros()),
        "random" => Ok(problem.random_start(seed)),
        point => {
            let value = read_point_value("--at", point, problem.variable(), function)?;
            problem
                .flatten(&value)
                .map_err(|e| Failure::BadInput(format!("{point}: {e}")).into())
        }
    }
}

pub(crate) fn bad_input(error: ProblemError) -> anyhow::Error {
    if error.is_input_error() {
        Failure::BadInput(error.to_string()).into()
    } else {
        Failure::Failed(error.to_string()).into()
    }
}

/// The value in a JSON file, for the variable `name` of `function`: a number, a flat
/// list or a list of rows, or an object with `name` as a key (other keys are
/// ignored). Messages lead with the file, and with its line and column for JSON
/// that does not parse.
fn read_json_value(file: &str, name: &str, function: &Function) -> Result<Mat<f64>> {
    if !function.variables().iter().any(|v| v.name == name) {
        return Err(Failure::BadInput(format!(
            "{file}: `{name}` is not a variable of the expression"
        ))
        .into());
    }
    let text =
        crate::input::read_text(file, crate::input::JSON_FILE_MAX_BYTES, "a JSON value file")?;
    crate::input::check_json(file, &text)?;
    function
        .value_from_json(name, &text)
        .map_err(|e| Failure::BadInput(format!("{file}: {e}")).into())
}

/// The value of the variable `name` in a point as the command line gives it: JSON
/// inline, `@FILE` or an existing file (see [`crate::input::read_point`]).
fn read_point_value(flag: &str, arg: &str, name: &str, function: &Function) -> Result<Mat<f64>> {
    let looks_like_json = arg.starts_with('@')
        || serde_json::from_str::<serde::de::IgnoredAny>(arg).is_ok()
        || std::path::Path::new(arg).exists();
    if !looks_like_json
        && arg.trim_start().starts_with([
            '[', '{', '-', '.', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
        ])
    {
        let error = serde_json::from_str::<serde::de::IgnoredAny>(arg)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let lower = arg.to_lowercase();
        let hint = if lower.contains("nan") || lower.contains("inf") {
            "; NaN and Infinity are not JSON numbers"
        } else {
            ""
        };
        return Err(
            Failure::BadInput(format!("{flag} `{arg}`: not valid JSON ({error}){hint}")).into(),
        );
    }
    if !looks_like_json {
        return Err(Failure::BadInput(format!(
            "{flag} `{arg}`: no such file — use zeros, random or a JSON file with the value (@FILE), or the value as JSON"
        ))
        .into());
    }
    let (text, source) = crate::input::read_point(flag, arg)?;
    if !function.variables().iter().any(|v| v.name == name) {
        return Err(Failure::BadInput(format!(
            "{source}: `{name}` is not a variable of the expression"
        ))
        .into());
    }
    function
        .value_from_json(name, &text)
        .map_err(|e| Failure::BadInput(format!("{source}: {e}")).into())
}

/// What the run fitted: the variable's value, and the intercept with --intercept.
struct Fitted<'a> {
    variable: &'a str,
    solution: serde_json::Value,
    intercept: Option<f64>,
}

/// The report on stdout.
fn render(
    fitted: &Fitted<'_>,
    outcome: &Outcome,
    json: bool,
    peak_rss_bytes: Option<u64>,
) -> String {
    let Fitted {
        variable,
        solution,
        intercept,
    } = fitted;
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
            "stop_description": stopped(outcome.stop, variable),
            "epoch_loss": outcome.epoch_loss.name(),
        });
        if let (Some(peak), Some(object)) = (peak_rss_bytes, value.as_object_mut()) {
            object.insert("peak_rss_bytes".to_owned(), json!(peak));
        }
        if let (Some(b), Some(object)) = (intercept, value.as_object_mut()) {
            object.insert("intercept".to_owned(), json!(b));
        }
        return format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    }
    let peak = peak_rss_bytes
        .map(|b| format!("peak memory: {:.1} MB\n", b as f64 / 1e6))
        .unwrap_or_default();
    let epoch_loss = match outcome.epoch_loss {
        EpochLoss::Running => "epoch losses: running averages of the batch losses\n",
        _ => "",
    };
    let intercept = intercept
        .map(|b| format!("intercept b = {}\n", short(b)))
        .unwrap_or_default();
    format!(
        "stopped: {}\nloss: {}\ngradient norm ‖∇f({variable})‖: {}\niterations: {}\nepochs: {}\n{epoch_loss}seconds: {:.3}\n{peak}{} = {}\n{intercept}",
        stopped(outcome.stop, variable),
        short(outcome.loss),
        short(outcome.gradient_norm),
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
    /// Whether the epoch losses are written (--history) or drawn (--plot).
    keeps_losses: bool,
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
            show(
                bar,
                position,
                record.iteration,
                record.loss,
                record.grad_norm,
            );
        }
    }

    fn wants_steps(&self) -> bool {
        // The bar moves per epoch; only the history might keep steps.
        self.history.wants_steps()
    }

    fn wants_epoch_losses(&self) -> bool {
        self.keeps_losses
    }
}

/// Moves the bar to `position` and shows the run's iteration, loss and gradient norm.
/// An epoch with the running average of its batch losses has no gradient norm.
fn show(bar: &ProgressBar, position: usize, iteration: usize, loss: f64, gradient_norm: f64) {
    bar.set_position(position as u64);
    bar.set_message(if gradient_norm.is_nan() {
        format!("iteration {iteration}  running loss {}", short(loss))
    } else {
        format!(
            "iteration {iteration}  loss {}  ‖∇f‖ {}",
            short(loss),
            short(gradient_norm)
        )
    });
}

impl Progress {
    /// Leaves the bar at the run's final count, so that it agrees with the report
    /// (the bar moves per epoch, and the run may end between two); a failed run's bar
    /// is cleared.
    fn finish(&self, bar: &ProgressBar, outcome: Option<&Outcome>) {
        match outcome {
            Some(outcome) => {
                let position = if self.by_epoch {
                    outcome.epochs
                } else {
                    outcome.iterations
                };
                show(
                    bar,
                    position,
                    outcome.iterations,
                    outcome.loss,
                    outcome.gradient_norm,
                );
                bar.finish();
            }
            None => bar.finish_and_clear(),
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
    let template = format!(
        "{{prefix}}{{bar:40}} {{pos}}/{{len}} {unit}  {{per_sec}}  eta {{eta}}  {{msg}}  {{elapsed}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}
