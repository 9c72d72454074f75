//! Symbolic blow-up is bounded: a derivative whose graph would pass the node budget
//! is refused with an error naming the budget, and the simplifier's ordering keys
//! cost memory in the depth of an expression, not the size of its printed tree.

use matdiff_core::{derive, parse_function, DiffError};

fn nested_sin(depth: usize) -> String {
    format!("{}a{}", "sin(".repeat(depth), ")".repeat(depth))
}

#[test]
fn a_hessian_past_the_node_budget_is_refused() {
    let cases = [
        (
            nested_sin(250),
            "a: scalar",
            2u8,
            "the Hessian grows past 20000 nodes",
        ),
        (
            (0..200)
                .map(|i| format!("(a + {i})"))
                .collect::<Vec<_>>()
                .join("*"),
            "a: scalar",
            1,
            "the derivative grows past 20000 nodes",
        ),
    ];
    for (expr, decls, order, message) in cases {
        let mut f = parse_function(&expr, decls).unwrap();
        f.graph.set_node_budget(20_000);
        let error = derive(&mut f, "a", order).unwrap_err();
        assert!(matches!(error, DiffError::TooLarge { limit: 20_000, .. }));
        assert!(error.to_string().starts_with(message), "{error}");
    }
}

#[test]
fn deep_hessians_fit_the_default_budget() {
    // 4 GB and an abort before the ordering keys were read lazily.
    let mut f = parse_function(&nested_sin(250), "a: scalar").unwrap();
    let h = derive(&mut f, "a", 2).unwrap();
    assert!(f.graph.len() < matdiff_core::ir::NODE_BUDGET);
    assert!(f.graph.len() > h.expr.index());
}
