//! Differentiation by the seminar's rules.
//!
//! One rule table, three ways of walking it:
//! - [`gradient`]: adjoints propagated backwards from a scalar root. Each rule moves
//!   `dX` into the right slot of an inner product, so the result lands in matrix
//!   notation: `df = <G, dX>`.
//! - [`differential`]: the forward differential `df` as an expression linear in `dX`,
//!   for matrix-valued functions (`d(X⁻¹) = −X⁻¹ dX X⁻¹`) and second differentials.
//! - [`jacobian`]: forward mode on linear maps, `d(node) = J(node) dx`, for vector
//!   functions of a vector and for Hessians (the Jacobian of the gradient).

use std::collections::BTreeMap;

use crate::derivative::{Derivative, DerivativeKind, Step};
use crate::ir::{Dim, Func, Function, Graph, Id, Node, Shape, Sym};
use crate::simplify::simplify;

/// Why a derivative could not be taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiffError {
    /// The variable does not occur in the function's declarations or expression.
    #[error("unknown variable `{0}`")]
    UnknownVariable(String),
    /// The requested derivative is not defined for these kinds.
    #[error("{0}")]
    Unsupported(String),
    /// A power the rules do not differentiate: its exponent depends on the variable,
    /// or a matrix power's exponent is not an integer within [`MAX_MATRIX_EXPONENT`].
    #[error("{message}")]
    Power {
        /// Which of the two.
        refusal: PowerRefusal,
        /// What to write instead.
        message: String,
    },
    /// The derivative's graph grew past [`crate::ir::NODE_BUDGET`] nodes.
    #[error("the {what} grows past {limit} nodes — the expression is too long or too deeply nested for it; differentiate a shorter expression{}", if *what == "Hessian" { ", or ask for the gradient (--order 1)" } else { "" })]
    TooLarge {
        /// What was being built: `Hessian`, `derivative`, `derivation`.
        what: &'static str,
        /// The node budget.
        limit: usize,
    },
}

/// Why a power is not differentiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerRefusal {
    /// The exponent depends on the variable (`a^a`, or `X^k` with `k` the variable).
    VariableExponent,
    /// A matrix power whose exponent is not a constant integer within
    /// ±[`MAX_MATRIX_EXPONENT`].
    MatrixExponent,
}

/// The largest `|k|` of a matrix power `X^k` that the rules differentiate: `d(X^k)` is
/// a sum of `k` products.
pub const MAX_MATRIX_EXPONENT: f64 = 64.0;

fn refused(refusal: PowerRefusal, message: &str) -> DiffError {
    DiffError::Power {
        refusal,
        message: message.to_owned(),
    }
}

/// Differentiates `f` with respect to the variable named `wrt`; `order` is 1 or 2.
/// The result lives in `f.graph`, simplified to textbook form.
///
/// A derivative whose graph would grow past [`crate::ir::NODE_BUDGET`] nodes is
/// refused with [`DiffError::TooLarge`].
pub fn derive(f: &mut Function, wrt: &str, order: u8) -> Result<Derivative, DiffError> {
    let what = if order == 2 { "Hessian" } else { "derivative" };
    crate::ir::within_node_budget(|| derive_unbounded(f, wrt, order)).unwrap_or_else(|e| {
        Err(DiffError::TooLarge {
            what,
            limit: e.limit,
        })
    })
}

fn derive_unbounded(f: &mut Function, wrt: &str, order: u8) -> Result<Derivative, DiffError> {
    let var = f
        .graph
        .variable_named(wrt)
        .copied()
        .ok_or_else(|| DiffError::UnknownVariable(wrt.to_string()))?;
    let g = &mut f.graph;
    // The function itself is kept in its stable form, so that its value evaluates
    // (in plans and generated code) as exactly as its derivative.
    let root = canonicalize(g, f.root);
    f.root = root;
    let f_shape = g.shape(root);
    let x_shape = var.shape;
    let x_is_vector = x_shape.cols == Dim::ONE;
    match (order, f_shape.is_scalar()) {
        (1, true) => {
            let expr = gradient(g, root, var.name)?;
            Ok(Derivative {
                kind: DerivativeKind::Gradient,
                wrt: var.name,
                expr,
                gradient: None,
                steps: Vec::new(),
            })
        }
        (1, false) if f_shape.cols == Dim::ONE && x_is_vector => {
            let j = jacobian(g, root, var.name)?;
            let expr = match j {
                Some(j) => {
                    let j = simplify(g, j);
                    zero_shaped(g, j, Shape::new(f_shape.rows, x_shape.rows))
                }
                None => g.zeros(Shape::new(f_shape.rows, x_shape.rows)),
            };
            Ok(Derivative {
                kind: DerivativeKind::Jacobian,
                wrt: var.name,
                expr,
                gradient: None,
                steps: Vec::new(),
            })
        }
        (1, false) => {
            let d = differential(g, root, var.name)?;
            let expr = match d {
                Some(d) => {
                    let d = simplify(g, d);
                    zero_shaped(g, d, f_shape)
                }
                None => g.zeros(f_shape),
            };
            Ok(Derivative {
                kind: DerivativeKind::Differential,
                wrt: var.name,
                expr,
                gradient: None,
                steps: Vec::new(),
            })
        }
        (2, true) => {
            let grad = gradient(g, root, var.name)?;
            let second = if x_is_vector {
                jacobian(g, grad, var.name)?
            } else {
                differential(g, grad, var.name)?
            };
            let hessian_shape = if x_is_vector {
                Shape::new(x_shape.rows, x_shape.rows)
            } else {
                x_shape
            };
            let expr = match second {
                Some(h) => {
                    let h = simplify(g, h);
                    zero_shaped(g, h, hessian_shape)
                }
                None => g.zeros(hessian_shape),
            };
            Ok(Derivative {
                kind: DerivativeKind::Hessian,
                wrt: var.name,
                expr,
                gradient: Some(grad),
                steps: Vec::new(),
            })
        }
        (2, false) => Err(DiffError::Unsupported(
            "a second derivative needs a scalar function — take the derivative of one entry or a norm".into(),
        )),
        _ => Err(DiffError::Unsupported(format!(
            "order {order} is not supported — use 1 or 2"
        ))),
    }
}

/// `expr`, or the zero matrix of `shape` when `expr` simplified to the scalar `0`
/// (`d(A + 0*a)` is the zero matrix of A's shape, not the number 0).
fn zero_shaped(g: &mut Graph, expr: Id, shape: Shape) -> Id {
    if g.const_value(expr) == Some(0.0) && !shape.is_scalar() {
        g.zeros(shape)
    } else {
        expr
    }
}

/// Rewrites known compositions into the built-ins whose derivatives read better
/// and evaluate stably (`log(1 + exp(z))` → `softplus(z)`, …): the table of
/// [`crate::stable`], under the name the optimisers know it by.
pub use crate::stable::stabilize as canonicalize;

/// The gradient `G` of a scalar `root` with respect to `var` (`df = <G, dX>`),
/// simplified; symmetric variables get `sym(G0) = (G0 + G0')/2`.
pub fn gradient(g: &mut Graph, root: Id, var: Sym) -> Result<Id, DiffError> {
    let shape = g.variable(var).map(|v| v.shape).unwrap_or(Shape::SCALAR);
    let symmetric = g.variable(var).is_some_and(|v| v.kind.is_symmetric());
    let raw = adjoint(g, root, var)?;
    let Some(raw) = raw else {
        return Ok(g.zeros(shape));
    };
    let g0 = simplify(g, raw);
    let g0 = zero_shaped(g, g0, shape);
    if !symmetric {
        return Ok(g0);
    }
    let t = g.transpose(g0);
    let t = simplify(g, t);
    if crate::simplify::same_value_form(g, g0, t) {
        return Ok(g0);
    }
    let s = g.sum2(g0, t);
    let two = g.constant(2.0);
    let half = g.div(s, two);
    Ok(simplify(g, half))
}

/// Propagates adjoints from the scalar `root` back to `var`; `None` when `root`
/// does not depend on it. The result is unsimplified.
fn adjoint(g: &mut Graph, root: Id, var: Sym) -> Result<Option<Id>, DiffError> {
    let order = g.reachable(&[root]);
    let depends = dependence(g, &order, var);
    if !depends.get(&root).copied().unwrap_or(false) {
        return Ok(None);
    }
    let mut bars: BTreeMap<Id, Vec<Id>> = BTreeMap::new();
    let one = g.constant(1.0);
    bars.insert(root, vec![one]);
    let mut result: Option<Id> = None;
    for &id in order.iter().rev() {
        let Some(contributions) = bars.remove(&id) else {
            continue;
        };
        let mut bar = contributions[0];
        for &c in &contributions[1..] {
            bar = g.sum2(bar, c);
        }
        if matches!(g.node(id), Node::Var(s) if s == var) {
            result = Some(bar);
            continue;
        }
        for (child, child_bar) in adjoint_rule(g, id, bar, &depends)? {
            bars.entry(child).or_default().push(child_bar);
        }
    }
    Ok(result)
}

/// Which nodes depend on `var`.
fn dependence(g: &Graph, order: &[Id], var: Sym) -> BTreeMap<Id, bool> {
    let mut depends = BTreeMap::new();
    for &id in order {
        let node = g.node(id);
        let d = match node {
            Node::Var(s) | Node::Differential(s) => s == var,
            _ => node
                .children()
                .any(|c| depends.get(&c).copied().unwrap_or(false)),
        };
        depends.insert(id, d);
    }
    depends
}

/// The adjoint rule for one node: given `C̄` (`bar`), what each child that depends
/// on the variable receives.
fn adjoint_rule(
    g: &mut Graph,
    id: Id,
    bar: Id,
    depends: &BTreeMap<Id, bool>,
) -> Result<Vec<(Id, Id)>, DiffError> {
    let dep = |x: Id| depends.get(&x).copied().unwrap_or(false);
    let sc = |g: &Graph, x: Id| g.shape(x).is_scalar();
    let mut out = Vec::new();
    match g.node(id) {
        Node::Const(_)
        | Node::Var(_)
        | Node::DimValue(_)
        | Node::Eye(_)
        | Node::Ones(_)
        | Node::Zeros(_)
        | Node::Differential(_)
        | Node::DifferentialOf(_) => {}
        // d(X + Y) = dX + dY; a broadcast scalar collects sum(C̄).
        Node::Add(a, b) => {
            for x in [a, b] {
                if dep(x) {
                    let xb = unbroadcast(g, bar, x);
                    out.push((x, xb));
                }
            }
        }
        Node::Neg(a) => {
            let nb = g.neg(bar);
            out.push((a, nb));
        }
        // d(XY) = dX Y + X dY, read off through <G, dA B> = <G B', dA>.
        Node::Mul(a, b) => {
            let (sa, sb) = (sc(g, a), sc(g, b));
            if dep(a) {
                let ab = if sa && !sb {
                    g.inner(bar, b)
                } else if sb || sa {
                    g.mul(b, bar)
                } else {
                    let bt = g.transpose(b);
                    g.mul(bar, bt)
                };
                out.push((a, ab));
            }
            if dep(b) {
                let bb = if sb && !sa {
                    g.inner(bar, a)
                } else if sa || sb {
                    g.mul(a, bar)
                } else {
                    let at = g.transpose(a);
                    g.mul(at, bar)
                };
                out.push((b, bb));
            }
        }
        // d(X/φ) = (φ dX − dφ X)/φ².
        Node::Div(a, phi) => {
            if dep(a) {
                let ab = g.div(bar, phi);
                out.push((a, ab));
            }
            if dep(phi) {
                let num = g.inner(bar, a);
                let p2 = g.powi(phi, 2.0);
                let q = g.div(num, p2);
                let pb = g.neg(q);
                out.push((phi, pb));
            }
        }
        Node::Pow(a, k) => {
            let k_value = g.const_value(k);
            if dep(k) {
                if !sc(g, a) {
                    return Err(refused(
                        PowerRefusal::VariableExponent,
                        "a matrix power with a variable exponent has no derivative here",
                    ));
                }
                // d(a^k) = a^k log(a) dk.
                let log_a = g.apply(Func::Log, a);
                let t = g.mul(id, log_a);
                let kb = g.mul(bar, t);
                out.push((k, kb));
            }
            if dep(a) {
                let Some(kv) = k_value else {
                    if sc(g, a) {
                        let t = power_slope(g, a, k);
                        let ab = g.mul(bar, t);
                        out.push((a, ab));
                        return Ok(out);
                    }
                    return Err(refused(
                        PowerRefusal::MatrixExponent,
                        "a matrix power needs a constant integer exponent",
                    ));
                };
                if sc(g, a) {
                    // ‖u‖^k: straight to u, since d‖u‖² = 2<u, du>.
                    if let Node::Apply(Func::Norm2, u) = g.node(a) {
                        let factor = if kv == 2.0 {
                            g.constant(2.0)
                        } else {
                            let c = g.constant(kv);
                            let p = g.powi(a, kv - 2.0);
                            g.mul(c, p)
                        };
                        let t = g.mul(factor, bar);
                        let ub = g.mul(t, u);
                        out.push((u, ub));
                        return Ok(out);
                    }
                    let t = power_slope(g, a, k);
                    let ab = g.mul(t, bar);
                    out.push((a, ab));
                } else {
                    let ab = matrix_power_adjoint(g, a, kv, bar)?;
                    out.push((a, ab));
                }
            }
        }
        // <G, B ∘ dA> = <G ∘ B, dA>.
        Node::ElemMul(a, b) => {
            for (x, other) in [(a, b), (b, a)] {
                if dep(x) {
                    let t = if sc(g, other) && !sc(g, x) {
                        g.mul(other, bar)
                    } else {
                        g.elem_mul(bar, other)
                    };
                    let xb = unbroadcast(g, t, x);
                    out.push((x, xb));
                }
            }
        }
        Node::ElemDiv(a, b) => {
            if dep(a) {
                let t = g.elem_div(bar, b);
                let ab = unbroadcast(g, t, a);
                out.push((a, ab));
            }
            if dep(b) {
                // d(a ./ b) = −a ./ b.^2 ∘ db.
                let q = quotient_slope(g, a, b);
                let t = g.elem_mul(bar, q);
                let t = g.neg(t);
                let bb = unbroadcast(g, t, b);
                out.push((b, bb));
            }
        }
        Node::ElemPow(a, k) => {
            if dep(k) {
                let log_a = g.apply(Func::Log, a);
                let t = g.elem_mul(id, log_a);
                let t = g.elem_mul(bar, t);
                let kb = unbroadcast(g, t, k);
                out.push((k, kb));
            }
            if dep(a) {
                let t = elem_power_slope(g, a, k);
                let t = g.elem_mul(bar, t);
                let ab = unbroadcast(g, t, a);
                out.push((a, ab));
            }
        }
        // d(X') = (dX)'.
        Node::Transpose(a) => {
            let ab = g.transpose(bar);
            out.push((a, ab));
        }
        // d<X,Y> = <dX,Y> + <X,dY>.
        Node::Inner(a, b) => {
            if dep(a) {
                let ab = g.mul(bar, b);
                out.push((a, ab));
            }
            if dep(b) {
                let bb = g.mul(bar, a);
                out.push((b, bb));
            }
        }
        // d kron(A, B) = kron(dA, B) + kron(A, dB).
        Node::Kron(a, b) => {
            if dep(a) {
                let ab = kron_adjoint(g, bar, a, b, KronSide::Left);
                out.push((a, ab));
            }
            if dep(b) {
                let bb = kron_adjoint(g, bar, a, b, KronSide::Right);
                out.push((b, bb));
            }
        }
        Node::Apply(f, a) => {
            let ab = apply_adjoint(g, id, f, a, bar)?;
            out.push((a, ab));
        }
    }
    Ok(out)
}

/// Which factor of `kron(A, B)` an adjoint is for.
#[derive(Clone, Copy)]
enum KronSide {
    Left,
    Right,
}

/// The adjoint of one factor of `C = kron(A, B)`. It is linear in `C̄`, so it passes
/// through sums, negations and scalings; a `C̄` that is itself a Kronecker product
/// `kron(P, Q)` of the factors' shapes (so also `eye(m*p)` and `ones*ones'`) gives
/// the short forms `Ā = <Q, B> P` and `B̄ = <A, P> Q`. Anything else takes the block
/// formulas below.
fn kron_adjoint(g: &mut Graph, bar: Id, a: Id, b: Id, side: KronSide) -> Id {
    through_linear(g, bar, &mut |g, bar| {
        if let Some((p, q)) = kron_factors(g, bar, g.shape(a), g.shape(b)) {
            return match side {
                KronSide::Left => {
                    let w = g.inner(q, b);
                    g.mul(w, p)
                }
                KronSide::Right => {
                    let w = g.inner(a, p);
                    g.mul(w, q)
                }
            };
        }
        match side {
            KronSide::Left => kron_adjoint_left(g, bar, b, g.shape(a)),
            KronSide::Right => kron_adjoint_right(g, bar, a, g.shape(b)),
        }
    })
}

/// A linear map `f` applied to `x`, passed through the sums, negations and scalar
/// multiples at the top of `x` (`f(2*u - v) = 2*f(u) - f(v)`), so that `f` meets
/// the simplest pieces it can give short forms for.
fn through_linear(g: &mut Graph, x: Id, f: &mut dyn FnMut(&mut Graph, Id) -> Id) -> Id {
    let scalar = |g: &Graph, y: Id| g.shape(y).is_scalar();
    match g.node(x) {
        Node::Neg(y) => {
            let t = through_linear(g, y, f);
            g.neg(t)
        }
        Node::Add(y, z) => {
            let ty = through_linear(g, y, f);
            let tz = through_linear(g, z, f);
            g.sum2(ty, tz)
        }
        Node::Mul(c, y) if scalar(g, c) => {
            let t = through_linear(g, y, f);
            g.mul(c, t)
        }
        Node::Mul(y, c) if scalar(g, c) => {
            let t = through_linear(g, y, f);
            g.mul(t, c)
        }
        _ => f(g, x),
    }
}

/// `C̄` as `kron(P, Q)` with P of A's shape and Q of B's, where it plainly is one:
/// a Kronecker product, the identity of square factors, or all ones.
fn kron_factors(g: &mut Graph, bar: Id, sa: Shape, sb: Shape) -> Option<(Id, Id)> {
    let all_ones = |g: &mut Graph, s: Shape| {
        let r = g.ones(s.rows);
        let c = g.ones(s.cols);
        let ct = g.transpose(c);
        g.mul(r, ct)
    };
    match g.node(bar) {
        Node::Kron(p, q) if g.shape(p) == sa && g.shape(q) == sb => Some((p, q)),
        Node::Eye(_) if sa.rows == sa.cols && sb.rows == sb.cols => {
            Some((g.eye(sa.rows), g.eye(sb.rows)))
        }
        Node::Mul(u, v)
            if matches!(g.node(u), Node::Ones(_))
                && matches!(g.node(v), Node::Transpose(w) if matches!(g.node(w), Node::Ones(_))) =>
        {
            Some((all_ones(g, sa), all_ones(g, sb)))
        }
        _ => None,
    }
}

/// The adjoint of `A` in `C = kron(A, B)` (A m × n, B p × q): entry (i, j) is
/// `<C̄_ij, B>` over the p × q block C̄_ij, written with products only as
/// `Ā = (I_m ⊗ vec(B')') (C̄ ⊗ I_q) (I_n ⊗ vec(I_q))`.
fn kron_adjoint_left(g: &mut Graph, bar: Id, b: Id, a_shape: Shape) -> Id {
    let q = g.shape(b).cols;
    let bt = g.transpose(b);
    let vb = g.vec(bt);
    let vbt = g.transpose(vb);
    let eye_m = g.eye(a_shape.rows);
    let left = g.kron(eye_m, vbt);
    let eye_q = g.eye(q);
    let middle = g.kron(bar, eye_q);
    let vi = g.vec(eye_q);
    let eye_n = g.eye(a_shape.cols);
    let right = g.kron(eye_n, vi);
    let t = g.mul(left, middle);
    g.mul(t, right)
}

/// The adjoint of `B` in `C = kron(A, B)` (A m × n, B p × q): `Σ_ij A_ij C̄_ij`, the
/// block trace of `N = C̄ (A' ⊗ I_q)`, written with products only as
/// `B̄ = (vec(I_m)' ⊗ I_p) (I_m ⊗ N) (vec(I_m) ⊗ I_q)`.
fn kron_adjoint_right(g: &mut Graph, bar: Id, a: Id, b_shape: Shape) -> Id {
    let m = g.shape(a).rows;
    let at = g.transpose(a);
    let eye_q = g.eye(b_shape.cols);
    let spread = g.kron(at, eye_q);
    let n = g.mul(bar, spread);
    let eye_m = g.eye(m);
    let vi = g.vec(eye_m);
    let vit = g.transpose(vi);
    let eye_p = g.eye(b_shape.rows);
    let left = g.kron(vit, eye_p);
    let middle = g.kron(eye_m, n);
    let right = g.kron(vi, eye_q);
    let t = g.mul(left, middle);
    g.mul(t, right)
}

/// The matrix of `shape` whose `vec` is `v`, written with products only as
/// `(vec(I_n)' ⊗ I_m) (I_n ⊗ v)` for an m × n shape: the adjoint of `vec`.
/// Folding is linear, so it passes through sums, negations and scalings, and
/// `vec(Y)` of the same shape folds back to `Y` itself: the gradient of
/// `norm2(vec(X))^2` is `2*X`, not a product of Kronecker factors.
fn unvec(g: &mut Graph, v: Id, shape: Shape) -> Id {
    if shape.cols == Dim::ONE {
        return v;
    }
    if shape.rows == Dim::ONE {
        return g.transpose(v);
    }
    through_linear(g, v, &mut |g, v| match g.node(v) {
        Node::Apply(Func::Vec, y) if g.shape(y) == shape => y,
        _ => {
            let eye_n = g.eye(shape.cols);
            let vi = g.vec(eye_n);
            let vit = g.transpose(vi);
            let eye_m = g.eye(shape.rows);
            let left = g.kron(vit, eye_m);
            let right = g.kron(eye_n, v);
            g.mul(left, right)
        }
    })
}

/// `S ∘ V − S ∘ (1 1' (S ∘ V))` for `S = softmax_cols(Z)`: each column's softmax
/// Jacobian `diag(s) − s s'` applied to the same column of `V`. Symmetric, so it
/// serves adjoints (`V = C̄`) and differentials (`V = dZ`).
fn softmax_cols_product(g: &mut Graph, s: Id, v: Id) -> Id {
    let rows = g.shape(s).rows;
    let sv = g.elem_mul(s, v);
    let ones = g.ones(rows);
    let ones_t = g.transpose(ones);
    let col_sums = g.mul(ones_t, sv);
    let spread = g.mul(ones, col_sums);
    let t2 = g.elem_mul(s, spread);
    g.sub(sv, t2)
}

/// The adjoint passed to the argument of a built-in function.
fn apply_adjoint(g: &mut Graph, c: Id, f: Func, a: Id, bar: Id) -> Result<Id, DiffError> {
    let shape = g.shape(a);
    if let Some(grad) = reduction_gradient(g, f, a, c) {
        return Ok(g.mul(bar, grad));
    }
    Ok(match f {
        // d(X⁻¹) = −X⁻¹ dX X⁻¹, so Ā = −C' C̄ C'.
        Func::Inv => {
            let ct = g.transpose(c);
            let t = g.mul(ct, bar);
            let t = g.mul(t, ct);
            g.neg(t)
        }
        Func::Diag => g.apply(Func::Diag, bar),
        Func::Softmax => softmax_product(g, c, bar),
        Func::SoftmaxCols => softmax_cols_product(g, c, bar),
        // d logsumexp_cols(Z) = 1' (softmax_cols(Z) ∘ dZ), so Z̄ = S ∘ (1 C̄).
        Func::LogsumexpCols => {
            let s = g.apply(Func::SoftmaxCols, a);
            let ones = g.ones(shape.rows);
            let spread = g.mul(ones, bar);
            g.elem_mul(s, spread)
        }
        // d vec(X) = vec(dX), so X̄ is C̄ folded back into X's shape.
        Func::Vec => unvec(g, bar, shape),
        // d f(X) = f'(X) ∘ dX.
        _ => {
            let Some(d) = elementwise_derivative(g, f, a, c) else {
                return Ok(g.zeros(shape));
            };
            match d {
                Scaled::Times(fp) => g.elem_mul(bar, fp),
                Scaled::Over(q) => g.elem_div(bar, q),
            }
        }
    })
}

/// `k a^(k−1)`, the slope of a scalar power `a^k` (`d(a^k) = k a^(k−1) da`).
fn power_slope(g: &mut Graph, a: Id, k: Id) -> Id {
    match g.const_value(k) {
        Some(kv) => {
            let c = g.constant(kv);
            let p = g.powi(a, kv - 1.0);
            g.mul(c, p)
        }
        None => {
            let one = g.constant(1.0);
            let km1 = g.sub(k, one);
            let p = g.add(Node::Pow(a, km1));
            g.mul(k, p)
        }
    }
}

/// `k ∘ a.^(k−1)`, the elementwise slope of `a .^ k` (`d(a.^k) = k ∘ a.^(k−1) ∘ da`).
fn elem_power_slope(g: &mut Graph, a: Id, k: Id) -> Id {
    let km1 = match g.const_value(k) {
        Some(kv) => g.constant(kv - 1.0),
        None => {
            let one = g.constant(1.0);
            g.sub(k, one)
        }
    };
    let p = g.add(Node::ElemPow(a, km1));
    if g.shape(k).is_scalar() {
        g.mul(k, p)
    } else {
        g.elem_mul(k, p)
    }
}

/// `a ./ b.^2`: `d(a ./ b) = da ./ b − a ./ b.^2 ∘ db`.
fn quotient_slope(g: &mut Graph, a: Id, b: Id) -> Id {
    let two = g.constant(2.0);
    let b2 = g.add(Node::ElemPow(b, two));
    g.elem_div(a, b2)
}

/// The gradient `G` of a scalar-valued built-in at its argument, `d f(A) = <G, dA>`:
/// the table `d tr X = <I, dX>`, `d det X = det X <X⁻ᵀ, dX>`, `d logdet X = <X⁻ᵀ, dX>`,
/// `d sum(X) = <1, dX>`, `d‖X‖₁ = <sign(X), dX>`, `d‖X‖ = <X/‖X‖, dX>`,
/// `d logsumexp(x) = <softmax(x), dx>`. `c` is the node `f(A)` itself, reused.
/// Both walks of the rule table use it: adjoints as `Ā = C̄ G`, differentials as `<G, dA>`.
fn reduction_gradient(g: &mut Graph, f: Func, a: Id, c: Id) -> Option<Id> {
    let shape = g.shape(a);
    Some(match f {
        Func::Tr => g.eye(shape.rows),
        Func::Det => {
            let inv = g.apply(Func::Inv, a);
            let inv_t = g.transpose(inv);
            g.mul(c, inv_t)
        }
        Func::Logdet => {
            let inv = g.apply(Func::Inv, a);
            g.transpose(inv)
        }
        Func::Sum => ones_like(g, shape),
        Func::Norm1 => g.apply(Func::Sign, a),
        Func::Norm2 => g.div(a, c),
        Func::Logsumexp => g.apply(Func::Softmax, a),
        _ => return None,
    })
}

/// `(diag(s) − s s') v = s ∘ v − <s, v> s` for `s = softmax(z)`: the Jacobian of
/// softmax is symmetric, so this serves adjoints (`v = C̄`) and differentials (`v = dz`).
/// The coupling is the inner product `<s, v>` (a scalar), never the product `s' v`:
/// for a matrix `Z` the two differ, and only the inner product is the derivative of the
/// softmax taken over all entries.
fn softmax_product(g: &mut Graph, s: Id, v: Id) -> Id {
    let t1 = g.elem_mul(s, v);
    let sv = g.inner(s, v);
    let t2 = g.mul(sv, s);
    g.sub(t1, t2)
}

/// `f'(a)` for an elementwise function, as a factor or a divisor; `None` when it
/// vanishes (`sign`, `step`). `c` is the node `f(a)` itself, reused where it appears.
enum Scaled {
    Times(Id),
    Over(Id),
}

fn elementwise_derivative(g: &mut Graph, f: Func, a: Id, c: Id) -> Option<Scaled> {
    Some(match f {
        Func::Exp => Scaled::Times(c),
        Func::Log => Scaled::Over(a),
        Func::Sin => Scaled::Times(g.apply(Func::Cos, a)),
        Func::Cos => {
            let s = g.apply(Func::Sin, a);
            Scaled::Times(g.neg(s))
        }
        Func::Tan => {
            let cos = g.apply(Func::Cos, a);
            let two = g.constant(2.0);
            Scaled::Over(g.add(Node::ElemPow(cos, two)))
        }
        Func::Tanh => {
            let one = g.constant(1.0);
            let two = g.constant(2.0);
            let sq = g.add(Node::ElemPow(c, two));
            Scaled::Times(g.sub(one, sq))
        }
        Func::Sqrt => {
            let two = g.constant(2.0);
            Scaled::Over(g.mul(two, c))
        }
        // d arcsin(x) = dx ./ sqrt(1 − x.^2), d arccos(x) = −dx ./ sqrt(1 − x.^2).
        Func::Arcsin | Func::Arccos => {
            let one = g.constant(1.0);
            let two = g.constant(2.0);
            let sq = g.add(Node::ElemPow(a, two));
            let r = g.sub(one, sq);
            let root = g.apply(Func::Sqrt, r);
            Scaled::Over(if f == Func::Arccos { g.neg(root) } else { root })
        }
        // d arctan(x) = dx ./ (1 + x.^2).
        Func::Arctan => {
            let one = g.constant(1.0);
            let two = g.constant(2.0);
            let sq = g.add(Node::ElemPow(a, two));
            Scaled::Over(g.add(Node::Add(one, sq)))
        }
        Func::Sinh => Scaled::Times(g.apply(Func::Cosh, a)),
        Func::Cosh => Scaled::Times(g.apply(Func::Sinh, a)),
        // d log1p(x) = dx ./ (1 + x).
        Func::Log1p => {
            let one = g.constant(1.0);
            Scaled::Over(g.add(Node::Add(one, a)))
        }
        Func::Abs => Scaled::Times(g.apply(Func::Sign, a)),
        Func::Sigmoid => {
            let one = g.constant(1.0);
            let om = g.sub(one, c);
            Scaled::Times(g.elem_mul(c, om))
        }
        Func::Softplus => Scaled::Times(g.apply(Func::Sigmoid, a)),
        Func::Relu => Scaled::Times(g.apply(Func::Step, a)),
        Func::Sign | Func::Step => return None,
        _ => return None,
    })
}

/// `ones` shaped like a vector, row vector or matrix (`1 1'` for matrices).
fn ones_like(g: &mut Graph, shape: Shape) -> Id {
    if shape.is_scalar() {
        return g.constant(1.0);
    }
    if shape.cols == Dim::ONE {
        return g.ones(shape.rows);
    }
    if shape.rows == Dim::ONE {
        let o = g.ones(shape.cols);
        return g.transpose(o);
    }
    let r = g.ones(shape.rows);
    let c = g.ones(shape.cols);
    let ct = g.transpose(c);
    g.mul(r, ct)
}

/// The adjoint reaching a child that was broadcast: a scalar child of a
/// non-scalar node collects `sum(C̄)`.
fn unbroadcast(g: &mut Graph, bar: Id, child: Id) -> Id {
    if g.shape(child).is_scalar() && !g.shape(bar).is_scalar() {
        g.apply(Func::Sum, bar)
    } else {
        bar
    }
}

/// `d(A^k) = Σ A^i dA A^(k−1−i)`, so `Ā = Σ (A^i)' C̄ (A^(k−1−i))'`; negative powers
/// go through the inverse.
fn matrix_power_adjoint(g: &mut Graph, a: Id, k: f64, bar: Id) -> Result<Id, DiffError> {
    if k.fract() != 0.0 || k.abs() > MAX_MATRIX_EXPONENT {
        return Err(refused(
            PowerRefusal::MatrixExponent,
            "a matrix power needs an integer exponent from -64 to 64 to be differentiated",
        ));
    }
    if k == 0.0 {
        return Ok(g.zeros(g.shape(a)));
    }
    let (base, n) = if k < 0.0 {
        (g.apply(Func::Inv, a), (-k) as i64)
    } else {
        (a, k as i64)
    };
    let power = |g: &mut Graph, i: i64| -> Option<Id> {
        match i {
            0 => None,
            1 => Some(base),
            _ => {
                let e = g.constant(i as f64);
                Some(g.add(Node::Pow(base, e)))
            }
        }
    };
    let mut total: Option<Id> = None;
    for i in 0..n {
        let mut t = bar;
        if let Some(left) = power(g, i) {
            let lt = g.transpose(left);
            t = g.mul(lt, t);
        }
        if let Some(right) = power(g, n - 1 - i) {
            let rt = g.transpose(right);
            t = g.mul(t, rt);
        }
        total = g.add_opt(total, Some(t));
    }
    let total = total.unwrap_or(bar);
    if k < 0.0 {
        // Through B = inv(A): Ā = −B' B̄ B'.
        let bt = g.transpose(base);
        let t = g.mul(bt, total);
        let t = g.mul(t, bt);
        Ok(g.neg(t))
    } else {
        Ok(total)
    }
}

/// The forward differential of `id` with respect to `var`: an expression linear in
/// `dX` (`Node::Differential(var)`), unsimplified; `None` when it vanishes.
pub fn differential(g: &mut Graph, id: Id, var: Sym) -> Result<Option<Id>, DiffError> {
    let order = g.reachable(&[id]);
    let mut d: BTreeMap<Id, Option<Id>> = BTreeMap::new();
    for &n in &order {
        let dn = differential_rule(g, n, var, &d)?;
        d.insert(n, dn);
    }
    Ok(d.get(&id).copied().flatten())
}

fn differential_rule(
    g: &mut Graph,
    n: Id,
    var: Sym,
    d: &BTreeMap<Id, Option<Id>>,
) -> Result<Option<Id>, DiffError> {
    let dd = |x: Id| d.get(&x).copied().flatten();
    let node = g.node(n);
    Ok(match node {
        // dA = 0 for everything but the variable itself.
        Node::Var(s) if s == var => Some(g.add(Node::Differential(var))),
        Node::Const(_)
        | Node::Var(_)
        | Node::DimValue(_)
        | Node::Eye(_)
        | Node::Ones(_)
        | Node::Zeros(_)
        | Node::Differential(_)
        | Node::DifferentialOf(_) => None,
        // d(X + Y) = dX + dY.
        Node::Add(a, b) => {
            let (da, db) = (dd(a), dd(b));
            g.add_opt(da, db)
        }
        Node::Neg(a) => dd(a).map(|x| g.neg(x)),
        // d(XY) = dX Y + X dY.
        Node::Mul(a, b) => {
            let t1 = dd(a).map(|da| g.mul(da, b));
            let t2 = dd(b).map(|db| g.mul(a, db));
            g.add_opt(t1, t2)
        }
        // d(X/φ) = (φ dX − dφ X)/φ².
        Node::Div(a, phi) => match (dd(a), dd(phi)) {
            (None, None) => None,
            (Some(da), None) => Some(g.div(da, phi)),
            (da, Some(dphi)) => {
                let t2 = g.mul(dphi, a);
                let num = match da {
                    Some(da) => {
                        let t1 = g.mul(phi, da);
                        g.sub(t1, t2)
                    }
                    None => g.neg(t2),
                };
                let p2 = g.powi(phi, 2.0);
                Some(g.div(num, p2))
            }
        },
        Node::Pow(a, k) => {
            if dd(k).is_some() {
                return Err(refused(
                    PowerRefusal::VariableExponent,
                    "a power with a variable exponent: write it with exp and log",
                ));
            }
            let Some(da) = dd(a) else { return Ok(None) };
            if g.shape(a).is_scalar() {
                let t = power_slope(g, a, k);
                Some(g.mul(t, da))
            } else {
                let Some(kv) = g.const_value(k) else {
                    return Err(refused(
                        PowerRefusal::MatrixExponent,
                        "a matrix power needs a constant integer exponent",
                    ));
                };
                Some(matrix_power_differential(g, a, kv, da)?)
            }
        }
        Node::ElemMul(a, b) => {
            let t1 = dd(a).map(|da| g.elem_mul(da, b));
            let t2 = dd(b).map(|db| g.elem_mul(a, db));
            g.add_opt(t1, t2)
        }
        Node::ElemDiv(a, b) => {
            let t1 = dd(a).map(|da| g.elem_div(da, b));
            let t2 = dd(b).map(|db| {
                let q = quotient_slope(g, a, b);
                let t = g.elem_mul(q, db);
                g.neg(t)
            });
            g.add_opt(t1, t2)
        }
        Node::ElemPow(a, k) => {
            if dd(k).is_some() {
                return Err(refused(
                    PowerRefusal::VariableExponent,
                    "an elementwise power with a variable exponent: write it with exp and log",
                ));
            }
            let Some(da) = dd(a) else { return Ok(None) };
            let t = elem_power_slope(g, a, k);
            Some(g.elem_mul(t, da))
        }
        // d(X') = (dX)'.
        Node::Transpose(a) => dd(a).map(|da| g.transpose(da)),
        // d<X,Y> = <dX,Y> + <X,dY>.
        Node::Inner(a, b) => {
            let t1 = dd(a).map(|da| g.inner(da, b));
            let t2 = dd(b).map(|db| g.inner(a, db));
            g.add_opt(t1, t2)
        }
        // d kron(A, B) = kron(dA, B) + kron(A, dB).
        Node::Kron(a, b) => {
            let t1 = dd(a).map(|da| g.kron(da, b));
            let t2 = dd(b).map(|db| g.kron(a, db));
            g.add_opt(t1, t2)
        }
        Node::Apply(f, a) => {
            let Some(da) = dd(a) else { return Ok(None) };
            Some(apply_differential(g, n, f, a, da))
        }
    })
}

fn apply_differential(g: &mut Graph, c: Id, f: Func, a: Id, da: Id) -> Id {
    match f {
        // Linear functions: d tr(X) = tr(dX), d sum(X) = sum(dX), d diag(X) = diag(dX).
        Func::Tr | Func::Sum | Func::Diag => g.apply(f, da),
        // d vec(X) = vec(dX).
        Func::Vec => g.vec(da),
        Func::SoftmaxCols => softmax_cols_product(g, c, da),
        // d logsumexp_cols(Z) = 1' (softmax_cols(Z) ∘ dZ).
        Func::LogsumexpCols => {
            let s = g.apply(Func::SoftmaxCols, a);
            let sd = g.elem_mul(s, da);
            let ones = g.ones(g.shape(a).rows);
            let ones_t = g.transpose(ones);
            g.mul(ones_t, sd)
        }
        // d(X⁻¹) = −X⁻¹ dX X⁻¹.
        Func::Inv => {
            let t = g.mul(c, da);
            let t = g.mul(t, c);
            g.neg(t)
        }
        Func::Softmax => softmax_product(g, c, da),
        _ if f.is_reduction() => match reduction_gradient(g, f, a, c) {
            Some(grad) => g.inner(grad, da),
            None => g.zeros(Shape::SCALAR),
        },
        _ => match elementwise_derivative(g, f, a, c) {
            Some(Scaled::Times(fp)) => g.elem_mul(fp, da),
            Some(Scaled::Over(q)) => g.elem_div(da, q),
            None => g.zeros(g.shape(c)),
        },
    }
}

fn matrix_power_differential(g: &mut Graph, a: Id, k: f64, da: Id) -> Result<Id, DiffError> {
    if k.fract() != 0.0 || k.abs() > MAX_MATRIX_EXPONENT {
        return Err(refused(
            PowerRefusal::MatrixExponent,
            "a matrix power needs an integer exponent from -64 to 64 to be differentiated",
        ));
    }
    if k == 0.0 {
        return Ok(g.zeros(g.shape(a)));
    }
    let (base, n, dbase) = if k < 0.0 {
        let inv = g.apply(Func::Inv, a);
        let t = g.mul(inv, da);
        let t = g.mul(t, inv);
        (inv, (-k) as i64, g.neg(t))
    } else {
        (a, k as i64, da)
    };
    let mut total: Option<Id> = None;
    for i in 0..n {
        let mut t = dbase;
        if i > 0 {
            let left = g.powi(base, i as f64);
            t = g.mul(left, t);
        }
        if n - 1 - i > 0 {
            let right = g.powi(base, (n - 1 - i) as f64);
            t = g.mul(t, right);
        }
        total = g.add_opt(total, Some(t));
    }
    Ok(total.unwrap_or(dbase))
}

/// The Jacobian of a column-vector or scalar `id` with respect to the vector `var`:
/// `d(id) = J dx`, with `J` of shape `len(id) × len(x)` (a row for a scalar).
/// A row vector's Jacobian is that of its transpose. Unsimplified; `None` is zero.
pub fn jacobian(g: &mut Graph, id: Id, var: Sym) -> Result<Option<Id>, DiffError> {
    let order = g.reachable(&[id]);
    let depends = dependence(g, &order, var);
    let mut j: BTreeMap<Id, Option<Id>> = BTreeMap::new();
    for &n in &order {
        let jn = if depends.get(&n).copied().unwrap_or(false) {
            jacobian_rule(g, n, var, &j)?
        } else {
            None
        };
        j.insert(n, jn);
    }
    Ok(j.get(&id).copied().flatten())
}

fn is_vectorish(s: Shape) -> bool {
    s.cols == Dim::ONE || s.rows == Dim::ONE
}

fn jacobian_rule(
    g: &mut Graph,
    n: Id,
    var: Sym,
    j: &BTreeMap<Id, Option<Id>>,
) -> Result<Option<Id>, DiffError> {
    let jj = |x: Id| j.get(&x).copied().flatten();
    let shape = g.shape(n);
    if !is_vectorish(shape) {
        return Err(DiffError::Unsupported(
            "this Jacobian passes through a matrix that depends on the variable — use `derive` without --order 2 for the differential form".into(),
        ));
    }
    let sc = |g: &Graph, x: Id| g.shape(x).is_scalar();
    let node = g.node(n);
    Ok(match node {
        Node::Var(s) if s == var => {
            let len = g.variable(var).map(|v| v.shape.rows).unwrap_or(Dim::ONE);
            // The Jacobian of a scalar variable by itself is the number 1.
            Some(if len == Dim::ONE {
                g.constant(1.0)
            } else {
                g.eye(len)
            })
        }
        Node::Const(_)
        | Node::Var(_)
        | Node::DimValue(_)
        | Node::Eye(_)
        | Node::Ones(_)
        | Node::Zeros(_)
        | Node::Differential(_)
        | Node::DifferentialOf(_) => None,
        Node::Add(a, b) => {
            let mut parts = Vec::new();
            for x in [a, b] {
                if let Some(jx) = jj(x) {
                    if sc(g, x) && !shape.is_scalar() {
                        let ones = g.ones(vector_len(shape));
                        parts.push(g.mul(ones, jx));
                    } else {
                        parts.push(jx);
                    }
                }
            }
            sum_opt(g, parts)
        }
        Node::Neg(a) => jj(a).map(|x| g.neg(x)),
        Node::Mul(a, b) => {
            let (sa, sb) = (sc(g, a), sc(g, b));
            let mut parts = Vec::new();
            if sa || sb {
                // Scaling: d(s v) = v ds + s dv.
                let (s, v) = if sa { (a, b) } else { (b, a) };
                if let Some(js) = jj(s) {
                    let vc = column(g, v);
                    parts.push(g.mul(vc, js));
                }
                if let Some(jv) = jj(v) {
                    parts.push(g.mul(s, jv));
                }
            } else if g.shape(a).rows == Dim::ONE && g.shape(b).cols == Dim::ONE {
                // A row times a column: d(a b) = b' J(a) + a J(b).
                if let Some(ja) = jj(a) {
                    let bt = g.transpose(b);
                    parts.push(g.mul(bt, ja));
                }
                if let Some(jb) = jj(b) {
                    parts.push(g.mul(a, jb));
                }
            } else if g.shape(b).cols == Dim::ONE {
                if jj(a).is_some() {
                    return Err(matrix_dependence());
                }
                if let Some(jb) = jj(b) {
                    parts.push(g.mul(a, jb));
                }
            } else if g.shape(a).rows == Dim::ONE {
                // A row times a matrix: (a B)' = B' a'.
                if jj(b).is_some() {
                    return Err(matrix_dependence());
                }
                if let Some(ja) = jj(a) {
                    let bt = g.transpose(b);
                    parts.push(g.mul(bt, ja));
                }
            } else {
                return Err(matrix_dependence());
            }
            sum_opt(g, parts)
        }
        Node::Div(a, phi) => {
            let mut parts = Vec::new();
            if let Some(ja) = jj(a) {
                parts.push(g.div(ja, phi));
            }
            if let Some(jp) = jj(phi) {
                let ac = column(g, a);
                let t = g.mul(ac, jp);
                let p2 = g.powi(phi, 2.0);
                let q = g.div(t, p2);
                parts.push(g.neg(q));
            }
            sum_opt(g, parts)
        }
        Node::Pow(a, k) => {
            if jj(k).is_some() {
                return Err(refused(
                    PowerRefusal::VariableExponent,
                    "a power with a variable exponent: write it with exp and log",
                ));
            }
            match jj(a) {
                None => None,
                Some(ja) => {
                    let t = power_slope(g, a, k);
                    Some(g.mul(t, ja))
                }
            }
        }
        Node::ElemMul(a, b) => {
            let mut parts = Vec::new();
            for (x, other) in [(a, b), (b, a)] {
                if let Some(jx) = jj(x) {
                    let scale = diag_of(g, other, shape);
                    let jx = broadcast_jacobian(g, x, jx, shape);
                    parts.push(g.mul(scale, jx));
                }
            }
            sum_opt(g, parts)
        }
        Node::ElemDiv(a, b) => {
            let mut parts = Vec::new();
            if let Some(ja) = jj(a) {
                let one = g.constant(1.0);
                let inv_b = g.elem_div(one, b);
                let scale = diag_of(g, inv_b, shape);
                let ja = broadcast_jacobian(g, a, ja, shape);
                parts.push(g.mul(scale, ja));
            }
            if let Some(jb) = jj(b) {
                let q = quotient_slope(g, a, b);
                let scale = diag_of(g, q, shape);
                let jb = broadcast_jacobian(g, b, jb, shape);
                let t = g.mul(scale, jb);
                parts.push(g.neg(t));
            }
            sum_opt(g, parts)
        }
        Node::ElemPow(a, k) => {
            if jj(k).is_some() {
                return Err(refused(
                    PowerRefusal::VariableExponent,
                    "an elementwise power with a variable exponent: write it with exp and log",
                ));
            }
            match jj(a) {
                None => None,
                Some(ja) => {
                    let fp = elem_power_slope(g, a, k);
                    let scale = diag_of(g, fp, shape);
                    Some(g.mul(scale, ja))
                }
            }
        }
        Node::Transpose(a) => jj(a),
        // For vectors, kron(da, b) = kron(J(a), b) dx and kron(a, db) = kron(a, J(b)) dx.
        Node::Kron(a, b) => {
            let mut parts = Vec::new();
            if let Some(ja) = jj(a) {
                let bc = column(g, b);
                parts.push(g.kron(ja, bc));
            }
            if let Some(jb) = jj(b) {
                let ac = column(g, a);
                parts.push(g.kron(ac, jb));
            }
            sum_opt(g, parts)
        }
        Node::Inner(a, b) => {
            if !is_vectorish(g.shape(a)) {
                return Err(matrix_dependence());
            }
            let mut parts = Vec::new();
            if let Some(ja) = jj(a) {
                let bc = column(g, b);
                let bt = g.transpose(bc);
                parts.push(g.mul(bt, ja));
            }
            if let Some(jb) = jj(b) {
                let ac = column(g, a);
                let at = g.transpose(ac);
                parts.push(g.mul(at, jb));
            }
            sum_opt(g, parts)
        }
        Node::Apply(f, a) => {
            let Some(ja) = jj(a) else { return Ok(None) };
            let ashape = g.shape(a);
            if !is_vectorish(ashape) {
                return Err(matrix_dependence());
            }
            match f {
                Func::Sum | Func::Norm1 | Func::Norm2 | Func::Logsumexp => {
                    // d f(u) = <G, du> = G' J(u) du.
                    let grad = reduction_gradient(g, f, a, n).ok_or_else(|| {
                        DiffError::Unsupported(format!("no gradient rule for `{}`", f.name()))
                    })?;
                    let gc = column(g, grad);
                    let gt = g.transpose(gc);
                    Some(g.mul(gt, ja))
                }
                // A vector is its own vec.
                Func::Vec => Some(ja),
                // Of a row, each column is one entry: its softmax is 1 and its
                // logsumexp is itself.
                Func::SoftmaxCols if ashape.cols != Dim::ONE => None,
                Func::LogsumexpCols if ashape.cols != Dim::ONE => Some(ja),
                Func::LogsumexpCols => {
                    let s = g.apply(Func::Softmax, a);
                    let st = g.transpose(s);
                    Some(g.mul(st, ja))
                }
                Func::Softmax | Func::SoftmaxCols => {
                    let d = g.apply(Func::Diag, n);
                    let nt = g.transpose(n);
                    let outer = g.mul(n, nt);
                    let m = g.sub(d, outer);
                    Some(g.mul(m, ja))
                }
                Func::Tr | Func::Det | Func::Logdet | Func::Inv | Func::Diag => {
                    if ashape.is_scalar() {
                        match f {
                            Func::Inv => {
                                let p = g.powi(a, 2.0);
                                let q = g.div(ja, p);
                                Some(g.neg(q))
                            }
                            Func::Logdet => Some(g.div(ja, a)),
                            _ => Some(ja),
                        }
                    } else {
                        return Err(matrix_dependence());
                    }
                }
                _ => match elementwise_derivative(g, f, a, n) {
                    None => None,
                    Some(d) => {
                        let fp = match d {
                            Scaled::Times(fp) => fp,
                            Scaled::Over(q) => {
                                let one = g.constant(1.0);
                                g.elem_div(one, q)
                            }
                        };
                        let scale = diag_of(g, fp, shape);
                        Some(g.mul(scale, ja))
                    }
                },
            }
        }
    })
}

fn matrix_dependence() -> DiffError {
    DiffError::Unsupported(
        "this Jacobian passes through a matrix that depends on the variable — use `derive` for the differential form".into(),
    )
}

fn vector_len(s: Shape) -> Dim {
    if s.cols == Dim::ONE {
        s.rows
    } else {
        s.cols
    }
}

/// A row vector turned into a column (columns and scalars unchanged).
fn column(g: &mut Graph, v: Id) -> Id {
    let s = g.shape(v);
    if s.rows == Dim::ONE && s.cols != Dim::ONE {
        g.transpose(v)
    } else {
        v
    }
}

/// `diag(u)` for the elementwise factor `u` of a node of shape `shape`; a scalar
/// factor stays a scalar.
fn diag_of(g: &mut Graph, u: Id, shape: Shape) -> Id {
    if g.shape(u).is_scalar() || shape.is_scalar() {
        return u;
    }
    let uc = column(g, u);
    g.apply(Func::Diag, uc)
}

/// The Jacobian of a scalar operand broadcast over a vector: `ones * J`.
fn broadcast_jacobian(g: &mut Graph, x: Id, jx: Id, shape: Shape) -> Id {
    if g.shape(x).is_scalar() && !shape.is_scalar() {
        let o = g.ones(vector_len(shape));
        g.mul(o, jx)
    } else {
        jx
    }
}

fn sum_opt(g: &mut Graph, parts: Vec<Id>) -> Option<Id> {
    let mut total = None;
    for p in parts {
        total = g.add_opt(total, Some(p));
    }
    total
}

/// The derivation of `d` in the seminar's style: starting from `df = d(f)`, every
/// line expands the pending differentials `d(…)` by one rule of the table (the rule
/// named beside it), until only `dX` is left; then `dX` is moved into the inner
/// product and the result read off. Nothing is computed twice: the last line is
/// `d.expr`, found by the same rule table.
pub fn derivation(f: &mut Function, d: &Derivative) -> Result<Vec<Step>, DiffError> {
    crate::ir::within_node_budget(|| derivation_unbounded(f, d)).unwrap_or_else(|e| {
        Err(DiffError::TooLarge {
            what: "derivation",
            limit: e.limit,
        })
    })
}

fn derivation_unbounded(f: &mut Function, d: &Derivative) -> Result<Vec<Step>, DiffError> {
    let var = d.wrt;
    let g = &mut f.graph;
    let root = canonicalize(g, f.root);
    let mut steps = Vec::new();
    let start = g.add(Node::DifferentialOf(root));
    steps.push(Step {
        rule: "the differential of f".to_string(),
        expr: start,
    });
    // ‖u‖² = <u, u>, as the seminar writes it.
    let (rewritten, changed) = squared_norms_as_inner(g, root);
    let mut current = start;
    if changed {
        current = g.add(Node::DifferentialOf(rewritten));
        steps.push(Step {
            rule: "‖u‖² = <u, u>".to_string(),
            expr: current,
        });
    }
    for _ in 0..64 {
        let pending: Vec<Id> = g
            .reachable(&[current])
            .into_iter()
            .filter(|&n| matches!(g.node(n), Node::DifferentialOf(_)))
            .collect();
        if pending.is_empty() {
            break;
        }
        let mut rules: Vec<&'static str> = Vec::new();
        let mut map: BTreeMap<Id, Id> = BTreeMap::new();
        for p in pending {
            let Node::DifferentialOf(x) = g.node(p) else {
                continue;
            };
            let (expanded, rule) = expand_once(g, x, var)?;
            if !rule.is_empty() && !rules.contains(&rule) {
                rules.push(rule);
            }
            map.insert(p, expanded);
        }
        let replaced = replace(g, current, &map);
        let next = crate::simplify::simplify_keeping_inner(g, replaced);
        if next == current {
            break;
        }
        current = next;
        steps.push(Step {
            rule: rules.join(", "),
            expr: current,
        });
    }
    match d.kind {
        DerivativeKind::Gradient => {
            let dx = g.add(Node::Differential(var));
            let read_off = g.add(Node::Inner(d.expr, dx));
            if read_off != current {
                steps.push(Step {
                    rule: "<A, B dX C> = <B'AC', dX>".to_string(),
                    expr: read_off,
                });
            }
        }
        DerivativeKind::Jacobian => {
            let dx = g.add(Node::Differential(var));
            let read_off = g.add(Node::Mul(d.expr, dx));
            steps.push(Step {
                rule: "u ∘ dx = diag(u) dx".to_string(),
                expr: read_off,
            });
        }
        DerivativeKind::Differential | DerivativeKind::Hessian => {}
    }
    Ok(steps)
}

/// Rewrites `norm2(u)^2` as `<u, u>`; says whether anything changed.
fn squared_norms_as_inner(g: &mut Graph, root: Id) -> (Id, bool) {
    let mut map = BTreeMap::new();
    for id in g.reachable(&[root]) {
        if let Node::Pow(a, k) = g.node(id) {
            if let (Node::Apply(Func::Norm2, u), Some(2.0)) = (g.node(a), g.const_value(k)) {
                let inner = g.add(Node::Inner(u, u));
                map.insert(id, inner);
            }
        }
    }
    let changed = !map.is_empty();
    (replace(g, root, &map), changed)
}

/// `root` with the nodes of `map` replaced (bottom-up, sharing preserved).
fn replace(g: &mut Graph, root: Id, map: &BTreeMap<Id, Id>) -> Id {
    let mut done: BTreeMap<Id, Id> = BTreeMap::new();
    for id in g.reachable(&[root]) {
        if let Some(&to) = map.get(&id) {
            done.insert(id, to);
            continue;
        }
        let node = g
            .node(id)
            .map_children(|x| done.get(&x).copied().unwrap_or(x));
        let new = g.add(node);
        done.insert(id, new);
    }
    done.get(&root).copied().unwrap_or(root)
}

/// One rule of the table applied to `d(x)`: the children's differentials stay
/// pending as `d(child)`. Returns the expansion and the rule's name.
fn expand_once(g: &mut Graph, x: Id, var: Sym) -> Result<(Id, &'static str), DiffError> {
    let order = g.reachable(&[x]);
    let depends = dependence(g, &order, var);
    let dep = |n: Id| depends.get(&n).copied().unwrap_or(false);
    let node = g.node(x);
    if !dep(x) {
        return Ok((g.zeros(g.shape(x)), "dA = 0"));
    }
    let mut children: BTreeMap<Id, Option<Id>> = BTreeMap::new();
    let mut constant_child = false;
    for c in node.children() {
        let pending = if !dep(c) {
            constant_child = true;
            None
        } else if matches!(g.node(c), Node::Var(s) if s == var) {
            // d(w) is dw straight away.
            Some(g.add(Node::Differential(var)))
        } else {
            Some(g.add(Node::DifferentialOf(c)))
        };
        children.insert(c, pending);
    }
    let mut rule = rule_name(g, node, &dep);
    if constant_child && matches!(node, Node::Add(_, _)) {
        rule = "d(X + Y) = dX + dY, dA = 0";
    }
    // d<u, u> = 2<u, du>: the product rule and the symmetry of <·,·> in one line.
    if let Node::Inner(a, b) = node {
        if a == b {
            let da = children.get(&a).copied().flatten().unwrap_or(a);
            let two = g.constant(2.0);
            let i = g.add(Node::Inner(a, da));
            return Ok((g.mul(two, i), "d<u, u> = 2<u, du>"));
        }
    }
    let expanded = differential_rule(g, x, var, &children)?;
    let expanded = expanded.unwrap_or_else(|| g.zeros(g.shape(x)));
    Ok((expanded, rule))
}

/// The name of the rule that expands `d(node)`, in the seminar's words.
fn rule_name(g: &Graph, node: Node, dep: &dyn Fn(Id) -> bool) -> &'static str {
    match node {
        Node::Var(_) => "",
        Node::Add(_, _) => "d(X + Y) = dX + dY",
        Node::Neg(_) => "d(αX) = α dX",
        Node::Mul(a, b) => match (dep(a), dep(b)) {
            (true, true) => "d(XY) = dX Y + X dY",
            _ if g.shape(a).is_scalar() || g.shape(b).is_scalar() => "d(αX) = α dX",
            _ => "d(AXB) = A dX B",
        },
        Node::Div(_, phi) if !dep(phi) => "d(αX) = α dX",
        Node::Div(_, _) => "d(X/φ) = (φ dX − dφ X)/φ²",
        Node::Pow(a, _) if g.shape(a).is_scalar() => "d(a^k) = k a^(k−1) da",
        Node::Pow(_, _) => "d(X^k) = Σ X^i dX X^(k−1−i)",
        Node::ElemMul(_, _) | Node::ElemDiv(_, _) | Node::ElemPow(_, _) => {
            "d(X ∘ Y) = dX ∘ Y + X ∘ dY"
        }
        Node::Transpose(_) => "d(X') = (dX)'",
        Node::Inner(a, b) if !dep(a) || !dep(b) => "d<A, X> = <A, dX>",
        Node::Inner(_, _) => "d<X, Y> = <dX, Y> + <X, dY>",
        Node::Apply(f, _) => match f {
            Func::Det => "d det X = det X <X⁻ᵀ, dX>",
            Func::Logdet => "d logdet X = <X⁻ᵀ, dX>",
            Func::Inv => "d(X⁻¹) = −X⁻¹ dX X⁻¹",
            Func::Tr => "d tr X = tr dX",
            Func::Sum => "d sum(X) = sum(dX)",
            Func::Diag => "d diag(X) = diag(dX)",
            Func::Norm1 => "d‖X‖₁ = <sign(X), dX>",
            Func::Norm2 => "d‖X‖ = <X, dX>/‖X‖",
            Func::Logsumexp => "d logsumexp(x) = <softmax(x), dx>",
            Func::Softmax => "d softmax(x) = s ∘ dx − s (s' dx)",
            _ => "d f(X) = f'(X) ∘ dX",
        },
        _ => "",
    }
}
