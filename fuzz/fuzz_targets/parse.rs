//! Feeds arbitrary UTF-8 to the three parsers. Beyond "never panics", it checks
//! the contract: success is exactly "no diagnostics", and every span is a valid
//! byte range of the input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use matdiff_syntax::{parse_decls, parse_expr, parse_program, Diagnostic, SourceId, Span};

fn assert_span(src: &str, span: Span) {
    assert!(
        src.get(span.range()).is_some(),
        "span {span:?} is not a valid range of {src:?}"
    );
}

fn assert_labels(src: &str, diags: &[Diagnostic]) {
    for d in diags {
        assert!(d.primary_span().is_some(), "no primary label: {d:?}");
        for l in &d.labels {
            assert_span(src, l.span);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };

    let (expr, diags) = parse_expr(src, SourceId(0));
    assert_labels(src, &diags);
    if diags.is_empty() {
        let expr = expr.expect("no diagnostics but no expression");
        assert_span(src, expr.span);
    }

    let (decls, diags) = parse_decls(src, SourceId(1));
    assert_labels(src, &diags);
    for d in &decls {
        assert_span(src, d.span);
        assert_span(src, d.kind_span);
    }

    let (program, diags) = parse_program(src, SourceId(2));
    assert_labels(src, &diags);
    if diags.is_empty() {
        assert!(program.expr.is_some(), "no diagnostics but no expression");
    }
});
