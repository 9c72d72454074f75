//! The linear part of `∇f` for a matrix variable: the second differential split
//! into `A dX`, `dX B` or one `A dX B`, and substitution of the variable.

use crate::ir::{Dim, Graph, Id, Node, Sym};
use crate::print;

use super::terms::{combine, is_identity_term, terms_of, Factored};

/// The terms of `d(∇f)`, sorted by where `dX` sits.
pub(super) enum Split {
    /// `Σ Aᵢ dX`: the map is `H dX` with `H = Σ Aᵢ`.
    Left(Vec<Factored>),
    /// `Σ dX Bᵢ`.
    Right(Vec<Factored>),
    /// One term `A dX B`.
    Both(Factored, Factored),
}

/// Splits the second differential `dg` (linear in `dX`) into a plain product.
pub(super) fn split_linear_map(g: &mut Graph, dg: Id, var: Sym) -> Result<Split, String> {
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

/// The terms of an expression linear in `dX`, with sums inside products distributed
/// so that each term has `dX` as one factor of its chain.
pub(super) fn linear_terms(g: &mut Graph, id: Id, var: Sym) -> Result<Vec<Factored>, String> {
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
pub(super) fn mentions_variable(g: &Graph, id: Id, var: Sym) -> bool {
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
