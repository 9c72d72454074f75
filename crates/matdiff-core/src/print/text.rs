//! The ASCII text form: parses back to the same IR.
//!
//! Parentheses are minimal but keep the exact tree: left-nested chains print flat
//! (`a*b*c`), right-nested ones keep their parentheses (`a*(b*c)`); `Add(x, Neg(y))`
//! prints `x - y`; `Neg(Mul(2, x))` prints `-(2*x)` while `Mul(Const(-2), x)` prints
//! `-2*x`, because a minus directly before a literal is part of the literal.

use super::{number, prec, precedence, starts_with_minus};
use crate::ir::{Dim, Graph, Id, Node};

pub(super) fn print(graph: &Graph, id: Id) -> String {
    Text { graph }.at(id, 0)
}

struct Text<'g> {
    graph: &'g Graph,
}

impl Text<'_> {
    /// `id` printed where at least binding strength `min` is needed.
    fn at(&self, id: Id, min: u8) -> String {
        let s = self.raw(id);
        if precedence(self.graph, id) < min {
            format!("({s})")
        } else {
            s
        }
    }

    /// `id` after an operator: parenthesised when it starts with a minus.
    fn operand(&self, id: Id, min: u8) -> String {
        if starts_with_minus(self.graph, id) {
            format!("({})", self.raw(id))
        } else {
            self.at(id, min)
        }
    }

    fn binary(&self, a: Id, op: &str, b: Id) -> String {
        // `0*ones(m)*ones(n)'` reads as one zero matrix, so a zero column times
        // anything keeps its parentheses.
        let left = if op == "*" && matches!(self.graph.node(a), Node::Zeros(_)) {
            format!("({})", self.raw(a))
        } else {
            self.at(a, prec::MUL)
        };
        let right = self.operand(b, prec::NEG);
        // Elementwise products and quotients are spaced, as written in the
        // textbook (`y .* sigmoid(z)`); this also keeps `2 .* x` from lexing as `2.`.
        if op.starts_with('.') {
            format!("{left} {op} {right}")
        } else {
            format!("{left}{op}{right}")
        }
    }

    fn power(&self, a: Id, op: &str, b: Id) -> String {
        let base = self.at(a, prec::POSTFIX);
        let exponent = self.operand(b, prec::POW);
        if op.starts_with('.') && base.ends_with(|c: char| c.is_ascii_digit()) {
            format!("{base} {op} {exponent}")
        } else {
            format!("{base}{op}{exponent}")
        }
    }

    fn dim(&self, d: Dim) -> String {
        super::dim(self.graph, d)
    }

    fn raw(&self, id: Id) -> String {
        let g = self.graph;
        match g.node(id) {
            Node::Const(v) => number(v.value()),
            Node::Var(s) | Node::DimValue(s) => g.name(s).to_string(),
            Node::Differential(s) => format!("d{}", g.name(s)),
            Node::DifferentialOf(a) => format!("d({})", self.raw(a)),
            Node::Eye(n) => format!("eye({})", self.dim(n)),
            Node::Ones(n) => format!("ones({})", self.dim(n)),
            Node::Zeros(shape) => match (shape.rows == Dim::ONE, shape.cols == Dim::ONE) {
                (false, true) => format!("0*ones({})", self.dim(shape.rows)),
                (true, false) => format!("0*ones({})'", self.dim(shape.cols)),
                _ => format!(
                    "0*ones({})*ones({})'",
                    self.dim(shape.rows),
                    self.dim(shape.cols)
                ),
            },
            Node::Add(a, b) => {
                let left = self.at(a, prec::ADD);
                match g.node(b) {
                    Node::Neg(c) => format!("{left} - {}", self.operand(c, prec::MUL)),
                    _ => format!("{left} + {}", self.at(b, prec::MUL)),
                }
            }
            Node::Neg(a) => {
                let plain_number = matches!(g.node(a), Node::Const(v) if v.value() >= 0.0);
                if plain_number || starts_with_minus(g, a) {
                    format!("-({})", self.raw(a))
                } else {
                    format!("-{}", self.at(a, prec::NEG))
                }
            }
            Node::Mul(a, b) => self.binary(a, "*", b),
            Node::Div(a, b) => self.binary(a, "/", b),
            Node::ElemMul(a, b) => self.binary(a, ".*", b),
            Node::ElemDiv(a, b) => self.binary(a, "./", b),
            Node::Pow(a, b) => self.power(a, "^", b),
            Node::ElemPow(a, b) => self.power(a, ".^", b),
            Node::Transpose(a) => format!("{}'", self.at(a, prec::ATOM)),
            Node::Inner(a, b) => format!("<{}, {}>", self.at(a, 0), self.at(b, 0)),
            Node::Apply(f, a) => format!("{}({})", f.name(), self.at(a, 0)),
            Node::Kron(a, b) => format!("kron({}, {})", self.at(a, 0), self.at(b, 0)),
        }
    }
}
