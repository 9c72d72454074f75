//! Properties over arbitrary input: the parsers never panic, every span is a valid
//! byte range of the input, success is exactly "no diagnostics", and a successful
//! parse survives printing it fully parenthesised and parsing it again.

use matdiff_syntax::{
    parse_decls, parse_expr, parse_program, Decl, DimSpec, Expr, ExprKind, SourceId,
};
use proptest::prelude::*;

/// Tokens of the language, some aliases, and a few characters that are not.
const VOCABULARY: &[&str] = &[
    "x", "X", "A", "w", "N", "lambda", "2", "2.5", ".5", "1e-3", "1.5E+4", "0", "+", "-", "*", "/",
    "^", ".*", "./", ".^", "'", "(", ")", ",", "<", ">", "tr", "dot", "eye", "ones", "exp",
    "norm2", "inv", "trace", "ᵀ", "⟨", "⟩", "∘", "·", "−", ":", ";", "\n", "vector", "matrix",
    "scalar", "spd", "#", "@", "λ", ".", "e",
];

fn check_span(src: &str, span: matdiff_syntax::Span, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        span.start <= span.end && src.get(span.range()).is_some(),
        "{what} span {span:?} is not a valid range of {src:?}"
    );
    Ok(())
}

fn check_expr(src: &str, e: &Expr) -> Result<(), TestCaseError> {
    check_span(src, e.span, "expression")?;
    match &e.kind {
        ExprKind::Number(v) => prop_assert!(v.is_finite()),
        ExprKind::Name(name) => {
            // A parenthesised expression's span includes its parentheses: `(x)`.
            let text = src.get(e.span.range()).unwrap_or_default();
            let mut inner = text.trim();
            while let Some(stripped) = inner.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
                inner = stripped.trim();
            }
            prop_assert!(
                inner.starts_with(name.as_str()),
                "name {name:?} has the span {text:?}"
            );
        }
        ExprKind::Neg(a) | ExprKind::Transpose(a) => check_expr(src, a)?,
        ExprKind::Binary { lhs, rhs, .. } | ExprKind::Inner(lhs, rhs) => {
            check_expr(src, lhs)?;
            check_expr(src, rhs)?;
        }
        ExprKind::Call { func, args } => {
            check_span(src, func.span, "function name")?;
            for a in args {
                check_expr(src, a)?;
            }
        }
    }
    Ok(())
}

fn check_decls(src: &str, decls: &[Decl]) -> Result<(), TestCaseError> {
    for d in decls {
        check_span(src, d.span, "declaration")?;
        check_span(src, d.kind_span, "kind")?;
        prop_assert!(d.dims.is_empty() || d.dims.len() == d.kind.dim_count());
        for dim in &d.dims {
            match dim {
                DimSpec::Name(id) => check_span(src, id.span, "dimension")?,
                DimSpec::Size(_, span) => check_span(src, *span, "dimension")?,
            }
        }
    }
    Ok(())
}

/// Prints `e` with every operand parenthesised, in ASCII.
fn to_parenthesised(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Number(v) => format!("{v}"),
        ExprKind::Name(name) => name.clone(),
        ExprKind::Neg(a) => format!("(-{})", to_parenthesised(a)),
        ExprKind::Binary { op, lhs, rhs } => format!(
            "({} {} {})",
            to_parenthesised(lhs),
            op.symbol(),
            to_parenthesised(rhs)
        ),
        ExprKind::Transpose(a) => format!("({})'", to_parenthesised(a)),
        ExprKind::Inner(a, b) => format!("<{}, {}>", to_parenthesised(a), to_parenthesised(b)),
        ExprKind::Call { func, args } if args.is_empty() => func.name.clone(),
        ExprKind::Call { func, args } => {
            let args: Vec<String> = args.iter().map(to_parenthesised).collect();
            format!("{}({})", func.name, args.join(", "))
        }
    }
}

/// Runs all three parsers on `src` and checks the properties.
fn check_all(src: &str) -> Result<(), TestCaseError> {
    let (expr, diags) = parse_expr(src, SourceId(0));
    for d in &diags {
        prop_assert!(d.primary_span().is_some());
        for l in &d.labels {
            check_span(src, l.span, "label")?;
        }
    }
    prop_assert_eq!(diags.is_empty(), expr.is_some() && diags.is_empty());
    if let (Some(e), true) = (&expr, diags.is_empty()) {
        check_expr(src, e)?;
        let printed = to_parenthesised(e);
        let (again, again_diags) = parse_expr(&printed, SourceId(0));
        prop_assert!(again_diags.is_empty(), "{printed:?}: {again_diags:?}");
        prop_assert_eq!(again.map(|a| a.to_sexpr()), Some(e.to_sexpr()));
    }

    let (decls, diags) = parse_decls(src, SourceId(1));
    for l in diags.iter().flat_map(|d| &d.labels) {
        check_span(src, l.span, "label")?;
    }
    check_decls(src, &decls)?;

    let (program, diags) = parse_program(src, SourceId(2));
    for l in diags.iter().flat_map(|d| &d.labels) {
        check_span(src, l.span, "label")?;
    }
    check_decls(src, &program.decls)?;
    if diags.is_empty() {
        prop_assert!(
            program.expr.is_some(),
            "{src:?} parsed without an expression"
        );
    }
    if let Some(e) = &program.expr {
        check_expr(src, e)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
        check_all(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn random_token_sequences_never_panic(
        tokens in proptest::collection::vec(
            (proptest::sample::select(VOCABULARY), any::<bool>()),
            0..24,
        )
    ) {
        let src: String = tokens
            .iter()
            .map(|(t, space)| if *space { format!("{t} ") } else { (*t).to_string() })
            .collect();
        check_all(&src)?;
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for src in [
        "(".repeat(100_000),
        format!("{}x{}", "(".repeat(5_000), ")".repeat(5_000)),
        format!("{}x", "-".repeat(100_000)),
        vec!["x"; 50_000].join("^"),
        vec!["x"; 50_000].join("+"),
        format!("{}x", "<x, ".repeat(10_000)),
        format!("x{}", "'".repeat(100_000)),
    ] {
        let (expr, diags) = parse_expr(&src, SourceId(0));
        assert!(expr.is_none());
        assert_eq!(diags.len(), 1, "{:?}", diags);
    }
}
