//! The one loop shared by every method: sampling, schedule, line search, stop rules
//! and divergence live here; a method only turns a gradient into a direction.

use std::time::Instant;

use super::error::OptimError;
use super::method::Rule;
use super::objective::{Batch, Objective, ObjectiveError};
use super::observer::{Observer, Record, Scope};
use super::options::{EpochLoss, LineSearch, Options, Schedule};
use super::sampler::Sampler;
use super::stop::StopReason;

/// The result of a successful run.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The parameters found, flattened column-major like `w0`.
    pub w: Vec<f64>,
    /// The full loss at `w`.
    pub loss: f64,
    /// `‖∇Q(w)‖` of the full loss.
    pub gradient_norm: f64,
    /// Updates of `w`.
    pub iterations: usize,
    /// Completed epochs (full passes over the data; equal to `iterations` for full-batch
    /// methods).
    pub epochs: usize,
    /// Wall-clock time of the run.
    pub seconds: f64,
    /// The rule that ended the run.
    pub stop: StopReason,
    /// What the loss after each epoch was: [`EpochLoss::Exact`] (always for
    /// full-batch methods) or [`EpochLoss::Running`].
    pub epoch_loss: EpochLoss,
}

/// How many full losses a divergence report shows.
const TREND: usize = 6;

/// The adaptive schedule stops once `η` would fall below this (as scikit-learn does).
const ADAPTIVE_MIN_LR: f64 = 1e-6;

/// Relative change below which two losses are taken as equal up to rounding by the
/// line search.
const FLAT_LOSS: f64 = 1e-10;

/// The curvature constant `σ` of the approximate Wolfe condition.
const WOLFE_SIGMA: f64 = 0.9;

/// How many samples ahead of the current batch stochastic methods announce to the
/// objective ([`Objective::prefetch`]), at least: enough to keep many memory reads in
/// flight, few enough to stay in cache.
const PREFETCH_ROWS: usize = 16;

/// Patience of the adaptive schedule when `n_iter_no_change` is unset.
const ADAPTIVE_PATIENCE: usize = 5;

/// Minimises `objective` from `w0` (flattened column-major, length
/// [`Objective::dim`]) with `options`, reporting progress to `observer`.
///
/// Every method runs through the same loop: a full-batch method takes one step per
/// epoch from the full gradient; a stochastic one takes `⌈N/B⌉` steps on batches drawn
/// by [`Sampling`](crate::optim::Sampling) and the full loss and gradient are evaluated
/// after each epoch, where the stop rules and the divergence test look. The loop
/// allocates only at the start: buffers are reused for every step.
pub fn minimize<O: Objective + ?Sized>(
    objective: &mut O,
    w0: &[f64],
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Outcome, OptimError> {
    options.validate()?;
    let dim = objective.dim();
    if w0.len() != dim {
        return Err(OptimError::DimensionMismatch {
            expected: dim,
            found: w0.len(),
        });
    }
    let samples = objective.samples();
    let batch = options.effective_batch(samples);
    if batch.is_some() && samples == 0 {
        return Err(OptimError::NoSamples);
    }
    // Samples spread over processes are drawn as shares, each process from its own.
    let mut sampler = batch.map(|b| match objective.spread(b) {
        Some(spread) => Sampler::spread(options.sampling, &spread, b, options.seed),
        None => Sampler::new(options.sampling, samples, b, options.seed),
    });
    let running = sampler.is_some() && !options.exact_epoch_loss(observer.wants_epoch_losses());
    Run {
        objective,
        options,
        observer,
        rule: Rule::new(options.method, dim),
        started: Instant::now(),
        w: w0.to_vec(),
        grad: vec![0.0; dim],
        direction: vec![0.0; dim],
        scratch_w: vec![0.0; dim],
        scratch_grad: vec![0.0; dim],
        loss: f64::NAN,
        grad_norm: f64::NAN,
        iteration: 0,
        epoch: 0,
        adaptive_lr: options.lr,
        search_lr: None,
        initial_loss: f64::NAN,
        best_loss: f64::INFINITY,
        no_change: 0,
        trend: [f64::NAN; TREND],
        trend_len: 0,
        running,
        stale: false,
    }
    .run(sampler.as_mut())
}

/// The state of one run.
struct Run<'a, O: ?Sized> {
    objective: &'a mut O,
    options: &'a Options,
    observer: &'a mut dyn Observer,
    rule: Rule,
    started: Instant,
    /// Current parameters, their full loss and full gradient.
    w: Vec<f64>,
    grad: Vec<f64>,
    loss: f64,
    grad_norm: f64,
    /// The method's direction `d` for the current step.
    direction: Vec<f64>,
    /// The point at the start of an epoch, or a line-search trial point.
    scratch_w: Vec<f64>,
    /// A batch gradient, or the gradient at a line-search trial point.
    scratch_grad: Vec<f64>,
    iteration: usize,
    epoch: usize,
    /// `η` of the adaptive schedule.
    adaptive_lr: f64,
    /// The last step size accepted by the line search.
    search_lr: Option<f64>,
    initial_loss: f64,
    best_loss: f64,
    /// Consecutive epochs without improvement.
    no_change: usize,
    /// The last epoch losses, a ring buffer.
    trend: [f64; TREND],
    trend_len: usize,
    /// Whether the loss after an epoch is the running average of its batch losses
    /// (else the exact full loss).
    running: bool,
    /// Whether `loss` and `grad` are a running average and unknown, rather than the
    /// full loss and gradient at `w`.
    stale: bool,
}

impl<O: Objective + ?Sized> Run<'_, O> {
    fn run(mut self, mut sampler: Option<&mut Sampler>) -> Result<Outcome, OptimError> {
        self.loss = self.full_evaluation()?;
        self.grad_norm = norm(&self.grad);
        if !(self.loss.is_finite() && self.grad_norm.is_finite()) {
            return Err(OptimError::NonFiniteStart { loss: self.loss });
        }
        self.initial_loss = self.loss;
        self.best_loss = self.loss;
        self.push_trend(self.loss);
        self.report(Scope::Epoch, self.loss, self.grad_norm, 0.0, self.lr());
        let stop = &self.options.stop;
        if stop.tol_grad.is_some_and(|tol| self.grad_norm < tol) {
            return Ok(self.finish(StopReason::GradientNorm));
        }
        if stop.max_iter == Some(0) {
            return Ok(self.finish(StopReason::MaxIterations));
        }
        if stop.max_epochs == Some(0) {
            return Ok(self.finish(StopReason::MaxEpochs));
        }
        loop {
            let old_loss = self.loss;
            let (step_norm, lr, complete) = match sampler.as_deref_mut() {
                None => match self.options.line_search {
                    None => {
                        let (step_norm, lr) = self.full_step()?;
                        (step_norm, lr, true)
                    }
                    Some(search) => match self.searched_step(&search)? {
                        Some((step_norm, lr)) => (step_norm, lr, true),
                        None => return self.conclude(StopReason::LineSearchFailed),
                    },
                },
                Some(sampler) => self.stochastic_epoch(sampler)?,
            };
            if complete {
                self.epoch += 1;
            }
            self.report(Scope::Epoch, self.loss, self.grad_norm, step_norm, lr);
            self.check_divergence()?;
            if let Some(reason) = self.stop_reason(old_loss, step_norm) {
                return self.conclude(reason);
            }
        }
    }

    /// One full-batch step `w ← w − η d`; returns `‖Δw‖` and `η`.
    fn full_step(&mut self) -> Result<(f64, f64), OptimError> {
        let lr = self.lr_for_step();
        self.rule.direction(&self.grad, &mut self.direction);
        let step_norm = lr * norm(&self.direction);
        axpy(&mut self.w, -lr, &self.direction);
        self.iteration += 1;
        self.loss = self.full_evaluation()?;
        self.grad_norm = norm(&self.grad);
        Ok((step_norm, lr))
    }

    /// One full-batch step with Armijo backtracking on `η`; returns `‖Δw‖` and the
    /// accepted `η`, or `None` when no trial lowers the loss enough.
    fn searched_step(&mut self, search: &LineSearch) -> Result<Option<(f64, f64)>, OptimError> {
        self.rule.direction(&self.grad, &mut self.direction);
        let mut slope = dot(&self.grad, &self.direction);
        if slope.is_nan() || slope <= 0.0 {
            // Momentum can point uphill; restart it from the plain gradient.
            self.rule.reset();
            self.direction.copy_from_slice(&self.grad);
            slope = self.grad_norm * self.grad_norm;
        }
        let mut lr = self
            .search_lr
            .map_or(self.options.lr, |last| last * search.grow);
        for _ in 0..search.max_trials {
            self.scratch_w.copy_from_slice(&self.w);
            axpy(&mut self.scratch_w, -lr, &self.direction);
            let trial = self
                .objective
                .loss_and_gradient(&self.scratch_w, Batch::All, &mut self.scratch_grad)
                .map_err(|e| self.objective_error(e))?;
            if self.acceptable(search, trial, lr, slope) {
                std::mem::swap(&mut self.w, &mut self.scratch_w);
                std::mem::swap(&mut self.grad, &mut self.scratch_grad);
                self.loss = trial;
                self.grad_norm = norm(&self.grad);
                self.iteration += 1;
                self.search_lr = Some(lr);
                return Ok(Some((lr * norm(&self.direction), lr)));
            }
            lr *= search.shrink;
        }
        Ok(None)
    }

    /// Whether a line-search trial at `w − η d` (its loss `trial`, its gradient in
    /// `scratch_grad`) is accepted. Armijo's sufficient decrease decides while the
    /// losses differ by more than rounding; once they do not (near the minimum the
    /// decrease `η⟨∇Q, d⟩` is below the loss's last digits) the slope decides instead,
    /// as in Hager and Zhang's approximate Wolfe conditions: the step must not have
    /// overshot, `⟨∇Q(w − η d), d⟩ ≥ −(1 − 2c) ⟨∇Q(w), d⟩`, and must have gone far
    /// enough for the slope to flatten, `⟨∇Q(w − η d), d⟩ ≤ σ ⟨∇Q(w), d⟩`. The second
    /// condition keeps a wrong gradient from creeping along in invisible steps.
    fn acceptable(&self, search: &LineSearch, trial: f64, lr: f64, slope: f64) -> bool {
        if !trial.is_finite() {
            return false;
        }
        let rounding = FLAT_LOSS * self.loss.abs().max(f64::MIN_POSITIVE);
        if (trial - self.loss).abs() > rounding {
            trial <= self.loss - search.c * lr * slope
        } else {
            let trial_slope = dot(&self.scratch_grad, &self.direction);
            trial_slope >= -(1.0 - 2.0 * search.c) * slope && trial_slope <= WOLFE_SIGMA * slope
        }
    }

    /// One epoch of batch steps, then the full loss and gradient. Returns the
    /// displacement over the epoch, the last `η`, and whether the epoch was completed
    /// (the iteration limit may cut it short).
    fn stochastic_epoch(&mut self, sampler: &mut Sampler) -> Result<(f64, f64, bool), OptimError> {
        if let Some(threads) = self.options.threads.filter(|&k| k > 1) {
            return self.concurrent_epoch(sampler, threads);
        }
        self.scratch_w.copy_from_slice(&self.w);
        sampler.start_epoch();
        let mut lr = self.lr();
        let mut complete = true;
        // Without an observer of steps, a step records nothing (not even the time).
        let steps_observed = self.observer.wants_steps();
        let ahead = sampler.batch().max(PREFETCH_ROWS);
        let mut served = 0usize;
        let (mut loss_sum, mut steps) = (0.0, 0usize);
        for _ in 0..sampler.steps_per_epoch() {
            if self.options.stop.max_iter == Some(self.iteration) {
                complete = false;
                break;
            }
            lr = self.lr_for_step();
            // Every `ahead` samples, announce the `ahead` samples after the next
            // `ahead`, so that their data arrive while these are worked on.
            if served % ahead == 0 {
                self.objective.prefetch(sampler.upcoming(ahead, ahead));
            }
            let batch = sampler.next_batch();
            served += match batch {
                Batch::Rows(rows) | Batch::Share { rows, .. } => rows.len(),
                Batch::All => 0,
            };
            // The plain rule's step is the objective's own where it can take it in
            // place; otherwise, and for the other rules, the gradient is asked for.
            let in_place = match batch {
                Batch::Rows(rows) if self.rule.is_plain() => {
                    self.objective.descend(&mut self.w, rows, lr)
                }
                _ => None,
            };
            let (batch_loss, direction_norm, batch_grad_norm) = match in_place {
                Some((batch_loss, norm2)) => (batch_loss, norm2.sqrt(), norm2.sqrt()),
                None => {
                    let batch_loss = self
                        .objective
                        .loss_and_gradient(&self.w, batch, &mut self.scratch_grad)
                        .map_err(|e| objective_error(self.iteration, e))?;
                    // The plain rule's direction is the gradient itself: no copy, and
                    // the step's length gives the gradient's norm.
                    let direction = if self.rule.is_plain() {
                        &self.scratch_grad
                    } else {
                        self.rule.direction(&self.scratch_grad, &mut self.direction);
                        &self.direction
                    };
                    let direction_norm = descend(&mut self.w, lr, direction).sqrt();
                    let batch_grad_norm = if !steps_observed || self.rule.is_plain() {
                        direction_norm
                    } else {
                        norm(&self.scratch_grad)
                    };
                    (batch_loss, direction_norm, batch_grad_norm)
                }
            };
            let step_norm = lr * direction_norm;
            self.iteration += 1;
            loss_sum += batch_loss;
            steps += 1;
            if steps_observed {
                self.report(Scope::Step, batch_loss, batch_grad_norm, step_norm, lr);
            }
            if !(batch_loss.is_finite() && step_norm.is_finite()) {
                return Err(self.diverged(batch_loss));
            }
        }
        self.end_epoch(loss_sum, steps)?;
        let displacement = distance(&self.w, &self.scratch_w);
        Ok((displacement, lr, complete))
    }

    /// One epoch of SGD steps on `threads` threads at once (Hogwild!, see
    /// [`Objective::descend_concurrently`]) at the epoch's `η`, then its loss.
    fn concurrent_epoch(
        &mut self,
        sampler: &mut Sampler,
        threads: usize,
    ) -> Result<(f64, f64, bool), OptimError> {
        self.scratch_w.copy_from_slice(&self.w);
        sampler.start_epoch();
        let lr = self.lr_for_step();
        let rows = sampler.take_rest();
        let steps = rows.len();
        let Some(loss_sum) = self
            .objective
            .descend_concurrently(&mut self.w, rows, lr, threads)
        else {
            return Err(OptimError::InvalidOption {
                option: "threads",
                reason: "parallel SGD needs a linear model's loss (a sum over samples of a function of X*w) on data in memory".to_owned(),
            });
        };
        self.iteration += steps;
        if !loss_sum.is_finite() {
            return Err(self.diverged(loss_sum));
        }
        self.end_epoch(loss_sum, steps)?;
        let displacement = distance(&self.w, &self.scratch_w);
        Ok((displacement, lr, true))
    }

    /// The loss after an epoch of `steps` batch steps whose losses add up to
    /// `loss_sum`: the full loss and gradient, or the running average.
    fn end_epoch(&mut self, loss_sum: f64, steps: usize) -> Result<(), OptimError> {
        if !self.running {
            self.loss = self.full_evaluation()?;
            self.grad_norm = norm(&self.grad);
        } else if steps > 0 {
            self.loss = loss_sum / steps as f64;
            self.grad_norm = f64::NAN;
            self.stale = true;
        }
        Ok(())
    }

    /// The full loss at `w`, writing the full gradient.
    fn full_evaluation(&mut self) -> Result<f64, OptimError> {
        self.objective
            .loss_and_gradient(&self.w, Batch::All, &mut self.grad)
            .map_err(|e| objective_error(self.iteration, e))
    }

    /// The step size for the next step, by the schedule.
    fn lr_for_step(&self) -> f64 {
        let eta0 = self.options.lr;
        match self.options.schedule {
            Schedule::Constant => eta0,
            Schedule::InvScaling { power } => eta0 / ((self.iteration + 1) as f64).powf(power),
            Schedule::Step { every, factor } => eta0 * factor.powf((self.epoch / every) as f64),
            Schedule::Adaptive => self.adaptive_lr,
        }
    }

    /// The current step size, for records.
    fn lr(&self) -> f64 {
        self.search_lr.unwrap_or_else(|| self.lr_for_step())
    }

    /// Fails when the epoch's loss is NaN/Inf or has grown far above its best, or the
    /// full gradient is NaN/Inf.
    fn check_divergence(&mut self) -> Result<(), OptimError> {
        let scale = self.initial_loss.abs().max(self.best_loss.abs());
        let runaway = self.loss - self.best_loss
            > self.options.divergence_factor * scale.max(f64::MIN_POSITIVE);
        let gradient_broken = !self.stale && !self.grad_norm.is_finite();
        if !self.loss.is_finite() || gradient_broken || runaway {
            return Err(self.diverged(self.loss));
        }
        self.push_trend(self.loss);
        Ok(())
    }

    /// The rule that stops the run after this epoch, if any; also runs the
    /// no-improvement bookkeeping of the adaptive schedule.
    fn stop_reason(&mut self, old_loss: f64, step_norm: f64) -> Option<StopReason> {
        let stop = &self.options.stop;
        let improved = self.loss <= self.best_loss - stop.min_improvement;
        self.best_loss = self.best_loss.min(self.loss);
        let adaptive = self.options.schedule == Schedule::Adaptive;
        let mut stalled = false;
        if let Some(patience) = stop
            .n_iter_no_change
            .or(adaptive.then_some(ADAPTIVE_PATIENCE))
        {
            self.no_change = if improved { 0 } else { self.no_change + 1 };
            if self.no_change >= patience {
                self.no_change = 0;
                if adaptive && self.adaptive_lr / 5.0 >= ADAPTIVE_MIN_LR {
                    self.adaptive_lr /= 5.0;
                } else {
                    stalled = true;
                }
            }
        }
        if stop.tol_grad.is_some_and(|tol| self.grad_norm < tol) {
            Some(StopReason::GradientNorm)
        } else if stop.tol_step.is_some_and(|tol| step_norm < tol) {
            Some(StopReason::StepSize)
        } else if stop
            .tol_loss
            .is_some_and(|tol| (self.loss - old_loss).abs() < tol)
        {
            Some(StopReason::LossChange)
        } else if stalled {
            Some(StopReason::NoImprovement)
        } else if stop.max_iter.is_some_and(|max| self.iteration >= max) {
            Some(StopReason::MaxIterations)
        } else if stop.max_epochs.is_some_and(|max| self.epoch >= max) {
            Some(StopReason::MaxEpochs)
        } else {
            None
        }
    }

    fn report(&mut self, scope: Scope, loss: f64, grad_norm: f64, step_norm: f64, lr: f64) {
        self.observer.record(&Record {
            scope,
            iteration: self.iteration,
            epoch: self.epoch,
            loss,
            grad_norm,
            step_norm,
            lr,
            seconds: self.started.elapsed().as_secs_f64(),
            w: &self.w,
        });
    }

    fn push_trend(&mut self, loss: f64) {
        self.trend[self.trend_len % TREND] = loss;
        self.trend_len += 1;
    }

    fn objective_error(&self, source: ObjectiveError) -> OptimError {
        objective_error(self.iteration, source)
    }

    fn diverged(&self, loss: f64) -> OptimError {
        let kept = self.trend_len.min(TREND);
        let mut loss_trend: Vec<f64> = (self.trend_len - kept..self.trend_len)
            .map(|i| self.trend[i % TREND])
            .collect();
        loss_trend.push(loss);
        let advice = if self.options.line_search.is_some() {
            "try a smaller learning rate, or standardise the data (centre and scale each feature column)"
                .to_owned()
        } else {
            format!(
                "try a smaller learning rate (now {:e}), standardise the data (centre and scale each feature column), or a line search",
                self.options.lr
            )
        };
        OptimError::Diverged {
            iteration: self.iteration,
            loss_trend,
            advice,
        }
    }

    /// Ends the run for `stop`, with the full loss and gradient at the last iterate
    /// (computed now when the epochs only had their running averages).
    fn conclude(mut self, stop: StopReason) -> Result<Outcome, OptimError> {
        if self.stale {
            self.loss = self.full_evaluation()?;
            self.grad_norm = norm(&self.grad);
            self.stale = false;
        }
        Ok(self.finish(stop))
    }

    fn finish(self, stop: StopReason) -> Outcome {
        Outcome {
            w: self.w,
            loss: self.loss,
            gradient_norm: self.grad_norm,
            iterations: self.iteration,
            epochs: self.epoch,
            seconds: self.started.elapsed().as_secs_f64(),
            stop,
            epoch_loss: if self.running {
                EpochLoss::Running
            } else {
                EpochLoss::Exact
            },
        }
    }
}

fn objective_error(iteration: usize, source: ObjectiveError) -> OptimError {
    OptimError::Objective { iteration, source }
}

/// `y ← y + a x`.
fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `w ← w − η d`, returning `‖d‖²`, in one pass with four independent accumulators
/// so that the loop vectorises.
pub(crate) fn descend(w: &mut [f64], lr: f64, d: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let mut wc = w.chunks_exact_mut(4);
    let mut dc = d.chunks_exact(4);
    for (wk, dk) in (&mut wc).zip(&mut dc) {
        for k in 0..4 {
            wk[k] -= lr * dk[k];
            acc[k] += dk[k] * dk[k];
        }
    }
    let mut tail = 0.0;
    for (wi, di) in wc.into_remainder().iter_mut().zip(dc.remainder()) {
        *wi -= lr * di;
        tail += di * di;
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

fn norm(x: &[f64]) -> f64 {
    dot(x, x).sqrt()
}

fn distance(x: &[f64], y: &[f64]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt()
}
