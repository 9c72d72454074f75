//! Shape errors as data: the message, and the source text under the primary caret.

use matdiff_core::{elaborate, parse_function};
use matdiff_syntax::{parse_decls, parse_expr, Program, SourceId};

/// `(expression, declarations, message, text under the primary caret)`.
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "x*y",
        "",
        "dimension mismatch in `*`: vector(n) and vector(m)",
        "*",
    ),
    (
        "(a + b) * (c)",
        "a: vector(n); c: vector(m)",
        "dimension mismatch in `*`: vector(n) and vector(m)",
        "*",
    ),
    (
        "x + y'",
        "",
        "dimension mismatch in `+`: vector(n) and row vector(m)",
        "+",
    ),
    (
        "x - ones(3)",
        "x: vector(4)",
        "dimension mismatch in `-`: vector(4) and vector(3)",
        "-",
    ),
    (
        "x − ones(3)",
        "x: vector(4)",
        "dimension mismatch in `-`: vector(4) and vector(3)",
        "−",
    ),
    (
        "x ∘ A",
        "",
        "dimension mismatch in `.*`: vector(n) and matrix(n, m)",
        "∘",
    ),
    (
        "x / y",
        "",
        "`/` needs a scalar denominator, found vector(n)",
        "/",
    ),
    (
        "tr(x)",
        "",
        "`tr` needs a square matrix, found vector(n)",
        "tr",
    ),
    (
        "logdet(X)",
        "X: matrix(N, d)",
        "`logdet` needs a square matrix, found matrix(N, d)",
        "logdet",
    ),
    (
        "X^2",
        "X: matrix(2, 3)",
        "`^` of a non-square matrix(2, 3)",
        "^",
    ),
    (
        "A^alpha",
        "",
        "a matrix power needs a constant integer exponent",
        "^",
    ),
    (
        "<x, y'>",
        "",
        "dimension mismatch in inner product: vector(n) and row vector(m)",
        "<x, y'>",
    ),
    (
        "x + vector(y)",
        "",
        "`vector(c)` needs a scalar c, found vector(n)",
        "vector",
    ),
    (
        "softmax(alpha)",
        "",
        "`softmax` needs a vector or a matrix, found scalar",
        "softmax",
    ),
    (
        "X*w + y",
        "X: matrix(N, d); y: vector(d)",
        "dimension mismatch in `+`: vector(N) and vector(d)",
        "+",
    ),
    (
        "eye(x) * x",
        "x: vector",
        "the size of `eye` must be a dimension name or a positive integer",
        "x",
    ),
];

#[test]
fn errors_point_at_the_operator() {
    for &(expr, decls, message, caret) in CASES {
        let errors = match parse_function(expr, decls) {
            Ok(f) => panic!("{expr} [{decls}] checks as {:?}", f.graph.shape(f.root)),
            Err(e) => e,
        };
        assert_eq!(errors.len(), 1, "{expr}: {errors:?}");
        assert_eq!(errors[0].message, message, "{expr}");
        let span = errors[0].primary_span().expect("a primary label");
        assert_eq!(span.source, SourceId(0), "{expr}");
        assert_eq!(&expr[span.range()], caret, "{expr}");
    }
}

#[test]
fn elaborate_without_source_texts_checks_and_lowers() {
    let (expr, e1) = parse_expr("1/N * norm2(X*w - y)^2", SourceId(0));
    let (decls, e2) = parse_decls("X: matrix(N, d)", SourceId(1));
    assert!(e1.is_empty() && e2.is_empty());
    let f = elaborate(&Program { decls, expr }).expect("well typed");
    assert_eq!(
        matdiff_core::print::text(&f.graph, f.root),
        "1/N*norm2(X*w - y)^2"
    );
    let names: Vec<String> = f
        .graph
        .variables()
        .iter()
        .map(|v| matdiff_core::print::describe_variable(&f.graph, v))
        .collect();
    assert_eq!(names, ["X: matrix(N, d)", "w: vector(d)", "y: vector(N)"]);
}

#[test]
fn several_independent_errors_are_all_reported() {
    let errors = parse_function("tr(x) + inv(y) + A/B", "").expect_err("three errors");
    let messages: Vec<&str> = errors.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`tr` needs a square matrix, found vector(n)",
            "`inv` needs a square matrix, found vector(m)",
            "`/` needs a scalar denominator, found matrix(k, p)",
        ]
    );
}
