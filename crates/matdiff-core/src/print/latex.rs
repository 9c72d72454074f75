//! LaTeX math: `X^{\top}`, `\langle a, b \rangle`, `\circ`, `\|x\|`, `\frac{a}{b}`,
//! `\operatorname{tr}`, `X^{-1}`, `\mathbf{1}`, `I`, `\mathrm{d}X`; a derivation as an
//! `align` environment, rules in text with their symbols as LaTeX commands; and the
//! standalone document around it. Everything printed is ASCII, so that pdflatex
//! compiles it with no missing character.

use super::{number, prec, precedence, starts_with_minus};
use crate::derivative::Step;
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

/// The end of a product a differential is looked for at.
#[derive(Clone, Copy)]
enum Side {
    First,
    Last,
}

impl Latex<'_> {
    /// Whether the factor printed first (or last) in `id` is a differential `dX`.
    fn differential_at(&self, id: Id, side: Side) -> bool {
        match (self.graph.node(id), side) {
            (Node::Differential(_), _) => true,
            (Node::Transpose(a), _) => matches!(self.graph.node(a), Node::Differential(_)),
            (Node::Mul(a, _), Side::First) | (Node::Mul(_, a), Side::Last) => {
                self.differential_at(a, side)
            }
            (Node::Neg(a), Side::Last) => self.differential_at(a, side),
            _ => false,
        }
    }

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
            // Written infix, `A \otimes B` is parenthesised in any product.
            Node::Kron(..) => prec::ADD,
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
                } else if self.differential_at(a, Side::Last)
                    || self.differential_at(b, Side::First)
                {
                    // A thin space keeps `dX` one symbol: `\mathrm{d}X \, X^{-1}`.
                    format!("{left} \\, {right}")
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
            Node::Transpose(a) => format!("{}^{{\\top}}", self.at(a, prec::ATOM)),
            Node::Inner(a, b) => {
                format!("\\langle {}, {} \\rangle", self.at(a, 0), self.at(b, 0))
            }
            Node::Kron(a, b) => format!(
                "{} \\otimes {}",
                self.at(a, prec::POSTFIX),
                self.at(b, prec::POSTFIX)
            ),
            // Printed once: printing the argument twice doubles the work at each
            // level of `inv(inv(…))`.
            Node::Apply(Func::Inv, a) => format!("{}^{{-1}}", self.at(a, prec::ATOM)),
            Node::Apply(f, a) => {
                let arg = self.at(a, 0);
                match f {
                    Func::Norm2 => format!("\\|{arg}\\|"),
                    Func::Norm1 => format!("\\|{arg}\\|_1"),
                    Func::Abs => format!("\\left|{arg}\\right|"),
                    Func::Sqrt => format!("\\sqrt{{{arg}}}"),
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
                    _ => format!(
                        "\\operatorname{{{}}}\\left({arg}\\right)",
                        f.name().replace('_', "\\_")
                    ),
                }
            }
        }
    }
}

/// A derivation as one `align` environment with one equation number, on the result:
/// the first line carries the left-hand side (`\mathrm{d}L &= …`), each step its rule
/// in text, and the last line `result_lhs &= result`.
pub(super) fn derivation(
    graph: &Graph,
    steps: &[Step],
    differential_lhs: &str,
    result_lhs: &str,
    result: Id,
) -> String {
    let mut out = String::from("\\begin{align}\n");
    for (k, step) in steps.iter().enumerate() {
        let lhs = if k == 0 { differential_lhs } else { "" };
        out.push_str(&format!(
            "  {lhs} &= {} && \\text{{({})}} \\notag \\\\\n",
            print(graph, step.expr),
            rule(&step.rule)
        ));
    }
    out.push_str(&format!(
        "  {result_lhs} &= {}\n\\end{{align}}\n",
        print(graph, result)
    ));
    out
}

/// A standalone document (`article` with `amsmath`) around `body`.
pub(super) fn document(body: &str) -> String {
    format!(
        "\\documentclass{{article}}\n\\usepackage{{amsmath}}\n\\begin{{document}}\n{body}\\end{{document}}\n"
    )
}

/// A piece of a rule in LaTeX: text, or math that goes between `$` signs.
enum Piece {
    Text(String),
    Math(String),
}

/// A rule's words (`d(αX) = α dX`, `d logdet X = <X⁻ᵀ, dX>`) for LaTeX's text mode:
/// words stay text, and every symbol becomes a LaTeX command in math: `$\alpha$`,
/// `$\|$`, `$^{-\top}$`, `$\langle$`…`$\rangle$`, `B'` as `B$^{\top}$`, `f'(X)` with a
/// prime. Adjacent math is merged into one `$…$`.
pub(super) fn rule(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut pieces: Vec<Piece> = Vec::new();
    let push_math = |pieces: &mut Vec<Piece>, m: &str| match pieces.last_mut() {
        Some(Piece::Math(s)) => {
            // A command's terminating space is needed only before a letter.
            if !m.starts_with(|c: char| c.is_ascii_alphabetic()) {
                s.truncate(s.trim_end().len());
            }
            s.push_str(m);
        }
        _ => pieces.push(Piece::Math(m.to_string())),
    };
    let push_text = |pieces: &mut Vec<Piece>, t: &str| match pieces.last_mut() {
        Some(Piece::Text(s)) => s.push_str(t),
        _ => pieces.push(Piece::Text(t.to_string())),
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if superscript(c).is_some() {
            let mut sup = String::new();
            while let Some(s) = chars.get(i).and_then(|&c| superscript(c)) {
                sup.push_str(s);
                i += 1;
            }
            push_math(&mut pieces, &format!("^{{{}}}", sup.trim_end()));
            continue;
        }
        if subscript(c).is_some() {
            let mut sub = String::new();
            while let Some(s) = chars.get(i).and_then(|&c| subscript(c)) {
                sub.push(s);
                i += 1;
            }
            push_math(&mut pieces, &format!("_{{{sub}}}"));
            continue;
        }
        if c == '^' {
            // `a^k`, `X^(k−1−i)`: the exponent in math.
            let mut exponent = String::new();
            i += 1;
            if chars.get(i) == Some(&'(') {
                let mut depth = 0;
                while let Some(&c) = chars.get(i) {
                    i += 1;
                    match c {
                        '(' if depth == 0 => depth += 1,
                        '(' => {
                            depth += 1;
                            exponent.push('(');
                        }
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            exponent.push(')');
                        }
                        c => exponent.push_str(&math_symbol(c)),
                    }
                }
            } else {
                while let Some(&c) = chars.get(i).filter(|c| c.is_ascii_alphanumeric()) {
                    exponent.push(c);
                    i += 1;
                }
            }
            push_math(&mut pieces, &format!("^{{{exponent}}}"));
            continue;
        }
        if c == '\'' {
            // `f'(X)` is a derivative; `B'`, `(dX)'` are transposes.
            let derivative = chars.get(i + 1) == Some(&'(')
                && i > 0
                && chars[i - 1].is_alphabetic()
                && (i < 2 || !chars[i - 2].is_alphanumeric());
            push_math(&mut pieces, if derivative { "'" } else { "^{\\top}" });
            i += 1;
            continue;
        }
        match c {
            '<' => push_math(&mut pieces, "\\langle "),
            '>' => push_math(&mut pieces, "\\rangle "),
            '\\' => push_text(&mut pieces, "\\textbackslash{}"),
            '{' | '}' | '$' | '&' | '#' | '_' | '%' => push_text(&mut pieces, &format!("\\{c}")),
            '~' => push_text(&mut pieces, "\\textasciitilde{}"),
            '—' => push_text(&mut pieces, "---"),
            '–' => push_text(&mut pieces, "--"),
            c if c.is_ascii() => push_text(&mut pieces, &c.to_string()),
            c => push_math(&mut pieces, &format!("{} ", math_symbol(c))),
        }
        i += 1;
    }
    pieces
        .into_iter()
        .map(|p| match p {
            Piece::Text(t) => t,
            Piece::Math(m) => format!("${}$", m.trim_end()),
        })
        .collect()
}

/// A superscript character's LaTeX: `²` → `2`, `ᵀ` → `\top`, `⁻` → `-`.
fn superscript(c: char) -> Option<&'static str> {
    Some(match c {
        '⁰' => "0",
        '¹' => "1",
        '²' => "2",
        '³' => "3",
        '⁴' => "4",
        '⁵' => "5",
        '⁶' => "6",
        '⁷' => "7",
        '⁸' => "8",
        '⁹' => "9",
        '⁻' => "-",
        '⁺' => "+",
        'ᵀ' => "\\top ",
        'ⁱ' => "i",
        'ⁿ' => "n",
        'ᵏ' => "k",
        _ => return None,
    })
}

/// A subscript digit's value: `₁` → `1`.
fn subscript(c: char) -> Option<char> {
    let digit = (c as u32).checked_sub('₀' as u32).filter(|d| *d < 10)?;
    char::from_digit(digit, 10)
}

/// A symbol in math mode as a LaTeX command; ASCII stays as it is.
fn math_symbol(c: char) -> String {
    let command = match c {
        'α' => "\\alpha",
        'β' => "\\beta",
        'γ' => "\\gamma",
        'δ' => "\\delta",
        'ε' => "\\varepsilon",
        'η' => "\\eta",
        'λ' => "\\lambda",
        'μ' => "\\mu",
        'π' => "\\pi",
        'σ' => "\\sigma",
        'φ' => "\\varphi",
        'Σ' => "\\Sigma",
        '‖' => "\\|",
        '∘' => "\\circ",
        '⊗' => "\\otimes",
        '⊘' => "\\oslash",
        '·' => "\\cdot",
        '×' => "\\times",
        '−' => "-",
        '∇' => "\\nabla",
        '∂' => "\\partial",
        '→' => "\\to",
        '≤' => "\\le",
        '≥' => "\\ge",
        '≠' => "\\ne",
        '≈' => "\\approx",
        '…' => "\\ldots",
        '⟨' => "\\langle",
        '⟩' => "\\rangle",
        '∑' => "\\sum",
        c if c.is_ascii() => return c.to_string(),
        // Any other symbol, named so that the output stays ASCII and compiles.
        c => return format!("\\text{{[U+{:04X}]}}", c as u32),
    };
    command.to_string()
}

#[cfg(test)]
mod tests {
    use super::rule;

    #[test]
    fn rules_become_text_with_latex_symbols() {
        let cases = [
            (
                "‖u‖² = <u, u>",
                "$\\|$u$\\|^{2}$ = $\\langle$u, u$\\rangle$",
            ),
            ("d(αX) = α dX", "d($\\alpha$X) = $\\alpha$ dX"),
            (
                "d logdet X = <X⁻ᵀ, dX>",
                "d logdet X = $\\langle$X$^{-\\top}$, dX$\\rangle$",
            ),
            (
                "d(X⁻¹) = −X⁻¹ dX X⁻¹",
                "d(X$^{-1}$) = $-$X$^{-1}$ dX X$^{-1}$",
            ),
            (
                "<A, B dX C> = <B'AC', dX>",
                "$\\langle$A, B dX C$\\rangle$ = $\\langle$B$^{\\top}$AC$^{\\top}$, dX$\\rangle$",
            ),
            ("d f(X) = f'(X) ∘ dX", "d f(X) = f$'$(X) $\\circ$ dX"),
            (
                "d(X^k) = Σ X^i dX X^(k−1−i)",
                "d(X$^{k}$) = $\\Sigma$ X$^{i}$ dX X$^{k-1-i}$",
            ),
            (
                "d‖X‖₁ = <sign(X), dX>",
                "d$\\|$X$\\|_{1}$ = $\\langle$sign(X), dX$\\rangle$",
            ),
            ("d(X') = (dX)'", "d(X$^{\\top}$) = (dX)$^{\\top}$"),
        ];
        for (text, latex) in cases {
            let got = rule(text);
            assert_eq!(got, latex, "{text}");
            assert!(got.is_ascii(), "{got}");
            assert!(!got.contains("$$"), "{got}");
        }
    }
}
