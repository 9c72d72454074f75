//! Reading a problem from the command line: `EXPR [--let DECLS]` or `@file`.

use anyhow::Result;
use matdiff::{Function, Source};

use crate::report::Failure;

/// Parses, checks and lowers the function given as `EXPR` (or `@file`) and `--let`,
/// through the library's loader.
///
/// Sources are named as messages show them: `<expr>` (or the file path) first, then
/// `--let`. The library's message, with carets, is printed to stderr and turns into
/// exit code 2.
pub fn load(expr_arg: &str, let_arg: Option<&str>) -> Result<Function> {
    let text;
    let mut sources = Vec::with_capacity(2);
    match expr_arg.strip_prefix('@') {
        Some(path) => {
            text = std::fs::read_to_string(path)
                .map_err(|e| Failure::BadInput(format!("cannot read `{path}`: {e}")))?;
            sources.push(Source::program(path, &text));
        }
        None => sources.push(Source::expression("<expr>", expr_arg)),
    }
    if let Some(decls) = let_arg {
        sources.push(Source::declarations("--let", decls));
    }
    Function::parse_sources(&sources).map_err(|error| {
        error.eprint();
        Failure::Reported(2).into()
    })
}

/// [`load`], for the commands that still work on the symbolic core's function.
pub fn load_function(expr_arg: &str, let_arg: Option<&str>) -> Result<matdiff_core::Function> {
    Ok(load(expr_arg, let_arg)?.into_internal())
}
