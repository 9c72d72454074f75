//! `matdiff check`: per-trial errors and PASS; bad options exit 2.

mod common;

use common::matdiff;

#[test]
fn correct_derivatives_pass() {
    let cases: &[&[&str]] = &[
        &[
            "1/N * norm2(X*w - y)^2",
            "--let",
            "X: matrix(N,d); w: vector(d); y: vector(N)",
            "--wrt",
            "w",
        ],
        &[
            "1/N * norm2(X*w - y)^2",
            "--let",
            "X: matrix(N,d); w: vector(d); y: vector(N)",
            "--wrt",
            "X",
            "--dims",
            "N=6,d=3",
        ],
        &[
            "logdet(P) - x'*P*x",
            "--let",
            "P: spd(n); x: vector(n)",
            "--wrt",
            "P",
            "--trials",
            "3",
            "--seed",
            "9",
        ],
        &[
            "logsumexp(A*x)",
            "--let",
            "A: matrix(m,n); x: vector(n)",
            "--wrt",
            "x",
            "--order",
            "2",
        ],
        &["inv(X)", "--let", "X: matrix(n,n)", "--wrt", "X"],
    ];
    for case in cases {
        let mut args = vec!["check"];
        args.extend_from_slice(case);
        let (code, stdout, stderr) = matdiff(&args);
        assert_eq!(code, 0, "{case:?}: {stdout}{stderr}");
        assert!(stdout.contains("trial 1: max relative error"), "{stdout}");
        assert!(
            stdout.trim_end().ends_with("PASS (tolerance 1e-6)"),
            "{stdout}"
        );
    }
}

#[test]
fn fixed_dimensions_are_used() {
    let (code, stdout, stderr) = matdiff(&[
        "check",
        "norm2(X*w)^2",
        "--let",
        "X: matrix(N,d); w: vector(d)",
        "--wrt",
        "w",
        "--dims",
        "N=7",
        "--trials",
        "2",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("sizes: N = 7, d = 2"), "{stdout}");
    assert_eq!(stdout.matches("trial ").count(), 2, "{stdout}");
}

#[test]
fn bad_options_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--dims", "q=3"],
            "--dims: `q` is not a dimension of the expression",
        ),
        (
            &["--dims", "n=zero"],
            "--dims expects NAME=SIZE pairs like `n=5,m=3`, found `n=zero`",
        ),
        (&["--wrt", "nope"], "unknown variable `nope`"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["check", "norm2(x)^2", "--let", "x: vector(n)"];
        if !extra.contains(&"--wrt") {
            args.extend_from_slice(&["--wrt", "x"]);
        }
        args.extend_from_slice(extra);
        let (code, _, stderr) = matdiff(&args);
        assert_eq!(code, 2, "{extra:?}: {stderr}");
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
    }
}

/// Zero second differentials of rectangular variables, zero derivatives of
/// matrix-valued functions and rank-limited `logdet` arguments pass; each trial
/// prints its raw error beside the rounding floor.
#[test]
fn zero_and_rank_limited_derivatives_pass() {
    let cases: &[&[&str]] = &[
        &[
            "tr(A*X)",
            "--let",
            "X: matrix(m,n)",
            "--wrt",
            "X",
            "--order",
            "2",
        ],
        &[
            "a'*X*b",
            "--let",
            "X: matrix(m,n)",
            "--wrt",
            "X",
            "--order",
            "2",
        ],
        &[
            "sum(X)",
            "--let",
            "X: matrix(m,n)",
            "--wrt",
            "X",
            "--order",
            "2",
        ],
        &[
            "norm1(X)",
            "--let",
            "X: matrix(m,n)",
            "--wrt",
            "X",
            "--order",
            "2",
        ],
        &[
            "logdet(X'*A*X)",
            "--let",
            "X: matrix(m,n); A: spd(m)",
            "--wrt",
            "X",
        ],
        &["A", "--wrt", "a", "--let", "a: scalar"],
        &["A", "--wrt", "x", "--let", "x: vector(n); A: matrix(n,n)"],
    ];
    for case in cases {
        let mut args = vec!["check"];
        args.extend_from_slice(case);
        let (code, stdout, stderr) = matdiff(&args);
        assert_eq!(code, 0, "{case:?}: {stdout}{stderr}");
        assert_eq!(stdout.matches(", rounding floor ").count(), 5, "{stdout}");
        assert!(!stdout.contains("inf"), "{stdout}");
        assert!(
            stdout.trim_end().ends_with("PASS (tolerance 1e-6)"),
            "{stdout}"
        );
    }
}

/// A function of size 1e12: the error is above the tolerance but below the floor,
/// and the line says so.
#[test]
fn errors_below_the_rounding_floor_are_shown_and_pass() {
    let (code, stdout, stderr) = matdiff(&["check", "1e12 + x'*x", "--wrt", "x"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("(below the floor)"), "{stdout}");
    assert!(!stdout.contains("max relative error 0.00e0"), "{stdout}");
}

/// The derivative of a matrix-valued function that does not depend on the variable
/// is a zero matrix of the function's shape, and checks as one.
#[test]
fn zero_derivative_of_a_matrix_has_its_shape() {
    let (code, stdout, stderr) = matdiff(&[
        "derive",
        "A + 0*a",
        "--wrt",
        "a",
        "--let",
        "a: scalar; A: matrix(n,m)",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "0*ones(n)*ones(m)'");
    let (code, stdout, stderr) = matdiff(&[
        "check",
        "A + 0*a",
        "--wrt",
        "a",
        "--let",
        "a: scalar; A: matrix(n,m)",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}
