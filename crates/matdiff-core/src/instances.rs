//! What random test instances of a function must honour, read off its expression:
//! shared by the gradient checker (`matdiff check`) and the `__main__` block of
//! generated NumPy modules, so that both draw data the same way.

use crate::ir::{Dim, Func, Graph, Id, Node, Sym};

/// What a variable's use asks of random test data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataNeeds {
    /// Directly under `log`, `sqrt`, a division or a power: entries in (0.5, 2).
    pub positive: bool,
    /// A square matrix under `inv`, `det`, `logdet` or a matrix power: `B + n I`.
    pub well_conditioned: bool,
    /// Directly under `arcsin` or `arccos`: entries in (0.1, 0.9), inside their domain
    /// and positive as well, should the variable also be under a power.
    pub bounded: bool,
}

/// The needs of every variable, in the graph's variable order.
pub fn data_needs(graph: &Graph, roots: &[Id]) -> Vec<(Sym, DataNeeds)> {
    let mut out: Vec<(Sym, DataNeeds)> = graph
        .variables()
        .iter()
        .map(|v| (v.name, DataNeeds::default()))
        .collect();
    let mut mark = |id: Id, f: fn(&mut DataNeeds)| {
        if let Node::Var(s) = graph.node(id) {
            if let Some((_, n)) = out.iter_mut().find(|(v, _)| *v == s) {
                f(n);
            }
        }
    };
    for id in graph.reachable(roots) {
        match graph.node(id) {
            Node::Apply(Func::Log | Func::Sqrt, a) | Node::Div(_, a) | Node::ElemDiv(_, a) => {
                mark(a, |n| n.positive = true)
            }
            Node::ElemPow(a, _) => mark(a, |n| n.positive = true),
            Node::Apply(Func::Arcsin | Func::Arccos, a) => mark(a, |n| n.bounded = true),
            Node::Pow(a, _) if graph.shape(a).is_scalar() => mark(a, |n| n.positive = true),
            Node::Apply(Func::Inv | Func::Det | Func::Logdet, a) | Node::Pow(a, _) => {
                mark(a, |n| n.well_conditioned = true)
            }
            _ => {}
        }
    }
    out
}

/// The named dimensions in first-use order: those of the variables' shapes, then the
/// other declared dimensions. Test sizes are handed out in this order.
pub fn dimensions_in_use_order(graph: &Graph) -> Vec<Sym> {
    let mut dims: Vec<Sym> = Vec::new();
    for v in graph.variables() {
        for d in [v.shape.rows, v.shape.cols] {
            if let Dim::Named(s) = d {
                // A product (`m*p`) is sized by its factors.
                let factors = match graph.dim_product_of(s) {
                    Some(p) => p.names.clone(),
                    None => vec![s],
                };
                for f in factors {
                    if !dims.contains(&f) {
                        dims.push(f);
                    }
                }
            }
        }
    }
    for &s in graph.dims() {
        if !dims.contains(&s) {
            dims.push(s);
        }
    }
    dims
}
