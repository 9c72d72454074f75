//! The Unicode form with a textbook look: `Xᵀ`, `⟨a, b⟩`, `∘`, `‖x‖`, `X⁻¹`, `x²`.
//! It mostly parses back (`·`, `ᵀ`, `⟨ , ⟩`, `∘`, `−` are accepted as input), but
//! that is not its purpose.

use super::{number, prec, precedence, starts_with_minus};
use crate::ir::{Func, Graph, Id, Node};

pub(super) fn print(graph: &Graph, id: Id) -> String {
    Pretty { graph }.at(id, 0)
}

struct Pretty<'g> {
    graph: &'g Graph,
}

/// Greek-letter names and their letters.
const GREEK: [(&str, &str); 12] = [
    ("alpha", "α"),
    ("beta", "β"),
    ("gamma", "γ"),
    ("delta", "δ"),
    ("eps", "ε"),
    ("eta", "η"),
    ("lambda", "λ"),
    ("mu", "μ"),
    ("nu", "ν"),
    ("rho", "ρ"),
    ("sigma", "σ"),
    ("tau", "τ"),
];

fn superscript(s: &str) -> Option<String> {
    s.chars()
        .map(|c| match c {
            '0' => Some('⁰'),
            '1' => Some('¹'),
            '2' => Some('²'),
            '3' => Some('³'),
            '4' => Some('⁴'),
            '5' => Some('⁵'),
            '6' => Some('⁶'),
            '7' => Some('⁷'),
            '8' => Some('⁸'),
            '9' => Some('⁹'),
            '-' => Some('⁻'),
            _ => None,
        })
        .collect()
}

impl Pretty<'_> {
    fn at(&self, id: Id, min: u8) -> String {
        let s = self.raw(id);
        if self.precedence(id) < min {
            format!("({s})")
        } else {
            s
        }
    }

    fn precedence(&self, id: Id) -> u8 {
        match self.graph.node(id) {
            Node::Apply(Func::Inv, _) => prec::POSTFIX,
            Node::Zeros(_) => prec::ATOM,
            // Written infix, `A ⊗ B` is parenthesised in any product.
            Node::Kron(..) => prec::ADD,
            _ => precedence(self.graph, id),
        }
    }

    fn operand(&self, id: Id, min: u8) -> String {
        if starts_with_minus(self.graph, id) {
            format!("({})", self.raw(id))
        } else {
            self.at(id, min)
        }
    }

    fn name(&self, s: crate::ir::Sym) -> String {
        let name = self.graph.name(s);
        GREEK
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(|| name.to_string(), |(_, g)| (*g).to_string())
    }

    fn number(&self, v: f64) -> String {
        number(v).replace('-', "−")
    }

    fn raw(&self, id: Id) -> String {
        let g = self.graph;
        match g.node(id) {
            Node::Const(v) => self.number(v.value()),
            Node::Var(s) | Node::DimValue(s) => self.name(s),
            Node::Differential(s) => format!("d{}", self.name(s)),
            Node::DifferentialOf(a) => format!("d({})", self.raw(a)),
            Node::Eye(_) => "I".to_string(),
            Node::Ones(_) => "𝟏".to_string(),
            Node::Zeros(_) => "0".to_string(),
            Node::Add(a, b) => {
                let left = self.at(a, prec::ADD);
                match g.node(b) {
                    Node::Neg(c) => format!("{left} − {}", self.operand(c, prec::MUL)),
                    _ => format!("{left} + {}", self.at(b, prec::MUL)),
                }
            }
            Node::Neg(a) => {
                if starts_with_minus(g, a) {
                    format!("−({})", self.raw(a))
                } else {
                    format!("−{}", self.at(a, prec::NEG))
                }
            }
            Node::Mul(a, b) => format!("{}·{}", self.at(a, prec::MUL), self.operand(b, prec::NEG)),
            Node::Div(a, b) => format!("{}/{}", self.at(a, prec::MUL), self.operand(b, prec::NEG)),
            Node::ElemMul(a, b) => {
                format!("{} ∘ {}", self.at(a, prec::MUL), self.operand(b, prec::NEG))
            }
            Node::ElemDiv(a, b) => {
                format!("{} ⊘ {}", self.at(a, prec::MUL), self.operand(b, prec::NEG))
            }
            Node::Pow(a, b) | Node::ElemPow(a, b) => {
                // `(Xᵀ)²` and `(X⁻¹)²`: superscripts do not stack.
                let base = self.at(a, prec::ATOM);
                let dot = if matches!(g.node(id), Node::ElemPow(..)) {
                    ".^"
                } else {
                    "^"
                };
                let sup = match g.node(b) {
                    Node::Const(v) if dot == "^" && v.value().fract() == 0.0 => {
                        superscript(&number(v.value()))
                    }
                    _ => None,
                };
                match sup {
                    Some(s) => format!("{base}{s}"),
                    None => format!("{base}{dot}{}", self.operand(b, prec::POW)),
                }
            }
            Node::Transpose(a) => format!("{}ᵀ", self.at(a, prec::ATOM)),
            Node::Inner(a, b) => format!("⟨{}, {}⟩", self.at(a, 0), self.at(b, 0)),
            Node::Kron(a, b) => format!(
                "{} ⊗ {}",
                self.at(a, prec::POSTFIX),
                self.at(b, prec::POSTFIX)
            ),
            Node::Apply(f, a) => match f {
                Func::Norm2 => format!("‖{}‖", self.at(a, 0)),
                Func::Norm1 => format!("‖{}‖₁", self.at(a, 0)),
                Func::Abs => format!("|{}|", self.at(a, 0)),
                Func::Inv => format!("{}⁻¹", self.at(a, prec::ATOM)),
                _ => format!("{}({})", f.name(), self.at(a, 0)),
            },
        }
    }
}
