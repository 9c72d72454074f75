//! Property: on random well-typed expressions, a plan (with sharing, product
//! reordering, solves and transposed views) gives the reference evaluator's numbers.

mod common;

use matdiff_core::{Dim, Func, Graph, Id, Kind, Node, Real, Shape, Sym};
use matdiff_num::reference;
use matdiff_num::{random_inputs, Plan, Sizes};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A dimension of a generated shape.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum D {
    One,
    N,
    M,
}

struct Gen {
    graph: Graph,
    n: Sym,
    m: Sym,
    rng: ChaCha8Rng,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        let mut graph = Graph::new();
        let n = graph.declare_dim("n");
        let m = graph.declare_dim("m");
        let (dn, dm) = (Dim::Named(n), Dim::Named(m));
        graph.declare("a", Kind::Scalar, Shape::SCALAR);
        graph.declare("b", Kind::Scalar, Shape::SCALAR);
        graph.declare("x", Kind::Vector, Shape::vector(dn));
        graph.declare("y", Kind::Vector, Shape::vector(dn));
        graph.declare("z", Kind::Vector, Shape::vector(dm));
        graph.declare("A", Kind::Matrix, Shape::new(dn, dn));
        graph.declare("C", Kind::Matrix, Shape::new(dn, dn));
        graph.declare("B", Kind::Matrix, Shape::new(dn, dm));
        Gen {
            graph,
            n,
            m,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    fn var(&mut self, name: &str) -> Id {
        let s = self.graph.symbols.get(name).unwrap();
        self.graph.add(Node::Var(s))
    }

    fn constant(&mut self) -> Id {
        let v = (self.rng.random_range(-20..=20) as f64) / 8.0;
        let v = if v == 0.0 { 0.5 } else { v };
        self.graph.add(Node::Const(Real::new(v)))
    }

    fn leaf(&mut self, r: D, c: D) -> Id {
        match (r, c) {
            (D::One, D::One) => match self.rng.random_range(0..4) {
                0 => self.var("a"),
                1 => self.var("b"),
                2 => self.constant(),
                _ => self.graph.add(Node::DimValue(self.n)),
            },
            (D::N, D::One) => match self.rng.random_range(0..3) {
                0 => self.var("x"),
                1 => self.var("y"),
                _ => self.graph.add(Node::Ones(Dim::Named(self.n))),
            },
            (D::M, D::One) => self.var("z"),
            (D::N, D::N) => match self.rng.random_range(0..3) {
                0 => self.var("A"),
                1 => self.var("C"),
                _ => self.graph.add(Node::Eye(Dim::Named(self.n))),
            },
            (D::N, D::M) => self.var("B"),
            (D::M, D::M) => {
                let b = self.var("B");
                let bt = self.graph.add(Node::Transpose(b));
                self.graph.add(Node::Mul(bt, b))
            }
            (D::One, _) | (D::M, D::N) => {
                let inner = self.leaf(c, r);
                self.graph.add(Node::Transpose(inner))
            }
        }
    }

    fn any_dim(&mut self) -> D {
        [D::One, D::N, D::M][self.rng.random_range(0..3)]
    }

    fn gen(&mut self, r: D, c: D, depth: u32) -> Id {
        if depth == 0 || self.rng.random_range(0..5) == 0 {
            return self.leaf(r, c);
        }
        let d = depth - 1;
        let scalar = (r, c) == (D::One, D::One);
        match self.rng.random_range(0..13) {
            0 => {
                let (a, b) = (self.gen(r, c, d), self.gen(r, c, d));
                self.graph.add(Node::Add(a, b))
            }
            1 => {
                let a = self.gen(r, c, d);
                self.graph.add(Node::Neg(a))
            }
            2 | 3 => {
                let k = self.any_dim();
                let (a, b) = (self.gen(r, k, d), self.gen(k, c, d));
                self.graph.add(Node::Mul(a, b))
            }
            4 => {
                let (s, a) = (self.gen(D::One, D::One, d), self.gen(r, c, d));
                self.graph.add(Node::Mul(s, a))
            }
            5 => {
                let (a, b) = (self.gen(r, c, d), self.gen(r, c, d));
                self.graph.add(Node::ElemMul(a, b))
            }
            6 => {
                let f = [
                    Func::Sin,
                    Func::Cos,
                    Func::Tanh,
                    Func::Sigmoid,
                    Func::Softplus,
                    Func::Abs,
                    Func::Relu,
                ][self.rng.random_range(0..7)];
                let a = self.gen(r, c, d);
                self.graph.add(Node::Apply(f, a))
            }
            7 => {
                let a = self.gen(c, r, d);
                self.graph.add(Node::Transpose(a))
            }
            8 => {
                let (a, k) = (self.gen(r, c, d), self.constant());
                self.graph.add(Node::Div(a, k))
            }
            9 => {
                let a = self.gen(r, c, d);
                let t = self.graph.add(Node::Apply(Func::Tanh, a));
                let two = self.graph.add(Node::Const(Real::new(2.0)));
                self.graph.add(Node::ElemPow(t, two))
            }
            _ if scalar => match self.rng.random_range(0..6) {
                0 => {
                    let (r2, c2) = (self.any_dim(), self.any_dim());
                    let a = self.gen(r2, c2, d);
                    self.graph.add(Node::Apply(Func::Sum, a))
                }
                1 => {
                    let (r2, c2) = (self.any_dim(), self.any_dim());
                    let a = self.gen(r2, c2, d);
                    self.graph.add(Node::Apply(Func::Norm2, a))
                }
                2 => {
                    let a = self.gen(D::N, D::One, d);
                    self.graph.add(Node::Apply(Func::Logsumexp, a))
                }
                3 => {
                    let a = self.gen(D::N, D::N, d);
                    self.graph.add(Node::Apply(Func::Tr, a))
                }
                4 => {
                    let (r2, c2) = (self.any_dim(), self.any_dim());
                    let (a, b) = (self.gen(r2, c2, d), self.gen(r2, c2, d));
                    self.graph.add(Node::Inner(a, b))
                }
                _ => {
                    let a = self.gen(D::N, D::N, d);
                    self.graph.add(Node::Apply(Func::Det, a))
                }
            },
            _ if (r, c) == (D::N, D::N) => match self.rng.random_range(0..3) {
                0 => {
                    let v = self.gen(D::N, D::One, d);
                    self.graph.add(Node::Apply(Func::Diag, v))
                }
                1 => {
                    let (a, k) = (
                        self.gen(D::N, D::N, d),
                        self.graph.add(Node::Const(Real::new(2.0))),
                    );
                    self.graph.add(Node::Pow(a, k))
                }
                _ => self.solve(D::N, d),
            },
            _ if (r, c) == (D::N, D::One) => match self.rng.random_range(0..3) {
                0 => {
                    let a = self.gen(D::N, D::N, d);
                    self.graph.add(Node::Apply(Func::Diag, a))
                }
                1 => {
                    let a = self.gen(D::N, D::One, d);
                    self.graph.add(Node::Apply(Func::Softmax, a))
                }
                _ => self.solve(D::One, d),
            },
            _ => self.leaf(r, c),
        }
    }

    /// `inv(A) * rhs` with the well-conditioned input A.
    fn solve(&mut self, cols: D, depth: u32) -> Id {
        let a = self.var("A");
        let inv = self.graph.add(Node::Apply(Func::Inv, a));
        let rhs = self.gen(D::N, cols, depth);
        self.graph.add(Node::Mul(inv, rhs))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn plans_agree_with_the_reference(seed in any::<u64>(), n in 1usize..5, m in 1usize..5, shape in 0usize..4) {
        let mut g = Gen::new(seed);
        let (r, c) = [(D::One, D::One), (D::N, D::One), (D::N, D::M), (D::M, D::N)][shape];
        let root = g.gen(r, c, 5);
        let mut sizes = Sizes::new();
        sizes.insert(g.n, n);
        sizes.insert(g.m, m);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        // `A` is used under inv, so it is drawn well conditioned.
        let inv_a = {
            let a = g.var("A");
            g.graph.add(Node::Apply(Func::Inv, a))
        };
        let inputs = random_inputs(&g.graph, &sizes, &[root, inv_a], &mut rng).unwrap();
        let expected = reference::evaluate(&g.graph, root, &inputs, &sizes);
        let expected = match expected {
            Ok(v) if v.is_finite() => v,
            _ => return Ok(()),
        };
        let mut plan = Plan::compile(&g.graph, &[root], &sizes).unwrap();
        let got = plan.run(&inputs);
        let text = matdiff_core::print::text(&g.graph, root);
        prop_assert!(got.is_ok(), "`{}` failed: {:?}", text, got);
        let got = got.unwrap().swap_remove(0);
        let err = common::relative_error(&got, &expected.to_matrix());
        prop_assert!(err <= 1e-9, "`{}`: plan {:?} vs reference {:?} (error {:e})", text, got, expected, err);
        // Running again gives the same numbers: buffers carry no stale state.
        let again = plan.run(&inputs).unwrap().swap_remove(0);
        prop_assert_eq!(again, got);
    }
}
