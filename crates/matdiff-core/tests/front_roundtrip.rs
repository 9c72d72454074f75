//! Property: any well-typed IR prints as text that parses back to the same IR.
//!
//! Expressions are generated as typed recipes over declared variables
//! (`alpha, beta: scalar`, `x, y: vector(n)`, `A, B: matrix(n, n)`, the dimension
//! `n`), then built in a graph, printed, parsed and lowered again.

#[allow(dead_code)]
mod front_common;

use front_common::same_structure;
use matdiff_core::{parse_function, print, Dim, Func, Graph, Id, Kind, Node, Real, Shape};
use proptest::prelude::*;

const DECLS: &str =
    "alpha: scalar; beta: scalar; x: vector(n); y: vector(n); A: matrix(n, n); B: matrix(n, n)";

/// The type of a generated subexpression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Scalar,
    Column,
    Row,
    Square,
}

/// A node to build, with children of known types.
#[derive(Clone, Debug)]
enum Recipe {
    Leaf(Ty, u8),
    Const(f64),
    Unary(u8, Box<Recipe>),
    Binary(u8, Box<Recipe>, Box<Recipe>),
}

const CONSTANTS: [f64; 8] = [1.0, 2.0, -1.0, -2.5, 0.5, 1e-20, 3e21, 0.1];

fn leaf(ty: Ty) -> BoxedStrategy<Recipe> {
    match ty {
        Ty::Scalar => prop_oneof![
            (0u8..3).prop_map(|i| Recipe::Leaf(Ty::Scalar, i)),
            proptest::sample::select(CONSTANTS.to_vec()).prop_map(Recipe::Const),
        ]
        .boxed(),
        _ => (0u8..4).prop_map(move |i| Recipe::Leaf(ty, i)).boxed(),
    }
}

fn recipe(ty: Ty, depth: u32) -> BoxedStrategy<Recipe> {
    if depth == 0 {
        return leaf(ty);
    }
    let sub = |t: Ty| recipe(t, depth - 1);
    let un = |op: u8, t: Ty| sub(t).prop_map(move |a| Recipe::Unary(op, Box::new(a)));
    let bin = |op: u8, l: Ty, r: Ty| {
        (sub(l), sub(r)).prop_map(move |(a, b)| Recipe::Binary(op, Box::new(a), Box::new(b)))
    };
    // Unary ops: 0 neg, 1 transpose, 2 elementwise function, 3 reduction, 4 inv, 5 diag.
    // Binary ops: 0 add, 1 mul, 2 div, 3 pow, 4 .*, 5 ./, 6 .^, 7 inner.
    match ty {
        Ty::Scalar => prop_oneof![
            leaf(ty),
            un(0, ty),
            un(2, ty),
            un(3, Ty::Column),
            un(3, Ty::Square),
            bin(0, ty, ty),
            bin(1, ty, ty),
            bin(1, Ty::Row, Ty::Column),
            bin(2, ty, ty),
            bin(3, ty, ty),
            bin(4, ty, ty),
            bin(7, Ty::Column, Ty::Column),
            bin(7, Ty::Square, Ty::Square),
        ]
        .boxed(),
        Ty::Column => prop_oneof![
            leaf(ty),
            un(0, ty),
            un(1, Ty::Row),
            un(2, ty),
            un(5, Ty::Square),
            bin(0, ty, ty),
            bin(0, Ty::Scalar, ty),
            bin(1, Ty::Square, ty),
            bin(1, Ty::Scalar, ty),
            bin(1, ty, Ty::Scalar),
            bin(2, ty, Ty::Scalar),
            bin(4, ty, ty),
            bin(5, ty, Ty::Scalar),
            bin(6, ty, ty),
        ]
        .boxed(),
        Ty::Row => prop_oneof![
            leaf(ty),
            un(0, ty),
            un(1, Ty::Column),
            bin(1, ty, Ty::Square),
            bin(0, ty, ty),
        ]
        .boxed(),
        Ty::Square => prop_oneof![
            leaf(ty),
            un(0, ty),
            un(1, ty),
            un(2, ty),
            un(4, ty),
            un(5, Ty::Column),
            bin(0, ty, ty),
            bin(1, ty, ty),
            bin(1, Ty::Column, Ty::Row),
            (0u8..2).prop_map(|i| Recipe::Binary(
                1,
                Box::new(Recipe::Leaf(Ty::Column, 3)),
                Box::new(Recipe::Leaf(Ty::Row, 3 - i))
            )),
            bin(1, Ty::Scalar, ty),
            bin(2, ty, Ty::Scalar),
            bin(4, ty, ty),
            bin(6, Ty::Scalar, ty),
            (sub(ty), proptest::sample::select(vec![-2.0, 0.0, 2.0, 3.0]))
                .prop_map(|(a, k)| Recipe::Binary(3, Box::new(a), Box::new(Recipe::Const(k)))),
        ]
        .boxed(),
    }
}

fn declared_graph() -> Graph {
    let mut g = Graph::new();
    let n = Dim::Named(g.declare_dim("n"));
    g.declare("alpha", Kind::Scalar, Shape::SCALAR);
    g.declare("beta", Kind::Scalar, Shape::SCALAR);
    g.declare("x", Kind::Vector, Shape::vector(n));
    g.declare("y", Kind::Vector, Shape::vector(n));
    g.declare("A", Kind::Matrix, Shape::new(n, n));
    g.declare("B", Kind::Matrix, Shape::new(n, n));
    g
}

fn build(g: &mut Graph, r: &Recipe) -> Id {
    let n = Dim::Named(g.symbols.intern("n"));
    let var = |g: &mut Graph, name: &str| {
        let s = g.symbols.intern(name);
        g.add(Node::Var(s))
    };
    match r {
        Recipe::Const(v) => g.add(Node::Const(Real::new(*v))),
        Recipe::Leaf(ty, i) => match (ty, i) {
            (Ty::Scalar, 0) => var(g, "alpha"),
            (Ty::Scalar, 1) => var(g, "beta"),
            (Ty::Scalar, _) => {
                let s = g.symbols.intern("n");
                g.add(Node::DimValue(s))
            }
            (Ty::Column, 0) => var(g, "x"),
            (Ty::Column, 1) => var(g, "y"),
            (Ty::Column, 2) => g.add(Node::Ones(n)),
            (Ty::Column, _) => g.add(Node::Zeros(Shape::vector(n))),
            (Ty::Row, 0 | 1) => {
                let v = var(g, if *i == 0 { "x" } else { "y" });
                g.add(Node::Transpose(v))
            }
            (Ty::Row, 2) => g.add(Node::Zeros(Shape::new(Dim::ONE, n))),
            (Ty::Row, _) => {
                let o = g.add(Node::Ones(n));
                g.add(Node::Transpose(o))
            }
            (Ty::Square, 0) => var(g, "A"),
            (Ty::Square, 1) => var(g, "B"),
            (Ty::Square, 2) => g.add(Node::Eye(n)),
            (Ty::Square, _) => g.add(Node::Zeros(Shape::new(n, n))),
        },
        Recipe::Unary(op, a) => {
            let a_id = build(g, a);
            let scalar_arg = g.shape(a_id).is_scalar();
            let node = match op {
                0 => Node::Neg(a_id),
                1 => Node::Transpose(a_id),
                2 => Node::Apply(if scalar_arg { Func::Sin } else { Func::Exp }, a_id),
                3 => Node::Apply(if scalar_arg { Func::Sum } else { Func::Norm2 }, a_id),
                4 => Node::Apply(Func::Inv, a_id),
                _ => Node::Apply(Func::Diag, a_id),
            };
            g.add(node)
        }
        Recipe::Binary(op, a, b) => {
            let (a, b) = (build(g, a), build(g, b));
            g.add(match op {
                0 => Node::Add(a, b),
                1 => Node::Mul(a, b),
                2 => Node::Div(a, b),
                3 => Node::Pow(a, b),
                4 => Node::ElemMul(a, b),
                5 => Node::ElemDiv(a, b),
                6 => Node::ElemPow(a, b),
                _ => Node::Inner(a, b),
            })
        }
    }
}

/// `Mul(Const(0), Ones(n))` is how the text form writes the zero vector, so the
/// generator never builds it directly; everything else must round-trip.
fn any_expression() -> impl Strategy<Value = Recipe> {
    prop_oneof![
        recipe(Ty::Scalar, 4),
        recipe(Ty::Column, 4),
        recipe(Ty::Square, 3),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn text_parses_back_to_the_same_ir(r in any_expression()) {
        let mut g = declared_graph();
        let root = build(&mut g, &r);
        let text = print::text(&g, root);
        let parsed = parse_function(&text, DECLS);
        prop_assert!(parsed.is_ok(), "{text} does not parse: {:?}", parsed.err());
        let f = parsed.unwrap();
        prop_assert!(
            same_structure(&g, root, &f.graph, f.root),
            "{text} parses back as {}",
            print::text(&f.graph, f.root)
        );
    }
}
