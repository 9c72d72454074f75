//! Printed forms of IR built directly, including nodes the parser never produces
//! (`Differential`) and the exact-structure cases of the text form.

use matdiff_core::{print, Dim, Func, Graph, Id, Kind, Node, Real, Shape};

fn graph() -> Graph {
    let mut g = Graph::new();
    let n = Dim::Named(g.declare_dim("n"));
    let m = Dim::Named(g.declare_dim("m"));
    g.declare("x", Kind::Vector, Shape::vector(n));
    g.declare("y", Kind::Vector, Shape::vector(n));
    g.declare("X", Kind::Matrix, Shape::new(n, n));
    g.declare("W", Kind::Matrix, Shape::new(n, m));
    g
}

fn var(g: &mut Graph, name: &str) -> Id {
    let s = g.symbols.intern(name);
    g.add(Node::Var(s))
}

fn num(g: &mut Graph, v: f64) -> Id {
    g.add(Node::Const(Real::new(v)))
}

type Build = fn(&mut Graph) -> Id;

/// `(builder, text, pretty, latex)`.
const CASES: &[(Build, &str, &str, &str)] = &[
    (
        |g| {
            let (a, b, c) = (var(g, "X"), var(g, "X"), var(g, "x"));
            let bc = g.add(Node::Mul(b, c));
            g.add(Node::Mul(a, bc))
        },
        "X*(X*x)",
        "X·(X·x)",
        "X \\left(X x\\right)",
    ),
    (
        |g| {
            let (a, b) = (var(g, "x"), var(g, "y"));
            let nb = g.add(Node::Neg(b));
            g.add(Node::Add(a, nb))
        },
        "x - y",
        "x − y",
        "x - y",
    ),
    (
        |g| {
            let (two, x) = (num(g, 2.0), var(g, "x"));
            let p = g.add(Node::Mul(two, x));
            g.add(Node::Neg(p))
        },
        "-(2*x)",
        "−(2·x)",
        "-\\left(2 x\\right)",
    ),
    (
        |g| {
            let (c, x) = (num(g, -2.0), var(g, "x"));
            g.add(Node::Mul(c, x))
        },
        "-2*x",
        "−2·x",
        "-2 x",
    ),
    (
        |g| {
            let (x, c, y) = (var(g, "x"), num(g, -2.0), var(g, "y"));
            let p = g.add(Node::Mul(c, y));
            g.add(Node::Add(x, p))
        },
        "x + -2*y",
        "x + −2·y",
        "x + -2 y",
    ),
    (
        |g| {
            let (c, e) = (num(g, -2.0), num(g, 0.5));
            g.add(Node::Pow(c, e))
        },
        "(-2)^0.5",
        "(−2)^0.5",
        "\\left(-2\\right)^{0.5}",
    ),
    (
        |g| {
            let x = g.symbols.intern("X");
            let dx = g.add(Node::Differential(x));
            let inv = var(g, "X");
            let inv = g.add(Node::Apply(Func::Inv, inv));
            let l = g.add(Node::Mul(inv, dx));
            let r = g.add(Node::Mul(l, inv));
            g.add(Node::Neg(r))
        },
        "-(inv(X)*dX*inv(X))",
        "−(X⁻¹·dX·X⁻¹)",
        "-\\left(X^{-1} \\, \\mathrm{d}X \\, X^{-1}\\right)",
    ),
    (
        |g| {
            let n = Dim::Named(g.symbols.intern("n"));
            let m = Dim::Named(g.symbols.intern("m"));
            g.add(Node::Zeros(Shape::new(n, m)))
        },
        "0*ones(n)*ones(m)'",
        "0",
        "0",
    ),
    (
        |g| {
            let n = Dim::Named(g.symbols.intern("n"));
            let e = g.add(Node::Eye(n));
            let w = var(g, "W");
            let wt = g.add(Node::Transpose(w));
            let ew = g.add(Node::Mul(wt, e));
            g.add(Node::Apply(Func::Norm1, ew))
        },
        "norm1(W'*eye(n))",
        "‖Wᵀ·I‖₁",
        "\\|W^{\\top} I\\|_1",
    ),
    (
        |g| {
            let x = var(g, "X");
            let xt = g.add(Node::Transpose(x));
            let two = num(g, 2.0);
            g.add(Node::Pow(xt, two))
        },
        "X'^2",
        "(Xᵀ)²",
        "\\left(X^{\\top}\\right)^{2}",
    ),
];

#[test]
fn printed_forms_of_built_ir() {
    for (i, (build, text, pretty, latex)) in CASES.iter().enumerate() {
        let mut g = graph();
        let id = build(&mut g);
        assert_eq!(print::text(&g, id), *text, "case {i}");
        assert_eq!(print::pretty(&g, id), *pretty, "case {i}");
        assert_eq!(print::latex(&g, id), *latex, "case {i}");
    }
}

#[test]
fn shapes_and_variables_print_as_declarations() {
    let g = graph();
    let shown: Vec<String> = g
        .variables()
        .iter()
        .map(|v| {
            format!(
                "{} / {}",
                print::describe_variable(&g, v),
                print::shape(&g, v.shape)
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            "x: vector(n) / vector(n)",
            "y: vector(n) / vector(n)",
            "X: matrix(n, n) / matrix(n, n)",
            "W: matrix(n, m) / matrix(n, m)",
        ]
    );
    let n = g
        .variable_named("x")
        .map(|v| v.shape.rows)
        .unwrap_or(Dim::ONE);
    assert_eq!(print::shape(&g, Shape::new(Dim::ONE, n)), "row vector(n)");
    assert_eq!(print::shape(&g, Shape::SCALAR), "scalar");
    assert_eq!(print::shape(&g, Shape::vector(Dim::Size(3))), "vector(3)");
}
