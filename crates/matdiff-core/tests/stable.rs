//! The stable forms (`matdiff_core::stable`): each composition that overflows as
//! written is rewritten into the built-in that computes it exactly, and nothing else
//! is touched.

use matdiff_core::{parse_function, print, stable::stabilize};

const DECLS: &str = "z: scalar; u: vector(n); X: matrix(N, d); w: vector(d); y: vector(N)";

#[test]
fn unstable_compositions_become_their_stable_forms() {
    let cases = [
        ("log(1 + exp(z))", "softplus(z)"),
        ("log(exp(z) + 1)", "softplus(z)"),
        (
            "sum(log(ones(N) + exp(-y .* (X*w))))",
            "sum(softplus(-y .* (X*w)))",
        ),
        ("log(1 + u)", "log1p(u)"),
        ("log(sigmoid(z))", "-softplus(-z)"),
        ("log(1 - sigmoid(X*w))", "-softplus(X*w)"),
        ("1 ./ (1 + exp(-u))", "sigmoid(u)"),
        ("1/(1 + exp(z))", "sigmoid(-z)"),
        ("log(sum(exp(u)))", "logsumexp(u)"),
        ("exp(u)/sum(exp(u))", "softmax(u)"),
        ("log(softmax(u))", "u - logsumexp(u)"),
        ("log(softmax_cols(X))", "X - ones(N)*logsumexp_cols(X)"),
        // Already stable, or not one of the forms: unchanged.
        (
            "softplus(z) + log(2 + exp(z))",
            "softplus(z) + log(2 + exp(z))",
        ),
        ("2 ./ (1 + exp(-u))", "2 ./ (1 + exp(-u))"),
        ("exp(u)/sum(exp(y))", "exp(u)/sum(exp(y))"),
    ];
    for (input, expected) in cases {
        let mut f = parse_function(input, DECLS).expect("well typed");
        let root = stabilize(&mut f.graph, f.root);
        assert_eq!(print::text(&f.graph, root), expected, "{input}");
        // Idempotent: a stable form stays as it is.
        let again = stabilize(&mut f.graph, root);
        assert_eq!(again, root, "{input}");
    }
}
