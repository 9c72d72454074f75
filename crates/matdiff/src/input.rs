//! Reading a problem from the command line: `EXPR [--let DECLS]` or `@file`.

use anyhow::Result;
use matdiff_core::{Function, Texts};
use matdiff_num::data::{CsvHeader, DataError};
use matdiff_syntax::{parse_decls, parse_expr, parse_program, Diagnostic, Program, Span};

use crate::report::{Failure, Sources};

/// The largest expression or declaration file read (`@file`): 16 MiB.
pub const EXPRESSION_FILE_MAX_BYTES: u64 = 16 << 20;
/// The largest JSON value file read (`--at`, `--data X=x.json`, `--init`): 256 MiB.
pub const JSON_FILE_MAX_BYTES: u64 = 256 << 20;

/// Reads a text file of at most `limit` bytes (an endless or huge file is refused
/// after `limit + 1` bytes, never read to the end); `what` names the file's role.
pub fn read_text(path: &str, limit: u64, what: &str) -> Result<String, Failure> {
    use std::io::Read;
    let cannot = |e: std::io::Error| Failure::BadInput(format!("cannot read `{path}`: {e}"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > limit {
        return Err(Failure::BadInput(format!(
            "`{path}` is larger than {} ({limit} bytes), the most {what} may have",
            matdiff_num::memory::describe_bytes(limit)
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        Failure::BadInput(format!(
            "`{path}` is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Whether CSV data files have a header row: `--no-header` says they have none.
static CSV_HEADER: std::sync::OnceLock<CsvHeader> = std::sync::OnceLock::new();

/// Records `--no-header` for every CSV data file this run reads.
pub fn set_csv_header(header: CsvHeader) {
    let _ = CSV_HEADER.set(header);
}

/// Whether the CSV data files of this run have a header row.
pub fn csv_header() -> CsvHeader {
    CSV_HEADER.get().copied().unwrap_or_default()
}

/// Reads a matrix from a CSV (per `--no-header`) or `.npy` data file.
pub fn load_matrix(path: impl AsRef<std::path::Path>) -> Result<faer::Mat<f64>, DataError> {
    matdiff_num::data::load_matrix_with(path, csv_header())
}

/// Parses, checks and lowers the function given as `EXPR` (or `@file`) and `--let`.
///
/// Sources are registered in the order the parser sees them: `<expr>` (or the file
/// path) first, then `--let`. Diagnostics are printed to stderr and turn into
/// exit code 2.
pub fn load_function(expr_arg: &str, let_arg: Option<&str>) -> Result<(Sources, Function)> {
    let mut sources = Sources::default();
    let mut texts: Vec<String> = Vec::new();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let mut program = match expr_arg.strip_prefix('@') {
        Some(path) => {
            let text = read_text(path, EXPRESSION_FILE_MAX_BYTES, "an expression file")?;
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
    match matdiff_core::elaborate_in(&program, Texts(&text_refs)) {
        Ok(function) => Ok((sources, function)),
        Err(diagnostics) => {
            sources.emit(&diagnostics);
            Err(Failure::Reported(2).into())
        }
    }
}
