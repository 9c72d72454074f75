//! The `matdiff` command line: the clap definition and the glue to the library.

mod commands;
mod input;
mod pictures;
mod report;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use report::Failure;

/// Vector-matrix calculus and gradient-based learning.
#[derive(Parser, Debug)]
#[command(
    name = "matdiff",
    version,
    about,
    long_about = None,
    after_help = "Every subcommand takes --json; a point is a JSON object by variable name, a bare \
value for a single variable, or @FILE; `-` reads the expression from stdin (`@-` \
declarations too). See docs/cli.md."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The most memory a computation or a data file read into memory may take, e.g.
    /// 512M or 8G (default: the memory available when the command starts).
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<u64>,
    /// The longest the whole command may run, e.g. 90, 30s, 5m or 1h: past it the
    /// command stops with exit 2, saying so (default: no limit). For `serve` it is the
    /// time one request may compute (default 2s). Memory is bounded by --max-memory;
    /// this bounds time.
    #[arg(long, global = true, value_name = "DURATION", value_parser = report::parse_duration)]
    time_limit: Option<std::time::Duration>,
    /// CSV data files have no header row: every row is data, the columns are named
    /// col1, col2, …
    #[arg(long, global = true)]
    no_header: bool,
}

fn parse_size(text: &str) -> Result<u64, String> {
    matdiff::memory::parse_size(text)
}

#[derive(Subcommand, Debug)]
enum Command {
    // In the order of the seminar, then the newer ones.
    /// Parse an expression and print its normal form, kind and shapes.
    Parse(commands::parse::Args),
    /// Differentiate: the gradient, Jacobian, differential or Hessian, with steps.
    Derive(commands::derive::Args),
    /// Check a derivative against finite differences on random instances.
    Check(commands::check::Args),
    /// Evaluate an expression (and its derivative) at a point.
    Eval(commands::eval::Args),
    /// Draw a loss: contours, gradient arrows and descent paths, or a tangent line.
    Plot(Box<commands::plot::Args>),
    /// Minimise a scalar expression over one variable on data.
    Minimize(Box<commands::minimize::Args>),
    /// Fit a linear regression on a CSV file, .npy arrays or a bundled data set.
    Linreg(commands::linreg::Args),
    /// The seminar end to end on the bundled diabetes data.
    Demo(commands::demo::Args),
    /// Solve ∇f = 0 in closed form for a quadratic loss, with steps and a verdict.
    Solve(commands::solve::Args),
    /// Apply a model saved by `linreg --save` or `minimize --save` to new rows.
    Predict(commands::predict::Args),
    /// Serve the page: type an expression, see its derivative, steps, check and picture.
    Serve(commands::serve::Args),
    /// Time the full-batch loss and gradient through the derived plan (for bench/).
    #[command(hide = true)]
    Bench(commands::bench::Args),
}

fn main() -> ExitCode {
    report::quiet_on_closed_pipe();
    let cli = Cli::parse();
    matdiff::memory::set_budget_bytes(cli.max_memory);
    if let (Some(limit), false) = (cli.time_limit, matches!(cli.command, Command::Serve(_))) {
        report::stop_after(limit);
    }
    input::set_csv_header(if cli.no_header {
        matdiff::data::CsvHeader::Absent
    } else {
        matdiff::data::CsvHeader::FirstRow
    });
    pictures::register_fonts();
    let result = match cli.command {
        Command::Parse(args) => commands::parse::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Linreg(args) => commands::linreg::run(args),
        Command::Derive(args) => commands::derive::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Solve(args) => commands::solve::run(args),
        Command::Minimize(args) => commands::minimize::run(*args),
        Command::Plot(args) => commands::plot::run(*args),
        Command::Predict(args) => commands::predict::run(args),
        Command::Serve(args) => commands::serve::run(args, cli.time_limit),
        Command::Bench(args) => commands::bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report::exit_code_for(&error),
    }
}
