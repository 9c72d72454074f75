//! Why a run failed.

use thiserror::Error;

use super::objective::ObjectiveError;

/// A failed minimisation. A diverged run returns this error, never NaN weights.
#[derive(Debug, Error)]
pub enum OptimError {
    /// An option is out of range or does not fit the method.
    #[error("invalid option {option}: {reason}")]
    InvalidOption {
        /// The option's name in the library (`lr`, `batch`, `tol_grad`, `line_search`, …);
        /// a command line maps it to its flag.
        option: &'static str,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The starting point has the wrong number of parameters.
    #[error("the starting point has {found} parameters, the objective expects {expected}")]
    DimensionMismatch {
        /// [`Objective::dim`](crate::optim::Objective::dim).
        expected: usize,
        /// Length of `w0`.
        found: usize,
    },
    /// A stochastic method was asked to sample from an empty data set.
    #[error("the data have no samples to draw batches from; use gd or give data")]
    NoSamples,
    /// The loss or its gradient is NaN or infinite at the starting point.
    #[error("the loss is {loss} at the starting point; check the data and the starting point")]
    NonFiniteStart {
        /// The loss at `w0`.
        loss: f64,
    },
    /// The objective reported an error.
    #[error("evaluating the objective failed at iteration {iteration}")]
    Objective {
        /// Updates of `w` before the failure.
        iteration: usize,
        /// The objective's error.
        #[source]
        source: ObjectiveError,
    },
    /// The loss grew without bound or became NaN/Inf.
    #[error("the loss diverged at iteration {iteration} (last losses: {}); {advice}", trend(.loss_trend))]
    Diverged {
        /// Updates of `w` when the divergence was detected.
        iteration: usize,
        /// The last few full losses, oldest first, ending with the offending one.
        loss_trend: Vec<f64>,
        /// What to try instead.
        advice: String,
    },
}

fn trend(losses: &[f64]) -> String {
    let parts: Vec<String> = losses.iter().map(|l| format!("{l:.4e}")).collect();
    parts.join(", ")
}
