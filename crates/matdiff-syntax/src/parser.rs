//! The Pratt parser for expressions, and a small line parser for declarations.
//!
//! Parsing never panics and never fails outright: each entry point returns what it
//! could build and the diagnostics it found. A *syntax* error stops the expression
//! at the first problem (one precise diagnostic beats a cascade of guesses); a
//! *name* error (unknown function, wrong arity, unknown kind) is recorded and parsing
//! goes on, so that independent mistakes are reported together. Declarations recover
//! at the next separator, so each bad declaration gets its own diagnostic.
//!
//! Binding powers, lowest first (docs/language.md, "Operators"):
//!
//! | operators        | left bp | right bp | associativity |
//! |------------------|---------|----------|---------------|
//! | `+ -`            | 10      | 11       | left          |
//! | `* / .* ./`      | 20      | 21       | left          |
//! | unary `-`        |         | 30       | prefix        |
//! | `^ .^`           | 40      | 40       | right         |
//! | `'`              | 50      |          | postfix       |

use crate::ast::{BinOp, Decl, DeclKind, DimSpec, Expr, ExprKind, Ident, Program};
use crate::diagnostic::Diagnostic;
use crate::functions::{self, Arity};
use crate::lexer::{tokenize, Token, TokenKind};
use crate::span::{SourceId, Span};

/// Parses one expression. Never panics: on error returns what could be recovered
/// (possibly `None`) and at least one diagnostic.
///
/// Newlines are whitespace here; `#` starts a comment. The result is `Some` with no
/// diagnostics exactly when the input is a well-formed expression.
pub fn parse_expr(src: &str, source: SourceId) -> (Option<Expr>, Vec<Diagnostic>) {
    let tokens = tokenize(src, source);
    let mut parser = ExprParser::new(src, source, &tokens);
    let expr = parser.parse_whole();
    (expr, parser.diags)
}

/// Parses declarations separated by `;`, `,`, newlines or plain whitespace (the
/// `--let` string): `X: matrix(N, d); w: vector(d)  lambda: scalar`.
///
/// Declarations with errors are left out of the result; each gets a diagnostic.
pub fn parse_decls(src: &str, source: SourceId) -> (Vec<Decl>, Vec<Diagnostic>) {
    let tokens = tokenize(src, source);
    let mut parser = DeclParser::new(src, &tokens);
    let decls = parser.decl_list(false);
    (decls, parser.diags)
}

/// Parses the `@file` form: declarations (one or more per line), `#` comments, then
/// one expression (which may span several lines).
///
/// A declaration is recognised by `name :` at its start; the first statement that
/// does not start so is the expression, which runs to the end of the input.
pub fn parse_program(src: &str, source: SourceId) -> (Program, Vec<Diagnostic>) {
    let tokens = tokenize(src, source);
    let mut decl_parser = DeclParser::new(src, &tokens);
    let decls = decl_parser.decl_list(true);
    let mut diags = decl_parser.diags;
    let rest = tokens.get(decl_parser.pos..).unwrap_or(&[]);
    let Some(first) = rest.first().filter(|t| t.kind != TokenKind::Eof) else {
        if diags.is_empty() {
            let end = eof_span(&tokens, source);
            diags.push(if decls.is_empty() {
                Diagnostic::error("empty expression", end, "write an expression here")
            } else {
                Diagnostic::error(
                    "expected an expression after the declarations",
                    end,
                    "the expression should start here",
                )
                .with_note("a file holds declarations first, then one expression")
            });
        }
        return (Program { decls, expr: None }, diags);
    };

    // A declaration on a later line than the expression's start is a misplaced one,
    // not part of the expression: say so instead of "expected an operator".
    let mut expr_tokens = rest;
    let late_decl = rest.windows(3).position(|w| {
        w[0].kind == TokenKind::Newline
            && w[1].kind == TokenKind::Name
            && w[2].kind == TokenKind::Colon
    });
    if let Some(i) = late_decl {
        let (name, colon) = (rest[i + 1], rest[i + 2]);
        diags.push(
            Diagnostic::error(
                "declarations must come before the expression",
                name.span.to(colon.span),
                "move this declaration above the expression",
            )
            .with_label(first.span, "the expression starts here"),
        );
        expr_tokens = &rest[..i];
    }
    let mut expr_parser = ExprParser::new(src, source, expr_tokens);
    let expr = expr_parser.parse_whole();
    diags.extend(expr_parser.diags);
    // Report in reading order: a misplaced declaration is found before the
    // expression above it is parsed.
    diags.sort_by_key(|d| d.primary_span().map(|s| s.start));
    (Program { decls, expr }, diags)
}

/// Deepest nesting of parentheses, unary minus and `^` chains the parser recurses
/// into; beyond it the input is rejected rather than risking the stack.
const MAX_RECURSION: usize = 256;
/// Deepest expression tree accepted (long `a + b + c + …` chains grow the tree
/// without recursing); consumers of the tree recurse over it too.
const MAX_TREE_DEPTH: usize = 4096;

const UNARY_MINUS_BP: u8 = 30;
const TRANSPOSE_BP: u8 = 50;

/// The binary operator a token spells, with its left and right binding powers.
fn infix(kind: TokenKind) -> Option<(BinOp, u8, u8)> {
    Some(match kind {
        TokenKind::Plus => (BinOp::Add, 10, 11),
        TokenKind::Minus => (BinOp::Sub, 10, 11),
        TokenKind::Star => (BinOp::Mul, 20, 21),
        TokenKind::Slash => (BinOp::Div, 20, 21),
        TokenKind::DotStar => (BinOp::ElemMul, 20, 21),
        TokenKind::DotSlash => (BinOp::ElemDiv, 20, 21),
        TokenKind::Caret => (BinOp::Pow, 40, 40),
        TokenKind::DotCaret => (BinOp::ElemPow, 40, 40),
        _ => return None,
    })
}

/// Whether a token is an operator that needs an operand after it.
fn is_operator(kind: TokenKind) -> bool {
    infix(kind).is_some()
}

/// Marker for a syntax error that stops the expression; its diagnostic is already
/// recorded.
struct Fatal;

type PResult<T> = Result<T, Fatal>;

/// A token of an expression; newlines are dropped but remembered, so that an error
/// between two lines can say so.
#[derive(Clone, Copy)]
struct Tok {
    kind: TokenKind,
    span: Span,
    line_break_before: bool,
}

struct ExprParser<'s> {
    src: &'s str,
    /// Never empty; the last token is `Eof`.
    toks: Vec<Tok>,
    pos: usize,
    recursion: usize,
    diags: Vec<Diagnostic>,
}

impl<'s> ExprParser<'s> {
    fn new(src: &'s str, source: SourceId, tokens: &[Token]) -> ExprParser<'s> {
        let mut toks = Vec::with_capacity(tokens.len() + 1);
        let mut line_break_before = false;
        for t in tokens {
            if t.kind == TokenKind::Newline {
                line_break_before = true;
                continue;
            }
            toks.push(Tok {
                kind: t.kind,
                span: t.span,
                line_break_before,
            });
            line_break_before = false;
        }
        if toks.last().is_none_or(|t| t.kind != TokenKind::Eof) {
            // A slice cut before the end of the source: end after its last token.
            let at = tokens.last().map_or(0, |t| t.span.end as usize);
            toks.push(Tok {
                kind: TokenKind::Eof,
                span: Span::new(source, at, at),
                line_break_before,
            });
        }
        ExprParser {
            src,
            toks,
            pos: 0,
            recursion: 0,
            diags: Vec::new(),
        }
    }

    fn peek(&self) -> Tok {
        self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn prev(&self) -> Option<Tok> {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .copied()
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn text(&self, tok: Tok) -> &'s str {
        self.src.get(tok.span.range()).unwrap_or("")
    }

    fn fail(&mut self, diagnostic: Diagnostic) -> Fatal {
        self.diags.push(diagnostic);
        Fatal
    }

    /// The whole input as one expression; `None` after a syntax error.
    fn parse_whole(&mut self) -> Option<Expr> {
        let (expr, _) = self.expr_bp(0).ok()?;
        if self.peek().kind == TokenKind::Eof {
            Some(expr)
        } else {
            self.unexpected_after_operand();
            None
        }
    }

    /// An expression whose operators all bind at least as tightly as `min_bp`, with
    /// the depth of its tree.
    fn expr_bp(&mut self, min_bp: u8) -> PResult<(Expr, usize)> {
        self.recursion += 1;
        let result = if self.recursion > MAX_RECURSION {
            Err(self.too_deep())
        } else {
            self.expr_bp_inner(min_bp)
        };
        self.recursion -= 1;
        result
    }

    fn expr_bp_inner(&mut self, min_bp: u8) -> PResult<(Expr, usize)> {
        let (mut lhs, mut depth) = self.prefix()?;
        loop {
            let tok = self.peek();
            if tok.kind == TokenKind::Quote {
                if TRANSPOSE_BP < min_bp {
                    break;
                }
                self.bump();
                depth += 1;
                lhs = Expr {
                    span: lhs.span.to(tok.span),
                    kind: ExprKind::Transpose(Box::new(lhs)),
                };
            } else if let Some((op, left_bp, right_bp)) = infix(tok.kind) {
                if left_bp < min_bp {
                    break;
                }
                self.bump();
                let (rhs, rhs_depth) = self.expr_bp(right_bp)?;
                depth = depth.max(rhs_depth) + 1;
                lhs = Expr {
                    span: lhs.span.to(rhs.span),
                    kind: ExprKind::Binary {
                        op,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    },
                };
            } else {
                break;
            }
            if depth > MAX_TREE_DEPTH {
                return Err(self.too_deep());
            }
        }
        Ok((lhs, depth))
    }

    /// An operand: a number, a name, a call, `( … )`, `< … , … >` or `-operand`.
    fn prefix(&mut self) -> PResult<(Expr, usize)> {
        let tok = self.peek();
        match tok.kind {
            TokenKind::Number => {
                self.bump();
                let text = self.text(tok);
                match text.parse::<f64>() {
                    Ok(value) if value.is_finite() => Ok((
                        Expr {
                            kind: ExprKind::Number(value),
                            span: tok.span,
                        },
                        1,
                    )),
                    _ => Err(self.fail(Diagnostic::error(
                        format!("number `{text}` is too large"),
                        tok.span,
                        "does not fit in a 64-bit float",
                    ))),
                }
            }
            TokenKind::Name => self.name_or_call(),
            TokenKind::LParen => {
                self.bump();
                let (mut inner, depth) = self.expr_bp(0)?;
                let close = self.expect_close(TokenKind::RParen, tok)?;
                // The parentheses belong to the node, so carets underline them too.
                inner.span = tok.span.to(close.span);
                Ok((inner, depth))
            }
            TokenKind::Lt => self.inner_product(),
            TokenKind::Minus => {
                self.bump();
                let (operand, depth) = self.expr_bp(UNARY_MINUS_BP)?;
                Ok((
                    Expr {
                        span: tok.span.to(operand.span),
                        kind: ExprKind::Neg(Box::new(operand)),
                    },
                    depth + 1,
                ))
            }
            _ => Err(self.expected_operand()),
        }
    }

    /// A name: a variable, a call `f(…)`, or a bare `eye` / `ones`.
    fn name_or_call(&mut self) -> PResult<(Expr, usize)> {
        let tok = self.bump();
        let func = Ident {
            name: self.text(tok).to_string(),
            span: tok.span,
        };
        if self.peek().kind == TokenKind::LParen {
            return self.call(func);
        }
        match functions::arity(&func.name) {
            None => Ok((
                Expr {
                    kind: ExprKind::Name(func.name),
                    span: tok.span,
                },
                1,
            )),
            Some(Arity::ZeroOrOne) => Ok((
                Expr {
                    kind: ExprKind::Call {
                        func,
                        args: Vec::new(),
                    },
                    span: tok.span,
                },
                1,
            )),
            Some(_) => {
                let name = &func.name;
                Err(self.fail(
                    Diagnostic::error(
                        format!("expected `(` after function `{name}`"),
                        tok.span,
                        "a function needs its argument in parentheses",
                    )
                    .with_note(format!(
                        "write `{name}(…)`; `{name}` cannot be used as a variable name"
                    )),
                ))
            }
        }
    }

    /// `func( args )`, the opening parenthesis next.
    fn call(&mut self, func: Ident) -> PResult<(Expr, usize)> {
        let open = self.bump();
        let mut args = Vec::new();
        let mut depth = 0;
        let close = if self.peek().kind == TokenKind::RParen {
            self.bump()
        } else {
            loop {
                let (arg, arg_depth) = self.expr_bp(0)?;
                depth = depth.max(arg_depth);
                args.push(arg);
                match self.peek().kind {
                    TokenKind::Comma => {
                        self.bump();
                    }
                    TokenKind::RParen => break self.bump(),
                    TokenKind::Eof => return Err(self.unclosed(open)),
                    _ => return Err(self.unexpected_after_operand()),
                }
            }
        };
        let span = func.span.to(close.span);
        self.check_arity(&func, args.len(), span);
        // `dot(a, b)` is the inner product, spelt as a call.
        let kind = match <[Expr; 2]>::try_from(args) {
            Ok([a, b]) if func.name == "dot" => ExprKind::Inner(Box::new(a), Box::new(b)),
            Ok(pair) => ExprKind::Call {
                func,
                args: pair.into(),
            },
            Err(args) => ExprKind::Call { func, args },
        };
        Ok((Expr { kind, span }, depth + 1))
    }

    /// Records a diagnostic when `func` is unknown or called with the wrong number of
    /// arguments; parsing goes on either way.
    fn check_arity(&mut self, func: &Ident, found: usize, call_span: Span) {
        let name = &func.name;
        let expected = match functions::arity(name) {
            None => {
                let mut d = Diagnostic::error(
                    format!("unknown function `{name}`"),
                    func.span,
                    "not a built-in function",
                );
                d = match suggest_function(name) {
                    Some(s) => d.with_note(s),
                    None => d.with_note(format!("to multiply, write `{name}*(…)`")),
                };
                self.diags.push(d);
                return;
            }
            Some(Arity::Exactly(n)) if n != found => plural(n, "argument"),
            Some(Arity::ZeroOrOne) if found > 1 => "at most 1 argument".to_string(),
            Some(_) => return,
        };
        self.diags.push(Diagnostic::error(
            format!("`{name}` takes {expected}, found {found}"),
            call_span,
            format!("expected {expected}"),
        ));
    }

    /// `< a , b >`, the `<` next.
    fn inner_product(&mut self) -> PResult<(Expr, usize)> {
        let open = self.bump();
        let (a, a_depth) = self.expr_bp(0)?;
        let t = self.peek();
        match t.kind {
            TokenKind::Comma => {
                self.bump();
            }
            TokenKind::Eof => return Err(self.unclosed(open)),
            TokenKind::Gt => {
                return Err(self.fail(
                    Diagnostic::error(
                        "expected `,` in inner product",
                        t.span,
                        "an inner product needs two operands",
                    )
                    .with_label(open.span, "inner product starts here")
                    .with_note("write `<a, b>`"),
                ))
            }
            TokenKind::Name | TokenKind::Number | TokenKind::LParen | TokenKind::Lt => {
                return Err(self.fail(
                    Diagnostic::error(
                        "expected `,` between the operands of the inner product",
                        t.span,
                        "expected `,` before this",
                    )
                    .with_label(open.span, "inner product starts here")
                    .with_note("write `<a, b>`"),
                ))
            }
            _ => return Err(self.unexpected_after_operand()),
        }
        let (b, b_depth) = self.expr_bp(0)?;
        let t = self.peek();
        let close = match t.kind {
            TokenKind::Gt => self.bump(),
            TokenKind::Eof => return Err(self.unclosed(open)),
            TokenKind::Comma => {
                return Err(self.fail(
                    Diagnostic::error(
                        "an inner product takes two operands",
                        t.span,
                        "a third operand starts here",
                    )
                    .with_label(open.span, "inner product starts here"),
                ))
            }
            _ => return Err(self.unexpected_after_operand()),
        };
        Ok((
            Expr {
                span: open.span.to(close.span),
                kind: ExprKind::Inner(Box::new(a), Box::new(b)),
            },
            a_depth.max(b_depth) + 1,
        ))
    }

    /// Consumes the closing token of `open` or reports why it is missing.
    fn expect_close(&mut self, close: TokenKind, open: Tok) -> PResult<Tok> {
        match self.peek().kind {
            k if k == close => Ok(self.bump()),
            TokenKind::Eof => Err(self.unclosed(open)),
            _ => Err(self.unexpected_after_operand()),
        }
    }

    /// The input ended inside `open`.
    fn unclosed(&mut self, open: Tok) -> Fatal {
        let end = self.prev().map_or(open.span.end, |t| t.span.end) as usize;
        let end = Span::new(open.span.source, end, end);
        let d = unclosed_diagnostic(self.text(open), open.span, end);
        self.fail(d)
    }

    /// A complete operand is followed by a token that neither continues it nor
    /// closes what encloses it.
    fn unexpected_after_operand(&mut self) -> Fatal {
        let t = self.peek();
        let d = match t.kind {
            TokenKind::Name | TokenKind::Number | TokenKind::LParen => {
                let before = self.prev().map_or("", |p| self.text(p));
                let d = Diagnostic::error(
                    format!(
                        "expected an operator between `{before}` and `{}`",
                        self.text(t)
                    ),
                    t.span,
                    "expected an operator before this",
                );
                if t.line_break_before {
                    d.with_note(
                        "an expression may span lines but is one formula: \
                         join the lines with an operator",
                    )
                } else {
                    d.with_note("write `*` for a product, e.g. `2*x`")
                }
            }
            _ => self.unexpected_token(t),
        };
        self.fail(d)
    }

    /// A token that cannot start an operand where one is expected.
    fn expected_operand(&mut self) -> Fatal {
        let t = self.peek();
        let prev = self.prev();
        let prev_kind = prev.map(|p| p.kind);
        let d = match t.kind {
            TokenKind::Unknown(c) => unknown_char(c, t.span),
            TokenKind::Eof => match prev {
                None => Diagnostic::error("empty expression", t.span, "write an expression here"),
                Some(p) if matches!(p.kind, TokenKind::LParen | TokenKind::Lt) => {
                    return self.unclosed(p);
                }
                Some(p) => self.missing_right_operand(p),
            },
            TokenKind::RParen | TokenKind::Gt | TokenKind::Comma => match prev {
                None => self.unexpected_token(t),
                Some(p) if p.kind == TokenKind::LParen && t.kind == TokenKind::RParen => {
                    Diagnostic::error(
                        "empty parentheses",
                        p.span.to(t.span),
                        "expected an expression inside",
                    )
                }
                Some(p) if p.kind == TokenKind::Lt && t.kind == TokenKind::Gt => Diagnostic::error(
                    "empty inner product",
                    p.span.to(t.span),
                    "expected two operands inside",
                )
                .with_note("write `<a, b>`"),
                Some(p) if is_operator(p.kind) => self.missing_right_operand(p),
                Some(p) => Diagnostic::error(
                    format!(
                        "expected an expression after `{}`, found `{}`",
                        self.text(p),
                        self.text(t)
                    ),
                    t.span,
                    "expected an expression before this",
                ),
            },
            kind if is_operator(kind) || kind == TokenKind::Quote => {
                let op = self.text(t);
                let mut d = match prev {
                    Some(p) if is_operator(p.kind) => Diagnostic::error(
                        format!(
                            "expected an expression between `{}` and `{op}`",
                            self.text(p)
                        ),
                        t.span,
                        "this operator needs an operand on its left",
                    ),
                    _ => Diagnostic::error(
                        format!("expected an expression before `{op}`"),
                        t.span,
                        "this operator needs an operand on its left",
                    ),
                };
                if kind == TokenKind::Plus {
                    d = d.with_note("there is no unary `+`: remove it");
                } else if kind == TokenKind::Star
                    && prev_kind == Some(TokenKind::Star)
                    && prev.is_some_and(|p| p.span.end == t.span.start)
                {
                    d = d.with_note("write `^` for powers, e.g. `x^2`");
                }
                d
            }
            _ => self.unexpected_token(t),
        };
        self.fail(d)
    }

    /// `x +` at the end, or `x + )`: the operator `op` has no right operand.
    fn missing_right_operand(&self, op: Tok) -> Diagnostic {
        let text = self.text(op);
        let label = if is_operator(op.kind) {
            "this operator needs an operand on its right"
        } else {
            "expected an expression after this"
        };
        Diagnostic::error(
            format!("expected an expression after `{text}`"),
            op.span,
            label,
        )
    }

    /// Punctuation that has no place where it stands.
    fn unexpected_token(&self, t: Tok) -> Diagnostic {
        let text = self.text(t);
        match t.kind {
            TokenKind::Unknown(c) => unknown_char(c, t.span),
            TokenKind::RParen => Diagnostic::error("unmatched `)`", t.span, "no `(` is open here")
                .with_note("remove it, or add the missing `(`"),
            TokenKind::Gt => {
                Diagnostic::error(format!("unexpected `{text}`"), t.span, "not an operator")
                    .with_note("`<` and `>` only enclose inner products, e.g. `<a, b>`")
            }
            TokenKind::Lt => {
                Diagnostic::error(format!("unexpected `{text}`"), t.span, "not an operator")
                    .with_note("`<` and `>` only enclose inner products, e.g. `<a, b>`")
            }
            TokenKind::Comma => Diagnostic::error("unexpected `,`", t.span, "not expected here")
                .with_note("commas separate function arguments and the operands of `<a, b>`"),
            TokenKind::Colon => Diagnostic::error("unexpected `:`", t.span, "not expected here")
                .with_note("declare variables before the expression, e.g. `x: vector(n)`"),
            TokenKind::Semi => Diagnostic::error("unexpected `;`", t.span, "not expected here")
                .with_note("`;` separates declarations, which come before the expression"),
            TokenKind::Eof => {
                Diagnostic::error("unexpected end of input", t.span, "the input ends here")
            }
            _ => Diagnostic::error(format!("unexpected `{text}`"), t.span, "not expected here"),
        }
    }

    fn too_deep(&mut self) -> Fatal {
        let t = self.peek();
        self.fail(
            Diagnostic::error(
                "expression is nested too deeply",
                t.span,
                "nesting limit reached here",
            )
            .with_note(format!(
                "an expression may nest parentheses, calls, unary minus and `^` {MAX_RECURSION} deep, and chain {MAX_TREE_DEPTH} operators; split it into smaller parts"
            )),
        )
    }
}

/// A hint for an unknown function name: a common spelling from other tools, or the
/// closest built-in when it is close relative to the name's length (so that `x(…)`
/// is not taken for `tr`).
fn suggest_function(name: &str) -> Option<String> {
    let alias = match name {
        "determinant" => Some("det"),
        "inverse" => Some("inv"),
        "ln" => Some("log"),
        "norm" => Some("norm2"),
        "logistic" | "expit" => Some("sigmoid"),
        "diagonal" => Some("diag"),
        "identity" | "I" => Some("eye"),
        "inner" => Some("dot"),
        _ => None,
    };
    if let Some(alias) = alias {
        return Some(format!("did you mean `{alias}`?"));
    }
    if matches!(name, "transpose" | "t") {
        return Some("write `X'` for the transpose of `X`".to_string());
    }
    let candidate = functions::suggest(name)?;
    (functions::edit_distance(name, candidate) < name.len())
        .then(|| format!("did you mean `{candidate}`?"))
}

/// "1 argument", "2 dimensions".
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The input ended inside the bracket `open` (written `open_text`); `end` is where
/// the closing bracket was expected.
fn unclosed_diagnostic(open_text: &str, open: Span, end: Span) -> Diagnostic {
    let close = match open_text {
        "⟨" => "⟩",
        "<" => ">",
        _ => ")",
    };
    Diagnostic::error(
        format!("unclosed `{open_text}`"),
        open,
        format!("this `{open_text}` is never closed"),
    )
    .with_label(end, format!("expected `{close}` here"))
}

/// A character that is not part of the language, with a hint when we can guess
/// what was meant.
fn unknown_char(c: char, span: Span) -> Diagnostic {
    let shown: String = c.escape_debug().collect();
    let d = Diagnostic::error(
        format!("unexpected character `{shown}`"),
        span,
        "not part of the language",
    );
    let greek = match c {
        'α' => Some("alpha"),
        'β' => Some("beta"),
        'γ' => Some("gamma"),
        'δ' => Some("delta"),
        'ε' => Some("eps"),
        'η' => Some("eta"),
        'λ' => Some("lambda"),
        'μ' => Some("mu"),
        'ν' => Some("nu"),
        'ρ' => Some("rho"),
        'σ' => Some("sigma"),
        'τ' => Some("tau"),
        _ => None,
    };
    if let Some(name) = greek {
        return d.with_note(format!("names are ASCII: write `{name}`"));
    }
    match c {
        '.' => d.with_note("a `.` belongs in a number (`0.5`) or in `.*`, `./`, `.^`"),
        '×' => d.with_note("write `*` for a product"),
        '²' => d.with_note("write `^2` for a square"),
        '[' | ']' | '{' | '}' => d.with_note("use `(` and `)` for grouping"),
        '=' => d.with_note("write only the expression, without `f =`"),
        '|' => d.with_note("write `abs(x)` or `norm2(x)` instead of bars"),
        _ => d,
    }
}

/// The span just after the last token of `tokens`, or the start of the input.
fn eof_span(tokens: &[Token], source: SourceId) -> Span {
    let end = tokens
        .iter()
        .rev()
        .find(|t| !matches!(t.kind, TokenKind::Newline | TokenKind::Eof))
        .map_or(0, |t| t.span.end as usize);
    Span::new(source, end, end)
}

const KIND_NOTE: &str = "kinds are `scalar`, `vector(n)`, `matrix(m, n)`, `symmetric(n)`, `spd(n)`";

const KINDS: [DeclKind; 5] = [
    DeclKind::Scalar,
    DeclKind::Vector,
    DeclKind::Matrix,
    DeclKind::Symmetric,
    DeclKind::Spd,
];

/// The closest kind keyword to a misspelt one (edit distance at most 2, ignoring
/// case), preferring a shared prefix of 3 letters: `sym` → `symmetric`.
fn suggest_kind(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let by_prefix = lower.get(..3).and_then(|prefix| {
        KINDS
            .iter()
            .map(|k| k.keyword())
            .find(|k| k.starts_with(prefix))
    });
    by_prefix.or_else(|| {
        KINDS
            .iter()
            .map(|k| (functions::edit_distance(&lower, k.keyword()), k.keyword()))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, k)| k)
    })
}

struct DeclParser<'s> {
    src: &'s str,
    /// Never empty; the last token is `Eof`.
    toks: &'s [Token],
    pos: usize,
    diags: Vec<Diagnostic>,
}

impl<'s> DeclParser<'s> {
    fn new(src: &'s str, toks: &'s [Token]) -> DeclParser<'s> {
        DeclParser {
            src,
            toks,
            pos: 0,
            diags: Vec::new(),
        }
    }

    fn peek_at(&self, ahead: usize) -> Token {
        let last = self.toks.len().saturating_sub(1);
        self.toks[(self.pos + ahead).min(last)]
    }

    fn peek(&self) -> Token {
        self.peek_at(0)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn text(&self, tok: Token) -> &'s str {
        self.src.get(tok.span.range()).unwrap_or("")
    }

    fn at_decl_start(&self) -> bool {
        self.peek().kind == TokenKind::Name && self.peek_at(1).kind == TokenKind::Colon
    }

    fn fail(&mut self, diagnostic: Diagnostic) -> Fatal {
        self.diags.push(diagnostic);
        Fatal
    }

    /// Declarations until the end, or (when `expr_may_follow`) until the first
    /// statement that is not a declaration, where the parser stops.
    fn decl_list(&mut self, expr_may_follow: bool) -> Vec<Decl> {
        let mut decls: Vec<Decl> = Vec::new();
        // Where each name was first declared, so a repeat is found in constant time.
        let mut declared: std::collections::HashMap<String, usize> =
            std::collections::HashMap::new();
        loop {
            while matches!(
                self.peek().kind,
                TokenKind::Newline | TokenKind::Semi | TokenKind::Comma
            ) {
                self.bump();
            }
            let t = self.peek();
            if t.kind == TokenKind::Eof {
                break;
            }
            if !self.at_decl_start() {
                if expr_may_follow {
                    break;
                }
                let next = self.peek_at(1).kind;
                let d = if t.kind == TokenKind::Name
                    && (is_operator(next) || matches!(next, TokenKind::Quote | TokenKind::LParen))
                {
                    Diagnostic::error(
                        "expected a declaration, found an expression",
                        t.span,
                        "expected `name: kind` here",
                    )
                    .with_note("declarations hold no expression: pass it as its own argument")
                } else if t.kind == TokenKind::Name {
                    Diagnostic::error(
                        format!("expected `:` after `{}`", self.text(t)),
                        t.span,
                        "expected a declaration",
                    )
                    .with_note(format!("declare like `{}: vector(n)`", self.text(t)))
                } else if let TokenKind::Unknown(c) = t.kind {
                    unknown_char(c, t.span)
                } else {
                    Diagnostic::error(
                        format!("expected a declaration, found `{}`", self.text(t)),
                        t.span,
                        "expected a name here",
                    )
                    .with_note("declare like `x: vector(n)`")
                };
                self.diags.push(d);
                self.recover();
                continue;
            }
            match self.decl() {
                Ok(Some(decl)) => {
                    if let Some(first) = declared.get(&decl.name.name).map(|&k| &decls[k]) {
                        let d = Diagnostic::error(
                            format!("`{}` is declared twice", decl.name.name),
                            decl.name.span,
                            "declared again here",
                        )
                        .with_label(first.name.span, "first declared here")
                        .with_note("remove one of the declarations");
                        self.diags.push(d);
                    } else {
                        declared.insert(decl.name.name.clone(), decls.len());
                        decls.push(decl);
                    }
                }
                Ok(None) => {}
                Err(Fatal) => {
                    self.recover();
                    continue;
                }
            }
            // What may follow a declaration: a separator, the next declaration, the
            // end, or (in a file) the expression.
            let t = self.peek();
            let separated = matches!(
                t.kind,
                TokenKind::Newline | TokenKind::Semi | TokenKind::Comma | TokenKind::Eof
            );
            if separated || self.at_decl_start() {
                continue;
            }
            if expr_may_follow {
                break;
            }
            let d = match t.kind {
                TokenKind::Unknown(c) => unknown_char(c, t.span),
                _ => Diagnostic::error(
                    format!(
                        "expected `;` or a new line after the declaration, found `{}`",
                        self.text(t)
                    ),
                    t.span,
                    "unexpected here",
                )
                .with_note(
                    "separate declarations with `;`, `,` or new lines; \
                     dimensions go in parentheses, e.g. `x: vector(n)`",
                ),
            };
            self.diags.push(d);
            self.recover();
        }
        decls
    }

    /// Skips the rest of a bad declaration: up to a separator outside parentheses,
    /// or the start of the next declaration. Always moves past at least one token.
    fn recover(&mut self) {
        let mut depth = 0usize;
        if matches!(
            self.peek().kind,
            TokenKind::LParen | TokenKind::Unknown('[' | '{')
        ) {
            depth += 1;
        }
        self.bump();
        loop {
            let t = self.peek();
            match t.kind {
                TokenKind::Eof | TokenKind::Newline | TokenKind::Semi => return,
                TokenKind::Comma if depth == 0 => return,
                TokenKind::Name if depth == 0 && self.at_decl_start() => return,
                // Square and curly brackets are not tokens, but they nest like
                // parentheses in what users mistype: `X: matrix[N, d]`.
                TokenKind::LParen | TokenKind::Unknown('[' | '{') => depth += 1,
                TokenKind::RParen | TokenKind::Unknown(']' | '}') => {
                    depth = depth.saturating_sub(1)
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// `name : kind ( dims )?`, at a `name :`. `Ok(None)` when the declaration is
    /// well-formed but wrong (unknown kind, wrong number of dimensions): its
    /// diagnostic is recorded and parsing goes on after it.
    fn decl(&mut self) -> PResult<Option<Decl>> {
        let name_tok = self.bump();
        let colon = self.bump();
        let name = Ident {
            name: self.text(name_tok).to_string(),
            span: name_tok.span,
        };
        let kind_tok = self.peek();
        if kind_tok.kind != TokenKind::Name {
            let d = match kind_tok.kind {
                TokenKind::Unknown(c) => unknown_char(c, kind_tok.span),
                TokenKind::Newline | TokenKind::Eof | TokenKind::Semi | TokenKind::Comma => {
                    Diagnostic::error(
                        format!("expected a kind after `{}:`", name.name),
                        colon.span,
                        "expected a kind after this",
                    )
                    .with_note(KIND_NOTE)
                }
                _ => Diagnostic::error(
                    format!(
                        "expected a kind after `{}:`, found `{}`",
                        name.name,
                        self.text(kind_tok)
                    ),
                    kind_tok.span,
                    "expected a kind here",
                )
                .with_note(KIND_NOTE),
            };
            return Err(self.fail(d));
        }
        self.bump();
        let kind_text = self.text(kind_tok);
        let kind = KINDS.into_iter().find(|k| k.keyword() == kind_text);
        let mut ok = true;
        if kind.is_none() {
            let d = Diagnostic::error(
                format!("unknown kind `{kind_text}`"),
                kind_tok.span,
                "not a kind",
            );
            self.diags.push(match suggest_kind(kind_text) {
                Some(s) => d.with_note(format!("did you mean `{s}`?")),
                None => d.with_note(KIND_NOTE),
            });
            ok = false;
        }
        if functions::arity(&name.name).is_some() {
            self.diags.push(Diagnostic::error(
                format!(
                    "`{}` is a built-in function and cannot be declared",
                    name.name
                ),
                name.span,
                "choose another name",
            ));
            ok = false;
        }
        let mut end = kind_tok.span;
        let mut dims = Vec::new();
        if self.peek().kind == TokenKind::LParen {
            let (parsed, dims_span) = self.dims()?;
            dims = parsed;
            end = dims_span;
            if let Some(kind) = kind {
                let expected = kind.dim_count();
                if dims.len() != expected {
                    let keyword = kind.keyword();
                    let wanted = if expected == 0 {
                        "no dimensions".to_string()
                    } else {
                        plural(expected, "dimension")
                    };
                    let example = match kind {
                        DeclKind::Scalar => format!("`{}: scalar`", name.name),
                        DeclKind::Matrix => {
                            format!(
                                "`{0}: matrix(m, n)`, or leave them out: `{0}: matrix`",
                                name.name
                            )
                        }
                        _ => format!(
                            "`{0}: {keyword}(n)`, or leave it out: `{0}: {keyword}`",
                            name.name
                        ),
                    };
                    self.diags.push(
                        Diagnostic::error(
                            format!("`{keyword}` takes {wanted}, found {}", dims.len()),
                            dims_span,
                            format!("expected {wanted}"),
                        )
                        .with_note(format!("write {example}")),
                    );
                    ok = false;
                }
            }
        }
        Ok(match kind {
            Some(kind) if ok => Some(Decl {
                span: name.span.to(end),
                name,
                kind,
                kind_span: kind_tok.span,
                dims,
            }),
            _ => None,
        })
    }

    /// `( dim, … )` with the span of the parentheses, the `(` next.
    fn dims(&mut self) -> PResult<(Vec<DimSpec>, Span)> {
        let open = self.bump();
        let mut dims = Vec::new();
        if self.peek().kind == TokenKind::RParen {
            let close = self.bump();
            return Ok((dims, open.span.to(close.span)));
        }
        loop {
            let t = self.peek();
            match t.kind {
                TokenKind::Name => {
                    self.bump();
                    dims.push(DimSpec::Name(Ident {
                        name: self.text(t).to_string(),
                        span: t.span,
                    }));
                }
                TokenKind::Number => {
                    self.bump();
                    let text = self.text(t);
                    let size = text
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                        .then(|| text.parse::<u64>().ok())
                        .flatten();
                    match size {
                        Some(n) => dims.push(DimSpec::Size(n, t.span)),
                        None => return Err(self.bad_dim(t)),
                    }
                }
                TokenKind::Minus => return Err(self.bad_dim(t)),
                TokenKind::Eof | TokenKind::Newline | TokenKind::Semi => {
                    return Err(self.unclosed(open))
                }
                TokenKind::Unknown(c) => return Err(self.fail(unknown_char(c, t.span))),
                _ => {
                    let d = Diagnostic::error(
                        format!("expected a dimension, found `{}`", self.text(t)),
                        t.span,
                        "expected a name or a size here",
                    );
                    return Err(self.fail(d));
                }
            }
            let t = self.peek();
            match t.kind {
                TokenKind::Comma => {
                    self.bump();
                }
                TokenKind::RParen => {
                    let close = self.bump();
                    return Ok((dims, open.span.to(close.span)));
                }
                TokenKind::Eof | TokenKind::Newline | TokenKind::Semi => {
                    return Err(self.unclosed(open))
                }
                TokenKind::Name | TokenKind::Number => {
                    let d = Diagnostic::error(
                        "expected `,` between dimensions",
                        t.span,
                        "expected `,` before this",
                    );
                    return Err(self.fail(d));
                }
                TokenKind::Unknown(c) => return Err(self.fail(unknown_char(c, t.span))),
                _ => {
                    let d = Diagnostic::error(
                        format!("expected `,` or `)`, found `{}`", self.text(t)),
                        t.span,
                        "unexpected here",
                    );
                    return Err(self.fail(d));
                }
            }
        }
    }

    fn bad_dim(&mut self, t: Token) -> Fatal {
        let d = Diagnostic::error(
            format!(
                "a dimension must be a name or a non-negative integer, found `{}`",
                self.text(t)
            ),
            t.span,
            "not a dimension",
        );
        self.fail(d)
    }

    /// The declaration ended inside `open` (its dimensions).
    fn unclosed(&mut self, open: Token) -> Fatal {
        let end = self
            .toks
            .get(..self.pos)
            .and_then(|before| before.last())
            .map_or(open.span.end, |t| t.span.end) as usize;
        let end = Span::new(open.span.source, end, end);
        let d = unclosed_diagnostic(self.text(open), open.span, end);
        self.fail(d)
    }
}
