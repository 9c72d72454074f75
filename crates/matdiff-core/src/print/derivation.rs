//! A derivative with its derivation, rendered once for every shell: lines of text
//! (`df = d(f)    (rule)`, `   = …`, then the result) or a LaTeX `align`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::derivative::{Derivative, DerivativeKind};
use crate::ir::{Dim, Graph, Id};

/// How the lines of [`lines`] write expressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notation {
    /// ASCII that parses back; the result line is the bare expression.
    Text,
    /// Unicode with a textbook look; the result line has a header (`∇f = …`).
    Pretty,
}

/// The steps one per line (`df = d(f)    (rule)`, then `   = <expr>    (rule)`), then
/// the result line. Every step in `derivative.steps` is shown.
pub fn lines(g: &Graph, derivative: &Derivative, notation: Notation) -> String {
    let printer: fn(&Graph, Id) -> String = match notation {
        Notation::Text => super::text,
        Notation::Pretty => super::pretty,
    };
    let mut out = String::new();
    for (i, step) in derivative.steps.iter().enumerate() {
        // The derivation starts from the differential: `df = d(f)`, then `   = …`.
        let lead = if i == 0 { "df" } else { "  " };
        let _ = writeln!(out, "{lead} = {}    ({})", printer(g, step.expr), step.rule);
    }
    let result = printer(g, derivative.expr);
    match notation {
        Notation::Pretty => {
            let _ = writeln!(out, "{} = {result}", header(g, derivative));
        }
        Notation::Text => {
            let _ = writeln!(out, "{result}");
        }
    }
    out
}

/// The left-hand side of the result: `∇f`, `J`, `df`, `H`, or `d(∇f)` for the
/// second differential with respect to a matrix (an expression linear in `dX`).
pub fn header(g: &Graph, derivative: &Derivative) -> &'static str {
    match derivative.kind {
        DerivativeKind::Gradient => "∇f",
        DerivativeKind::Jacobian => "J",
        DerivativeKind::Differential => "df",
        DerivativeKind::Hessian if is_second_differential(g, derivative) => "d(∇f)",
        DerivativeKind::Hessian => "H",
    }
}

/// [`header`] in LaTeX.
pub fn latex_header(g: &Graph, derivative: &Derivative) -> &'static str {
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

/// The derivation as one `align` environment numbered once (see
/// [`super::latex_derivation`]): `\mathrm{d}f &= …` on the first step, one line per
/// further step with its rule, and the result line (`\nabla f &= …`, with `lhs` in
/// place of the header when given).
pub fn latex_align(g: &Graph, derivative: &Derivative, lhs: Option<&str>) -> String {
    super::latex_derivation(
        g,
        &derivative.steps,
        "\\mathrm{d}f",
        lhs.unwrap_or_else(|| latex_header(g, derivative)),
        derivative.expr,
    )
}

/// A derivative as data, the one schema of every shell's JSON (`derive --format
/// json`, the Rust facade's reports, Python dicts): the kind, the result as text and
/// LaTeX, its shape and the derivation steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `gradient`, `jacobian`, `differential` or `hessian`.
    pub kind: &'static str,
    /// The result as text that parses back.
    pub result: String,
    /// The result in LaTeX.
    pub latex: String,
    /// `[rows, cols]` of the result: a named dimension is a string, a size a number.
    pub shape: [ShapeEntry; 2],
    /// The derivation, one step per line (empty when not asked for).
    pub steps: Vec<ReportStep>,
}

/// One side of a shape: a dimension's name or a fixed size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ShapeEntry {
    /// A named dimension (`"d"`).
    Named(String),
    /// A fixed size (`1`).
    Size(u64),
}

/// One derivation step in a [`Report`]: the rule and the expression as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportStep {
    /// The rule, in the seminar's words.
    pub rule: String,
    /// The expression after the step.
    pub expr: String,
}

impl Report {
    /// The report of `derivative`, whose expressions live in `g`.
    pub fn new(g: &Graph, derivative: &Derivative) -> Report {
        let shape = g.shape(derivative.expr);
        let entry = |d: Dim| match d {
            Dim::Size(n) => ShapeEntry::Size(n),
            Dim::Named(s) => ShapeEntry::Named(g.name(s).to_owned()),
        };
        Report {
            kind: derivative.kind.name(),
            result: super::text(g, derivative.expr),
            latex: super::latex(g, derivative.expr),
            shape: [entry(shape.rows), entry(shape.cols)],
            steps: derivative
                .steps
                .iter()
                .map(|s| ReportStep {
                    rule: s.rule.clone(),
                    expr: super::text(g, s.expr),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{derive, parse_function, Step};

    /// Steps are rendered whatever they are: two made-up steps (with LaTeX's special
    /// characters in a rule) before the least-squares gradient, in every format.
    #[test]
    fn steps_are_rendered_before_the_result_in_every_format() {
        let mut function = parse_function("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")
            .expect("the least-squares loss parses");
        let mut derivative = derive(&mut function, "w", 1).expect("the gradient exists");
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
        let g = &function.graph;
        let json = serde_json::to_string_pretty(&Report::new(g, &derivative)).unwrap();
        let out = format!(
            "--- text\n{}--- pretty\n{}--- latex\n{}--- json\n{json}\n",
            lines(g, &derivative, Notation::Text),
            lines(g, &derivative, Notation::Pretty),
            latex_align(g, &derivative, None),
        );
        insta::assert_snapshot!(out);
    }
}
