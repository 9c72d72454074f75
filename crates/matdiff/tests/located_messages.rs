//! Derivatives the rules refuse are reported with a caret under the refused power and
//! the limit stated, by `derive` and `check` alike, with exit 2.

mod common;

use common::matdiff;

#[test]
fn refused_powers_are_located_with_a_caret() {
    // (arguments, the message, the caret line, the label)
    let cases: &[(&[&str], &str, &str, &str)] = &[
        (
            &["derive", "tr(X^65)", "--wrt", "X"],
            "a matrix power needs an integer exponent from -64 to 64 to be differentiated",
            "1 │ tr(X^65)\n  │    ^^^^",
            "the exponent must be an integer from -64 to 64",
        ),
        (
            &["check", "tr(X^65)", "--wrt", "X"],
            "a matrix power needs an integer exponent from -64 to 64",
            "│    ^^^^",
            "the exponent must be an integer from -64 to 64",
        ),
        (
            &[
                "derive",
                "a^a",
                "--wrt",
                "a",
                "--let",
                "a: scalar",
                "--order",
                "2",
            ],
            "a power with a variable exponent: write it with exp and log",
            "1 │ a^a\n  │ ^^^",
            "the exponent depends on `a`",
        ),
        (
            &[
                "derive",
                "x*b^(2*a)",
                "--wrt",
                "a",
                "--let",
                "a: scalar; b: scalar; x: scalar",
                "--order",
                "2",
            ],
            "a power with a variable exponent",
            "1 │ x*b^(2*a)\n  │   ^^^^^^^",
            "the exponent depends on `a`",
        ),
    ];
    for (args, message, caret, label) in cases {
        let (code, stdout, stderr) = matdiff(args);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(stderr.contains(caret), "{args:?}: {stderr}");
        assert!(stderr.contains(label), "{args:?}: {stderr}");
    }
    // The power within the limit is differentiated.
    let (code, _, stderr) = matdiff(&["derive", "tr(X^64)", "--wrt", "X"]);
    assert_eq!(code, 0, "{stderr}");
}
