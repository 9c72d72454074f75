//! Helpers shared by the front-end tests.

use matdiff_core::{print, Dim, Function, Graph, Id, Node, Shape};

/// The declarations that reproduce a function's variables: `w: vector(d); …`.
pub fn declarations(f: &Function) -> String {
    f.graph
        .variables()
        .iter()
        .map(|v| print::describe_variable(&f.graph, v))
        .collect::<Vec<_>>()
        .join("; ")
}

fn same_dim(ga: &Graph, a: Dim, gb: &Graph, b: Dim) -> bool {
    match (a, b) {
        (Dim::Size(x), Dim::Size(y)) => x == y,
        (Dim::Named(x), Dim::Named(y)) => ga.name(x) == gb.name(y),
        _ => false,
    }
}

fn same_shape(ga: &Graph, a: Shape, gb: &Graph, b: Shape) -> bool {
    same_dim(ga, a.rows, gb, b.rows) && same_dim(ga, a.cols, gb, b.cols)
}

/// Whether two nodes of two graphs are the same tree (names compared by text).
pub fn same_structure(ga: &Graph, a: Id, gb: &Graph, b: Id) -> bool {
    if !same_shape(ga, ga.shape(a), gb, gb.shape(b)) {
        return false;
    }
    let both = |x: Id, y: Id| same_structure(ga, x, gb, y);
    match (ga.node(a), gb.node(b)) {
        (Node::Const(x), Node::Const(y)) => x == y,
        (Node::Var(x), Node::Var(y))
        | (Node::DimValue(x), Node::DimValue(y))
        | (Node::Differential(x), Node::Differential(y)) => ga.name(x) == gb.name(y),
        (Node::Eye(x), Node::Eye(y)) | (Node::Ones(x), Node::Ones(y)) => same_dim(ga, x, gb, y),
        (Node::Zeros(x), Node::Zeros(y)) => same_shape(ga, x, gb, y),
        (Node::Neg(x), Node::Neg(y)) | (Node::Transpose(x), Node::Transpose(y)) => both(x, y),
        (Node::Apply(f, x), Node::Apply(g, y)) => f == g && both(x, y),
        (Node::Add(x1, x2), Node::Add(y1, y2))
        | (Node::Mul(x1, x2), Node::Mul(y1, y2))
        | (Node::Div(x1, x2), Node::Div(y1, y2))
        | (Node::Pow(x1, x2), Node::Pow(y1, y2))
        | (Node::ElemMul(x1, x2), Node::ElemMul(y1, y2))
        | (Node::ElemDiv(x1, x2), Node::ElemDiv(y1, y2))
        | (Node::ElemPow(x1, x2), Node::ElemPow(y1, y2))
        | (Node::Inner(x1, x2), Node::Inner(y1, y2)) => both(x1, y1) && both(x2, y2),
        _ => false,
    }
}
