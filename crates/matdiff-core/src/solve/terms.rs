//! Terms of a sum: a coefficient × scalar factors × a chain of matrix factors, and
//! how they are built back, combined and divided by a common factor.

use crate::ir::{Graph, Id, Node};
use crate::print;
use crate::simplify::simplify;

/// `coef × Π scalars[i].0 ^ scalars[i].1 × chain[0] * chain[1] * …`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Factored {
    pub(super) coef: f64,
    /// Scalar factors with their exponents, no zero exponents, in first-seen order.
    pub(super) scalars: Vec<(Id, i32)>,
    /// Non-scalar factors in product order.
    pub(super) chain: Vec<Id>,
}

impl Factored {
    pub(super) fn one() -> Factored {
        Factored {
            coef: 1.0,
            scalars: Vec::new(),
            chain: Vec::new(),
        }
    }

    pub(super) fn is_one(&self) -> bool {
        self.coef == 1.0 && self.scalars.is_empty() && self.chain.is_empty()
    }

    pub(super) fn scale(&mut self, s: Id, e: i32) {
        match self.scalars.iter_mut().find(|(x, _)| *x == s) {
            Some(entry) => entry.1 += e,
            None => self.scalars.push((s, e)),
        }
        self.scalars.retain(|(_, e)| *e != 0);
    }

    /// This term divided by the scalar term `common`.
    pub(super) fn divided_by(&self, common: &Factored) -> Factored {
        let mut out = self.clone();
        out.coef /= common.coef;
        for &(s, e) in &common.scalars {
            out.scale(s, -e);
        }
        out
    }

    /// The product of two terms, `self` on the left.
    pub(super) fn times(&self, other: &Factored) -> Factored {
        let mut out = self.clone();
        out.coef *= other.coef;
        for &(s, e) in &other.scalars {
            out.scale(s, e);
        }
        out.chain.extend_from_slice(&other.chain);
        out
    }
}

/// The terms of a sum (through `+` and unary minus), each factored.
pub(super) fn terms_of(g: &Graph, id: Id) -> Vec<Factored> {
    let mut out = Vec::new();
    collect_terms(g, id, 1.0, &mut out);
    out
}

pub(super) fn collect_terms(g: &Graph, id: Id, sign: f64, out: &mut Vec<Factored>) {
    match g.node(id) {
        Node::Add(a, b) if !g.shape(a).is_scalar() || g.shape(b).is_scalar() => {
            collect_terms(g, a, sign, out);
            collect_terms(g, b, sign, out);
        }
        Node::Neg(a) => collect_terms(g, a, -sign, out),
        Node::Zeros(_) => {}
        Node::Const(c) if c.value() == 0.0 => {}
        _ => {
            let mut t = Factored::one();
            collect_factors(g, id, 1, &mut t);
            t.coef *= sign;
            if t.coef != 0.0 {
                out.push(t);
            }
        }
    }
}

pub(super) fn collect_factors(g: &Graph, id: Id, exp: i32, out: &mut Factored) {
    let scalar = |x: Id| g.shape(x).is_scalar();
    match g.node(id) {
        Node::Const(c) => out.coef *= c.value().powi(exp),
        Node::Neg(a) => {
            out.coef = -out.coef;
            collect_factors(g, a, exp, out);
        }
        // A product of a row and a column is a scalar factor of its own.
        Node::Mul(a, b) if !scalar(id) || (scalar(a) && scalar(b)) => {
            collect_factors(g, a, exp, out);
            collect_factors(g, b, exp, out);
        }
        Node::Div(a, b) => {
            collect_factors(g, a, exp, out);
            collect_factors(g, b, -exp, out);
        }
        Node::Pow(a, k) if scalar(a) => match g.const_value(k) {
            Some(k) if k.fract() == 0.0 && k.abs() < 64.0 => {
                out.scale(a, exp * k as i32);
            }
            _ => out.scale(id, exp),
        },
        _ if scalar(id) => out.scale(id, exp),
        _ => out.chain.push(id),
    }
}

/// A term as an expression (unsimplified).
pub(super) fn build(g: &mut Graph, t: &Factored) -> Id {
    let mut numerator: Option<Id> = None;
    let mut denominator: Option<Id> = None;
    let times = |g: &mut Graph, acc: Option<Id>, x: Id| match acc {
        Some(a) => g.mul(a, x),
        None => x,
    };
    // A coefficient 1/k is written as a division by k (`A/2`, not `0.5*A`).
    let reciprocal = 1.0 / t.coef;
    let divisor = (t.coef.fract() != 0.0 && reciprocal.fract() == 0.0).then_some(reciprocal);
    if let Some(k) = divisor {
        let k = g.constant(k.abs());
        denominator = Some(k);
        if t.coef < 0.0 {
            numerator = Some(g.constant(-1.0));
        }
    } else if t.coef != 1.0 || (t.scalars.is_empty() && t.chain.is_empty()) {
        let c = g.constant(t.coef);
        numerator = Some(c);
    }
    for &(s, e) in &t.scalars {
        let p = g.powi(s, f64::from(e.abs()));
        if e > 0 {
            numerator = Some(times(g, numerator, p));
        } else {
            denominator = Some(times(g, denominator, p));
        }
    }
    for &m in &t.chain {
        numerator = Some(times(g, numerator, m));
    }
    let numerator = numerator.unwrap_or_else(|| g.constant(1.0));
    match denominator {
        Some(d) => g.div(numerator, d),
        None => numerator,
    }
}

/// A sum of terms (unsimplified); `zero` for none.
pub(super) fn build_sum(g: &mut Graph, terms: &[Factored], zero: Option<Id>) -> Id {
    let mut acc: Option<Id> = None;
    for t in terms {
        let x = build(g, t);
        acc = Some(match acc {
            Some(a) => g.sum2(a, x),
            None => x,
        });
    }
    acc.or(zero).unwrap_or_else(|| g.constant(0.0))
}

/// `Σ tᵢ / common`, matrix terms first (`X'*X + lambda*eye(d)`, the textbook's order),
/// simplified unless that only reorders it.
pub(super) fn divided_sum(g: &mut Graph, terms: &[Factored], common: &Factored) -> Id {
    let mut ts: Vec<Factored> = terms.iter().map(|t| t.divided_by(common)).collect();
    ts.sort_by_key(|t| is_identity_term(g, t));
    let built = build_sum(g, &ts, None);
    let simplified = simplify(g, built);
    if print::token_count(g, simplified) < print::token_count(g, built) {
        simplified
    } else {
        built
    }
}

/// Like terms (the same scalars and chain) added up: `dS + dS` is `2*dS`.
pub(super) fn combine(terms: Vec<Factored>) -> Vec<Factored> {
    let mut out: Vec<Factored> = Vec::new();
    for t in terms {
        let mut scalars = t.scalars.clone();
        scalars.sort();
        let same = out.iter_mut().find(|u| {
            let mut us = u.scalars.clone();
            us.sort();
            u.chain == t.chain && us == scalars
        });
        match same {
            Some(u) => u.coef += t.coef,
            None => out.push(t),
        }
    }
    out.retain(|t| t.coef != 0.0);
    out
}

/// Whether dividing `t` by `common` leaves no scalar with a negative exponent that
/// `t` did not have.
pub(super) fn divides_cleanly(t: &Factored, common: &Factored) -> bool {
    t.divided_by(common)
        .scalars
        .iter()
        .all(|&(s, e)| e > 0 || t.scalars.iter().any(|&(u, f)| u == s && f < 0))
}

/// The scalar factor common to every term: the scalars with the same exponent in
/// all of them, and the coefficient when all coefficients agree (or `-1` when all are
/// negative).
pub(super) fn common_factor(terms: &[Factored]) -> Factored {
    let mut common = Factored::one();
    if let Some(first) = terms.first() {
        if terms.iter().all(|t| t.coef == first.coef) {
            common.coef = first.coef;
        } else if terms.iter().all(|t| t.coef < 0.0) {
            common.coef = -1.0;
        }
        for &(s, e) in &first.scalars {
            if terms.iter().all(|t| t.scalars.contains(&(s, e))) {
                common.scalars.push((s, e));
            }
        }
    }
    common
}

pub(super) fn is_identity_term(g: &Graph, t: &Factored) -> bool {
    matches!(t.chain.as_slice(), [e] if matches!(g.node(*e), Node::Eye(_)))
}
