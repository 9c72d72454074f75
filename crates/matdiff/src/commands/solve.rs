//! `matdiff solve`: the closed-form stationary point of a quadratic loss, from
//! `∇f = 0`, with the steps, the Hessian's classification and, on data, the numbers.
//!
//! The work is the library's ([`matdiff::Function::solve`], [`matdiff::Solved`]); the
//! numbers go through the evaluation plan, which computes `inv(A)*b` as a solve,
//! never as an inverse.

use anyhow::Result;
use matdiff::{Solved, SolvedValues, Values};
use serde::Serialize;

use crate::commands::derive::derive_failure;
use crate::commands::minimize::load_data;
use crate::input::load;
use crate::report::Failure;

/// Output formats of `matdiff solve`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ASCII that parses back: `w = inv(X'*X)*X'*y`, the Hessian and the verdict.
    Text,
    /// Unicode, the seminar's look: `∇f = 0 ⇔ … ⇔ w = (XᵀX)⁻¹Xᵀy`.
    Pretty,
    /// A LaTeX `align*` environment.
    Latex,
    /// One JSON object: solution, hessian, definiteness, verdict, steps (and numbers).
    Json,
    /// A Python module: `solution(…)` and `f_and_grad`, checking ∇f(w*) = 0 when run.
    Numpy,
    /// A Rust function on faer 0.24: `pub fn solution(…)`.
    Rust,
}

/// Arguments of `matdiff solve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression, or `@file` with declarations and the expression.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// The variable to solve for.
    #[arg(long, value_name = "NAME")]
    pub wrt: String,
    /// Declarations, separated by `;` or `,`: `X: matrix(N, d); W: spd(N)`.
    #[arg(long = "let", value_name = "DECLS")]
    pub decls: Option<String>,
    /// Show the steps from ∇f = 0 to the solution.
    #[arg(long)]
    pub steps: bool,
    /// How to print the result [default: pretty on a terminal, text otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Print one JSON object (the same as --format json).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Evaluate the solution on data: `X=X.csv` (header row), `X=X.npy` or
    /// `lambda=lambda.json`; repeatable, and combined with --at.
    #[arg(long = "data", value_name = "NAME=FILE")]
    pub data: Vec<String>,
    /// Evaluate the solution on inputs: a JSON object of numbers, flat lists (vectors)
    /// and lists of rows by variable name, inline or `@FILE`.
    #[arg(long, value_name = "JSON|@FILE", allow_hyphen_values = true)]
    pub at: Option<String>,
}

/// Runs `matdiff solve`.
pub fn run(args: Args) -> Result<()> {
    let format = crate::report::chosen_format(
        args.json,
        args.format,
        Format::Json,
        Format::Pretty,
        Format::Text,
    );
    let function = load(&args.expr, args.decls.as_deref())?;
    let solved = function.solve(&args.wrt).map_err(refusal)?;
    if matches!(format, Format::Numpy | Format::Rust) {
        if !args.data.is_empty() || args.at.is_some() {
            return Err(Failure::BadInput(
                "--format numpy and --format rust write code, not numbers — \
                 leave out --data and --at, or evaluate with --format text or json"
                    .to_string(),
            )
            .into());
        }
        let code = if format == Format::Numpy {
            solved.to_numpy()
        } else {
            solved.to_rust()
        };
        print!("{}", code.map_err(refusal)?);
        return Ok(());
    }
    let numbers = if args.data.is_empty() && args.at.is_none() {
        None
    } else {
        Some(evaluate(&function, &solved, &args)?)
    };
    let output = match format {
        Format::Json => render_json(&solved, numbers.as_ref(), args.steps),
        Format::Latex => solved.latex(args.steps),
        Format::Text | Format::Pretty | Format::Numpy | Format::Rust => {
            let mut out = solved.lines(format == Format::Pretty, args.steps);
            if let Some(n) = &numbers {
                let wrt = &args.wrt;
                let solution = serde_json::to_value(n)?["solution"].take();
                out.push_str(&format!("{wrt}* = {solution}\n"));
                out.push_str(&format!(
                    "‖∇f({wrt}*)‖ = {:.3e} ({} linear solve{}, no inverse formed)\n",
                    n.gradient_norm,
                    n.solves,
                    if n.solves == 1 { "" } else { "s" }
                ));
            }
            out
        }
    };
    print!("{output}");
    Ok(())
}

/// Why there is no closed form, as an error with its exit code: no closed form is a
/// failed solve (1, with the caret the library drew); anything else is bad input (2).
fn refusal(error: matdiff::Error) -> anyhow::Error {
    match error {
        matdiff::Error::NoClosedForm(_) => {
            error.eprint();
            Failure::Reported(1).into()
        }
        matdiff::Error::UnknownVariable { .. } => derive_failure(error),
        other => {
            other.eprint();
            Failure::Reported(2).into()
        }
    }
}

/// The solution evaluated on `--at` and `--data`: values that do not fit are bad
/// input (2), a system singular on these data a failed solve (1).
fn evaluate(function: &matdiff::Function, solved: &Solved, args: &Args) -> Result<SolvedValues> {
    let source = match (&args.at, args.data.is_empty()) {
        (Some(at), true) => at.clone(),
        (Some(at), false) => format!("{at} and --data"),
        (None, _) => "--data".to_string(),
    };
    let mut values = match &args.at {
        Some(at) => {
            let (text, source) = crate::input::read_point("--at", at)?;
            function
                .values_from_json(&text)
                .map_err(|e| Failure::BadInput(format!("in `{source}`: {e}")))?
        }
        None => Values::new(),
    };
    for (name, value) in load_data(&args.data, function)? {
        values.insert(&name, value.into_mat());
    }
    solved.evaluate(&values.inputs()).map_err(|e| match e {
        matdiff::Error::Domain(message) => Failure::Failed(message).into(),
        other => Failure::BadInput(format!("in `{source}`: {other}")).into(),
    })
}

/// The [`matdiff::SolveReport`], with the numbers when the solution was evaluated;
/// steps only when asked.
fn render_json(solved: &Solved, numbers: Option<&SolvedValues>, steps: bool) -> String {
    #[derive(Serialize)]
    struct Output<'a> {
        #[serde(flatten)]
        report: matdiff::SolveReport,
        #[serde(skip_serializing_if = "Option::is_none")]
        numbers: Option<&'a SolvedValues>,
    }
    let mut report = solved.report();
    if !steps {
        report.steps.clear();
    }
    let output = Output { report, numbers };
    format!(
        "{}\n",
        serde_json::to_string_pretty(&output).unwrap_or_default()
    )
}
