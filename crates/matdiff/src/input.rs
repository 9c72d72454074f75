//! Reading a problem from the command line: `EXPR [--let DECLS]`, `@file`, or `-`
//! and `@-` for standard input; and reading a point (`--at`, `--init`): JSON inline or
//! `@file`.

use anyhow::Result;
use matdiff::data::{CsvHeader, DataError};
use matdiff::{Function, Source};

use crate::report::Failure;

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
            matdiff::memory::describe_bytes(limit)
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        Failure::BadInput(format!(
            "`{path}` is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Reads the expression (`-`) or the declarations and expression (`@-`) from
/// standard input, at most [`EXPRESSION_FILE_MAX_BYTES`].
fn read_stdin() -> Result<String, Failure> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(EXPRESSION_FILE_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::BadInput(format!("cannot read standard input: {e}")))?;
    if bytes.len() as u64 > EXPRESSION_FILE_MAX_BYTES {
        return Err(Failure::BadInput(
            "standard input is larger than 16 MiB, the most an expression may have".to_owned(),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| Failure::BadInput("standard input is not UTF-8 text".to_owned()))
}

/// A point or an input as the command line gives it (`--at`, `--init`): JSON inline
/// (an object by variable name, or a bare value), `@FILE` (`@-` for standard input),
/// or the path of an existing file. Returns the JSON text and the name of its source
/// for messages (the file, or the flag).
pub fn read_point(flag: &str, arg: &str) -> Result<(String, String), Failure> {
    let file = |path: &str| -> Result<(String, String), Failure> {
        let text = if path == "-" {
            read_stdin()?
        } else {
            read_text(path, JSON_FILE_MAX_BYTES, "a JSON inputs file")?
        };
        check_json(path, &text)?;
        Ok((text, path.to_owned()))
    };
    if let Some(path) = arg.strip_prefix('@') {
        return file(path);
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(arg).is_ok() {
        return Ok((arg.to_owned(), flag.to_owned()));
    }
    if std::path::Path::new(arg).exists() {
        return file(arg);
    }
    let hint = if arg.ends_with(".json") {
        "no such file"
    } else {
        "not valid JSON"
    };
    Err(Failure::BadInput(format!(
        "{flag} `{arg}`: {hint} — give JSON (an object by variable name, or the bare value of one variable) or @FILE"
    )))
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
    matdiff::data::load_matrix_with(path, csv_header())
}

/// Parses, checks and lowers the function given as `EXPR` (or `@file`) and `--let`,
/// through the library's loader.
///
/// Sources are named as messages show them: `<expr>` (or the file path) first, then
/// `--let`. The library's message, with carets, is printed to stderr and turns into
/// exit code 2.
pub fn load(expr_arg: &str, let_arg: Option<&str>) -> Result<Function> {
    let text;
    let mut sources = Vec::with_capacity(2);
    match expr_arg {
        "-" => {
            text = read_stdin()?;
            sources.push(Source::expression("<stdin>", text.trim_end()));
        }
        "@-" => {
            text = read_stdin()?;
            sources.push(Source::program("<stdin>", &text));
        }
        _ => match expr_arg.strip_prefix('@') {
            Some(path) => {
                text = read_text(path, EXPRESSION_FILE_MAX_BYTES, "an expression file")?;
                sources.push(Source::program(path, &text));
            }
            None => sources.push(Source::expression("<expr>", expr_arg)),
        },
    }
    if let Some(decls) = let_arg {
        sources.push(Source::declarations("--let", decls));
    }
    Function::parse_sources(&sources).map_err(|error| {
        error.eprint();
        Failure::Reported(2).into()
    })
}

/// Refuses text that is not JSON, with the file, line and column of the fault
/// (`start.json:2:2: not valid JSON: expected `,` or `]``).
pub fn check_json(file: &str, text: &str) -> Result<(), Failure> {
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(drop)
        .map_err(|e| {
            // serde_json ends its message with the position, which leads ours instead.
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or_default();
            Failure::BadInput(format!(
                "{file}:{}:{}: not valid JSON: {message}",
                e.line(),
                e.column().max(1)
            ))
        })
}
