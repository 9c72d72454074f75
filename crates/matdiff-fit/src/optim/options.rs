//! How to minimise: the method, its step size and schedule, sampling and stop rules.

use super::error::OptimError;

/// The update rule. Every method turns a gradient `g` into a direction `d` and steps
/// `w ← w − η d`; they differ in `d` and in how many samples `g` is computed on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// Gradient descent on the full loss: `d = ∇Q(w)`.
    Gd,
    /// Stochastic gradient descent: one random sample per step.
    Sgd,
    /// Mini-batch gradient descent: `batch` random samples per step. A batch at least as
    /// large as the data set is the full batch, i.e. plain gradient descent.
    MiniBatch {
        /// Samples per step (at least 1).
        batch: usize,
    },
    /// Heavy-ball momentum: `v ← βv + g`, `d = v`.
    Momentum {
        /// Momentum coefficient `β`, in `[0, 1)`.
        beta: f64,
    },
    /// Nesterov momentum: `v ← βv + g`, `d = g + βv` (the form used by PyTorch, which
    /// needs the gradient only at the current point instead of a look-ahead point).
    Nesterov {
        /// Momentum coefficient `β`, in `[0, 1)`.
        beta: f64,
    },
    /// Adam: running means of `g` and `g²` with bias correction,
    /// `d = m̂ / (√ŝ + ε)`.
    Adam {
        /// Decay of the first-moment average, in `[0, 1)` (usually 0.9).
        beta1: f64,
        /// Decay of the second-moment average, in `[0, 1)` (usually 0.999).
        beta2: f64,
        /// Added to `√ŝ` to avoid division by zero (usually 1e-8).
        eps: f64,
    },
}

impl Method {
    /// Momentum with the usual coefficient 0.9.
    pub const MOMENTUM: Method = Method::Momentum { beta: 0.9 };
    /// Nesterov momentum with the usual coefficient 0.9.
    pub const NESTEROV: Method = Method::Nesterov { beta: 0.9 };
    /// Adam with the usual coefficients (0.9, 0.999, 1e-8).
    pub const ADAM: Method = Method::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };

    /// The method's name as the command line spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Gd => "gd",
            Method::Sgd => "sgd",
            Method::MiniBatch { .. } => "minibatch",
            Method::Momentum { .. } => "momentum",
            Method::Nesterov { .. } => "nesterov",
            Method::Adam { .. } => "adam",
        }
    }
}

/// How stochastic methods draw the samples of a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sampling {
    /// Each batch is drawn uniformly with replacement; an epoch is `⌈N/B⌉` steps.
    Replace,
    /// Each epoch visits every sample exactly once, in a fresh random order, in
    /// consecutive batches (the last one smaller when `B` does not divide `N`).
    #[default]
    Shuffle,
    /// Each epoch visits every sample exactly once, chunk by chunk: the data are cut
    /// into chunks of `rows` consecutive samples (the last one shorter), the chunks are
    /// visited in a fresh random order and the samples of each chunk in a fresh random
    /// order, in consecutive batches (a batch may end one chunk and start the next).
    /// The samples a stretch of the epoch reads then lie close together in memory (or
    /// in a file read chunk by chunk), at the price of a less thorough shuffle than
    /// [`Sampling::Shuffle`].
    Chunks {
        /// Samples per chunk (at least 1).
        rows: usize,
    },
}

/// How the step size `η` changes during the run (scikit-learn's `learning_rate`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Schedule {
    /// `η_t = η₀`.
    #[default]
    Constant,
    /// `η_t = η₀ / t^power`, `t` the number of the step (from 1).
    InvScaling {
        /// Decay exponent (scikit-learn's `power_t`, usually 0.25 to 1).
        power: f64,
    },
    /// `η` is multiplied by `factor` after every `every` epochs.
    Step {
        /// Epochs between two reductions (at least 1).
        every: usize,
        /// Factor in `(0, 1]`.
        factor: f64,
    },
    /// `η` is divided by 5 each time the full loss has not improved on its best by
    /// [`StopRules::min_improvement`] for `n_iter_no_change` consecutive epochs
    /// ([`StopRules::n_iter_no_change`], 5 when unset); the run stops with
    /// [`StopReason::NoImprovement`](crate::optim::StopReason::NoImprovement) once `η`
    /// would fall below 1e-6. Like scikit-learn's `adaptive`.
    Adaptive,
}

impl Schedule {
    /// The schedule's name as the command line spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Schedule::Constant => "constant",
            Schedule::InvScaling { .. } => "invscaling",
            Schedule::Step { .. } => "step",
            Schedule::Adaptive => "adaptive",
        }
    }
}

/// Armijo backtracking line search for full-batch methods.
///
/// Given the method's direction `d` at `w`, the step size `η` is halved (times
/// `shrink`) until the sufficient-decrease condition
/// `Q(w − η d) ≤ Q(w) − c η ⟨∇Q(w), d⟩` holds. The first trial is the last accepted
/// `η` times `grow` (the configured learning rate on the first step), so the step can
/// grow again after a hard stretch. When `d` is not a descent direction
/// (`⟨∇Q, d⟩ ≤ 0`, possible with momentum) the method's state is reset and `d = ∇Q(w)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineSearch {
    /// Sufficient-decrease constant `c`, in `(0, 1)`.
    pub c: f64,
    /// Factor applied to `η` after a rejected trial, in `(0, 1)`.
    pub shrink: f64,
    /// Factor applied to the last accepted `η` for the next step's first trial (≥ 1).
    pub grow: f64,
    /// Trials per step before giving up; the run then stops with
    /// [`StopReason::LineSearchFailed`](crate::optim::StopReason::LineSearchFailed).
    pub max_trials: usize,
}

impl Default for LineSearch {
    fn default() -> Self {
        Self {
            c: 1e-4,
            shrink: 0.5,
            grow: 2.0,
            max_trials: 60,
        }
    }
}

/// When to stop. The seminar's three criteria may be combined; any one that is set and
/// satisfied stops the run, and [`Outcome::stop`](crate::optim::Outcome::stop) says which.
///
/// For full-batch methods the rules are checked after every step. For stochastic
/// methods (SGD, mini-batch, or momentum/Nesterov/Adam with a batch size) they are
/// checked once per epoch, on the **full** loss and gradient at the end of the epoch;
/// `‖w_new − w_old‖` is then the displacement over the epoch and `|Q_new − Q_old|`
/// the change of the full loss over the epoch. A batch loss is too noisy to stop on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopRules {
    /// Stop when `‖w_new − w_old‖ < ε` (Euclidean norm of the step).
    pub tol_step: Option<f64>,
    /// Stop when `|Q_new − Q_old| < ε`.
    pub tol_loss: Option<f64>,
    /// Stop when `‖∇Q(w_new)‖ < ε` (also checked at the starting point).
    pub tol_grad: Option<f64>,
    /// Stop after this many updates of `w`.
    pub max_iter: Option<usize>,
    /// Stop after this many epochs (full passes over the data; one step for full-batch
    /// methods).
    pub max_epochs: Option<usize>,
    /// Stop when the full loss has not fallen below its best by `min_improvement` for
    /// this many consecutive epochs (with the adaptive schedule, `η` is divided by 5
    /// instead, until it is tiny).
    pub n_iter_no_change: Option<usize>,
    /// The decrease below the best loss so far that counts as an improvement for
    /// `n_iter_no_change` and the adaptive schedule (scikit-learn's `tol`); absolute.
    pub min_improvement: f64,
}

impl Default for StopRules {
    /// `‖∇Q‖ < 1e-6` or 1000 epochs.
    fn default() -> Self {
        Self {
            tol_step: None,
            tol_loss: None,
            tol_grad: Some(1e-6),
            max_iter: None,
            max_epochs: Some(1000),
            n_iter_no_change: None,
            min_improvement: 1e-4,
        }
    }
}

/// What the loss after each epoch of a stochastic method is: what the stop rules, the
/// divergence test and the observer see. Full-batch methods always have the exact
/// loss (their step computes it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EpochLoss {
    /// Exact when a stop rule looks at the loss or the gradient (`tol_grad`,
    /// `tol_loss`, `n_iter_no_change`, the adaptive schedule) or the observer keeps
    /// the losses ([`Observer::wants_epoch_losses`](crate::optim::Observer)); the
    /// running average otherwise.
    #[default]
    Auto,
    /// The full loss and gradient at the end of every epoch: one more pass over the
    /// data per epoch.
    Exact,
    /// The mean of the epoch's batch losses, each taken at the iterate of its step
    /// (what scikit-learn reports): no extra pass. The final loss and gradient of the
    /// run are still exact.
    Running,
}

impl EpochLoss {
    /// The name used in options and reports.
    pub fn name(self) -> &'static str {
        match self {
            EpochLoss::Auto => "auto",
            EpochLoss::Exact => "exact",
            EpochLoss::Running => "running",
        }
    }
}

/// Everything [`minimize`](crate::optim::minimize) needs besides the objective.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// The update rule.
    pub method: Method,
    /// Initial step size `η₀` (the learning rate); with a line search, the first trial
    /// step.
    pub lr: f64,
    /// Samples per step for [`Method::Momentum`], [`Method::Nesterov`] and
    /// [`Method::Adam`]: `None` (the default) is the full batch, `Some(B)` makes them
    /// stochastic like mini-batch gradient descent. `Gd`, `Sgd` and `MiniBatch` fix their
    /// own batch size and reject this option.
    pub batch: Option<usize>,
    /// How `η` changes during the run.
    pub schedule: Schedule,
    /// How stochastic methods draw their batches.
    pub sampling: Sampling,
    /// Backtracking line search (full-batch methods, constant schedule only).
    pub line_search: Option<LineSearch>,
    /// When to stop.
    pub stop: StopRules,
    /// Seed of the random number generator (ChaCha8); the same seed gives bit-identical
    /// results.
    pub seed: u64,
    /// The run is declared diverged when the full loss exceeds its best so far by more
    /// than `divergence_factor × max(|Q(w₀)|, |Q_best|)`, or is NaN or infinite.
    pub divergence_factor: f64,
    /// The loss after each epoch of a stochastic method: exact, or the running average.
    pub epoch_loss: EpochLoss,
    /// SGD on this many threads at once, lock-free (Hogwild!): each takes a part of
    /// the epoch's samples and steps the shared parameters without waiting for the
    /// others, so that updates may overwrite each other and a rerun does not give the
    /// same bits. `None` or 1: one thread, reproducible.
    pub threads: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            method: Method::Gd,
            lr: 0.01,
            batch: None,
            schedule: Schedule::Constant,
            sampling: Sampling::Shuffle,
            line_search: None,
            stop: StopRules::default(),
            seed: 0,
            divergence_factor: 1e3,
            epoch_loss: EpochLoss::Auto,
            threads: None,
        }
    }
}

impl Options {
    /// The batch size a run uses on `samples` samples: `None` for the full batch (also
    /// when the requested batch is at least the whole data set).
    pub fn effective_batch(&self, samples: usize) -> Option<usize> {
        let batch = match self.method {
            Method::Gd => None,
            Method::Sgd => Some(1),
            Method::MiniBatch { batch } => Some(batch),
            Method::Momentum { .. } | Method::Nesterov { .. } | Method::Adam { .. } => self.batch,
        };
        batch.filter(|&b| b < samples)
    }

    /// Whether a stochastic run takes the exact full loss after every epoch, given
    /// whether its observer keeps the losses.
    pub fn exact_epoch_loss(&self, observer_keeps_losses: bool) -> bool {
        match self.epoch_loss {
            EpochLoss::Exact => true,
            EpochLoss::Running => false,
            EpochLoss::Auto => {
                let stop = &self.stop;
                observer_keeps_losses
                    || stop.tol_grad.is_some()
                    || stop.tol_loss.is_some()
                    || stop.n_iter_no_change.is_some()
                    || self.schedule == Schedule::Adaptive
            }
        }
    }

    /// Checks every option, so that a run can only fail for reasons of the objective.
    pub fn validate(&self) -> Result<(), OptimError> {
        let invalid = |option, reason: &str| {
            Err(OptimError::InvalidOption {
                option,
                reason: reason.to_owned(),
            })
        };
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return invalid("lr", "the learning rate must be a positive number");
        }
        match self.method {
            Method::Gd | Method::Sgd | Method::MiniBatch { .. } if self.batch.is_some() => {
                return invalid(
                    "batch",
                    "a batch size applies to momentum, nesterov and adam; use minibatch for plain mini-batch descent",
                );
            }
            Method::MiniBatch { batch: 0 } => {
                return invalid("batch", "the batch size must be at least 1");
            }
            Method::Momentum { beta } | Method::Nesterov { beta } if !unit(beta) => {
                return invalid("beta", "the momentum coefficient must be in [0, 1)");
            }
            Method::Adam { beta1, beta2, .. } if !(unit(beta1) && unit(beta2)) => {
                return invalid("beta", "adam's coefficients must be in [0, 1)");
            }
            Method::Adam { eps, .. } if !(eps.is_finite() && eps > 0.0) => {
                return invalid("eps", "adam's eps must be a small positive number");
            }
            _ => {}
        }
        if self.batch == Some(0) {
            return invalid("batch", "the batch size must be at least 1");
        }
        if self.sampling == (Sampling::Chunks { rows: 0 }) {
            return invalid("chunk_rows", "a chunk needs at least 1 row");
        }
        match self.schedule {
            Schedule::InvScaling { power } if !(power.is_finite() && power >= 0.0) => {
                return invalid(
                    "schedule",
                    "the invscaling power must be a non-negative number",
                );
            }
            Schedule::Step { every: 0, .. } => {
                return invalid("schedule", "a step schedule needs every ≥ 1 epochs");
            }
            Schedule::Step { factor, .. } if !(factor > 0.0 && factor <= 1.0) => {
                return invalid("schedule", "a step schedule's factor must be in (0, 1]");
            }
            _ => {}
        }
        if let Some(search) = self.line_search {
            if self.effective_batch(usize::MAX).is_some() {
                return invalid(
                    "line_search",
                    "the line search needs the full loss; use gd, or momentum/nesterov/adam without a batch size",
                );
            }
            if self.schedule != Schedule::Constant {
                return invalid(
                    "line_search",
                    "the line search chooses the step size itself; use the constant schedule",
                );
            }
            if !(search.c > 0.0 && search.c < 1.0) {
                return invalid(
                    "line_search",
                    "the sufficient-decrease constant must be in (0, 1)",
                );
            }
            if !(search.shrink > 0.0 && search.shrink < 1.0) {
                return invalid("line_search", "the shrink factor must be in (0, 1)");
            }
            if !(search.grow.is_finite() && search.grow >= 1.0) {
                return invalid("line_search", "the grow factor must be at least 1");
            }
            if search.max_trials == 0 {
                return invalid("line_search", "the line search needs at least one trial");
            }
        }
        let stop = &self.stop;
        for (option, tol) in [
            ("tol_step", stop.tol_step),
            ("tol_loss", stop.tol_loss),
            ("tol_grad", stop.tol_grad),
        ] {
            if let Some(tol) = tol {
                if !(tol.is_finite() && tol > 0.0) {
                    return invalid(option, "a tolerance must be a positive number");
                }
            }
        }
        match self.threads {
            Some(0) => return invalid("threads", "parallel SGD needs at least 1 thread"),
            Some(k) if k > 1 => {
                if self.method != Method::Sgd {
                    return invalid("threads", "parallel (Hogwild!) steps are for sgd only");
                }
                if self.sampling == Sampling::Replace {
                    return invalid(
                        "threads",
                        "parallel SGD shares out the epoch's samples; use shuffled sampling",
                    );
                }
                if matches!(self.schedule, Schedule::InvScaling { .. }) {
                    return invalid(
                        "threads",
                        "parallel SGD keeps η for a whole epoch; use the constant, step or adaptive schedule",
                    );
                }
                if stop.max_iter.is_some() {
                    return invalid(
                        "threads",
                        "parallel SGD runs whole epochs; limit the run by epochs",
                    );
                }
            }
            _ => {}
        }
        if self.epoch_loss == EpochLoss::Running && stop.tol_grad.is_some() {
            return invalid(
                "epoch_loss",
                "a gradient tolerance (which applies when no tolerance is given) needs the full gradient after every epoch; set it to 0 (off) or take the exact epoch loss",
            );
        }
        if stop.max_iter.is_none() && stop.max_epochs.is_none() {
            return invalid(
                "max_iter",
                "set max_iter or epochs so that the run is sure to end",
            );
        }
        if stop.n_iter_no_change == Some(0) {
            return invalid("n_iter_no_change", "the patience must be at least 1 epoch");
        }
        if !(stop.min_improvement.is_finite() && stop.min_improvement >= 0.0) {
            return invalid("min_improvement", "the improvement threshold must be ≥ 0");
        }
        if !(self.divergence_factor.is_finite() && self.divergence_factor > 0.0) {
            return invalid(
                "divergence_factor",
                "the divergence factor must be a positive number",
            );
        }
        Ok(())
    }
}

/// Whether `x` is in `[0, 1)`.
fn unit(x: f64) -> bool {
    (0.0..1.0).contains(&x)
}
