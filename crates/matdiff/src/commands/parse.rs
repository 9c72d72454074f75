//! `matdiff parse`: the normalised expression, its shape, the variables and the
//! dimension names.

use std::fmt::Write as _;

use anyhow::Result;
use matdiff::Function;

use crate::input::load;

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
    /// Print one JSON object (the same as --format json).
    #[arg(long)]
    pub json: bool,
}

/// Runs `matdiff parse` through the library.
pub fn run(args: Args) -> Result<()> {
    let function = load(&args.expr, args.decls.as_deref())?;
    let format = if args.json { Format::Json } else { args.format };
    print!("{}", render(&function, format));
    Ok(())
}

/// The report printed on stdout: the library's summary of the function.
pub fn render(function: &Function, format: Format) -> String {
    let summary = function.summary();
    if format == Format::Json {
        return format!(
            "{}\n",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    }
    let expr = match format {
        Format::Pretty => function.pretty(),
        Format::Latex => function.latex(),
        _ => summary.expr.clone(),
    };
    let mut out = String::new();
    let _ = writeln!(out, "{expr}");
    let _ = writeln!(out, "{}", summary.type_);
    for v in &summary.variables {
        let _ = writeln!(out, "{}", v.declaration);
    }
    for d in &summary.dims {
        let _ = writeln!(out, "{d}: scalar (dimension)");
    }
    out
}
