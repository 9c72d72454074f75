//! `matdiff derive`: the gradient, Jacobian, differential or Hessian of a function,
//! optionally with the derivation steps, as text, pretty text, LaTeX or JSON.

use std::io::IsTerminal as _;

use anyhow::Result;
use matdiff_core::print::derivation::{self, Notation};
use matdiff_core::{codegen, Derivative, DiffError, Function, Graph};

use crate::input::load_function;
use crate::report::Failure;

/// Output formats of `matdiff derive`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ASCII that parses back: the result expression alone.
    Text,
    /// Unicode, textbook look, with a header (`∇f = …`, `J = …`, `df = …`, `H = …`).
    Pretty,
    /// A LaTeX `align` environment.
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
}

/// Runs `matdiff derive`.
pub fn run(args: Args) -> Result<()> {
    let format = args.format.unwrap_or_else(|| {
        if std::io::stdout().is_terminal() {
            Format::Pretty
        } else {
            Format::Text
        }
    });
    let mut function = load_function(&args.expr, args.decls.as_deref())?;
    let mut derivative = matdiff_core::derive(&mut function, &args.wrt, args.order)
        .map_err(|e| Failure::BadInput(diff_error_message(&function, &args.wrt, &e)))?;
    if args.steps {
        derivative.steps = matdiff_core::diff::derivation(&mut function, &derivative)
            .map_err(|e| Failure::BadInput(diff_error_message(&function, &args.wrt, &e)))?;
    }
    let output = match format {
        Format::Numpy | Format::Rust => {
            let generated = if format == Format::Numpy {
                codegen::numpy(&function, &derivative)
            } else {
                codegen::rust(&function, &derivative)
            };
            generated
                .map_err(|e| Failure::BadInput(format!("cannot generate {}: {e}", format.name())))?
        }
        _ => render(&function.graph, &derivative, format),
    };
    print!("{output}");
    Ok(())
}

/// The message for a derivative that cannot be taken; an unknown variable comes with
/// the variables to choose from.
fn diff_error_message(function: &Function, wrt: &str, error: &DiffError) -> String {
    match error {
        DiffError::UnknownVariable(_) => unknown_variable_message(function, wrt),
        other => other.to_string(),
    }
}

fn unknown_variable_message(function: &Function, wrt: &str) -> String {
    let g = &function.graph;
    let names: Vec<String> = g
        .variables()
        .iter()
        .map(|v| format!("`{}`", g.name(v.name)))
        .collect();
    let is_dim = g.dims().iter().any(|&d| g.name(d) == wrt);
    let what = if is_dim {
        format!("`{wrt}` is a dimension, not a variable")
    } else {
        format!("unknown variable `{wrt}`")
    };
    if names.is_empty() {
        format!("{what} — the expression has no variables to differentiate with respect to")
    } else {
        format!(
            "{what} — use --wrt with one of the variables: {}",
            names.join(", ")
        )
    }
}

/// The output printed on stdout for `format`; `numpy` and `rust` come from
/// [`codegen`] and print here as text.
///
/// Every step in `derivative.steps` is shown; callers clear them when they were not
/// asked for.
pub fn render(g: &Graph, derivative: &Derivative, format: Format) -> String {
    match format {
        Format::Latex => derivation::latex_align(g, derivative, None),
        Format::Json => render_json(g, derivative),
        Format::Pretty => derivation::lines(g, derivative, Notation::Pretty),
        Format::Text | Format::Numpy | Format::Rust => {
            derivation::lines(g, derivative, Notation::Text)
        }
    }
}

/// The JSON object of `derive --format json`: the derivation report's schema, fields
/// in the documented order.
fn render_json(g: &Graph, derivative: &Derivative) -> String {
    let report = derivation::Report::new(g, derivative);
    format!(
        "{}\n",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use matdiff_core::{parse_function, Step};

    use super::*;

    /// Steps are rendered whatever they are: two made-up steps (with LaTeX's special
    /// characters in a rule) before the least-squares gradient, in every format.
    #[test]
    fn steps_are_rendered_before_the_result_in_every_format() {
        let mut function = parse_function("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")
            .expect("the least-squares loss parses");
        let mut derivative =
            matdiff_core::derive(&mut function, "w", 1).expect("the gradient exists");
        derivative.steps = vec![
            Step {
                rule: "the expression".to_string(),
                expr: function.root,
            },
            Step {
                rule: "<a, X b> = <X'a, b> & d_x{r}^2 = 2% ~ \\ $".to_string(),
                expr: derivative.expr,
            },
        ];
        let mut out = String::new();
        for format in [Format::Text, Format::Pretty, Format::Latex, Format::Json] {
            let _ = writeln!(out, "--- {}", format.name());
            out.push_str(&render(&function.graph, &derivative, format));
        }
        insta::assert_snapshot!(out);
    }
}
