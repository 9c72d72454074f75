//! Printers over `(&Graph, Id)`: [`text`] (ASCII that parses back to the same IR),
//! [`pretty`] (Unicode, textbook look) and [`latex`]; plus shapes and variables as
//! the CLI shows them.

pub mod derivation;
mod latex;
mod pretty;
mod text;

use crate::ir::{Dim, Graph, Id, Node, Shape, Variable};

/// ASCII text that parses back to the same IR, with minimal parentheses:
/// `1/N*norm2(X*w - y)^2`.
///
/// The zero matrix `Zeros(m × n)` prints as `0*ones(m)*ones(n)'` (`0*ones(m)` for a
/// column, `0*ones(n)'` for a row), which the lowering turns back into `Zeros`.
pub fn text(graph: &Graph, id: Id) -> String {
    text::print(graph, id)
}

/// Unicode with a textbook look: `1/N·‖X·w − y‖²`, `Xᵀ`, `⟨a, b⟩`, `X⁻¹`, `∘`.
pub fn pretty(graph: &Graph, id: Id) -> String {
    pretty::print(graph, id)
}

/// LaTeX math: `\frac{1}{N} \|X w - y\|^{2}`, `X^\top`, `\langle a, b \rangle`.
pub fn latex(graph: &Graph, id: Id) -> String {
    latex::print(graph, id)
}

/// A derivation as one LaTeX `align` environment numbered once, on the result: the
/// first line carries `differential_lhs` (`\mathrm{d}f`), each step its rule in text
/// (symbols as LaTeX commands), and the last line `result_lhs &= result`.
pub fn latex_derivation(
    graph: &Graph,
    steps: &[crate::derivative::Step],
    differential_lhs: &str,
    result_lhs: &str,
    result: Id,
) -> String {
    latex::derivation(graph, steps, differential_lhs, result_lhs, result)
}

/// A rule's words for LaTeX's text mode, symbols as commands in math: `d($\alpha$X)`.
pub fn latex_rule(rule: &str) -> String {
    latex::rule(rule)
}

/// A standalone LaTeX document (`article` with `amsmath`) around `body`, which
/// pdflatex compiles.
pub fn latex_document(body: &str) -> String {
    latex::document(body)
}

/// A dimension as written: its name or its size.
pub fn dim(graph: &Graph, d: Dim) -> String {
    match d {
        Dim::Size(n) => n.to_string(),
        Dim::Named(s) => graph.name(s).to_string(),
    }
}

/// `scalar`, `vector(N)`, `row vector(N)` (1 × N) or `matrix(N, d)`.
pub fn shape(graph: &Graph, s: Shape) -> String {
    match (s.rows == Dim::ONE, s.cols == Dim::ONE) {
        (true, true) => "scalar".to_string(),
        (false, true) => format!("vector({})", dim(graph, s.rows)),
        (true, false) => format!("row vector({})", dim(graph, s.cols)),
        (false, false) => format!("matrix({}, {})", dim(graph, s.rows), dim(graph, s.cols)),
    }
}

/// A variable as a declaration that parses back: `w: vector(d)`,
/// `X: matrix(N, d)`, `S: symmetric(n)`, `lambda: scalar`.
pub fn describe_variable(graph: &Graph, v: &Variable) -> String {
    let name = graph.name(v.name);
    let (r, c) = (dim(graph, v.shape.rows), dim(graph, v.shape.cols));
    match v.kind {
        crate::ir::Kind::Scalar => format!("{name}: scalar"),
        crate::ir::Kind::Vector => format!("{name}: vector({r})"),
        crate::ir::Kind::Matrix => format!("{name}: matrix({r}, {c})"),
        k => format!("{name}: {}({r})", k.keyword()),
    }
}

/// The number of tokens of the [`text`] form (names, numbers, operators,
/// parentheses): a measure of how compact an expression is.
pub fn token_count(graph: &Graph, id: Id) -> usize {
    count_tokens(&text(graph, id))
}

fn count_tokens(s: &str) -> usize {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut count = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        count += 1;
        if c.is_ascii_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && matches!(chars[i], 'e' | 'E') {
                i += 1;
                if i < chars.len() && matches!(chars[i], '+' | '-') {
                    i += 1;
                }
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
        } else if c == '.'
            && chars
                .get(i + 1)
                .is_some_and(|n| matches!(n, '*' | '/' | '^'))
        {
            i += 2;
        } else {
            i += 1;
        }
    }
    count
}

/// Binding strength of printed forms, loosest first; mirrors the parser's
/// precedence (`+ -`; `* / .* ./`; unary `-`; `^ .^`; postfix `'`; atoms).
pub(crate) mod prec {
    pub const ADD: u8 = 1;
    pub const MUL: u8 = 2;
    pub const NEG: u8 = 3;
    pub const POW: u8 = 4;
    pub const POSTFIX: u8 = 5;
    pub const ATOM: u8 = 6;
}

/// How tightly the text form of `id` binds.
pub(crate) fn precedence(graph: &Graph, id: Id) -> u8 {
    match graph.node(id) {
        Node::Add(..) => prec::ADD,
        Node::Mul(..) | Node::Div(..) | Node::ElemMul(..) | Node::ElemDiv(..) | Node::Zeros(_) => {
            prec::MUL
        }
        Node::Neg(_) => prec::NEG,
        Node::Const(v) if v.value() < 0.0 => prec::NEG,
        Node::Pow(..) | Node::ElemPow(..) => prec::POW,
        Node::Transpose(_) => prec::POSTFIX,
        _ => prec::ATOM,
    }
}

/// Whether the printed form starts with a minus sign (so that it needs
/// parentheses after another operator).
pub(crate) fn starts_with_minus(graph: &Graph, id: Id) -> bool {
    match graph.node(id) {
        Node::Neg(_) => true,
        Node::Const(v) => v.value() < 0.0,
        Node::Add(a, _)
        | Node::Mul(a, _)
        | Node::Div(a, _)
        | Node::ElemMul(a, _)
        | Node::ElemDiv(a, _) => starts_with_minus(graph, a),
        _ => false,
    }
}

/// A number in the shortest form that reads back to the same `f64`: integers
/// without `.0`, an exponent when that is shorter (`1e-20`).
pub(crate) fn number(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "1e999" } else { "-1e999" }.to_string();
    }
    let plain = format!("{v}");
    let exp = format!("{v:e}");
    if plain.len() <= exp.len() || plain.len() <= 8 {
        plain
    } else {
        exp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_in_shortest_form() {
        let cases: &[(f64, &str)] = &[
            (2.0, "2"),
            (-2.0, "-2"),
            (0.5, "0.5"),
            (1e-20, "1e-20"),
            (1e21, "1e21"),
            (123456.0, "123456"),
            (0.1 + 0.2, "0.30000000000000004"),
        ];
        for &(v, want) in cases {
            assert_eq!(number(v), want, "{v}");
            assert_eq!(number(v).parse::<f64>().ok(), Some(v));
        }
    }

    #[test]
    fn tokens_are_counted_like_the_lexer() {
        let cases: &[(&str, usize)] = &[
            ("x", 1),
            ("2*x'", 4),
            ("x .* y", 3),
            ("1/N*norm2(X*w - y)^2", 14),
            ("1e-3*x", 3),
            ("<a, b>", 5),
        ];
        for &(s, want) in cases {
            assert_eq!(count_tokens(s), want, "{s}");
        }
    }
}
