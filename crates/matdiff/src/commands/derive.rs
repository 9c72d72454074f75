//! `matdiff derive`: the gradient, Jacobian, differential or Hessian of a function,
//! optionally with the derivation steps, as text, pretty text, LaTeX or JSON.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use anyhow::Result;
use matdiff_core::{
    codegen, print, Derivative, DerivativeKind, DiffError, Dim, Function, Graph, Shape,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::input::load_function;
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
    let (sources, mut function) = load_function(&args.expr, args.decls.as_deref())?;
    let mut derivative = matdiff_core::derive(&mut function, &args.wrt, args.order)
        .map_err(|e| diff_failure(&sources, &function, &args.wrt, &e))?;
    if args.steps {
        derivative.steps = matdiff_core::diff::derivation(&mut function, &derivative)
            .map_err(|e| diff_failure(&sources, &function, &args.wrt, &e))?;
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

/// A derivative that cannot be taken, reported with a caret under the refused power
/// where it can be placed, else as a message.
pub fn diff_failure(
    sources: &crate::report::Sources,
    function: &Function,
    wrt: &str,
    error: &DiffError,
) -> anyhow::Error {
    let message = diff_error_message(function, wrt, error);
    match crate::locate::derivative_error(sources, wrt, &message) {
        Some(diagnostic) => {
            sources.emit(&[diagnostic]);
            Failure::Reported(2).into()
        }
        None => Failure::BadInput(message).into(),
    }
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
        Format::Latex => render_latex(g, derivative),
        Format::Json => render_json(g, derivative),
        Format::Pretty => render_lines(g, derivative, print::pretty, Some(pretty_header)),
        Format::Text | Format::Numpy | Format::Rust => {
            render_lines(g, derivative, print::text, None)
        }
    }
}

/// Steps one per line (`df = d(f)    (rule)`, then `   = <expr>    (rule)`), then the
/// result line.
fn render_lines(
    g: &Graph,
    derivative: &Derivative,
    printer: fn(&Graph, matdiff_core::Id) -> String,
    header: Option<fn(&Graph, &Derivative) -> &'static str>,
) -> String {
    let mut out = String::new();
    for (i, step) in derivative.steps.iter().enumerate() {
        // The derivation starts from the differential: `df = d(f)`, then `   = …`.
        let lead = if i == 0 { "df" } else { "  " };
        let _ = writeln!(out, "{lead} = {}    ({})", printer(g, step.expr), step.rule);
    }
    let result = printer(g, derivative.expr);
    match header {
        Some(header) => {
            let _ = writeln!(out, "{} = {result}", header(g, derivative));
        }
        None => {
            let _ = writeln!(out, "{result}");
        }
    }
    out
}

/// The left-hand side of the result: `∇f`, `J`, `df`, `H`, or `d(∇f)` for the
/// second differential with respect to a matrix (an expression linear in `dX`).
fn pretty_header(g: &Graph, derivative: &Derivative) -> &'static str {
    match derivative.kind {
        DerivativeKind::Gradient => "∇f",
        DerivativeKind::Jacobian => "J",
        DerivativeKind::Differential => "df",
        DerivativeKind::Hessian if is_second_differential(g, derivative) => "d(∇f)",
        DerivativeKind::Hessian => "H",
    }
}

/// [`pretty_header`] in LaTeX.
fn latex_header(g: &Graph, derivative: &Derivative) -> &'static str {
    match derivative.kind {
        DerivativeKind::Gradient => "\\nabla f",
        DerivativeKind::Jacobian => "J",
        DerivativeKind::Differential => "\\mathrm{d}f",
        DerivativeKind::Hessian if is_second_differential(g, derivative) => {
            "\\mathrm{d}(\\nabla f)"
        }
        DerivativeKind::Hessian => "H",
    }
}

/// A Hessian with respect to a matrix is kept as the second differential `d(∇f)`.
fn is_second_differential(g: &Graph, derivative: &Derivative) -> bool {
    g.variables()
        .iter()
        .any(|v| v.name == derivative.wrt && v.shape.cols != Dim::ONE)
}

/// The derivation as one `align` environment numbered once: `\mathrm{d}f &= …` on the
/// first step, one `&= … && \text{(rule)}` line per further step, the result last.
fn render_latex(g: &Graph, derivative: &Derivative) -> String {
    print::latex_derivation(
        g,
        &derivative.steps,
        "\\mathrm{d}f",
        latex_header(g, derivative),
        derivative.expr,
    )
}

/// The JSON object of `derive --format json`, fields in the documented order.
///
/// `shape` is `[rows, cols]` of the result: a named dimension is a string (`"d"`), a
/// fixed size a number (`1`), as in `matdiff parse --format json`.
#[derive(Serialize)]
struct JsonOutput {
    kind: &'static str,
    result: String,
    latex: String,
    shape: Value,
    steps: Vec<JsonStep>,
}

/// One derivation step in JSON: the rule and the expression as text.
#[derive(Serialize)]
struct JsonStep {
    rule: String,
    expr: String,
}

fn render_json(g: &Graph, derivative: &Derivative) -> String {
    let output = JsonOutput {
        kind: derivative.kind.name(),
        result: print::text(g, derivative.expr),
        latex: print::latex(g, derivative.expr),
        shape: shape_json(g, g.shape(derivative.expr)),
        steps: derivative
            .steps
            .iter()
            .map(|s| JsonStep {
                rule: s.rule.clone(),
                expr: print::text(g, s.expr),
            })
            .collect(),
    };
    format!(
        "{}\n",
        serde_json::to_string_pretty(&output).unwrap_or_default()
    )
}

/// `[rows, cols]`, each a name or a size.
fn shape_json(g: &Graph, shape: Shape) -> Value {
    let dim = |d: Dim| match d {
        Dim::Size(n) => json!(n),
        Dim::Named(s) => json!(g.name(s)),
    };
    json!([dim(shape.rows), dim(shape.cols)])
}

#[cfg(test)]
mod tests {
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
