//! Stable forms: compositions that overflow or lose every digit when evaluated as
//! written, rewritten into the built-ins that compute them exactly.
//!
//! | as written | stable form | why |
//! |---|---|---|
//! | `log(1 + exp(z))` | `softplus(z)` | `exp(z)` overflows for z > 709 |
//! | `log(1 + x)` | `log1p(x)` | `1 + x` rounds away a small x |
//! | `log(sigmoid(z))` | `-softplus(-z)` | `sigmoid(z)` underflows to 0 for z < −745 |
//! | `log(1 - sigmoid(z))` | `-softplus(z)` | `1 - sigmoid(z)` rounds to 0 for z > 37 |
//! | `1 ./ (1 + exp(-z))` | `sigmoid(z)` | `exp(-z)` overflows |
//! | `log(sum(exp(z)))` | `logsumexp(z)` | `exp(z)` overflows |
//! | `exp(z) / sum(exp(z))` | `softmax(z)` | both overflow |
//! | `log(softmax(z))` | `z - logsumexp(z)` | `softmax(z)` underflows to 0 |
//! | `log(softmax_cols(Z))` | `Z - ones*logsumexp_cols(Z)` | the same, column by column |
//!
//! The `1` may be a constant or a vector of ones (`ones(N) + exp(z)`). The rewrite is
//! the one place these rules live: `derive` differentiates the stable form (and keeps
//! it as the function's value), and evaluation plans and code generators compute the
//! function after [`stabilize`], so `eval`, the generated NumPy and Rust and the
//! optimisers agree on finite values at any argument.

use std::collections::BTreeMap;

use crate::ir::{Func, Graph, Id, Node};

/// `root` with every known unstable composition below it replaced by its stable form.
/// The rewrite is bottom-up and idempotent; nodes are only added, so every id of the
/// graph stays valid.
pub fn stabilize(g: &mut Graph, root: Id) -> Id {
    let order = g.reachable(&[root]);
    let mut map: BTreeMap<Id, Id> = BTreeMap::new();
    for id in order {
        let node = g
            .node(id)
            .map_children(|x| map.get(&x).copied().unwrap_or(x));
        let new = rewrite(g, node).unwrap_or_else(|| g.add(node));
        map.insert(id, new);
    }
    map.get(&root).copied().unwrap_or(root)
}

/// The stable form of `node` (whose children are already stable), if it has one.
fn rewrite(g: &mut Graph, node: Node) -> Option<Id> {
    match node {
        Node::Apply(Func::Log, arg) => {
            if let Some(rest) = one_plus(g, arg) {
                return Some(match g.node(rest) {
                    // log(1 + exp(z)) = softplus(z).
                    Node::Apply(Func::Exp, z) => g.apply(Func::Softplus, z),
                    // log(1 − sigmoid(z)) = log(sigmoid(−z)) = −softplus(z).
                    Node::Neg(s) => match g.node(s) {
                        Node::Apply(Func::Sigmoid, z) => {
                            let sp = g.apply(Func::Softplus, z);
                            g.neg(sp)
                        }
                        _ => g.apply(Func::Log1p, rest),
                    },
                    // log(1 + x) = log1p(x).
                    _ => g.apply(Func::Log1p, rest),
                });
            }
            match g.node(arg) {
                // log(sigmoid(z)) = −softplus(−z).
                Node::Apply(Func::Sigmoid, z) => {
                    let nz = g.neg(z);
                    let sp = g.apply(Func::Softplus, nz);
                    Some(g.neg(sp))
                }
                // log(sum(exp(z))) = logsumexp(z).
                Node::Apply(Func::Sum, s) => match g.node(s) {
                    Node::Apply(Func::Exp, z) => Some(g.apply(Func::Logsumexp, z)),
                    _ => None,
                },
                // log(softmax(z)) = z − logsumexp(z).
                Node::Apply(Func::Softmax, z) => {
                    let lse = g.apply(Func::Logsumexp, z);
                    Some(g.sub(z, lse))
                }
                // log(softmax_cols(Z)) = Z − 1 logsumexp_cols(Z), column by column.
                Node::Apply(Func::SoftmaxCols, z) => {
                    let lse = g.apply(Func::LogsumexpCols, z);
                    let ones = g.ones(g.shape(z).rows);
                    let spread = g.mul(ones, lse);
                    Some(g.sub(z, spread))
                }
                _ => None,
            }
        }
        // 1 ./ (1 + exp(w)) = sigmoid(−w).
        Node::ElemDiv(n, d) | Node::Div(n, d)
            if is_one(g, n) && (g.shape(n).is_scalar() || g.shape(n) == g.shape(d)) =>
        {
            let rest = one_plus(g, d)?;
            match g.node(rest) {
                Node::Apply(Func::Exp, w) if g.shape(w) == g.shape(d) => {
                    let nw = g.neg(w);
                    Some(g.apply(Func::Sigmoid, nw))
                }
                _ => None,
            }
        }
        // exp(z) / sum(exp(z)) = softmax(z).
        Node::Div(e, s) => match (g.node(e), g.node(s)) {
            (Node::Apply(Func::Exp, z), Node::Apply(Func::Sum, e2)) if e2 == e => {
                Some(g.apply(Func::Softmax, z))
            }
            _ => None,
        },
        _ => None,
    }
}

/// `x` when `arg` is `1 + x` or `x + 1`, the `1` a constant or a vector of ones of
/// `x`'s shape.
fn one_plus(g: &Graph, arg: Id) -> Option<Id> {
    let Node::Add(a, b) = g.node(arg) else {
        return None;
    };
    let fits =
        |one: Id, x: Id| is_one(g, one) && (g.shape(one).is_scalar() || g.shape(one) == g.shape(x));
    if fits(a, b) {
        Some(b)
    } else if fits(b, a) {
        Some(a)
    } else {
        None
    }
}

/// The constant 1 or a vector of ones.
fn is_one(g: &Graph, id: Id) -> bool {
    g.const_value(id) == Some(1.0) || matches!(g.node(id), Node::Ones(_))
}
