//! The lowering's side table of spans: each node points back at the first text that
//! lowered to it, so errors found on the IR can put a caret under the source.

use matdiff_core::{elaborate_with_spans, Node, Texts};
use matdiff_syntax::{parse_expr, Program, SourceId};

#[test]
fn every_subexpression_maps_back_to_its_first_occurrence() {
    let text = "norm2(X*w - y)^2 + norm2(X*w)^2";
    let (expr, errors) = parse_expr(text, SourceId(0));
    assert!(errors.is_empty());
    let program = Program {
        decls: Vec::new(),
        expr,
    };
    let (function, spans) = elaborate_with_spans(&program, Texts(&[text])).unwrap();
    let g = &function.graph;
    let cases = [
        (function.root, text),
        // `X*w` occurs twice; hash-consing gives one node, which points at the first.
        (find_product(g), "X*w"),
    ];
    for (id, expected) in cases {
        let span = spans.span(id).expect("a span");
        assert_eq!(&text[span.range()], expected);
        assert_eq!(span.range().start, text.find(expected).unwrap());
    }
}

fn find_product(g: &matdiff_core::Graph) -> matdiff_core::Id {
    (0..g.len() as u32)
        .map(matdiff_core::Id)
        .find(|&id| {
            matches!(g.node(id), Node::Mul(a, b)
                if matches!(g.node(a), Node::Var(_)) && matches!(g.node(b), Node::Var(_)))
        })
        .expect("X*w")
}
