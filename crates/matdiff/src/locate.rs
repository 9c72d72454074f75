//! Placing a derivative's failure in the expression: the engine's IR keeps no spans, so
//! a refused power (`a^a` by `a`, `X^65`) is found again in the parsed expression and
//! reported with a caret under it.

use matdiff_syntax::{parse_expr, parse_program, BinOp, Diagnostic, Expr, ExprKind, SourceId};

/// What a derivative refused, as far as it can be placed.
enum Refusal {
    /// A power whose exponent depends on the variable.
    VariableExponent,
    /// A matrix power whose exponent is not an integer within the limit.
    MatrixExponent,
}

/// The largest matrix power exponent (in absolute value) the rules differentiate.
pub(crate) const MAX_MATRIX_EXPONENT: f64 = 64.0;

/// A located diagnostic for the derivative error `message` of the expression in
/// `sources` (its first source, `<expr>` or the `@file`), or `None` when the message is
/// not one that names a power, or no such power is found.
pub(crate) fn derivative_error(
    sources: &[(String, String)],
    wrt: &str,
    message: &str,
) -> Option<Diagnostic> {
    let refusal = if message.contains("variable exponent") {
        Refusal::VariableExponent
    } else if message.contains("matrix power needs") {
        Refusal::MatrixExponent
    } else {
        return None;
    };
    let id = SourceId(0);
    let (name, text) = sources.first()?;
    let (name, text) = (name.as_str(), text.as_str());
    let expr = if name == "<expr>" {
        parse_expr(text, id).0?
    } else {
        parse_program(text, id).0.expr?
    };
    let found = find(&expr, &|e| match (&e.kind, &refusal) {
        (
            ExprKind::Binary {
                op: BinOp::Pow | BinOp::ElemPow,
                rhs,
                ..
            },
            Refusal::VariableExponent,
        ) => mentions(rhs, wrt),
        (
            ExprKind::Binary {
                op: BinOp::Pow,
                rhs,
                ..
            },
            Refusal::MatrixExponent,
        ) => constant(rhs).is_some_and(|k| k.fract() != 0.0 || k.abs() > MAX_MATRIX_EXPONENT),
        _ => false,
    })?;
    let label = match refusal {
        Refusal::VariableExponent => format!("the exponent depends on `{wrt}`"),
        Refusal::MatrixExponent => format!(
            "the exponent must be an integer from -{MAX_MATRIX_EXPONENT} to {MAX_MATRIX_EXPONENT}"
        ),
    };
    let diagnostic = Diagnostic::error(message, found.span, label);
    Some(match refusal {
        Refusal::VariableExponent => {
            diagnostic.with_note("a^b = exp(b*log(a)) for a > 0: write the power that way")
        }
        Refusal::MatrixExponent => diagnostic.with_note(
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
