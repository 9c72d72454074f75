//! Structure of parsed expressions, as S-expressions: precedence, associativity,
//! Unicode aliases, number formats, inner products and calls.

use matdiff_syntax::{parse_expr, ExprKind, SourceId};

/// `(input, expected S-expression)`.
const CASES: &[(&str, &str)] = &[
    // Atoms and number formats.
    ("x", "x"),
    ("X_1", "X_1"),
    ("_tmp2", "_tmp2"),
    ("2", "2"),
    ("2.5", "2.5"),
    ("1e-3", "0.001"),
    ("1.5E+4", "15000"),
    ("2e3", "2000"),
    (".5", "0.5"),
    ("0.25", "0.25"),
    ("007", "7"),
    // Every binary operator.
    ("a + b", "(+ a b)"),
    ("a - b", "(- a b)"),
    ("a * b", "(* a b)"),
    ("a / b", "(/ a b)"),
    ("a ^ b", "(^ a b)"),
    ("a .* b", "(.* a b)"),
    ("a ./ b", "(./ a b)"),
    ("a .^ b", "(.^ a b)"),
    ("x'", "(' x)"),
    ("-x", "(- x)"),
    // Left associativity of the two lower levels.
    ("a - b - c", "(- (- a b) c)"),
    ("a + b - c + d", "(+ (- (+ a b) c) d)"),
    ("a*b*c", "(* (* a b) c)"),
    ("a / b / c", "(/ (/ a b) c)"),
    ("a .* b ./ c * d", "(* (./ (.* a b) c) d)"),
    // Right associativity of powers.
    ("a^b^c", "(^ a (^ b c))"),
    ("a.^b^c", "(.^ a (^ b c))"),
    ("a^b.^c", "(^ a (.^ b c))"),
    // Levels against each other.
    ("a + b * c", "(+ a (* b c))"),
    ("a * b + c", "(+ (* a b) c)"),
    ("a - b / c", "(- a (/ b c))"),
    ("a * b ^ c", "(* a (^ b c))"),
    ("a ^ b * c", "(* (^ a b) c)"),
    (
        "1/N * norm2(X*w - y)^2",
        "(* (/ 1 N) (^ (call norm2 (- (* X w) y)) 2))",
    ),
    // Unary minus sits between products and powers.
    ("-x^2", "(- (^ x 2))"),
    ("-2*x", "(* (- 2) x)"),
    ("-a*b", "(* (- a) b)"),
    ("-a + b", "(+ (- a) b)"),
    ("a * -b", "(* a (- b))"),
    ("a - -b", "(- a (- b))"),
    ("--x", "(- (- x))"),
    ("x^-1", "(^ x (- 1))"),
    ("x^-1*y", "(* (^ x (- 1)) y)"),
    ("x^-y^2", "(^ x (- (^ y 2)))"),
    ("2^-x'", "(^ 2 (- (' x)))"),
    ("-x'", "(- (' x))"),
    // Postfix transpose binds tightest.
    ("x'^2", "(^ (' x) 2)"),
    ("x^y'", "(^ x (' y))"),
    ("x''", "(' (' x))"),
    ("x'*y", "(* (' x) y)"),
    ("x*y'", "(* x (' y))"),
    ("(A*B)'", "(' (* A B))"),
    ("tr(X)'", "(' (call tr X))"),
    // Parentheses.
    ("(a + b) * c", "(* (+ a b) c)"),
    ("((x))", "x"),
    ("a * (b + c)", "(* a (+ b c))"),
    ("(-x)^2", "(^ (- x) 2)"),
    // Dots: a number's `.` needs a digit after it.
    ("2.*x", "(.* 2 x)"),
    ("2./x", "(./ 2 x)"),
    ("2.^x", "(.^ 2 x)"),
    ("1.5.*x", "(.* 1.5 x)"),
    ("x.*.5", "(.* x 0.5)"),
    // Unicode aliases.
    ("xᵀ", "(' x)"),
    ("xᵀ*A*x", "(* (* (' x) A) x)"),
    ("⟨A, B⟩", "(<> A B)"),
    ("a ∘ b", "(.* a b)"),
    ("a · b", "(* a b)"),
    ("a − b", "(- a b)"),
    ("−x", "(- x)"),
    ("⟨A, B> + <C, D⟩", "(+ (<> A B) (<> C D))"),
    // Inner products.
    ("<A, B>", "(<> A B)"),
    ("<x, A*x>", "(<> x (* A x))"),
    ("<a, <b, c>>", "(<> a (<> b c))"),
    ("2*<X, Y>^2", "(* 2 (^ (<> X Y) 2))"),
    ("dot(a, b)", "(<> a b)"),
    ("dot(a + b, c)", "(<> (+ a b) c)"),
    ("<A, B>'", "(' (<> A B))"),
    // Calls.
    ("tr(X)", "(call tr X)"),
    ("tr (X)", "(call tr X)"),
    (
        "logdet(X'*X + lambda*eye)",
        "(call logdet (+ (* (' X) X) (* lambda (call eye))))",
    ),
    ("exp(-x)", "(call exp (- x))"),
    ("sigmoid(x)'*y", "(* (' (call sigmoid x)) y)"),
    ("-tr(X)^2", "(- (^ (call tr X) 2))"),
    (
        "sum(log(1 + exp(-y .* (X*w))))",
        "(call sum (call log (+ 1 (call exp (.* (- y) (* X w))))))",
    ),
    // Bare and sized eye / ones.
    ("eye", "(call eye)"),
    ("ones", "(call ones)"),
    ("eye()", "(call eye)"),
    ("eye(n)", "(call eye n)"),
    ("ones(3)", "(call ones 3)"),
    ("ones'*x", "(* (' (call ones)) x)"),
    ("X + eye", "(+ X (call eye))"),
    // Whitespace, newlines and comments are insignificant in an expression.
    ("  a\n+\tb  ", "(+ a b)"),
    ("a + # a comment\n b", "(+ a b)"),
];

#[test]
fn expressions_parse_to_the_expected_trees() {
    let mut failures = Vec::new();
    for (input, expected) in CASES {
        match parse_expr(input, SourceId(0)) {
            (Some(expr), diags) if diags.is_empty() => {
                let got = expr.to_sexpr();
                if got != *expected {
                    failures.push(format!("{input:?}: expected {expected}, got {got}"));
                }
            }
            (_, diags) => failures.push(format!("{input:?}: failed with {diags:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `(input, expected text of the root's span)`: spans are byte ranges of the source.
const SPANS: &[(&str, &str)] = &[
    ("  a + b  ", "a + b"),
    ("(a + b)", "(a + b)"),
    ("-x'", "-x'"),
    ("tr(X) ", "tr(X)"),
    ("dot(a, b)", "dot(a, b)"),
    ("⟨λa, b⟩", ""),
    (" ⟨a, b⟩ ", "⟨a, b⟩"),
    ("xᵀ", "xᵀ"),
    ("eye", "eye"),
];

#[test]
fn root_spans_cover_the_written_text() {
    for (input, expected) in SPANS {
        let (expr, diags) = parse_expr(input, SourceId(3));
        match expr {
            Some(e) if diags.is_empty() => {
                assert_eq!(e.span.source, SourceId(3));
                assert_eq!(&input[e.span.range()], *expected, "input {input:?}");
            }
            _ => assert!(expected.is_empty(), "input {input:?} failed: {diags:?}"),
        }
    }
}

#[test]
fn child_spans_point_at_operands() {
    let src = "a*(b + c)'";
    let (expr, diags) = parse_expr(src, SourceId(0));
    assert!(diags.is_empty());
    let expr = expr.unwrap();
    let ExprKind::Binary { lhs, rhs, .. } = &expr.kind else {
        panic!("expected a product, got {}", expr.to_sexpr());
    };
    assert_eq!(&src[lhs.span.range()], "a");
    assert_eq!(&src[rhs.span.range()], "(b + c)'");
    let ExprKind::Transpose(inner) = &rhs.kind else {
        panic!("expected a transpose, got {}", rhs.to_sexpr());
    };
    assert_eq!(&src[inner.span.range()], "(b + c)");
}
