//! LaTeX math: `X^\top`, `\langle a, b \rangle`, `\circ`, `\|x\|`, `\frac{a}{b}`,
//! `\operatorname{tr}`, `X^{-1}`, `\mathbf{1}`, `I`, `\mathrm{d}X`.

use super::{number, prec, precedence, starts_with_minus};
use crate::ir::{Func, Graph, Id, Node, Sym};

pub(super) fn print(graph: &Graph, id: Id) -> String {
    Latex { graph }.at(id, 0)
}

struct Latex<'g> {
    graph: &'g Graph,
}

const GREEK: [(&str, &str); 12] = [
    ("alpha", "\\alpha"),
    ("beta", "\\beta"),
    ("gamma", "\\gamma"),
    ("delta", "\\delta"),
    ("eps", "\\varepsilon"),
    ("eta", "\\eta"),
    ("lambda", "\\lambda"),
    ("mu", "\\mu"),
    ("nu", "\\nu"),
    ("rho", "\\rho"),
    ("sigma", "\\sigma"),
    ("tau", "\\tau"),
];

/// A name in math italics: `x`, `\lambda`, `X_{\mathrm{train}}`, `A_{1}`,
/// `\mathrm{xy}` for longer names.
fn name(name: &str) -> String {
    if let Some((_, g)) = GREEK.iter().find(|(n, _)| *n == name) {
        return (*g).to_string();
    }
    if let Some((base, sub)) = name.split_once('_') {
        let sub = if sub.len() == 1 || sub.chars().all(|c| c.is_ascii_digit()) {
            sub.to_string()
        } else {
            format!("\\mathrm{{{sub}}}")
        };
        return format!("{}_{{{sub}}}", self::name(base));
    }
    let digits = name.trim_start_matches(|c: char| !c.is_ascii_digit());
    let stem = &name[..name.len() - digits.len()];
    if !digits.is_empty() && !stem.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return format!("{}_{{{digits}}}", self::name(stem));
    }
    if name.chars().count() == 1 {
        name.to_string()
    } else {
        format!("\\mathrm{{{name}}}")
    }
}

impl Latex<'_> {
    fn at(&self, id: Id, min: u8) -> String {
        let s = self.raw(id);
        if self.precedence(id) < min {
            format!("\\left({s}\\right)")
        } else {
            s
        }
    }

    fn precedence(&self, id: Id) -> u8 {
        match self.graph.node(id) {
            Node::Div(..) | Node::Zeros(_) => prec::ATOM,
            Node::Apply(Func::Inv, _) => prec::POSTFIX,
            _ => precedence(self.graph, id),
        }
    }

    fn operand(&self, id: Id, min: u8) -> String {
        if starts_with_minus(self.graph, id) {
            format!("\\left({}\\right)", self.raw(id))
        } else {
            self.at(id, min)
        }
    }

    fn sym(&self, s: Sym) -> String {
        name(self.graph.name(s))
    }

    fn raw(&self, id: Id) -> String {
        let g = self.graph;
        match g.node(id) {
            Node::Const(v) => number(v.value()),
            Node::Var(s) | Node::DimValue(s) => self.sym(s),
            Node::Differential(s) => format!("\\mathrm{{d}}{}", self.sym(s)),
            Node::DifferentialOf(a) => format!("\\mathrm{{d}}\\left({}\\right)", self.raw(a)),
            Node::Eye(_) => "I".to_string(),
            Node::Ones(_) => "\\mathbf{1}".to_string(),
            Node::Zeros(_) => "0".to_string(),
            Node::Add(a, b) => {
                let left = self.at(a, prec::ADD);
                match g.node(b) {
                    Node::Neg(c) => format!("{left} - {}", self.operand(c, prec::MUL)),
                    _ => format!("{left} + {}", self.at(b, prec::MUL)),
                }
            }
            Node::Neg(a) => {
                if starts_with_minus(g, a) {
                    format!("-\\left({}\\right)", self.raw(a))
                } else {
                    format!("-{}", self.at(a, prec::NEG))
                }
            }
            Node::Mul(a, b) => {
                let left = self.at(a, prec::MUL);
                let right = self.operand(b, prec::NEG);
                let numeric = right.starts_with(|c: char| c.is_ascii_digit());
                if numeric {
                    format!("{left} \\cdot {right}")
                } else {
                    format!("{left} {right}")
                }
            }
            Node::Div(a, b) => format!("\\frac{{{}}}{{{}}}", self.at(a, 0), self.at(b, 0)),
            Node::ElemMul(a, b) => {
                format!(
                    "{} \\circ {}",
                    self.at(a, prec::MUL),
                    self.operand(b, prec::NEG)
                )
            }
            Node::ElemDiv(a, b) => {
                format!(
                    "{} \\oslash {}",
                    self.at(a, prec::MUL),
                    self.operand(b, prec::NEG)
                )
            }
            Node::Pow(a, b) => format!("{}^{{{}}}", self.at(a, prec::ATOM), self.at(b, 0)),
            Node::ElemPow(a, b) => {
                format!("{}^{{\\circ {}}}", self.at(a, prec::ATOM), self.at(b, 0))
            }
            Node::Transpose(a) => format!("{}^\\top", self.at(a, prec::ATOM)),
            Node::Inner(a, b) => {
                format!("\\langle {}, {} \\rangle", self.at(a, 0), self.at(b, 0))
            }
            Node::Apply(f, a) => {
                let arg = self.at(a, 0);
                match f {
                    Func::Norm2 => format!("\\|{arg}\\|"),
                    Func::Norm1 => format!("\\|{arg}\\|_1"),
                    Func::Abs => format!("\\left|{arg}\\right|"),
                    Func::Sqrt => format!("\\sqrt{{{arg}}}"),
                    Func::Inv => format!("{}^{{-1}}", self.at(a, prec::ATOM)),
                    Func::Det => format!("\\det\\left({arg}\\right)"),
                    Func::Logdet => format!("\\log\\det\\left({arg}\\right)"),
                    Func::Exp
                    | Func::Log
                    | Func::Sin
                    | Func::Cos
                    | Func::Tan
                    | Func::Tanh
                    | Func::Arcsin
                    | Func::Arccos
                    | Func::Arctan
                    | Func::Sinh
                    | Func::Cosh => {
                        format!("\\{}\\left({arg}\\right)", f.name())
                    }
                    _ => format!("\\operatorname{{{}}}\\left({arg}\\right)", f.name()),
                }
            }
        }
    }
}
