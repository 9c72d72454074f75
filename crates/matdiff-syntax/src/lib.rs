//! Syntax of matdiff's matrix notation: a hand-written lexer, a Pratt parser that
//! never panics, an AST with byte spans, and diagnostics as data.
//!
//! Internal; use the `matdiff` crate. This crate's API may change without notice.
//!
//! ```
//! use matdiff_syntax::{parse_expr, parse_program, SourceId};
//!
//! let src = "X: matrix(N, d); w: vector(d)\n1/N * norm2(X*w - y)^2";
//! let (program, diagnostics) = parse_program(src, SourceId(0));
//! assert!(diagnostics.is_empty());
//! assert_eq!(program.decls.len(), 2);
//! let expr = program.expr.unwrap();
//! assert_eq!(expr.to_sexpr(), "(* (/ 1 N) (^ (call norm2 (- (* X w) y)) 2))");
//!
//! // Errors are data: a message, labelled byte spans, and notes.
//! let (_, diagnostics) = parse_expr("determinant(X)", SourceId(0));
//! assert_eq!(diagnostics[0].message, "unknown function `determinant`");
//! assert_eq!(diagnostics[0].notes, ["did you mean `det`?"]);
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
