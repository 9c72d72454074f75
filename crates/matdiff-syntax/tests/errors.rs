//! Diagnostics for malformed input, one insta snapshot per case: the input, the
//! plain rendering (message, labels with byte spans, notes) and the labels drawn
//! under the source line they point into.

use matdiff_syntax::diagnostic::render_plain;
use matdiff_syntax::{parse_decls, parse_expr, parse_program, Diagnostic, SourceId};

/// `(snapshot name, malformed expression)`.
const EXPR_CASES: &[(&str, &str)] = &[
    ("empty", ""),
    ("blank", "  \n "),
    ("unclosed_paren", "(a + b"),
    ("unclosed_outer_paren", "2*(a + tr(X)"),
    ("unclosed_call", "tr(X"),
    ("unclosed_paren_after_operator", "(x +"),
    ("stray_close_paren", "a + b)"),
    ("stray_close_paren_first", ")"),
    ("empty_parens", "2*()"),
    ("dangling_operator_at_end", "x +"),
    ("dangling_caret", "x'^"),
    ("operator_at_start", "* x"),
    ("two_operators", "x + * y"),
    ("python_power", "x**2"),
    ("unary_plus", "+x"),
    ("operator_before_close", "(x -)"),
    ("unknown_function_suggestion", "determinant(X)"),
    ("unknown_function_product", "x(y + 1)"),
    ("unknown_function_alias", "ln(x)"),
    ("transpose_function", "transpose(X)"),
    ("two_unknown_functions", "determinant(X) + nrm2(Y)"),
    ("arity_too_many", "tr(X, Y)"),
    ("arity_none", "tr()"),
    ("arity_dot", "dot(a)"),
    ("arity_eye", "eye(2, 3)"),
    ("function_without_parens", "tr X"),
    ("function_as_variable", "exp + 1"),
    ("stray_character", "x @ y"),
    ("greek_letter", "λ*x"),
    ("lone_dot", "x.y"),
    ("invisible_character", "x\u{200b} + y"),
    ("unclosed_inner", "<a, b"),
    ("unclosed_unicode_inner", "⟨a, b"),
    ("inner_missing_comma", "<a b>"),
    ("inner_one_operand", "<a>"),
    ("inner_three_operands", "<a, b, c>"),
    ("inner_empty", "<>"),
    ("trailing_name", "x y"),
    ("number_then_name", "2x"),
    ("number_then_paren", "2 (x + 1)"),
    ("comparison", "x > y"),
    ("less_than", "x < y"),
    ("top_level_comma", "a, b"),
    ("trailing_comma_in_call", "tr(X,)"),
    ("declaration_as_expression", "x: vector"),
    ("semicolon", "x; y"),
    ("huge_number", "1e999 * x"),
    ("too_deep", "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((x"),
];

/// `(snapshot name, malformed declarations)` for `--let`.
const DECL_CASES: &[(&str, &str)] = &[
    ("unknown_kind", "X: matrx(N, d)"),
    ("unknown_kind_prefix", "S: sym(n)"),
    ("unknown_kind_no_suggestion", "x: banana"),
    ("vector_two_dims", "x: vector(n, m)"),
    ("matrix_one_dim", "X: matrix(N)"),
    ("scalar_with_dim", "s: scalar(3)"),
    ("vector_empty_dims", "x: vector()"),
    ("fractional_dim", "x: vector(2.5)"),
    ("negative_dim", "x: vector(-1)"),
    ("unclosed_dims", "x: vector(n"),
    ("missing_comma_between_dims", "X: matrix(N d)"),
    ("missing_colon", "x vector(n)"),
    ("missing_kind", "x:"),
    ("duplicate", "x: vector; x: matrix"),
    ("function_name", "exp: scalar"),
    ("dims_without_parens", "x: vector n"),
    ("square_brackets", "X: matrix[N, d]"),
    (
        "several_errors",
        "x: vector; y: vectr(n); z: sym(n, n), w: vector(d)",
    ),
    ("expression_in_decls", "x: vector; x'*x"),
];

/// `(snapshot name, malformed @file)`.
const PROGRAM_CASES: &[(&str, &str)] = &[
    ("missing_expression", "X: matrix(N, d)\nw: vector(d)\n"),
    ("empty_file", ""),
    ("only_comments", "# nothing here\n\n"),
    (
        "declaration_after_expression",
        "x: vector(n)\nx'*x\ny: vector(n)\n",
    ),
    ("two_expressions", "x: vector\nx'*x\ny'*y\n"),
    ("unknown_kind_expression_ok", "X: matrx(N, d)\nnorm2(X)^2\n"),
    ("unclosed_dims_then_expression", "x: vector(n\nx'*x\n"),
    (
        "dangling_operator_last_line",
        "w: vector(d)\n1/N * norm2(X*w - y)^2 +\n# end\n",
    ),
    (
        "unclosed_before_late_declaration",
        "x: vector\n(x + 1\ny: vector\n",
    ),
    (
        "decl_and_expression_errors",
        "x: vectr(n)\ndeterminant(x*x')\n",
    ),
];

fn snapshot(input: &str, diags: &[Diagnostic]) -> String {
    let mut out = format!("input:\n{input}\n---\n{}", render_plain(diags));
    for d in diags {
        for label in &d.labels {
            out.push_str(&draw_label(input, label.span.range(), label.primary));
        }
    }
    out
}

/// The source line a label starts on, with `^^^` (primary) or `---` under its span.
fn draw_label(src: &str, range: std::ops::Range<usize>, primary: bool) -> String {
    let line_start = src[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[range.start..]
        .find('\n')
        .map_or(src.len(), |i| range.start + i);
    let line = &src[line_start..line_end];
    let pad = src[line_start..range.start].chars().count();
    let width = src[range.start..range.end.min(line_end)]
        .chars()
        .count()
        .max(1);
    let mark = if primary { "^" } else { "-" };
    format!(
        "  | {line}\n  | {}{}\n",
        " ".repeat(pad),
        mark.repeat(width)
    )
}

/// Every label lies inside the input, on `char` boundaries.
fn assert_spans_valid(input: &str, diags: &[Diagnostic]) {
    for d in diags {
        for label in &d.labels {
            assert!(
                input.get(label.span.range()).is_some(),
                "label {:?} is not a valid range of {input:?}",
                label.span
            );
        }
        assert!(d.primary_span().is_some(), "no primary label in {d:?}");
    }
}

#[test]
fn expression_errors() {
    for (name, input) in EXPR_CASES {
        let (expr, diags) = parse_expr(input, SourceId(0));
        assert!(!diags.is_empty(), "{name}: {input:?} parsed as {expr:?}");
        assert_spans_valid(input, &diags);
        insta::assert_snapshot!(format!("expr_{name}"), snapshot(input, &diags));
    }
}

#[test]
fn declaration_errors() {
    for (name, input) in DECL_CASES {
        let (decls, diags) = parse_decls(input, SourceId(1));
        assert!(!diags.is_empty(), "{name}: {input:?} parsed as {decls:?}");
        assert_spans_valid(input, &diags);
        insta::assert_snapshot!(format!("decls_{name}"), snapshot(input, &diags));
    }
}

#[test]
fn program_errors() {
    for (name, input) in PROGRAM_CASES {
        let (program, diags) = parse_program(input, SourceId(2));
        assert!(!diags.is_empty(), "{name}: {input:?} parsed as {program:?}");
        assert_spans_valid(input, &diags);
        insta::assert_snapshot!(format!("program_{name}"), snapshot(input, &diags));
    }
}
