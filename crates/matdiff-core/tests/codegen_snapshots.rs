//! Snapshots of the generated NumPy and Rust text for a few derivatives, and the
//! refusal of linear maps.

use matdiff_core::codegen::{self, CodegenError};
use matdiff_core::{derive, parse_function};

/// Least squares, logistic regression, a Jacobian, a Hessian and an spd variable.
const CASES: [(&str, &str, &str, &str, u8); 5] = [
    (
        "least_squares",
        "1/N*norm2(X*w - y)^2",
        "X: matrix(N,d)",
        "w",
        1,
    ),
    (
        "logistic",
        "sum(log(1 + exp(-y .* (X*w))))",
        "X: matrix(N,d)",
        "w",
        1,
    ),
    ("softmax_jacobian", "softmax(x)", "", "x", 1),
    (
        "least_squares_hessian",
        "1/N*norm2(X*w - y)^2",
        "X: matrix(N,d)",
        "w",
        2,
    ),
    (
        "gaussian",
        "logdet(S) + (x - m)'*inv(S)*(x - m)",
        "S: spd(n)",
        "S",
        1,
    ),
];

#[test]
fn generated_numpy_and_rust() {
    for (name, expr, decls, wrt, order) in CASES {
        let mut f = parse_function(expr, decls).expect("parses");
        let d = derive(&mut f, wrt, order).expect("derives");
        let py = codegen::numpy(&f, &d).expect("numpy code");
        let rs = codegen::rust(&f, &d).expect("rust code");
        insta::assert_snapshot!(format!("{name}_numpy"), py);
        insta::assert_snapshot!(format!("{name}_rust"), rs);
    }
}

#[test]
fn products_ending_in_a_vector_multiply_right_to_left() {
    let mut f = parse_function("norm2(X'*X*w)^2", "X: matrix(N,d)").expect("parses");
    let d = derive(&mut f, "w", 1).expect("derives");
    let py = codegen::numpy(&f, &d).expect("numpy code");
    assert!(py.contains("X.T @ (X @ w)"), "{py}");
    assert!(!py.contains("X.T @ X"), "{py}");
}

#[test]
fn linear_maps_are_refused() {
    for (expr, wrt, order, what) in [
        ("inv(X)", "X", 1, "a differential form"),
        ("X*X", "X", 1, "a differential form"),
        ("det(X)", "X", 2, "a second differential"),
    ] {
        let mut f = parse_function(expr, "").expect("parses");
        let d = derive(&mut f, wrt, order).expect("derives");
        // NumPy takes the direction dX of a differential form as an argument.
        let generators = if what == "a differential form" {
            vec![codegen::rust(&f, &d)]
        } else {
            vec![codegen::numpy(&f, &d), codegen::rust(&f, &d)]
        };
        for result in generators {
            assert_eq!(
                result,
                Err(CodegenError::LinearMap {
                    wrt: wrt.to_string(),
                    what
                }),
                "{expr}"
            );
        }
    }
}
