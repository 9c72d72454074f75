//! `matdiff derive`: the gradient, Jacobian, differential or Hessian of a function,
//! optionally with the derivation steps, as text, pretty text, LaTeX or JSON.

use anyhow::Result;

use crate::input::load;
use crate::report::Failure;

/// Output formats of `matdiff derive`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ASCII that parses back: the result expression alone.
    Text,
    /// Unicode, textbook look, with a header (`∇f = …`, `J = …`, `df = …`, `H = …`).
    Pretty,
    /// A LaTeX `align` environment, numbered once, in LaTeX commands only.
    Latex,
    /// A NumPy function returning value and derivative.
    Numpy,
    /// A Rust function returning value and derivative.
    Rust,
    /// One JSON object: kind, result, latex, shape, steps.
    Json,
}

impl Format {
    /// The name as typed on the command line.
    fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Pretty => "pretty",
            Format::Latex => "latex",
            Format::Numpy => "numpy",
            Format::Rust => "rust",
            Format::Json => "json",
        }
    }
}

/// Arguments of `matdiff derive`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression, or `@file` with declarations and the expression.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// The variable to differentiate with respect to.
    #[arg(long, value_name = "NAME")]
    pub wrt: String,
    /// Declarations, separated by `;` or `,`: `X: matrix(N, d); w: vector(d)`.
    #[arg(long = "let", value_name = "DECLS")]
    pub decls: Option<String>,
    /// 1 for the gradient, Jacobian or differential; 2 for the Hessian.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub order: u8,
    /// Show the derivation step by step before the result.
    #[arg(long)]
    pub steps: bool,
    /// How to print the result [default: pretty on a terminal, text otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Print one JSON object (the same as --format json).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

/// Runs `matdiff derive` through the library: the derivative with its derivation,
/// rendered in the chosen format.
pub fn run(args: Args) -> Result<()> {
    let format = crate::report::chosen_format(
        args.json,
        args.format,
        Format::Json,
        Format::Pretty,
        Format::Text,
    );
    let function = load(&args.expr, args.decls.as_deref())?;
    let derivative = function
        .derivative(&args.wrt, args.order)
        .map_err(derive_failure)?;
    let derivative = if args.steps {
        derivative
    } else {
        derivative.without_steps()
    };
    let generation =
        |e: matdiff::Error| Failure::BadInput(format!("cannot generate {}: {e}", format.name()));
    let output = match format {
        Format::Numpy => derivative.to_numpy().map_err(generation)?,
        Format::Rust => derivative.to_rust().map_err(generation)?,
        Format::Text => derivative.text_derivation(),
        Format::Pretty => derivative.pretty_derivation(),
        Format::Latex => derivative.latex_derivation(),
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&derivative.report()).unwrap_or_default()
        ),
    };
    print!("{output}");
    Ok(())
}

/// A derivative that cannot be taken: an unknown variable comes with the variables to
/// choose from with --wrt; a located refusal (a power the rules do not take) is printed
/// with its caret, as the library renders it.
pub(crate) fn derive_failure(error: matdiff::Error) -> anyhow::Error {
    let message = match &error {
        matdiff::Error::UnknownVariable {
            name,
            known,
            is_dimension,
        } => {
            let what = if *is_dimension {
                format!("`{name}` is a dimension, not a variable")
            } else {
                format!("unknown variable `{name}`")
            };
            if known.is_empty() {
                format!("{what} — the expression has no variables to differentiate with respect to")
            } else {
                let names: Vec<String> = known.iter().map(|n| format!("`{n}`")).collect();
                format!(
                    "{what} — use --wrt with one of the variables: {}",
                    names.join(", ")
                )
            }
        }
        matdiff::Error::Unsupported(_) => {
            error.eprint();
            return Failure::Reported(2).into();
        }
        other => other.to_string(),
    };
    Failure::BadInput(message).into()
}
