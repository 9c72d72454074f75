//! Where a function stops being quadratic: the polynomial degree of each
//! subexpression in the variable, for the caret under a refusal.

use crate::ir::{Func, Graph, Id, Node, Sym};

/// Polynomial degree in the variable, or not a polynomial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Degree {
    Poly(u32),
    Not,
}

impl Degree {
    pub(super) fn quadratic(self) -> bool {
        matches!(self, Degree::Poly(k) if k <= 2)
    }
}

/// The first (outermost-first, leftmost) smallest subexpression of `root` that is
/// not a polynomial of degree at most 2 in `var`, and why.
pub(super) fn first_non_quadratic(g: &Graph, root: Id, var: Sym) -> Option<(Id, String)> {
    let order = g.reachable(&[root]);
    let mut degree = vec![Degree::Poly(0); g.len()];
    for &id in &order {
        degree[id.index()] = degree_of(g, id, var, &degree);
    }
    if degree[root.index()].quadratic() {
        return None;
    }
    let x = g.name(var);
    let mut at = root;
    loop {
        let next = g
            .node(at)
            .children()
            .find(|&c| !degree[c.index()].quadratic() && !is_squared_norm_argument(g, at, c));
        match next {
            Some(c) => at = c,
            None => {
                let why = match degree[at.index()] {
                    Degree::Poly(k) => format!("degree {k} in {x}"),
                    Degree::Not => format!("not a polynomial in {x}"),
                };
                return Some((at, why));
            }
        }
    }
}

/// `norm2(a)` under `norm2(a)^2`: the square makes it a polynomial again.
pub(super) fn is_squared_norm_argument(g: &Graph, parent: Id, child: Id) -> bool {
    matches!(g.node(parent), Node::Pow(n, k) if n == child && even_constant(g, k))
        && matches!(g.node(child), Node::Apply(Func::Norm2, _))
}

pub(super) fn even_constant(g: &Graph, k: Id) -> bool {
    g.const_value(k)
        .is_some_and(|k| k >= 0.0 && k.fract() == 0.0 && (k as u64) % 2 == 0)
}

pub(super) fn degree_of(g: &Graph, id: Id, var: Sym, degree: &[Degree]) -> Degree {
    use Degree::{Not, Poly};
    let d = |c: Id| degree[c.index()];
    let add = |a: Degree, b: Degree| match (a, b) {
        (Poly(x), Poly(y)) => Poly(x + y),
        _ => Not,
    };
    let max = |a: Degree, b: Degree| match (a, b) {
        (Poly(x), Poly(y)) => Poly(x.max(y)),
        _ => Not,
    };
    let constant_power = |k: Id| {
        g.const_value(k)
            .filter(|k| *k >= 0.0 && k.fract() == 0.0 && *k < 64.0)
            .map(|k| k as u32)
    };
    match g.node(id) {
        Node::Var(s) if s == var => Poly(1),
        Node::Var(_)
        | Node::Const(_)
        | Node::DimValue(_)
        | Node::Eye(_)
        | Node::Ones(_)
        | Node::Zeros(_)
        | Node::Differential(_)
        | Node::DifferentialOf(_) => Poly(0),
        Node::Add(a, b) => max(d(a), d(b)),
        Node::Neg(a) | Node::Transpose(a) => d(a),
        Node::Mul(a, b) | Node::ElemMul(a, b) | Node::Inner(a, b) => add(d(a), d(b)),
        Node::Div(a, b) | Node::ElemDiv(a, b) => match d(b) {
            Poly(0) => d(a),
            _ => Not,
        },
        Node::Pow(a, k) | Node::ElemPow(a, k) => match (d(a), d(k), constant_power(k)) {
            (Poly(0), Poly(0), _) => Poly(0),
            (Poly(x), Poly(0), Some(k)) => Poly(x * k),
            // ‖a‖² is the inner product <a, a>.
            (Not, Poly(0), Some(k)) if k % 2 == 0 => match g.node(a) {
                Node::Apply(Func::Norm2, inner) => match d(inner) {
                    Poly(x) => Poly(x * k),
                    Not => Not,
                },
                _ => Not,
            },
            _ => Not,
        },
        // Bilinear, but the closed forms do not go through Kronecker products.
        Node::Kron(a, b) => match (d(a), d(b)) {
            (Poly(0), Poly(0)) => Poly(0),
            _ => Not,
        },
        Node::Apply(f, a) => match (f, d(a)) {
            (_, Poly(0)) => Poly(0),
            (Func::Tr | Func::Sum | Func::Diag, x) => x,
            _ => Not,
        },
    }
}
