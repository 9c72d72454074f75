//! Why a run ended.

use std::fmt;

/// The rule that ended a successful run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// `‖w_new − w_old‖ < ε` ([`StopRules::tol_step`](crate::optim::StopRules::tol_step)).
    StepSize,
    /// `|Q_new − Q_old| < ε` ([`StopRules::tol_loss`](crate::optim::StopRules::tol_loss)).
    LossChange,
    /// `‖∇Q(w_new)‖ < ε` ([`StopRules::tol_grad`](crate::optim::StopRules::tol_grad)).
    GradientNorm,
    /// The iteration limit was reached.
    MaxIterations,
    /// The epoch limit was reached.
    MaxEpochs,
    /// The loss stopped improving for `n_iter_no_change` epochs (or, with the adaptive
    /// schedule, the step size became tiny).
    NoImprovement,
    /// The line search found no step that lowers the loss: the loss is as low as
    /// floating point can tell along the search direction.
    LineSearchFailed,
}

impl StopReason {
    /// The criterion's machine name, as `--json` reports it in `stop_reason`: the
    /// quantity that fell below its tolerance (`"grad_norm"`, `"step_norm"`,
    /// `"loss_change"`), the limit that was reached (`"max_iter"`, `"epochs"`), or
    /// `"no_improvement"`, `"line_search_failed"`.
    pub fn name(&self) -> &'static str {
        match self {
            StopReason::StepSize => "step_norm",
            StopReason::LossChange => "loss_change",
            StopReason::GradientNorm => "grad_norm",
            StopReason::MaxIterations => "max_iter",
            StopReason::MaxEpochs => "epochs",
            StopReason::NoImprovement => "no_improvement",
            StopReason::LineSearchFailed => "line_search_failed",
        }
    }

    /// A sentence for people, saying which rule fired, in the library's terms: the
    /// option that set the tolerance or limit is named as [`StopReason::option`]
    /// gives it. A command line that calls the option a flag says so itself.
    pub fn description(&self) -> &'static str {
        match self {
            StopReason::StepSize => "the step ‖w_new − w_old‖ fell below its tolerance tol_step",
            StopReason::LossChange => {
                "the loss change |Q_new − Q_old| fell below its tolerance tol_loss"
            }
            StopReason::GradientNorm => {
                "the gradient norm ‖∇Q(w)‖ fell below its tolerance tol_grad"
            }
            StopReason::MaxIterations => "reached the iteration limit max_iter",
            StopReason::MaxEpochs => "reached the epoch limit epochs",
            StopReason::NoImprovement => "the loss stopped improving",
            StopReason::LineSearchFailed => {
                "the line search found no step that lowers the loss further"
            }
        }
    }

    /// The option whose tolerance or limit fired (`tol_step`, `tol_loss`, `tol_grad`,
    /// `max_iter`, `epochs`, `n_iter_no_change`), or `None` for a failed line search.
    pub fn option(&self) -> Option<&'static str> {
        match self {
            StopReason::StepSize => Some("tol_step"),
            StopReason::LossChange => Some("tol_loss"),
            StopReason::GradientNorm => Some("tol_grad"),
            StopReason::MaxIterations => Some("max_iter"),
            StopReason::MaxEpochs => Some("epochs"),
            StopReason::NoImprovement => Some("n_iter_no_change"),
            StopReason::LineSearchFailed => None,
        }
    }

    /// Whether the run stopped because it converged by one of the seminar's criteria
    /// rather than because it ran out of iterations or epochs.
    pub fn converged(&self) -> bool {
        matches!(
            self,
            StopReason::StepSize | StopReason::LossChange | StopReason::GradientNorm
        )
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}
