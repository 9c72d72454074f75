//! Differentiation by the seminar's rules.

use crate::derivative::Derivative;
use crate::ir::Function;

/// Why a derivative could not be taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiffError {
    /// The variable does not occur in the function's declarations or expression.
    #[error("unknown variable `{0}`")]
    UnknownVariable(String),
    /// The requested derivative is not defined for these kinds.
    #[error("{0}")]
    Unsupported(String),
}

/// Differentiates `f` with respect to the variable named `wrt`; `order` is 1 or 2.
/// The result lives in `f.graph`.
pub fn derive(f: &mut Function, wrt: &str, order: u8) -> Result<Derivative, DiffError> {
    let _ = (f, order);
    Err(DiffError::Unsupported(format!(
        "differentiation with respect to `{wrt}` is not available yet"
    )))
}
