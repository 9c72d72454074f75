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

use serde::Serialize;

use crate::diff::{canonicalize, differential, gradient, jacobian, DiffError};
use crate::ir::{Dim, Func, Function, Graph, Id, Kind, Node, Sym};
use crate::print;
use crate::simplify::simplify;

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
fn operand(g: &Graph, id: Id, printer: fn(&Graph, Id) -> String) -> String {
    let text = printer(g, id);
    if matches!(g.node(id), Node::Add(_, _)) {
        format!("({text})")
    } else {
        text
    }
}

// ---------------------------------------------------------------------------
// Terms: coefficient × scalar factors × chain of matrix factors.

/// `coef × Π scalars[i].0 ^ scalars[i].1 × chain[0] * chain[1] * …`.
#[derive(Clone, Debug, PartialEq)]
struct Factored {
    coef: f64,
    /// Scalar factors with their exponents, no zero exponents, in first-seen order.
    scalars: Vec<(Id, i32)>,
    /// Non-scalar factors in product order.
    chain: Vec<Id>,
}

impl Factored {
    fn one() -> Factored {
        Factored {
            coef: 1.0,
            scalars: Vec::new(),
            chain: Vec::new(),
        }
    }

    fn is_one(&self) -> bool {
        self.coef == 1.0 && self.scalars.is_empty() && self.chain.is_empty()
    }

    fn scale(&mut self, s: Id, e: i32) {
        match self.scalars.iter_mut().find(|(x, _)| *x == s) {
            Some(entry) => entry.1 += e,
            None => self.scalars.push((s, e)),
        }
        self.scalars.retain(|(_, e)| *e != 0);
    }

    /// This term divided by the scalar term `common`.
    fn divided_by(&self, common: &Factored) -> Factored {
        let mut out = self.clone();
        out.coef /= common.coef;
        for &(s, e) in &common.scalars {
            out.scale(s, -e);
        }
        out
    }

    /// The product of two terms, `self` on the left.
    fn times(&self, other: &Factored) -> Factored {
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
fn terms_of(g: &Graph, id: Id) -> Vec<Factored> {
    let mut out = Vec::new();
    collect_terms(g, id, 1.0, &mut out);
    out
}

fn collect_terms(g: &Graph, id: Id, sign: f64, out: &mut Vec<Factored>) {
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

fn collect_factors(g: &Graph, id: Id, exp: i32, out: &mut Factored) {
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
fn build(g: &mut Graph, t: &Factored) -> Id {
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
fn build_sum(g: &mut Graph, terms: &[Factored], zero: Option<Id>) -> Id {
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
fn divided_sum(g: &mut Graph, terms: &[Factored], common: &Factored) -> Id {
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
fn combine(terms: Vec<Factored>) -> Vec<Factored> {
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
fn divides_cleanly(t: &Factored, common: &Factored) -> bool {
    t.divided_by(common)
        .scalars
        .iter()
        .all(|&(s, e)| e > 0 || t.scalars.iter().any(|&(u, f)| u == s && f < 0))
}

/// The scalar factor common to every term: the scalars with the same exponent in
/// all of them, and the coefficient when all coefficients agree (or `-1` when all are
/// negative).
fn common_factor(terms: &[Factored]) -> Factored {
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

// ---------------------------------------------------------------------------
// The linear map of a matrix variable.

/// The terms of `d(∇f)`, sorted by where `dX` sits.
enum Split {
    /// `Σ Aᵢ dX`: the map is `H dX` with `H = Σ Aᵢ`.
    Left(Vec<Factored>),
    /// `Σ dX Bᵢ`.
    Right(Vec<Factored>),
    /// One term `A dX B`.
    Both(Factored, Factored),
}

/// Splits the second differential `dg` (linear in `dX`) into a plain product.
fn split_linear_map(g: &mut Graph, dg: Id, var: Sym) -> Result<Split, String> {
    let x = g.name(var).to_string();
    let mut left = Vec::new();
    let mut right = Vec::new();
    let mut both = Vec::new();
    for t in linear_terms(g, dg, var)? {
        let pos = t
            .chain
            .iter()
            .position(|&m| matches!(g.node(m), Node::Differential(s) if s == var))
            .ok_or_else(|| format!("not linear in d{x}"))?;
        let a = Factored {
            coef: t.coef,
            scalars: t.scalars.clone(),
            chain: t.chain[..pos].to_vec(),
        };
        let b = Factored {
            chain: t.chain[pos + 1..].to_vec(),
            ..Factored::one()
        };
        match (a.chain.is_empty(), b.chain.is_empty()) {
            // `c dX` fits either side: `c I dX`.
            (true, true) => {
                let n = g.variable(var).map_or(Dim::ONE, |v| v.shape.rows);
                let eye = g.eye(n);
                left.push(Factored {
                    chain: vec![eye],
                    ..a
                });
            }
            (false, true) => left.push(a),
            (true, false) => right.push(a.times(&b)),
            (false, false) => both.push((a, b)),
        }
    }
    // Identity terms were put on the left; move them right when that is the side.
    if left.iter().all(|t| is_identity_term(g, t)) && !right.is_empty() && both.is_empty() {
        let m = g.variable(var).map_or(Dim::ONE, |v| v.shape.cols);
        let eye = g.eye(m);
        for t in left.drain(..) {
            right.push(Factored {
                chain: vec![eye],
                ..t
            });
        }
    }
    let (left, right) = (combine(left), combine(right));
    match (left.is_empty(), right.is_empty(), both.len()) {
        (_, true, 0) => Ok(Split::Left(left)),
        (true, false, 0) => Ok(Split::Right(right)),
        (true, true, 1) => {
            let (a, b) = both.remove(0);
            Ok(Split::Both(a, b))
        }
        (false, false, _) => Err(format!(
            "a Sylvester equation A*{x} + {x}*B = C (factors on both sides of {x} in different terms)"
        )),
        _ => Err(format!(
            "a sum of two-sided products A*{x}*B (it needs vec and kron to be solved)"
        )),
    }
}

fn is_identity_term(g: &Graph, t: &Factored) -> bool {
    matches!(t.chain.as_slice(), [e] if matches!(g.node(*e), Node::Eye(_)))
}

/// The terms of an expression linear in `dX`, with sums inside products distributed
/// so that each term has `dX` as one factor of its chain.
fn linear_terms(g: &mut Graph, id: Id, var: Sym) -> Result<Vec<Factored>, String> {
    let x = g.name(var).to_string();
    let symmetric = g.variable(var).is_some_and(|v| v.kind.is_symmetric());
    let mut out = Vec::new();
    for t in terms_of(g, id) {
        if t.scalars.iter().any(|&(s, _)| g.depends_on(s, var)) {
            return Err(format!(
                "a map through a scalar such as <C, d{x}> (it needs vec and kron to be solved)"
            ));
        }
        let inside: Vec<usize> = (0..t.chain.len())
            .filter(|&i| g.depends_on(t.chain[i], var))
            .collect();
        let [i] = inside.as_slice() else {
            return Err(format!("not linear in d{x}"));
        };
        let factor = t.chain[*i];
        match g.node(factor) {
            Node::Differential(_) => out.push(t),
            // (A dS B)' = B' dS A' for a symmetric S; otherwise X and X' mix.
            Node::Transpose(inner) if symmetric => {
                let prefix = Factored {
                    coef: t.coef,
                    scalars: t.scalars.clone(),
                    chain: t.chain[..*i].to_vec(),
                };
                let suffix = Factored {
                    chain: t.chain[i + 1..].to_vec(),
                    ..Factored::one()
                };
                for inner in linear_terms(g, inner, var)? {
                    let chain = inner
                        .chain
                        .iter()
                        .rev()
                        .map(|&m| match g.node(m) {
                            Node::Differential(_) => m,
                            _ => g.transpose(m),
                        })
                        .collect();
                    let transposed = Factored { chain, ..inner };
                    out.push(prefix.times(&transposed).times(&suffix));
                }
            }
            Node::Transpose(_) => {
                return Err(format!(
                    "a map that involves {x}' (the equation mixes {x} and its transpose)"
                ))
            }
            Node::Add(_, _) | Node::Neg(_) | Node::Mul(_, _) | Node::Div(_, _) => {
                let prefix = Factored {
                    coef: t.coef,
                    scalars: t.scalars.clone(),
                    chain: t.chain[..*i].to_vec(),
                };
                let suffix = Factored {
                    chain: t.chain[i + 1..].to_vec(),
                    ..Factored::one()
                };
                for inner in linear_terms(g, factor, var)? {
                    out.push(prefix.times(&inner).times(&suffix));
                }
            }
            _ => {
                return Err(format!(
                    "a map that is not a product with d{x} ({})",
                    print::text(g, factor)
                ))
            }
        }
    }
    Ok(out)
}

/// Whether `id` mentions the variable itself (not only its differential).
fn mentions_variable(g: &Graph, id: Id, var: Sym) -> bool {
    g.reachable(&[id])
        .into_iter()
        .any(|n| g.node(n) == Node::Var(var))
}

/// `root` with the variable `var` replaced by `value` (unsimplified).
pub fn substitute(g: &mut Graph, root: Id, var: Sym, value: Id) -> Id {
    let order = g.reachable(&[root]);
    let mut map: Vec<Option<Id>> = vec![None; g.len()];
    for id in order {
        let node = g.node(id);
        let new = if node == Node::Var(var) {
            value
        } else {
            let rebuilt = node.map_children(|c| map[c.index()].unwrap_or(c));
            if rebuilt == node {
                id
            } else {
                g.add(rebuilt)
            }
        };
        if map.len() <= id.index() {
            map.resize(id.index() + 1, None);
        }
        map[id.index()] = Some(new);
    }
    map[root.index()].unwrap_or(root)
}

// ---------------------------------------------------------------------------
// Definiteness by structure.

impl Curvature {
    fn unknown(reason: String) -> Curvature {
        Curvature {
            semidefinite: false,
            definite_when: None,
            assuming: Vec::new(),
            reasons: vec![reason],
        }
    }

    fn definite(reason: String) -> Curvature {
        Curvature {
            semidefinite: true,
            definite_when: Some(Vec::new()),
            assuming: Vec::new(),
            reasons: vec![reason],
        }
    }

    /// The curvature of `c × self` for the scalar term `c`.
    fn scaled_by(mut self, g: &Graph, c: &Factored) -> Curvature {
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

enum Sign {
    /// Positive, possibly under assumptions (`lambda > 0`).
    Positive(Vec<String>),
    Unknown(String),
}

/// The sign of a scalar term: dimensions are positive, even powers non-negative,
/// scalar parameters assumed positive (and said so).
fn scalar_sign(g: &Graph, t: &Factored) -> Sign {
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
fn positive(g: &Graph, s: Id, assumptions: &mut Vec<String>) -> bool {
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
fn classify(g: &Graph, h: Id) -> Curvature {
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
fn sum(a: Curvature, b: Curvature) -> Curvature {
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
fn both(a: Curvature, b: Curvature) -> Curvature {
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
fn transposes(g: &Graph, a: Id, b: Id) -> bool {
    matches!(g.node(a), Node::Transpose(t) if t == b)
        || matches!(g.node(b), Node::Transpose(t) if t == a)
}

fn product_text(g: &Graph, chain: &[Id]) -> String {
    chain
        .iter()
        .map(|&m| operand(g, m, print::text))
        .collect::<Vec<_>>()
        .join("*")
}

/// Classifies a product of matrices: the identity, an spd leaf, its inverse, a sum,
/// or a Gram form `B' M B` with `M` (semi)definite.
fn classify_chain(g: &Graph, chain: &[Id]) -> Curvature {
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

fn kind_of(g: &Graph, v: Sym) -> Option<Kind> {
    g.variable(v).map(|v| v.kind)
}

// ---------------------------------------------------------------------------
// Where a function stops being quadratic.

/// Polynomial degree in the variable, or not a polynomial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Degree {
    Poly(u32),
    Not,
}

impl Degree {
    fn quadratic(self) -> bool {
        matches!(self, Degree::Poly(k) if k <= 2)
    }
}

/// The first (outermost-first, leftmost) smallest subexpression of `root` that is
/// not a polynomial of degree at most 2 in `var`, and why.
fn first_non_quadratic(g: &Graph, root: Id, var: Sym) -> Option<(Id, String)> {
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
fn is_squared_norm_argument(g: &Graph, parent: Id, child: Id) -> bool {
    matches!(g.node(parent), Node::Pow(n, k) if n == child && even_constant(g, k))
        && matches!(g.node(child), Node::Apply(Func::Norm2, _))
}

fn even_constant(g: &Graph, k: Id) -> bool {
    g.const_value(k)
        .is_some_and(|k| k >= 0.0 && k.fract() == 0.0 && (k as u64) % 2 == 0)
}

fn degree_of(g: &Graph, id: Id, var: Sym, degree: &[Degree]) -> Degree {
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
        Node::Apply(f, a) => match (f, d(a)) {
            (_, Poly(0)) => Poly(0),
            (Func::Tr | Func::Sum | Func::Diag, x) => x,
            _ => Not,
        },
    }
}
