//! The `matdiff` command line: the clap definition and the glue to the library crates.

mod commands;
mod input;
mod report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use report::{Failure, Sources};

/// Vector-matrix calculus and gradient-based learning.
#[derive(Parser, Debug)]
#[command(name = "matdiff", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse an expression and print its normal form, kind and shapes.
    Parse(commands::parse::Args),
    /// Minimise a scalar expression over one variable on data.
    Minimize(Box<commands::minimize::Args>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => commands::parse::run(args),
        Command::Minimize(args) => commands::minimize::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report::exit_code_for(&error),
    }
}
