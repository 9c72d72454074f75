//! The Pratt parser. To be written.

use crate::ast::{Decl, Expr, Program};
use crate::diagnostic::Diagnostic;
use crate::span::SourceId;

/// Parses one expression. Never panics: on error returns what could be recovered
/// (possibly `None`) and at least one diagnostic.
pub fn parse_expr(_src: &str, _source: SourceId) -> (Option<Expr>, Vec<Diagnostic>) {
    (None, Vec::new())
}

/// Parses declarations separated by `;`, `,` or newlines (the `--let` string).
pub fn parse_decls(_src: &str, _source: SourceId) -> (Vec<Decl>, Vec<Diagnostic>) {
    (Vec::new(), Vec::new())
}

/// Parses the `@file` form: declarations (one or more per line), `#` comments, then
/// one expression (which may span several lines).
pub fn parse_program(_src: &str, _source: SourceId) -> (Program, Vec<Diagnostic>) {
    (Program::default(), Vec::new())
}
