//! Well-formed declarations and `@file` programs, as data.

use matdiff_syntax::{parse_decls, parse_program, Decl, DimSpec, SourceId};

/// A declaration as `name: kind(dims) [span text | kind text]`.
fn describe(src: &str, d: &Decl) -> String {
    let dims: Vec<String> = d
        .dims
        .iter()
        .map(|dim| match dim {
            DimSpec::Name(id) => {
                assert_eq!(&src[id.span.range()], id.name);
                id.name.clone()
            }
            DimSpec::Size(n, span) => {
                assert_eq!(src[span.range()].parse::<u64>().ok(), Some(*n));
                n.to_string()
            }
        })
        .collect();
    let dims = if dims.is_empty() {
        String::new()
    } else {
        format!("({})", dims.join(", "))
    };
    assert_eq!(&src[d.name.span.range()], d.name.name);
    format!(
        "{}: {}{dims} [{} | {}]",
        d.name.name,
        d.kind.keyword(),
        &src[d.span.range()],
        &src[d.kind_span.range()],
    )
}

/// `(--let string, expected declarations)`.
const DECL_CASES: &[(&str, &[&str])] = &[
    ("", &[]),
    (" ; ,\n ", &[]),
    (
        "X: matrix(N, d); w: vector(d)",
        &[
            "X: matrix(N, d) [X: matrix(N, d) | matrix]",
            "w: vector(d) [w: vector(d) | vector]",
        ],
    ),
    (
        "X: matrix(N, d)      w: vector(d)      y: vector(N)",
        &[
            "X: matrix(N, d) [X: matrix(N, d) | matrix]",
            "w: vector(d) [w: vector(d) | vector]",
            "y: vector(N) [y: vector(N) | vector]",
        ],
    ),
    (
        "S: symmetric(n), P: spd(n), lambda: scalar",
        &[
            "S: symmetric(n) [S: symmetric(n) | symmetric]",
            "P: spd(n) [P: spd(n) | spd]",
            "lambda: scalar [lambda: scalar | scalar]",
        ],
    ),
    ("x: vector", &["x: vector [x: vector | vector]"]),
    (
        "A: matrix(3, 3)",
        &["A: matrix(3, 3) [A: matrix(3, 3) | matrix]"],
    ),
    (
        "v : vector ( 0 )",
        &["v: vector(0) [v : vector ( 0 ) | vector]"],
    ),
    ("s: scalar()", &["s: scalar [s: scalar() | scalar]"]),
    (
        "# data\nX: matrix(N, d) # design\n\nw: vector(d)\n",
        &[
            "X: matrix(N, d) [X: matrix(N, d) | matrix]",
            "w: vector(d) [w: vector(d) | vector]",
        ],
    ),
];

#[test]
fn declarations_parse() {
    for (src, expected) in DECL_CASES {
        let (decls, diags) = parse_decls(src, SourceId(1));
        assert!(diags.is_empty(), "{src:?}: {diags:?}");
        let got: Vec<String> = decls.iter().map(|d| describe(src, d)).collect();
        assert_eq!(got, *expected, "{src:?}");
    }
}

/// `(@file text, expected declarations, expected expression)`.
const PROGRAM_CASES: &[(&str, &[&str], &str)] = &[
    ("x'*x", &[], "(* (' x) x)"),
    (
        "# least squares\nX: matrix(N, d)      w: vector(d)      y: vector(N)\n\n1/N * norm2(X*w - y)^2\n",
        &[
            "X: matrix(N, d) [X: matrix(N, d) | matrix]",
            "w: vector(d) [w: vector(d) | vector]",
            "y: vector(N) [y: vector(N) | vector]",
        ],
        "(* (/ 1 N) (^ (call norm2 (- (* X w) y)) 2))",
    ),
    (
        "lambda: scalar; w: vector\nlambda *\n  norm2(w)^2  # ridge\n",
        &["lambda: scalar [lambda: scalar | scalar]", "w: vector [w: vector | vector]"],
        "(* lambda (^ (call norm2 w) 2))",
    ),
    ("x: vector; x'*x", &["x: vector [x: vector | vector]"], "(* (' x) x)"),
    ("x: vector x'*x", &["x: vector [x: vector | vector]"], "(* (' x) x)"),
    (
        "A: spd(n)\nx: vector(n)\n<x, A*x>\n  + eye(n)'*x\n",
        &["A: spd(n) [A: spd(n) | spd]", "x: vector(n) [x: vector(n) | vector]"],
        "(+ (<> x (* A x)) (* (' (call eye n)) x))",
    ),
];

#[test]
fn programs_parse() {
    for (src, decls, expr) in PROGRAM_CASES {
        let (program, diags) = parse_program(src, SourceId(2));
        assert!(diags.is_empty(), "{src:?}: {diags:?}");
        let got: Vec<String> = program.decls.iter().map(|d| describe(src, d)).collect();
        assert_eq!(got, *decls, "{src:?}");
        assert_eq!(
            program.expr.map(|e| e.to_sexpr()).as_deref(),
            Some(*expr),
            "{src:?}"
        );
    }
}
