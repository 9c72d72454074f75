//! Placing a derivative's failure in the expression: the engine's IR keeps no spans, so
//! a refused power (`a^a` by `a`, `X^65`) is found again in the parsed expression and
//! reported with a caret under it.

use matdiff_core::{PowerRefusal, MAX_MATRIX_EXPONENT};
use matdiff_syntax::{parse_program, BinOp, Diagnostic, Expr, ExprKind, SourceId};

/// A located diagnostic for a power the rules refused, with the engine's `message`,
/// in the expression of `sources` (its first source, `<expr>` or the `@file`), or
/// `None` when no such power is written there.
pub(crate) fn refused_power(
    sources: &[(String, String)],
    wrt: &str,
    refusal: PowerRefusal,
    message: &str,
) -> Option<Diagnostic> {
    // A bare expression is a program without declarations.
    let (_, text) = sources.first()?;
    let expr = parse_program(text, SourceId(0)).0.expr?;
    let found = find(&expr, &|e| match (&e.kind, &refusal) {
        (
            ExprKind::Binary {
                op: BinOp::Pow | BinOp::ElemPow,
                rhs,
                ..
            },
            PowerRefusal::VariableExponent,
        ) => mentions(rhs, wrt),
        (
            ExprKind::Binary {
                op: BinOp::Pow,
                rhs,
                ..
            },
            PowerRefusal::MatrixExponent,
        ) => constant(rhs).is_some_and(|k| k.fract() != 0.0 || k.abs() > MAX_MATRIX_EXPONENT),
        _ => false,
    })?;
    let label = match refusal {
        PowerRefusal::VariableExponent => format!("the exponent depends on `{wrt}`"),
        PowerRefusal::MatrixExponent => format!(
            "the exponent must be an integer from -{MAX_MATRIX_EXPONENT} to {MAX_MATRIX_EXPONENT}"
        ),
    };
    let diagnostic = Diagnostic::error(message, found.span, label);
    Some(match refusal {
        PowerRefusal::VariableExponent => {
            diagnostic.with_note("a^b = exp(b*log(a)) for a > 0: write the power that way")
        }
        PowerRefusal::MatrixExponent => diagnostic.with_note(
            "a matrix power X^k is differentiated as a sum of k products; write larger powers as products of smaller ones, e.g. X^32*X^33",
        ),
    })
}

/// The first node of `e` (outermost first, left to right) that satisfies `test`.
fn find<'e>(e: &'e Expr, test: &dyn Fn(&Expr) -> bool) -> Option<&'e Expr> {
    if test(e) {
        return Some(e);
    }
    match &e.kind {
        ExprKind::Number(_) | ExprKind::Name(_) => None,
        ExprKind::Neg(a) | ExprKind::Transpose(a) => find(a, test),
        ExprKind::Binary { lhs, rhs, .. } | ExprKind::Inner(lhs, rhs) => {
            find(lhs, test).or_else(|| find(rhs, test))
        }
        ExprKind::Call { args, .. } => args.iter().find_map(|a| find(a, test)),
    }
}

/// Whether `e` mentions the name `name`.
fn mentions(e: &Expr, name: &str) -> bool {
    find(e, &|x| matches!(&x.kind, ExprKind::Name(n) if n == name)).is_some()
}

/// The value of a literal number, negated or not.
fn constant(e: &Expr) -> Option<f64> {
    match &e.kind {
        ExprKind::Number(v) => Some(*v),
        ExprKind::Neg(a) => constant(a).map(|v| -v),
        _ => None,
    }
}
