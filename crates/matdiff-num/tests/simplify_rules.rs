//! The simplifier's rules one by one: each rewrites its pattern to the textbook
//! spelling, and the rewritten expression has the same value as the original on
//! random inputs (so no rule can be right by its string alone).

mod common;

use common::{function, relative_error};
use matdiff_core::{print, simplify};
use matdiff_num::check::{default_sizes, random_inputs};
use matdiff_num::reference;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// (rule, expression, declarations, simplified text).
const RULES: &[(&str, &str, &str, &str)] = &[
    (
        "1 - sigmoid(z) = sigmoid(-z)",
        "1 - sigmoid(x)",
        "",
        "sigmoid(-x)",
    ),
    (
        "1 - sigmoid(z), scalar",
        "1 - sigmoid(alpha)",
        "",
        "sigmoid(-alpha)",
    ),
    (
        "sigmoid' = sigmoid (1 - sigmoid)",
        "sigmoid(x) .* (1 - sigmoid(x))",
        "",
        "sigmoid(x) .* sigmoid(-x)",
    ),
    ("det(X^k) = det(X)^k", "det(X^3)", "", "det(X)^3"),
    (
        "logdet(X^k) = k logdet(X)",
        "logdet(P^2)",
        "P: spd(n)",
        "2*logdet(P)",
    ),
    ("inv(X^k) = inv(X)^k", "inv(X^2)", "", "inv(X)^2"),
    ("inv(A)*A = I", "a'*inv(X)*X*b", "", "a'*b"),
    ("A'*inv(A)' = I", "X'*inv(X)'*A", "", "A"),
    ("a ./ a cancels", "sum(x ./ x)", "", "sum(ones(n))"),
    ("a .* b ./ b cancels", "x .* y ./ y", "", "x"),
    ("powers of a base merge", "q ./ q.^2", "", "1 ./ q"),
    ("powers of a base merge upwards", "x .* x.^2", "", "x.^3"),
    (
        "common scalar factors collect",
        "X/norm2(X) - A/norm2(X)",
        "",
        "(X - A)/norm2(X)",
    ),
    (
        "relu(u) .* step(u) = relu(u)",
        "relu(x) .* step(x) .* y",
        "",
        "y .* relu(x)",
    ),
    ("diag(u*v') = u .* v", "diag(a*b')", "", "a .* b"),
    (
        "scalar powers of one base merge",
        "det(X)*det(X)^(-0.5)*X",
        "",
        "det(X)^0.5*X",
    ),
    (
        "scalar powers that cancel",
        "norm2(x)^0.5*norm2(x)^(-0.5)*x",
        "",
        "x",
    ),
    ("a minus, not + -", "exp(1 - 2*x)", "", "exp(1 - 2*x)"),
    ("a negated quotient", "-(p ./ q)", "", "-p ./ q"),
    (
        "a transposed sum that factors keeps its sign outside",
        "-(-X*A - X*B)'",
        "",
        "(A + B)'*X'",
    ),
    (
        "a transposed sum opens to meet its twins",
        "S*x + (x'*S - a')'",
        "S: symmetric(n)",
        "2*S*x - a",
    ),
    (
        "sigmoid(-u) = 1 - sigmoid(u) where both meet in a sum",
        "sigmoid(x) .* (1 - y) - y .* sigmoid(-x)",
        "",
        "sigmoid(x) - y",
    ),
    (
        "sigmoid(-u) alone stays as it is",
        "y .* sigmoid(-x) + z",
        "",
        "z + y .* sigmoid(-x)",
    ),
    (
        "<I, A> = tr(A)",
        "<eye(n), A>*B",
        "A: matrix(n,n)",
        "tr(A)*B",
    ),
    (
        "<1 1', A> = sum(A)",
        "<ones(m)*ones(n)', A>",
        "A: matrix(m,n)",
        "sum(A)",
    ),
    (
        "sinh(u) ./ cosh(u) = tanh(u)",
        "y .* sinh(x) ./ cosh(x)",
        "",
        "y .* tanh(x)",
    ),
    (
        "sin(u) ./ cos(u) = tan(u)",
        "sin(x) ./ cos(x)",
        "",
        "tan(x)",
    ),
    (
        "a quotient of other arguments stays",
        "sinh(x) ./ cosh(y)",
        "",
        "sinh(x) ./ cosh(y)",
    ),
    (
        "a transposed sum with no twin stays closed",
        "b + (x'*A - a')'",
        "",
        "b + (x'*A - a')'",
    ),
];

#[test]
fn each_rule_gives_the_textbook_form_and_the_same_value() {
    let mut failures = Vec::new();
    for (seed, &(rule, expr, decls, expected)) in RULES.iter().enumerate() {
        let mut f = function(expr, decls);
        let simplified = simplify(&mut f.graph, f.root);
        let text = print::text(&f.graph, simplified);
        if text != expected {
            failures.push(format!(
                "{rule}: `{expr}` simplifies to `{text}`, not `{expected}`"
            ));
        }
        let sizes = default_sizes(&f.graph, &[]);
        let mut rng = ChaCha8Rng::seed_from_u64(seed as u64);
        let inputs = random_inputs(&f.graph, &sizes, &[f.root], &mut rng).expect("inputs");
        let before = reference::evaluate(&f.graph, f.root, &inputs, &sizes).expect("original");
        let after = reference::evaluate(&f.graph, simplified, &inputs, &sizes).expect("simplified");
        let err = relative_error(&after, &before.to_matrix());
        if err > 1e-10 {
            failures.push(format!(
                "{rule}: `{expr}` → `{text}` changes the value by {err:e}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
