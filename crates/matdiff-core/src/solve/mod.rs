//! From `∇f = 0` to the closed form: the stationary point of a quadratic function.
//!
//! When `f` is quadratic in the variable `w`, its gradient is affine:
//! `∇f = H w + g₀` for a vector (for a matrix variable, a linear map `L(W) + G₀`).
//! The point where it vanishes is read off the way the seminar does it:
//!
//! ```text
//! ∇f = 0  ⇔  2/N Xᵀ(Xw − y) = 0  ⇔  XᵀX w = Xᵀy  ⇔  w = (XᵀX)⁻¹Xᵀy
//! ```
//!
//! Both pieces come from the differentiation engine: `H` is the Hessian (for a matrix
//! variable the second differential `d(∇f)`, split into `A dX`, `dX B` or `A dX B`
//! terms), and `g₀ = ∇f` at `w = 0`. The gradient is affine exactly when `H` does not
//! mention `w`. Constant factors common to `H` and `g₀` (`2/N`) cancel before the
//! inverse is written, so the answer is as short as a textbook's.
//!
//! The Hessian is then classified by its structure (a Gram form `BᵀB` is positive
//! semidefinite, `+ λI` with `λ > 0` makes it definite, an `spd` declaration is
//! definite, a sum accordingly) to say whether the point is a minimum and when it is
//! unique. A linear map that is not a plain product (`A X + X B`, a Sylvester
//! equation) has no closed form in matrix notation and is refused with that reason.

mod curvature;
mod degree;
mod linear_map;
mod terms;

use serde::Serialize;

use crate::diff::{canonicalize, differential, gradient, jacobian, DiffError};
use crate::ir::{Dim, Func, Function, Graph, Id, Node, Sym};
use crate::print;
use crate::simplify::simplify;

use curvature::{both, classify, transposes};
use degree::first_non_quadratic;
pub use linear_map::substitute;
use linear_map::{mentions_variable, split_linear_map, Split};
use terms::{
    build, build_sum, combine, common_factor, divided_sum, divides_cleanly, terms_of, Factored,
};

/// Why `∇f = 0` has no closed form here.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SolveError {
    /// The variable does not occur in the function's declarations or expression.
    #[error("unknown variable `{0}`")]
    UnknownVariable(String),
    /// `f` is not a scalar, so there is no gradient to set to zero.
    #[error("the function is a {shape}, not a scalar: there is no gradient to set to zero")]
    NotScalar {
        /// The function's shape as words (`vector(N)`).
        shape: String,
    },
    /// The gradient is not affine in the variable: `f` is not quadratic.
    #[error("the gradient is not affine in {wrt}: no closed form")]
    NotAffine {
        /// The variable's name.
        wrt: String,
        /// The first subexpression of `f` that is not quadratic in the variable (for
        /// a caret), when one was found.
        culprit: Option<Id>,
        /// Why that subexpression breaks affinity (`degree 3 in x`, `exp of w`).
        why: String,
    },
    /// The stationarity condition is linear but not a plain matrix product.
    #[error("the stationarity condition in {wrt} is {why}: no closed form in matrix notation")]
    NotPlainProduct {
        /// The variable's name.
        wrt: String,
        /// What the linear map is (`a Sylvester equation A*X + X*B = C`).
        why: String,
    },
    /// `f` does not depend on the variable, or only linearly: `∇f` is constant.
    #[error("the gradient does not depend on {wrt}: ∇f = 0 has no solution unless ∇f is zero")]
    ConstantGradient {
        /// The variable's name.
        wrt: String,
    },
    /// The derivative itself could not be taken.
    #[error(transparent)]
    Diff(#[from] DiffError),
}

/// How the linear part of `∇f` acts on the variable `W`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinearMap {
    /// `H W` (always the case for a vector variable): `W = H⁻¹ C`.
    Left(Id),
    /// `W B`: `W = C B⁻¹`.
    Right(Id),
    /// `A W B` (one term): `W = A⁻¹ C B⁻¹`.
    Both(Id, Id),
}

/// Positive (semi)definiteness of the Hessian as read from its structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Definiteness {
    /// Positive definite (under the stated conditions).
    PositiveDefinite,
    /// Positive semidefinite, not known to be definite.
    PositiveSemidefinite,
    /// Indefinite, or not recognised.
    Unknown,
}

/// The Hessian's structure: what is known about its definiteness, and on what
/// conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Curvature {
    /// Positive semidefinite by structure (given `assuming`).
    pub semidefinite: bool,
    /// Conditions under which it is positive definite (`X has full column rank`);
    /// `Some(vec![])` when it always is, `None` when that is not known.
    pub definite_when: Option<Vec<String>>,
    /// Signs assumed of scalar parameters (`lambda > 0`).
    pub assuming: Vec<String>,
    /// How the structure was read, one reason a term (`X'*X is a Gram form`).
    pub reasons: Vec<String>,
}

impl Curvature {
    /// The definiteness it establishes.
    pub fn definiteness(&self) -> Definiteness {
        match (self.semidefinite, &self.definite_when) {
            (true, Some(_)) => Definiteness::PositiveDefinite,
            (true, None) => Definiteness::PositiveSemidefinite,
            (false, _) => Definiteness::Unknown,
        }
    }

    /// What the stationary point is: `minimum, unique`, `minimum, unique when X has
    /// full column rank`, or `stationary point, not known to be a minimum`.
    pub fn verdict(&self) -> String {
        if !self.semidefinite {
            return "stationary point, not known to be a minimum".to_string();
        }
        let mut conditions = self.definite_when.clone().unwrap_or_default();
        for a in &self.assuming {
            if !conditions.contains(a) {
                conditions.push(a.clone());
            }
        }
        match (&self.definite_when, conditions.is_empty()) {
            (Some(_), true) => "minimum, unique".to_string(),
            (Some(_), false) => format!("minimum, unique when {}", conditions.join(" and ")),
            (None, true) => "minimum, not necessarily unique".to_string(),
            (None, false) => format!(
                "minimum when {}, not necessarily unique",
                conditions.join(" and ")
            ),
        }
    }

    /// Whether uniqueness hangs on a rank condition (then the minimum-norm solution
    /// is the answer in the singular case).
    fn rank_dependent(&self) -> bool {
        match &self.definite_when {
            Some(conditions) => conditions.iter().any(|c| c.contains("rank")),
            None => self.semidefinite,
        }
    }
}

/// One line of the solution: `lhs = rhs` and the rule that led there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Equation {
    /// The left-hand side.
    pub lhs: Id,
    /// The right-hand side; `None` is zero (of the left side's shape).
    pub rhs: Option<Id>,
    /// The rule, in the seminar's words.
    pub rule: String,
}

/// The minimum-norm answer for the singular case, `pinv(X)*y`, as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MinimumNorm {
    /// `pinv(X)*y` (ASCII).
    pub text: String,
    /// `X⁺y` (Unicode).
    pub pretty: String,
    /// How it is computed.
    pub solver: String,
}

/// The stationary point of a quadratic function, with its derivation and verdict.
#[derive(Clone, Debug)]
pub struct Solution {
    /// The variable solved for.
    pub wrt: Sym,
    /// `∇f`, affine in the variable.
    pub gradient: Id,
    /// The Hessian: the matrix `H` for a vector variable, the second differential
    /// `d(∇f)` (linear in `dX`) for a matrix variable.
    pub hessian: Id,
    /// The linear map of the stationarity condition, with common factors divided out.
    pub map: LinearMap,
    /// The right-hand side `C` of `L(W) = C`, common factors divided out.
    pub rhs: Id,
    /// The stationary point in textbook form: `inv(X'*X)*X'*y`.
    pub point: Id,
    /// `∇f = 0 ⇔ … ⇔ w = …`, one equation a line.
    pub steps: Vec<Equation>,
    /// The Hessian's structure.
    pub curvature: Curvature,
    /// `pinv(X)*y` when uniqueness needs a rank condition.
    pub minimum_norm: Option<MinimumNorm>,
}

/// A [`Solution`] as text, for JSON output and other front ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The variable.
    pub wrt: String,
    /// The stationary point, ASCII that parses back.
    pub solution: String,
    /// The stationary point in LaTeX.
    pub latex: String,
    /// `∇f`.
    pub gradient: String,
    /// The Hessian (or the second differential for a matrix variable).
    pub hessian: String,
    /// Its definiteness by structure.
    pub definiteness: Definiteness,
    /// Conditions for definiteness (`X has full column rank`).
    pub definite_when: Vec<String>,
    /// Signs assumed of parameters (`lambda > 0`).
    pub assuming: Vec<String>,
    /// How the structure was read.
    pub reasons: Vec<String>,
    /// `minimum, unique when X has full column rank`, …
    pub verdict: String,
    /// The minimum-norm solution in the singular case.
    pub minimum_norm: Option<MinimumNorm>,
    /// The steps, each `lhs = rhs` with its rule.
    pub steps: Vec<ReportStep>,
}

/// One step of a [`Report`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportStep {
    /// `lhs = rhs` as ASCII.
    pub equation: String,
    /// The rule.
    pub rule: String,
}

impl Solution {
    /// The solution as text.
    pub fn report(&self, g: &Graph) -> Report {
        Report {
            wrt: g.name(self.wrt).to_string(),
            solution: print::text(g, self.point),
            latex: print::latex(g, self.point),
            gradient: print::text(g, self.gradient),
            hessian: print::text(g, self.hessian),
            definiteness: self.curvature.definiteness(),
            definite_when: self.curvature.definite_when.clone().unwrap_or_default(),
            assuming: self.curvature.assuming.clone(),
            reasons: self.curvature.reasons.clone(),
            verdict: self.curvature.verdict(),
            minimum_norm: self.minimum_norm.clone(),
            steps: self
                .steps
                .iter()
                .map(|s| ReportStep {
                    equation: equation_text(g, s, print::text),
                    rule: s.rule.clone(),
                })
                .collect(),
        }
    }

    /// `∇f` at the stationary point, as an expression without the variable: zero
    /// when the solution is right (checked numerically by the tests and the CLI).
    pub fn gradient_at_point(&self, g: &mut Graph) -> Id {
        substitute(g, self.gradient, self.wrt, self.point)
    }
}

/// `lhs = rhs` through `printer`; a zero right side prints as `0`.
pub fn equation_text(g: &Graph, eq: &Equation, printer: fn(&Graph, Id) -> String) -> String {
    let rhs = eq.rhs.map_or_else(|| "0".to_string(), |r| printer(g, r));
    format!("{} = {rhs}", printer(g, eq.lhs))
}

/// Solves `∇f = 0` for the variable named `wrt` in closed form. The results live in
/// `f.graph`.
pub fn solve(f: &mut Function, wrt: &str) -> Result<Solution, SolveError> {
    let var = f
        .graph
        .variable_named(wrt)
        .copied()
        .ok_or_else(|| SolveError::UnknownVariable(wrt.to_string()))?;
    let g = &mut f.graph;
    if !g.shape(f.root).is_scalar() {
        return Err(SolveError::NotScalar {
            shape: print::shape(g, g.shape(f.root)),
        });
    }
    let not_affine = |g: &Graph| {
        let (culprit, why) = first_non_quadratic(g, f.root, var.name)
            .map_or((None, "not quadratic".to_string()), |(id, why)| {
                (Some(id), why)
            });
        SolveError::NotAffine {
            wrt: wrt.to_string(),
            culprit,
            why,
        }
    };
    // A function that is not quadratic by degree may still reach the engine (say
    // `sqrt(w'*w)^2`); the engine's Hessian decides.
    let root = canonicalize(g, f.root);
    let grad = gradient(g, root, var.name)?;
    let is_vector = var.shape.cols == Dim::ONE;
    let (hessian, terms) = if is_vector {
        let Some(h) = jacobian(g, grad, var.name)? else {
            return Err(SolveError::ConstantGradient { wrt: wrt.into() });
        };
        let h = simplify(g, h);
        if g.depends_on(h, var.name) {
            return Err(not_affine(g));
        }
        (h, Split::Left(combine(terms_of(g, h))))
    } else {
        let Some(dg) = differential(g, grad, var.name)? else {
            return Err(SolveError::ConstantGradient { wrt: wrt.into() });
        };
        let dg = simplify(g, dg);
        if mentions_variable(g, dg, var.name) {
            return Err(not_affine(g));
        }
        let split =
            split_linear_map(g, dg, var.name).map_err(|why| SolveError::NotPlainProduct {
                wrt: wrt.to_string(),
                why,
            })?;
        (dg, split)
    };
    if matches!(&terms, Split::Left(t) | Split::Right(t) if t.is_empty()) {
        return Err(SolveError::ConstantGradient { wrt: wrt.into() });
    }

    // C = −∇f(0), then the common factor of the map and C divided out.
    let zero = g.zeros(var.shape);
    let g0 = substitute(g, grad, var.name, zero);
    let minus_g0 = g.neg(g0);
    let c = simplify(g, minus_g0);
    let rhs_terms = combine(terms_of(g, c));
    // The common factor divided out is the one that reads shortest: that of the
    // map's terms (`2` in `2*X'*X + 2*lambda*I`), or that of `C` (`2/N` in `2/N*X'*y`,
    // which turns `2/N*X'*X + 2*lambda*I` into `X'*X + lambda*N*I`).
    let map_terms: Vec<Factored> = match &terms {
        Split::Left(t) | Split::Right(t) => t.clone(),
        Split::Both(l, _) => vec![l.clone()],
    };
    let mut candidates = vec![common_factor(&map_terms)];
    if !rhs_terms.is_empty() {
        // Only when it leaves no new denominators (`2*a*b` would turn `2*a^2` into
        // `a/b`).
        let from_rhs = common_factor(&rhs_terms);
        let clean = map_terms
            .iter()
            .chain(&rhs_terms)
            .all(|t| divides_cleanly(t, &from_rhs));
        if clean {
            candidates.push(from_rhs);
        }
    }
    let mut best: Option<(usize, Factored, LinearMap, Id, Id)> = None;
    for common in candidates {
        let rhs = if rhs_terms.is_empty() {
            g.zeros(var.shape)
        } else {
            divided_sum(g, &rhs_terms, &common)
        };
        let map = match &terms {
            Split::Left(_) => {
                let h = divided_sum(g, &map_terms, &common);
                LinearMap::Left(merge_identities(g, h))
            }
            Split::Right(_) => {
                let h = divided_sum(g, &map_terms, &common);
                LinearMap::Right(merge_identities(g, h))
            }
            Split::Both(l, r) => {
                // One term `c A dX B`: the factor goes with `A`.
                let l = divided_sum(g, std::slice::from_ref(l), &common);
                let r = build(g, r);
                let r = simplify(g, r);
                LinearMap::Both(l, r)
            }
        };
        let point = stationary_point(g, map, rhs);
        let length = print::token_count(g, point);
        if best.as_ref().is_none_or(|b| length < b.0) {
            best = Some((length, common, map, rhs, point));
        }
    }
    let Some((_, common, map, rhs, point)) = best else {
        return Err(SolveError::ConstantGradient { wrt: wrt.into() });
    };
    let w = g.add(Node::Var(var.name));

    // The Hessian as the engine gave it, before any factor was divided out: the
    // sign of that factor would otherwise have to be assumed.
    let curvature = match &terms {
        Split::Left(t) | Split::Right(t) => {
            let h = build_sum(g, t, None);
            classify(g, h)
        }
        Split::Both(a, b) => {
            let (a, b) = (build(g, a), build(g, b));
            both(classify(g, a), classify(g, b))
        }
    };

    // The steps: ∇f = 0, then L(w) = C, then w = L⁻¹(C).
    let mut steps = vec![Equation {
        lhs: grad,
        rhs: None,
        rule: "∇f = 0: the first-order condition".to_string(),
    }];
    let lhs = apply_map(g, map, w);
    let mut rule = String::from("the terms without ");
    rule.push_str(wrt);
    rule.push_str(" to the right");
    if !common.is_one() {
        let factor = build(g, &common);
        let factor = simplify(g, factor);
        rule.push_str(", divided by ");
        rule.push_str(&print::text(g, factor));
    }
    steps.push(Equation {
        lhs,
        rhs: Some(rhs),
        rule,
    });
    if lhs != w {
        let how = match map {
            LinearMap::Left(h) => format!("multiplied by inv({}) on the left", print::text(g, h)),
            LinearMap::Right(h) => {
                format!("multiplied by inv({}) on the right", print::text(g, h))
            }
            LinearMap::Both(a, b) => format!(
                "multiplied by inv({}) on the left and inv({}) on the right",
                print::text(g, a),
                print::text(g, b)
            ),
        };
        let when = match &curvature.definite_when {
            Some(c) if !c.is_empty() => format!(", invertible when {}", c.join(" and ")),
            _ => String::new(),
        };
        steps.push(Equation {
            lhs: w,
            rhs: Some(point),
            rule: format!("{how}{when}"),
        });
    }
    let minimum_norm = if curvature.rank_dependent() {
        Some(minimum_norm(g, map, rhs))
    } else {
        None
    };
    Ok(Solution {
        wrt: var.name,
        gradient: grad,
        hessian,
        map,
        rhs,
        point,
        steps,
        curvature,
        minimum_norm,
    })
}

/// `L(w)`: `H*w`, `w*B` or `A*w*B`; `w` itself for the identity.
fn apply_map(g: &mut Graph, map: LinearMap, w: Id) -> Id {
    let is_eye = |g: &Graph, h: Id| matches!(g.node(h), Node::Eye(_));
    match map {
        LinearMap::Left(h)
            if is_eye(g, h) || g.shape(h).is_scalar() && g.const_value(h) == Some(1.0) =>
        {
            w
        }
        LinearMap::Left(h) => g.mul(h, w),
        LinearMap::Right(b) if is_eye(g, b) => w,
        LinearMap::Right(b) => times_flat(g, w, b),
        LinearMap::Both(a, b) => {
            let aw = g.mul(a, w);
            times_flat(g, aw, b)
        }
    }
}

/// `a * b` with the matrix product `b` unfolded to the left (`X*A*A'`, not
/// `X*(A*A')`).
fn times_flat(g: &mut Graph, a: Id, b: Id) -> Id {
    match g.node(b) {
        Node::Mul(p, q) if !g.shape(p).is_scalar() && !g.shape(q).is_scalar() => {
            let ap = times_flat(g, a, p);
            times_flat(g, ap, q)
        }
        _ => g.mul(a, b),
    }
}

/// `L⁻¹(C)` in textbook form: `inv(H)*C`, `C*inv(B)`, `inv(A)*C*inv(B)`; `C` for the
/// identity and `C/h` for a scalar.
fn stationary_point(g: &mut Graph, map: LinearMap, c: Id) -> Id {
    let inverse = |g: &mut Graph, h: Id| -> Option<Id> {
        match g.node(h) {
            Node::Eye(_) => None,
            _ => Some(g.apply(Func::Inv, h)),
        }
    };
    let raw = match map {
        LinearMap::Left(h) if g.shape(h).is_scalar() => g.div(c, h),
        // `s I` (as `(1 + lambda)*eye(d)`) divides: `C/s`.
        LinearMap::Left(h) | LinearMap::Right(h) if identity_multiple(g, h).is_some() => {
            let s = identity_multiple(g, h).unwrap_or(h);
            let s = simplify(g, s);
            g.div(c, s)
        }
        LinearMap::Left(h) => match inverse(g, h) {
            Some(inv) => times_flat(g, inv, c),
            None => c,
        },
        LinearMap::Right(b) => match inverse(g, b) {
            Some(inv) => times_flat(g, c, inv),
            None => c,
        },
        LinearMap::Both(a, b) => {
            let left = match inverse(g, a) {
                Some(inv) => times_flat(g, inv, c),
                None => c,
            };
            match inverse(g, b) {
                Some(inv) => g.mul(left, inv),
                None => left,
            }
        }
    };
    // The simplifier may regroup the product; keep whichever reads shorter.
    let simplified = simplify(g, raw);
    if print::token_count(g, simplified) < print::token_count(g, raw) {
        simplified
    } else {
        raw
    }
}

/// `s` when `h` is a sum of multiples of one identity, `s I` (`eye(d) + lambda*eye(d)`
/// is `(1 + lambda) I`); `None` for a plain `eye(d)` and anything else.
fn identity_multiple(g: &mut Graph, h: Id) -> Option<Id> {
    let terms = terms_of(g, h);
    let eye = *terms.first()?.chain.first()?;
    if !matches!(g.node(eye), Node::Eye(_)) || terms.iter().any(|t| t.chain != [eye]) {
        return None;
    }
    if let [t] = terms.as_slice() {
        if t.coef == 1.0 && t.scalars.is_empty() {
            return None;
        }
    }
    let scalars: Vec<Factored> = terms
        .iter()
        .map(|t| Factored {
            chain: Vec::new(),
            ..t.clone()
        })
        .collect();
    Some(build_sum(g, &scalars, None))
}

/// `s*eye(d)` for a sum of multiples of one identity, else `h`.
fn merge_identities(g: &mut Graph, h: Id) -> Id {
    let Some(s) = identity_multiple(g, h) else {
        return h;
    };
    let eye = terms_of(g, h)[0].chain[0];
    let s = simplify(g, s);
    g.mul(s, eye)
}

/// `pinv(X)*y` when the map is a Gram form `X'*X` and `C = X'*y`; otherwise
/// `pinv(H)*C`, the minimum-norm solution of `H w = C`.
fn minimum_norm(g: &mut Graph, map: LinearMap, c: Id) -> MinimumNorm {
    let solver =
        "the thin SVD (minimum-norm least squares, as linreg's svd solver computes it)".to_string();
    let pinv = |g: &Graph, m: Id| {
        let pretty = match g.node(m) {
            Node::Var(_) => print::pretty(g, m),
            _ => format!("({})", print::pretty(g, m)),
        };
        (format!("pinv({})", print::text(g, m)), format!("{pretty}⁺"))
    };
    let (h, on_left) = match map {
        LinearMap::Left(h) => (h, true),
        LinearMap::Right(h) => (h, false),
        LinearMap::Both(a, _) => (a, true),
    };
    // `B'*B*w = B'*y` is solved by `pinv(B)*y`; `W*B*B' = Y*B'` by `Y*pinv(B)`.
    let ht = terms_of(g, h);
    let ct = terms_of(g, c);
    let mut target = None;
    if let ([ht], [ct], false) = (
        ht.as_slice(),
        ct.as_slice(),
        matches!(map, LinearMap::Both(..)),
    ) {
        let gram = ht.coef == 1.0
            && ht.scalars.is_empty()
            && ht.chain.len() == 2
            && transposes(g, ht.chain[0], ht.chain[1])
            && ct.chain.len() >= 2;
        if gram && on_left && ct.chain[0] == ht.chain[0] {
            target = Some((
                ht.chain[1],
                Factored {
                    chain: ct.chain[1..].to_vec(),
                    ..ct.clone()
                },
            ));
        } else if gram && !on_left && ct.chain[ct.chain.len() - 1] == ht.chain[1] {
            target = Some((
                ht.chain[0],
                Factored {
                    chain: ct.chain[..ct.chain.len() - 1].to_vec(),
                    ..ct.clone()
                },
            ));
        }
    }
    let (m, rest) = match target {
        Some((b, rest)) => {
            let y = build(g, &rest);
            (b, simplify(g, y))
        }
        None => (h, c),
    };
    let (p_text, p_pretty) = pinv(g, m);
    let (y_text, y_pretty) = (
        operand(g, rest, print::text),
        operand(g, rest, print::pretty),
    );
    let (text, pretty) = if on_left {
        (
            format!("{p_text}*{y_text}"),
            format!("{p_pretty}·{y_pretty}"),
        )
    } else {
        (
            format!("{y_text}*{p_text}"),
            format!("{y_pretty}·{p_pretty}"),
        )
    };
    MinimumNorm {
        text,
        pretty,
        solver,
    }
}

/// An operand of a product, in parentheses when it is a sum.
pub(super) fn operand(g: &Graph, id: Id, printer: fn(&Graph, Id) -> String) -> String {
    let text = printer(g, id);
    if matches!(g.node(id), Node::Add(_, _)) {
        format!("({text})")
    } else {
        text
    }
}
