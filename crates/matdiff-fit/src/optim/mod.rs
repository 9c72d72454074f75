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
//!
//! ```
//! use matdiff_fit::optim::{minimize, Batch, Method, NoObserver, Objective, ObjectiveError,
//!     Options, StopReason, StopRules};
//!
//! /// `Q(w) = 1/|B| Σ_{i∈B} (w − a_i)²`: its minimum is the mean of the batch's `a_i`.
//! struct Mean(Vec<f64>);
//!
//! impl Objective for Mean {
//!     fn dim(&self) -> usize { 1 }
//!     fn samples(&self) -> usize { self.0.len() }
//!     fn loss(&mut self, w: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
//!         self.loss_and_gradient(w, batch, &mut [0.0])
//!     }
//!     fn loss_and_gradient(&mut self, w: &[f64], batch: Batch<'_>, grad: &mut [f64])
//!         -> Result<f64, ObjectiveError> {
//!         let rows: Vec<usize> = match batch {
//!             Batch::All => (0..self.0.len()).collect(),
//!             Batch::Rows(rows) | Batch::Share { rows, .. } => rows.to_vec(),
//!         };
//!         let n = rows.len() as f64;
//!         grad[0] = rows.iter().map(|&i| 2.0 * (w[0] - self.0[i])).sum::<f64>() / n;
//!         Ok(rows.iter().map(|&i| (w[0] - self.0[i]).powi(2)).sum::<f64>() / n)
//!     }
//! }
//!
//! let options = Options {
//!     method: Method::Gd,
//!     lr: 0.25,
//!     stop: StopRules { tol_grad: Some(1e-10), ..StopRules::default() },
//!     ..Options::default()
//! };
//! let outcome = minimize(&mut Mean(vec![1.0, 2.0, 6.0]), &[0.0], &options, &mut NoObserver)?;
//! assert!((outcome.w[0] - 3.0).abs() < 1e-10);
//! assert_eq!(outcome.stop, StopReason::GradientNorm);
//! # Ok::<(), matdiff_fit::optim::OptimError>(())
//! ```

#![warn(missing_docs)]

mod error;
mod method;
mod minimize;
mod objective;
mod observer;
mod options;
pub(crate) mod sampler;
mod stop;

pub use error::OptimError;
pub(crate) use minimize::descend;
pub use minimize::{minimize, Outcome};
pub use objective::{seed_of_rank, Batch, Objective, ObjectiveError, Spread};
pub use observer::{History, HistoryRecord, NoObserver, Observer, Record, Scope};
pub use options::{EpochLoss, LineSearch, Method, Options, Sampling, Schedule, StopRules};
pub use stop::StopReason;
