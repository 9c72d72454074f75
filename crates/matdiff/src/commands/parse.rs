//! `matdiff parse`: the normalised expression, its shape, the variables and the
//! dimension names.

use std::fmt::Write as _;

use anyhow::Result;
use matdiff_core::{print, Dim, Function, Shape};
use serde_json::{json, Value};

use crate::input::load_function;

/// Output formats of `matdiff parse`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// ASCII that parses back.
    #[default]
    Text,
    /// Unicode, textbook look.
    Pretty,
    /// LaTeX math.
    Latex,
    /// One JSON object.
    Json,
}

/// Arguments of `matdiff parse`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression, or `@file` with declarations and the expression.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// Declarations, separated by `;` or `,`: `X: matrix(N, d); w: vector(d)`.
    #[arg(long = "let", value_name = "DECLS")]
    pub decls: Option<String>,
    /// How to print the expression.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `matdiff parse`.
pub fn run(args: Args) -> Result<()> {
    let function = load_function(&args.expr, args.decls.as_deref())?;
    print!("{}", render(&function, args.format));
    Ok(())
}

/// The report printed on stdout.
pub fn render(function: &Function, format: Format) -> String {
    let g = &function.graph;
    let root = function.root;
    if format == Format::Json {
        let variables: Vec<Value> = g
            .variables()
            .iter()
            .map(|v| {
                json!({
                    "name": g.name(v.name),
                    "kind": v.kind.keyword(),
                    "shape": shape_json(function, v.shape),
                })
            })
            .collect();
        let dims: Vec<&str> = g.dims().iter().map(|&d| g.name(d)).collect();
        let value = json!({
            "expr": print::text(g, root),
            "shape": shape_json(function, g.shape(root)),
            "type": print::shape(g, g.shape(root)),
            "variables": variables,
            "dims": dims,
        });
        return format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    }
    let expr = match format {
        Format::Pretty => print::pretty(g, root),
        Format::Latex => print::latex(g, root),
        _ => print::text(g, root),
    };
    let mut out = String::new();
    let _ = writeln!(out, "{expr}");
    let _ = writeln!(out, "{}", print::shape(g, g.shape(root)));
    for v in g.variables() {
        let _ = writeln!(out, "{}", print::describe_variable(g, v));
    }
    for &d in g.dims() {
        let _ = writeln!(out, "{}: scalar (dimension)", g.name(d));
    }
    out
}

/// `[rows, cols]`, each a name or a size.
fn shape_json(function: &Function, shape: Shape) -> Value {
    let dim = |d: Dim| match d {
        Dim::Size(n) => json!(n),
        Dim::Named(s) => json!(function.graph.name(s)),
    };
    json!([dim(shape.rows), dim(shape.cols)])
}
