//! Well-formed expressions: their text, pretty and LaTeX forms, the inferred shapes
//! of the root and of every variable, and the round trip of the text form.

mod front_common;

use front_common::{declarations, same_structure};
use matdiff_core::{parse_function, print};

/// `(expression, declarations)`.
const CASES: &[(&str, &str)] = &[
    ("1/N * norm2(X*w - y)^2", "X: matrix(N,d)"),
    (
        "1/N * norm2(X*w - y)^2 + lambda * norm2(w)^2",
        "X: matrix(N, d); w: vector(d); y: vector(N); lambda: scalar",
    ),
    ("x'*A*x", ""),
    ("x'*A*x", "A: symmetric(n)"),
    ("x'*(A + A')*x", ""),
    ("<A, B>", ""),
    ("dot(x, y)", ""),
    ("tr(A'*B)", ""),
    ("det(X)", ""),
    ("logdet(P)", "P: spd(n)"),
    ("inv(X)", ""),
    ("x*y'", ""),
    ("a'*x", ""),
    ("sum(exp(X*w))", ""),
    ("logsumexp(X*w)", ""),
    ("softmax(W*x + b)", ""),
    ("sigmoid(x'*w)", ""),
    ("sum(log(1 + exp(-y .* (X*w))))", ""),
    ("norm1(w) + norm2(w)", ""),
    ("diag(x)", ""),
    ("diag(A)", ""),
    ("eye + A", ""),
    ("eye(3)*x", ""),
    ("ones'*x", ""),
    ("ones(n)'*x/n", "x: vector(n)"),
    ("X^2", ""),
    ("A^-1", ""),
    ("x .^ 2", ""),
    ("x ./ (1 + x)", ""),
    ("2 .* x", ""),
    ("relu(W*x)", ""),
    ("abs(x) + sign(x) .* step(x)", ""),
    ("sqrt(x'*x)", ""),
    ("-x'*y", ""),
    ("-(2*x)", ""),
    ("-2*x", ""),
    ("x + -2*y", ""),
    ("x - (y - z)", ""),
    ("x - y - z", ""),
    ("a*(b*c)", "a: scalar; b: scalar; c: scalar"),
    ("a*b*c", "a: scalar; b: scalar; c: scalar"),
    ("(-2)^alpha", ""),
    ("-2^alpha", ""),
    ("alpha^beta^gamma", ""),
    ("(alpha^beta)^gamma", ""),
    ("x''", ""),
    ("sin(alpha) + cos(beta)*tan(gamma) - tanh(delta)", ""),
    ("softplus(X_train*w) - y_train", ""),
    ("tr(S*A)", "S: symmetric(n)"),
    ("exp(-lambda*norm2(x - mu)^2)", ""),
    ("x + 1e-3", ""),
    ("A1*B2", ""),
    ("<X*w - y, X*w - y>/N", "X: matrix(N, d)"),
    ("X'*(X*w - y)", ""),
    ("X*w", "X: matrix(3, 2)"),
    ("x ./ y .^ 2", ""),
    ("1 - y", ""),
    ("⟨a, b⟩ + xᵀ·y", ""),
    ("0*ones(n)*ones(m)'", ""),
    ("0*ones(n)", ""),
    ("(0*ones(n))*ones(m)'", ""),
    ("0*ones(n)'*A", ""),
    ("x - -(2)", ""),
    ("A*B*C - A*(B*C)", ""),
    ("p'*log(p ./ q)", ""),
    ("k*eye(k) - A", ""),
    ("A*B*C*D*E*F", ""),
    ("n + m", ""),
    ("x'*ones(k)/k", ""),
];

#[test]
fn well_formed_expressions() {
    let mut out = String::new();
    for &(expr, decls) in CASES {
        let f = match parse_function(expr, decls) {
            Ok(f) => f,
            Err(d) => panic!(
                "{expr} [{decls}] does not check:\n{}",
                matdiff_syntax::diagnostic::render_plain(&d)
            ),
        };
        let g = &f.graph;
        let text = print::text(g, f.root);
        let again_decls = declarations(&f);
        let again = parse_function(&text, &again_decls).unwrap_or_else(|d| {
            panic!(
                "{text} [{again_decls}] does not parse back:\n{}",
                matdiff_syntax::diagnostic::render_plain(&d)
            )
        });
        assert!(
            same_structure(g, f.root, &again.graph, again.root),
            "{expr}: {text} parses back to {}",
            print::text(&again.graph, again.root)
        );
        let dims: Vec<&str> = g.dims().iter().map(|&d| g.name(d)).collect();
        out.push_str(&format!("== {expr}"));
        if !decls.is_empty() {
            out.push_str(&format!("   [{decls}]"));
        }
        out.push('\n');
        out.push_str(&format!("text:   {text}\n"));
        out.push_str(&format!("pretty: {}\n", print::pretty(g, f.root)));
        out.push_str(&format!("latex:  {}\n", print::latex(g, f.root)));
        out.push_str(&format!("shape:  {}\n", print::shape(g, g.shape(f.root))));
        out.push_str(&format!("vars:   {again_decls}\n"));
        out.push_str(&format!("dims:   {}\n", dims.join(", ")));
        out.push_str(&format!("tokens: {}\n\n", print::token_count(g, f.root)));
    }
    insta::assert_snapshot!(out);
}
