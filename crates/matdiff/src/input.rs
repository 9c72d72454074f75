//! Reading a problem from the command line: `EXPR [--let DECLS]` or `@file`.

use anyhow::Result;
use matdiff_core::{Function, SourceMap, Texts};
use matdiff_syntax::{parse_decls, parse_expr, parse_program, Diagnostic, Program, Span};

use crate::report::{Failure, Sources};

/// Parses, checks and lowers the function given as `EXPR` (or `@file`) and `--let`.
///
/// Sources are registered in the order the parser sees them: `<expr>` (or the file
/// path) first, then `--let`. Diagnostics are printed to stderr and turn into
/// exit code 2.
pub fn load_function(expr_arg: &str, let_arg: Option<&str>) -> Result<(Sources, Function)> {
    let (sources, function, _) = load_function_mapped(expr_arg, let_arg)?;
    Ok((sources, function))
}

/// [`load_function`], also returning where each node was written (for carets under
/// errors found on the IR).
pub fn load_function_mapped(
    expr_arg: &str,
    let_arg: Option<&str>,
) -> Result<(Sources, Function, SourceMap)> {
    let mut sources = Sources::default();
    let mut texts: Vec<String> = Vec::new();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let mut program = match expr_arg.strip_prefix('@') {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::BadInput(format!("cannot read `{path}`: {e}")))?;
            let id = sources.add(path, text.clone());
            let (program, errors) = parse_program(&text, id);
            diagnostics.extend(errors);
            texts.push(text);
            if diagnostics.is_empty() && program.expr.is_none() {
                return Err(Failure::BadInput(format!(
                    "`{path}` has no expression: write one after the declarations"
                ))
                .into());
            }
            program
        }
        None => {
            let id = sources.add("<expr>", expr_arg);
            let (expr, errors) = parse_expr(expr_arg, id);
            diagnostics.extend(errors);
            texts.push(expr_arg.to_string());
            if diagnostics.is_empty() && expr.is_none() {
                diagnostics.push(Diagnostic::error(
                    "expected an expression",
                    Span::new(id, 0, expr_arg.len()),
                    "empty expression",
                ));
            }
            Program {
                decls: Vec::new(),
                expr,
            }
        }
    };
    if let Some(decls) = let_arg {
        let id = sources.add("--let", decls);
        let (parsed, errors) = parse_decls(decls, id);
        diagnostics.extend(errors);
        texts.push(decls.to_string());
        program.decls.extend(parsed);
    }
    if !diagnostics.is_empty() {
        sources.emit(&diagnostics);
        return Err(Failure::Reported(2).into());
    }
    let text_refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    match matdiff_core::elaborate_with_spans(&program, Texts(&text_refs)) {
        Ok((function, spans)) => Ok((sources, function, spans)),
        Err(diagnostics) => {
            sources.emit(&diagnostics);
            Err(Failure::Reported(2).into())
        }
    }
}
