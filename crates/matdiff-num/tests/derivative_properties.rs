//! Properties of the differentiation engine on random well-typed expressions: the
//! derived gradient (already simplified) matches central finite differences, and its
//! printed text parses back to the same expression. Both hold for vector variables
//! (gradients) and for a rectangular matrix variable (gradients and second
//! differentials, whose direction `dW` parses back as a declared matrix).

use matdiff_core::{derive, parse_function, print};
use matdiff_num::check::{check_derivative, CheckOptions};
use proptest::prelude::*;

const DECLS: &str = "x: vector(n); b: vector(n); A: matrix(n,n); B: matrix(m,n); c: vector(m)";

/// Vector-valued expressions of length n, smooth in x.
fn vector() -> BoxedStrategy<String> {
    let leaf = prop_oneof![Just("x".to_string()), Just("b".to_string())];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|v| format!("(A*{v})")),
            inner.clone().prop_map(|v| format!("(A'*{v})")),
            inner.clone().prop_map(|v| format!("(B'*(B*{v}))")),
            (inner.clone(), inner.clone()).prop_map(|(u, v)| format!("({u} + {v})")),
            (inner.clone(), inner.clone()).prop_map(|(u, v)| format!("({u} - {v})")),
            (inner.clone(), inner.clone()).prop_map(|(u, v)| format!("({u} .* {v})")),
            inner.clone().prop_map(|v| format!("sin({v})")),
            inner.clone().prop_map(|v| format!("tanh({v})")),
            inner.clone().prop_map(|v| format!("sigmoid({v})")),
            inner.clone().prop_map(|v| format!("(2.5*{v})")),
            inner.clone().prop_map(|v| format!("({v}/3)")),
            (inner.clone(), inner).prop_map(|(u, v)| format!("((b'*{u})*{v})")),
        ]
    })
    .boxed()
}

/// Scalar expressions built on the vectors.
fn scalar() -> impl Strategy<Value = String> {
    let v = vector();
    prop_oneof![
        (v.clone(), v.clone()).prop_map(|(u, w)| format!("{u}'*{w}")),
        v.clone().prop_map(|u| format!("sum({u})")),
        v.clone().prop_map(|u| format!("norm2({u})^2")),
        v.clone().prop_map(|u| format!("norm2(B*{u} - c)^2")),
        (v.clone(), v.clone()).prop_map(|(u, w)| format!("<{u}, {w}>")),
        v.clone().prop_map(|u| format!("logsumexp({u})")),
        v.clone().prop_map(|u| format!("log(1 + exp(b'*{u}))")),
        (v.clone(), v.clone()).prop_map(|(u, w)| format!("sum({u})*sum({w})")),
        v.prop_map(|u| format!("sqrt(1 + {u}'*{u})")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn gradients_match_finite_differences_and_print_back(expr in scalar()) {
        let mut f = parse_function(&expr, DECLS).expect("generated expressions are well typed");
        let d = derive(&mut f, "x", 1).map_err(|e| TestCaseError::fail(format!("{expr}: {e}")))?;
        let text = print::text(&f.graph, d.expr);
        // Deep compositions can have tiny gradients where central differences lose
        // digits; a wrong rule (a transpose, a sign, a factor) errs by O(1).
        let opts = CheckOptions { trials: 2, seed: 11, tol: 1e-4, ..CheckOptions::default() };
        match check_derivative(&f, &d, &opts) {
            Ok(report) => prop_assert!(report.passed, "`{}` → `{}`: errors {:?}", expr, text, report.errors),
            // A random instance outside the domain (none expected here) is not a mismatch.
            Err(e) => prop_assert!(false, "`{}` → `{}`: {}", expr, text, e.describe(&f.graph)),
        }
        let back = parse_function(&text, DECLS)
            .map_err(|e| TestCaseError::fail(format!("`{text}` does not parse back: {e:?}")))?;
        prop_assert_eq!(print::text(&back.graph, back.root), text);
    }
}

const MATRIX_DECLS: &str =
    "W: matrix(m,n); G: matrix(m,n); C: matrix(m,m); A: matrix(n,n); x: vector(n); c: vector(m)";

/// Matrix-valued expressions of shape m × n, smooth in W.
fn matrix() -> BoxedStrategy<String> {
    let leaf = prop_oneof![Just("W".to_string()), Just("G".to_string())];
    leaf.prop_recursive(3, 16, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|v| format!("(C*{v})")),
            inner.clone().prop_map(|v| format!("({v}*A)")),
            (inner.clone(), inner.clone()).prop_map(|(u, v)| format!("({u} + {v})")),
            // `u - u` is identically zero: derivatives through it vanish by
            // cancellation without printing as zero, and a relative error has no
            // scale to compare them against.
            (inner.clone(), inner.clone())
                .prop_filter("distinct operands", |(u, v)| u != v)
                .prop_map(|(u, v)| format!("({u} - {v})")),
            (inner.clone(), inner.clone()).prop_map(|(u, v)| format!("({u} .* {v})")),
            inner.clone().prop_map(|v| format!("tanh({v})")),
            inner.clone().prop_map(|v| format!("sigmoid({v})")),
            inner.clone().prop_map(|v| format!("softmax({v})")),
            inner.clone().prop_map(|v| format!("(2.5*{v})")),
            inner.prop_map(|v| format!("({v}/3)")),
        ]
    })
    .boxed()
}

/// Scalar expressions built on the matrices.
fn matrix_scalar() -> impl Strategy<Value = String> {
    let m = matrix();
    prop_oneof![
        m.clone().prop_map(|u| format!("logsumexp({u})")),
        m.clone().prop_map(|u| format!("logsumexp({u}*x)")),
        m.clone().prop_map(|u| format!("sum(softmax({u}) .* G)")),
        m.clone().prop_map(|u| format!("c'*{u}*x")),
        m.clone().prop_map(|u| format!("norm2({u}*x - c)^2")),
        m.clone().prop_map(|u| format!("sum(log(1 + exp({u})))")),
        (m.clone(), m.clone()).prop_map(|(u, v)| format!("<{u}, {v}>")),
        m.prop_map(|u| format!("tr({u}'*C*{u})")),
    ]
    .prop_filter("a function of W", |e| e.contains('W'))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn matrix_derivatives_match_finite_differences_and_print_back(
        expr in matrix_scalar(),
        order in 1u8..=2,
    ) {
        let mut f = parse_function(&expr, MATRIX_DECLS).expect("generated expressions are well typed");
        let d = derive(&mut f, "W", order)
            .map_err(|e| TestCaseError::fail(format!("{expr}: {e}")))?;
        let text = print::text(&f.graph, d.expr);
        let opts = CheckOptions { trials: 2, seed: 5, tol: 1e-4, ..CheckOptions::default() };
        // A vanishing second differential (a function linear in W) is checked too: the
        // check compares a zero derivative with the differences as values.
        match check_derivative(&f, &d, &opts) {
            Ok(report) => prop_assert!(
                report.passed,
                "`{}` order {} → `{}`: errors {:?}", expr, order, text, report.errors
            ),
            Err(e) => prop_assert!(false, "`{}` → `{}`: {}", expr, text, e.describe(&f.graph)),
        }
        let decls = format!("{MATRIX_DECLS}; dW: matrix(m,n)");
        let back = parse_function(&text, &decls)
            .map_err(|e| TestCaseError::fail(format!("`{text}` does not parse back: {e:?}")))?;
        prop_assert_eq!(print::text(&back.graph, back.root), text);
    }
}
