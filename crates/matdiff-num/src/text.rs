//! A plain infix printer for naming subexpressions in messages.

use matdiff_core::{Graph, Id, Node};

/// The expression `id` in the language's notation, fully parenthesised where needed.
pub fn text(graph: &Graph, id: Id) -> String {
    let (s, _) = go(graph, id);
    s
}

/// Binding strength of the printed form: 0 sum, 1 product, 2 unary minus, 3 power,
/// 4 postfix / atom.
fn go(graph: &Graph, id: Id) -> (String, u8) {
    let wrap = |(s, p): (String, u8), min: u8| if p < min { format!("({s})") } else { s };
    match graph.node(id) {
        Node::Const(r) => {
            let v = r.value();
            (format!("{v}"), if v < 0.0 { 2 } else { 4 })
        }
        Node::Var(s) | Node::DimValue(s) => (graph.name(s).to_string(), 4),
        Node::Differential(s) => (format!("d{}", graph.name(s)), 4),
        Node::DifferentialOf(a) => (format!("d({})", go(graph, a).0), 4),
        Node::Eye(d) => (format!("eye({})", crate::inputs::dim_text(graph, d)), 4),
        Node::Ones(d) => (format!("ones({})", crate::inputs::dim_text(graph, d)), 4),
        Node::Zeros(_) => ("0".to_string(), 4),
        Node::Add(a, b) => {
            let right = match graph.node(b) {
                Node::Neg(inner) => format!(" - {}", wrap(go(graph, inner), 1)),
                _ => format!(" + {}", wrap(go(graph, b), 1)),
            };
            (format!("{}{right}", wrap(go(graph, a), 0)), 0)
        }
        Node::Neg(a) => (format!("-{}", wrap(go(graph, a), 3)), 2),
        Node::Mul(a, b) => binary(graph, a, b, "*", 1),
        Node::Div(a, b) => binary(graph, a, b, "/", 1),
        Node::ElemMul(a, b) => binary(graph, a, b, ".*", 1),
        Node::ElemDiv(a, b) => binary(graph, a, b, "./", 1),
        Node::Pow(a, b) => (
            format!("{}^{}", wrap(go(graph, a), 4), wrap(go(graph, b), 3)),
            3,
        ),
        Node::ElemPow(a, b) => (
            format!("{}.^{}", wrap(go(graph, a), 4), wrap(go(graph, b), 3)),
            3,
        ),
        Node::Transpose(a) => (format!("{}'", wrap(go(graph, a), 4)), 4),
        Node::Inner(a, b) => (format!("<{}, {}>", text(graph, a), text(graph, b)), 4),
        Node::Apply(f, a) => (format!("{}({})", f.name(), text(graph, a)), 4),
    }
}

fn binary(graph: &Graph, a: Id, b: Id, op: &str, prec: u8) -> (String, u8) {
    let (sa, pa) = go(graph, a);
    let (sb, pb) = go(graph, b);
    let left = if pa < prec { format!("({sa})") } else { sa };
    let right = if pb <= prec { format!("({sb})") } else { sb };
    (format!("{left}{op}{right}"), prec)
}
