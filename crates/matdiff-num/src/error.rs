//! Evaluation errors: bad inputs, and domain errors that name the subexpression.

use matdiff_core::{Graph, Id};

use crate::inputs::InputError;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The inputs do not fit the declarations.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A function was applied outside its domain (`log` of a non-positive entry,
    /// `inv` of a singular matrix, …).
    #[error("{problem}")]
    Domain { node: Id, problem: String },
    /// A NaN or an infinity appeared.
    #[error("the result is not finite ({what})")]
    NonFinite { node: Id, what: String },
    /// The evaluation would need more memory than the budget
    /// ([`crate::memory::budget_bytes`]); `problem` names the subexpression and sizes.
    #[error("{problem}")]
    TooLarge { node: Id, problem: String },
    /// The expression cannot be evaluated numerically as written.
    #[error("{problem}")]
    Unsupported { node: Id, problem: String },
}

impl EvalError {
    /// The subexpression the error is about, if any.
    pub fn node(&self) -> Option<Id> {
        match self {
            EvalError::Input(_) => None,
            EvalError::Domain { node, .. }
            | EvalError::NonFinite { node, .. }
            | EvalError::TooLarge { node, .. }
            | EvalError::Unsupported { node, .. } => Some(*node),
        }
    }

    /// Whether the inputs were at fault (exit 2) rather than the mathematics (exit 1).
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            EvalError::Input(_) | EvalError::Unsupported { .. } | EvalError::TooLarge { .. }
        )
    }

    /// The message with the subexpression written out: `log of a non-positive entry
    /// (-1 at [2]) in `log(x - 1)``.
    pub fn describe(&self, graph: &Graph) -> String {
        match self {
            EvalError::Input(e) => e.to_string(),
            EvalError::Domain { node, problem } | EvalError::Unsupported { node, problem } => {
                format!("{problem} in `{}`", expr_text(graph, *node))
            }
            EvalError::TooLarge { problem, .. } => problem.clone(),
            EvalError::NonFinite { node, what } => {
                format!("`{}` is not finite ({what})", expr_text(graph, *node))
            }
        }
    }
}

/// The text of a subexpression, for messages.
pub fn expr_text(graph: &Graph, id: Id) -> String {
    matdiff_core::print::text(graph, id)
}
