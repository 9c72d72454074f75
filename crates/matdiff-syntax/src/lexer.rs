//! The lexer: source text to tokens with byte spans.
//!
//! Lexing never fails: a character that is not part of the language becomes a
//! [`TokenKind::Unknown`] token, and the parser decides how to report it (so that
//! one stray character gives one diagnostic, not a cascade). Unicode aliases are
//! folded into their ASCII token here (`ᵀ` is `'`, `∘` is `.*`, …), so the parser
//! only sees one spelling of each operator.

use crate::span::{SourceId, Span};

/// What a token is. The text of names and numbers is the source slice at the span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A numeric literal: `2`, `2.5`, `.5`, `1e-3`, `1.5E+4`.
    Number,
    /// A name `[A-Za-z_][A-Za-z0-9_]*`.
    Name,
    /// `+`
    Plus,
    /// `-` or `−` (U+2212).
    Minus,
    /// `*` or `·` (U+00B7).
    Star,
    /// `/`
    Slash,
    /// `^`
    Caret,
    /// `.*` or `∘` (U+2218).
    DotStar,
    /// `./`
    DotSlash,
    /// `.^`
    DotCaret,
    /// `'` or `ᵀ` (U+1D40).
    Quote,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `;`
    Semi,
    /// `<` or `⟨` (U+27E8).
    Lt,
    /// `>` or `⟩` (U+27E9).
    Gt,
    /// `:`
    Colon,
    /// A line break; significant only between declarations.
    Newline,
    /// A character that is not part of the language.
    Unknown(char),
    /// The end of the input (an empty span at its end).
    Eof,
}

/// A token and where it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// What the token is.
    pub kind: TokenKind,
    /// Its bytes in the source; always on `char` boundaries.
    pub span: Span,
}

/// Splits `src` into tokens. `#` starts a comment that runs to the end of the line;
/// whitespace other than `\n` is skipped. The last token is always [`TokenKind::Eof`].
pub fn tokenize(src: &str, source: SourceId) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let single = |kind: TokenKind| Token {
            kind,
            span: Span::new(source, start, start + c.len_utf8()),
        };
        let token = match c {
            '\n' => single(TokenKind::Newline),
            '#' => {
                while chars.next_if(|&(_, c)| c != '\n').is_some() {}
                continue;
            }
            c if c.is_whitespace() => continue,
            '0'..='9' => {
                let end = number_end(src, start);
                // Skip the rest of the number: it is ASCII, so bytes are chars.
                while chars.next_if(|&(i, _)| i < end).is_some() {}
                Token {
                    kind: TokenKind::Number,
                    span: Span::new(source, start, end),
                }
            }
            '.' => match chars.peek().map(|&(_, c)| c) {
                Some('0'..='9') => {
                    let end = number_end(src, start);
                    while chars.next_if(|&(i, _)| i < end).is_some() {}
                    Token {
                        kind: TokenKind::Number,
                        span: Span::new(source, start, end),
                    }
                }
                Some(next @ ('*' | '/' | '^')) => {
                    chars.next();
                    let kind = match next {
                        '*' => TokenKind::DotStar,
                        '/' => TokenKind::DotSlash,
                        _ => TokenKind::DotCaret,
                    };
                    Token {
                        kind,
                        span: Span::new(source, start, start + 2),
                    }
                }
                _ => single(TokenKind::Unknown('.')),
            },
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = start + 1;
                while let Some((i, c)) =
                    chars.next_if(|&(_, c)| c.is_ascii_alphanumeric() || c == '_')
                {
                    end = i + c.len_utf8();
                }
                Token {
                    kind: TokenKind::Name,
                    span: Span::new(source, start, end),
                }
            }
            '+' => single(TokenKind::Plus),
            '-' | '\u{2212}' => single(TokenKind::Minus),
            '*' | '\u{00B7}' => single(TokenKind::Star),
            '/' => single(TokenKind::Slash),
            '^' => single(TokenKind::Caret),
            '\u{2218}' => single(TokenKind::DotStar),
            '\'' | '\u{1D40}' => single(TokenKind::Quote),
            '(' => single(TokenKind::LParen),
            ')' => single(TokenKind::RParen),
            ',' => single(TokenKind::Comma),
            ';' => single(TokenKind::Semi),
            '<' | '\u{27E8}' => single(TokenKind::Lt),
            '>' | '\u{27E9}' => single(TokenKind::Gt),
            ':' => single(TokenKind::Colon),
            other => single(TokenKind::Unknown(other)),
        };
        tokens.push(token);
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        span: Span::new(source, src.len(), src.len()),
    });
    tokens
}

/// The end of the number starting at byte `start`: digits, an optional fraction
/// (a `.` counts only when a digit follows, so `2.*x` is `2 .* x`), and an optional
/// exponent (`e`/`E`, an optional sign, then at least one digit).
fn number_end(src: &str, start: usize) -> usize {
    let bytes = src.as_bytes();
    let digit_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let mut i = start;
    while digit_at(i) {
        i += 1;
    }
    if bytes.get(i) == Some(&b'.') && digit_at(i + 1) {
        i += 1;
        while digit_at(i) {
            i += 1;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if digit_at(j) {
            i = j;
            while digit_at(i) {
                i += 1;
            }
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, &str)> {
        tokenize(src, SourceId(0))
            .into_iter()
            .map(|t| (t.kind, &src[t.span.range()]))
            .collect()
    }

    #[test]
    fn numbers_and_dotted_operators() {
        use TokenKind::*;
        let cases: &[(&str, &[(TokenKind, &str)])] = &[
            (
                "2.*x",
                &[(Number, "2"), (DotStar, ".*"), (Name, "x"), (Eof, "")],
            ),
            ("1.5E+4", &[(Number, "1.5E+4"), (Eof, "")]),
            (
                ".5./y",
                &[(Number, ".5"), (DotSlash, "./"), (Name, "y"), (Eof, "")],
            ),
            ("1e", &[(Number, "1"), (Name, "e"), (Eof, "")]),
            (
                "x.^2",
                &[(Name, "x"), (DotCaret, ".^"), (Number, "2"), (Eof, "")],
            ),
            (
                "a # c\nb",
                &[(Name, "a"), (Newline, "\n"), (Name, "b"), (Eof, "")],
            ),
            (
                "xᵀ∘y",
                &[
                    (Name, "x"),
                    (Quote, "ᵀ"),
                    (DotStar, "∘"),
                    (Name, "y"),
                    (Eof, ""),
                ],
            ),
            (
                "x.y",
                &[(Name, "x"), (Unknown('.'), "."), (Name, "y"), (Eof, "")],
            ),
            ("λ", &[(Unknown('λ'), "λ"), (Eof, "")]),
        ];
        for (src, expected) in cases {
            assert_eq!(kinds(src), *expected, "input {src:?}");
        }
    }
}
