//! What differentiation returns: the kind of derivative, its expression in the
//! function's graph, and the derivation steps.

use crate::ir::{Id, Sym};

/// Which object the derivative is: the seminar's gradient, Jacobian, differential or
/// Hessian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DerivativeKind {
    /// Scalar f: `G` of the variable's shape with `df = <G, dX>`.
    Gradient,
    /// Vector f of a vector x: `J` with `df = J dx` (rows = outputs).
    Jacobian,
    /// Anything else: `df` as an expression linear in `dX` ([`crate::Node::Differential`]).
    Differential,
    /// Order 2 of a scalar f: for a vector x the matrix `H` with `d(∇f) = H dx`; for a
    /// matrix X the second differential `d(∇f)` as an expression linear in `dX`.
    Hessian,
}

impl DerivativeKind {
    /// The name used in JSON output (`gradient`, `jacobian`, `differential`, `hessian`).
    pub fn name(self) -> &'static str {
        match self {
            DerivativeKind::Gradient => "gradient",
            DerivativeKind::Jacobian => "jacobian",
            DerivativeKind::Differential => "differential",
            DerivativeKind::Hessian => "hessian",
        }
    }
}

/// One line of a derivation: the expression after the step and the rule that led there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The rule, in the seminar's words (`product rule`, `d(AXB) = A dX B`, …).
    pub rule: String,
    /// The expression after applying it (often a differential containing `dX`).
    pub expr: Id,
}

/// A derivative of a function with respect to one variable.
#[derive(Clone, Debug)]
pub struct Derivative {
    pub kind: DerivativeKind,
    /// The variable differentiated with respect to.
    pub wrt: Sym,
    /// The result, in the function's graph. For [`DerivativeKind::Differential`] and a
    /// matrix-variable Hessian it contains `Differential(wrt)` linearly.
    pub expr: Id,
    /// For a Hessian: the gradient it differentiates (checked numerically through it).
    pub gradient: Option<Id>,
    /// The derivation, when asked for.
    pub steps: Vec<Step>,
}
