//! Definiteness of the Hessian, read from its structure: Gram forms, identities, spd
//! declarations, positive factors and sums of these.

use crate::ir::{Func, Graph, Id, Kind, Node, Sym};
use crate::print;

use super::degree::even_constant;
use super::terms::{terms_of, Factored};
use super::{operand, Curvature};

impl Curvature {
    pub(super) fn unknown(reason: String) -> Curvature {
        Curvature {
            semidefinite: false,
            definite_when: None,
            assuming: Vec::new(),
            reasons: vec![reason],
        }
    }

    pub(super) fn definite(reason: String) -> Curvature {
        Curvature {
            semidefinite: true,
            definite_when: Some(Vec::new()),
            assuming: Vec::new(),
            reasons: vec![reason],
        }
    }

    /// The curvature of `c × self` for the scalar term `c`.
    pub(super) fn scaled_by(mut self, g: &Graph, c: &Factored) -> Curvature {
        let sign = scalar_sign(g, c);
        match sign {
            Sign::Positive(assumptions) => {
                for a in assumptions {
                    if !self.assuming.contains(&a) {
                        self.assuming.push(a);
                    }
                }
                self
            }
            Sign::Unknown(why) => {
                self.semidefinite = false;
                self.reasons.push(why);
                self
            }
        }
    }
}

pub(super) enum Sign {
    /// Positive, possibly under assumptions (`lambda > 0`).
    Positive(Vec<String>),
    Unknown(String),
}

/// The sign of a scalar term: dimensions are positive, even powers non-negative,
/// scalar parameters assumed positive (and said so).
pub(super) fn scalar_sign(g: &Graph, t: &Factored) -> Sign {
    if t.coef < 0.0 {
        return Sign::Unknown(format!("a negative coefficient {}", t.coef));
    }
    let mut assumptions = Vec::new();
    for &(s, e) in &t.scalars {
        if e % 2 == 0 {
            continue;
        }
        if !positive(g, s, &mut assumptions) {
            return Sign::Unknown(format!("the sign of {} is not known", print::text(g, s)));
        }
    }
    Sign::Positive(assumptions)
}

/// Whether a scalar expression is positive, assuming its scalar parameters are (the
/// assumptions made are added to `assumptions`).
pub(super) fn positive(g: &Graph, s: Id, assumptions: &mut Vec<String>) -> bool {
    match g.node(s) {
        Node::DimValue(_) => true,
        Node::Const(c) => c.value() > 0.0,
        Node::Var(v) => {
            let a = format!("{} > 0", g.name(v));
            if !assumptions.contains(&a) {
                assumptions.push(a);
            }
            true
        }
        Node::Add(a, b) | Node::Mul(a, b) | Node::Div(a, b) => {
            positive(g, a, assumptions) && positive(g, b, assumptions)
        }
        Node::Pow(a, k) => even_constant(g, k) || positive(g, a, assumptions),
        _ => false,
    }
}

/// Classifies a symmetric matrix expression `h` by structure.
pub(super) fn classify(g: &Graph, h: Id) -> Curvature {
    let terms = terms_of(g, h);
    let mut total: Option<Curvature> = None;
    for t in &terms {
        let scalar = Factored {
            chain: Vec::new(),
            ..t.clone()
        };
        let c = classify_chain(g, &t.chain).scaled_by(g, &scalar);
        total = Some(match total {
            None => c,
            Some(acc) => sum(acc, c),
        });
    }
    total.unwrap_or_else(|| Curvature::unknown("the Hessian is zero".to_string()))
}

/// A sum is semidefinite when every term is, definite when one term also is.
pub(super) fn sum(a: Curvature, b: Curvature) -> Curvature {
    let definite_when = match (a.definite_when, b.definite_when) {
        (Some(x), Some(y)) => Some(if y.len() < x.len() { y } else { x }),
        (x, y) => x.or(y),
    };
    let mut assuming = a.assuming;
    for x in b.assuming {
        if !assuming.contains(&x) {
            assuming.push(x);
        }
    }
    let mut reasons = a.reasons;
    reasons.extend(b.reasons);
    Curvature {
        semidefinite: a.semidefinite && b.semidefinite,
        definite_when,
        assuming,
        reasons,
    }
}

/// The map `dX ↦ A dX B` (a Kronecker product `Bᵀ ⊗ A`): semidefinite when both are,
/// definite when both are.
pub(super) fn both(a: Curvature, b: Curvature) -> Curvature {
    let definite_when = match (a.definite_when, b.definite_when) {
        (Some(mut x), Some(y)) => {
            x.extend(y);
            Some(x)
        }
        _ => None,
    };
    let mut assuming = a.assuming;
    assuming.extend(b.assuming);
    let mut reasons = a.reasons;
    reasons.extend(b.reasons);
    Curvature {
        semidefinite: a.semidefinite && b.semidefinite,
        definite_when,
        assuming,
        reasons,
    }
}

/// Whether `a = b'` (or `b = a'`).
pub(super) fn transposes(g: &Graph, a: Id, b: Id) -> bool {
    matches!(g.node(a), Node::Transpose(t) if t == b)
        || matches!(g.node(b), Node::Transpose(t) if t == a)
}

pub(super) fn product_text(g: &Graph, chain: &[Id]) -> String {
    chain
        .iter()
        .map(|&m| operand(g, m, print::text))
        .collect::<Vec<_>>()
        .join("*")
}

/// Classifies a product of matrices: the identity, an spd leaf, its inverse, a sum,
/// or a Gram form `B' M B` with `M` (semi)definite.
pub(super) fn classify_chain(g: &Graph, chain: &[Id]) -> Curvature {
    match chain {
        [] => Curvature::definite("a positive scalar".to_string()),
        [m] => match g.node(*m) {
            Node::Eye(_) => Curvature::definite("the identity is positive definite".to_string()),
            Node::Var(v) if kind_of(g, v) == Some(Kind::Spd) => {
                Curvature::definite(format!("{} is declared spd", g.name(v)))
            }
            Node::Apply(Func::Inv, a) if matches!(g.node(a), Node::Var(v) if kind_of(g, v) == Some(Kind::Spd)) => {
                Curvature::definite(format!(
                    "{} is the inverse of an spd matrix",
                    print::text(g, *m)
                ))
            }
            Node::Add(_, _) | Node::Neg(_) => classify(g, *m),
            _ => Curvature::unknown(format!("{} is not a recognised form", print::text(g, *m))),
        },
        _ => {
            let n = chain.len();
            let half = n / 2;
            let gram = (0..half).all(|i| transposes(g, chain[i], chain[n - 1 - i]));
            if !gram {
                return Curvature::unknown(format!(
                    "{} is not a recognised form",
                    product_text(g, chain)
                ));
            }
            let right = &chain[n - half..];
            let rank = match (right, right.first().map(|&b| g.node(b))) {
                ([_], Some(Node::Transpose(b))) => {
                    format!("{} has full row rank", operand(g, b, print::text))
                }
                _ => format!("{} has full column rank", product_text(g, right)),
            };
            if n % 2 == 0 {
                return Curvature {
                    semidefinite: true,
                    definite_when: Some(vec![rank]),
                    assuming: Vec::new(),
                    reasons: vec![format!("{} is a Gram form", product_text(g, chain))],
                };
            }
            let middle = classify_chain(g, &chain[half..half + 1]);
            Curvature {
                semidefinite: middle.semidefinite,
                definite_when: middle.definite_when.map(|mut c| {
                    c.push(rank);
                    c
                }),
                assuming: middle.assuming,
                reasons: vec![format!(
                    "{} is a Gram form with a definite middle factor",
                    product_text(g, chain)
                )],
            }
        }
    }
}

pub(super) fn kind_of(g: &Graph, v: Sym) -> Option<Kind> {
    g.variable(v).map(|v| v.kind)
}
