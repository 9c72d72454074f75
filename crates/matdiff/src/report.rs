//! Turning failures into messages on stderr and exit codes: 0 ok, 1 a check or fit
//! failed, 2 bad input. The library renders located messages with carets
//! ([`matdiff::Error::render`]).

use std::fmt;
use std::process::ExitCode;

/// A failure with its exit code. Any other error reaching `main` counts as bad input.
#[derive(Debug)]
pub enum Failure {
    /// Bad input (syntax, shapes, data): exit 2.
    BadInput(String),
    /// A check or fit failed: exit 1.
    Failed(String),
    /// Already reported on stderr (diagnostics with carets): exit with this code.
    Reported(u8),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadInput(m) | Failure::Failed(m) => f.write_str(m),
            Failure::Reported(code) => write!(f, "failed with exit code {code}"),
        }
    }
}

impl std::error::Error for Failure {}

/// Prints the error (unless already reported) and picks the exit code.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    match error.downcast_ref::<Failure>() {
        Some(Failure::Reported(code)) => ExitCode::from(*code),
        Some(Failure::Failed(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
        Some(Failure::BadInput(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
