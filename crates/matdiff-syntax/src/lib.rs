//! Syntax of matdiff's matrix notation: a hand-written lexer, a Pratt parser that
//! never panics, an AST with byte spans, and diagnostics as data.
//!
//! ```text
//! X: matrix(N, d); w: vector(d)
//! 1/N * norm2(X*w - y)^2
//! ```

pub mod ast;
pub mod diagnostic;
pub mod functions;
pub mod lexer;
pub mod parser;
pub mod span;

pub use ast::{BinOp, Decl, DeclKind, DimSpec, Expr, ExprKind, Ident, Program};
pub use diagnostic::{Diagnostic, Label, Severity};
pub use parser::{parse_decls, parse_expr, parse_program};
pub use span::{SourceId, Span};
