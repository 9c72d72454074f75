//! Minimising a loss on data by gradient methods.
//!
//! # The picture
//!
//! Gradient descent walks downhill: from a starting point `w₀` it repeats
//!
//! ```text
//! w ← w − η ∇Q(w)
//! ```
//!
//! where `Q` is the loss and `η > 0` the step size (learning rate). The gradient points
//! where `Q` rises fastest, so a small enough step against it lowers `Q`.
//!
//! - **η too small**: every step lowers the loss, but by very little; the run needs many
//!   iterations and may stop on a step-size or loss-change rule far from the minimum.
//! - **η too large**: the step overshoots the valley and lands higher up on the other
//!   side; the iterates oscillate with growing amplitude and the loss explodes (for a
//!   quadratic with largest curvature `L`, gradient descent converges only for
//!   `η < 2/L`). The run then stops with [`OptimError::Diverged`] and advice — a smaller
//!   η, standardised features, or the line search ([`LineSearch`]), which picks η by
//!   backtracking until the loss decreases enough (Armijo's rule).
//!
//! Stochastic gradient descent replaces `∇Q` by the gradient on one random sample
//! ([`Method::Sgd`]) or on a mini-batch of `B` samples ([`Method::MiniBatch`]): steps
//! are cheap and noisy, and a decaying schedule ([`Schedule`]) tames the noise near the
//! minimum. Momentum, Nesterov and Adam change the direction of the step using past
//! gradients; they run on the full batch, or on mini-batches with [`Options::batch`].
//!
//! # Stopping
//!
//! The seminar's three criteria, in any combination, any one of which stops the run:
//!
//! - `‖w_new − w_old‖ < ε` — the iterates stopped moving ([`StopRules::tol_step`]);
//! - `|Q_new − Q_old| < ε` — the loss stopped changing ([`StopRules::tol_loss`]);
//! - `‖∇Q(w_new)‖ < ε` — the gradient vanishes, a stationary point
//!   ([`StopRules::tol_grad`]);
//!
//! plus limits on iterations and epochs and a no-improvement rule. [`Outcome::stop`]
//! says which one fired ([`StopReason`]). For stochastic methods all rules look at the
//! full loss once per epoch. A batch loss is too noisy to stop on.
//!
//! # The interface
//!
//! An [`Objective`] gives the loss and gradient of a flattened (column-major) variable
//! on all samples or on a batch of sample indices; [`minimize`] runs one shared loop
//! that owns sampling, schedules, stop rules and divergence detection, while each
//! method only maps a gradient to a step. Runs are deterministic: the same
//! [`Options::seed`] gives bit-identical results. An [`Observer`] (such as [`History`])
//! sees every step and epoch.

mod error;
mod method;
mod minimize;
mod objective;
mod observer;
mod options;
mod sampler;
mod stop;

pub use error::OptimError;
pub use minimize::{minimize, Outcome};
pub use objective::{Batch, Objective, ObjectiveError};
pub use observer::{History, HistoryRecord, NoObserver, Observer, Record, Scope};
pub use options::{LineSearch, Method, Options, Sampling, Schedule, StopRules};
pub use stop::StopReason;
