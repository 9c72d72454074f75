//! Gradient descent, SGD and mini-batch gradient descent for least squares, on the
//! generic optimiser ([`crate::optim`]).
//!
//! The iterations always run on standardised features (centred with an intercept,
//! divided by their standard deviations): on raw features the curvature differs by
//! orders of magnitude between directions and gradient descent crawls or diverges
//! (diabetes: cond `[1 X]` ≈ 7.2e3 raw, ≈ 227 standardised). The loss is the mean
//! squared error plus the ridge term spread over the samples,
//!
//! ```text
//! Q(β) = 1/N ‖y_c − Z β‖² + λ/N Σⱼ wⱼ βⱼ²,   ∇Q(β) = 2/N (Zᵀ(Z β − y_c) + λ w ∘ β)
//! ```
//!
//! with `wⱼ = 1` when the user asked for `standardize` and `wⱼ = 1/sⱼ²` otherwise, so
//! that the penalty is the same `λ ‖b‖²` as in the closed form. A batch `B` replaces
//! `1/N Σᵢ` by `1/|B| Σ_{i∈B}`, an unbiased estimate of the full gradient.
//!
//! Step sizes: gradient descent uses `1/L` with `L = 2/N σ_max(Z)² + 2λ/N max w`
//! estimated by power iteration; SGD starts from `1/max_i Lᵢ` (`Lᵢ = 2‖zᵢ‖²`, the
//! curvature of one sample's loss) and mini-batch from `1/L`, both halved every 20
//! epochs to quiet the sampling noise near the minimum.

use faer::{ColRef, Mat, MatRef};

use super::problem::Problem;
use super::{Fit, LinearRegression, LinregError, Solver};
use crate::optim::{
    minimize, Batch, Method, NoObserver, Objective, ObjectiveError, Options, Schedule, StopReason,
    StopRules,
};

/// Settings of the iterative solvers. `None` fields take per-solver defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IterativeOptions {
    /// Initial step size `η₀`; `None`: `1/L` (gd, minibatch) or `1/max Lᵢ` (sgd).
    pub learning_rate: Option<f64>,
    /// Epoch limit; `None`: 20000 for gd (one step per epoch), 200 for sgd, 500 for
    /// minibatch.
    pub max_epochs: Option<usize>,
    /// Samples per mini-batch step.
    pub batch: usize,
    /// Stop when `‖∇Q(β)‖ ≤ tolerance · ‖∇Q(0)‖`.
    pub tolerance: f64,
    /// Seed of the sampling (sgd, minibatch).
    pub seed: u64,
}

impl Default for IterativeOptions {
    fn default() -> Self {
        Self {
            learning_rate: None,
            max_epochs: None,
            batch: 32,
            tolerance: 1e-9,
            seed: 0,
        }
    }
}

impl IterativeOptions {
    /// Refuses settings no iterative solver can run with: a batch of 0 samples, a
    /// step size or tolerance that is not a positive number, an epoch limit of 0.
    pub fn validate(&self) -> Result<(), LinregError> {
        let invalid = |option: &'static str, reason: String| {
            Err(LinregError::InvalidOption { option, reason })
        };
        if self.batch == 0 {
            return invalid(
                "batch",
                "a batch of 0 samples — a mini-batch needs at least 1 sample".to_owned(),
            );
        }
        if let Some(lr) = self.learning_rate {
            if !(lr.is_finite() && lr > 0.0) {
                return invalid(
                    "lr",
                    format!("η = {lr} — the step size must be a positive number"),
                );
            }
        }
        if self.max_epochs == Some(0) {
            return invalid("epochs", "a limit of 0 epochs — give at least 1".to_owned());
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return invalid(
                "tolerance",
                format!(
                    "{} — the relative gradient tolerance must be a positive number",
                    self.tolerance
                ),
            );
        }
        Ok(())
    }
}

/// The least-squares loss on standardised features, as an [`Objective`].
struct LeastSquares<'p> {
    z: &'p Mat<f64>,
    yc: &'p [f64],
    /// `λ/N · wⱼ`, the per-coordinate penalty weight.
    penalty: Vec<f64>,
    residual: Vec<f64>,
}

impl LeastSquares<'_> {
    fn rows<'b>(&self, batch: Batch<'b>) -> RowIter<'b> {
        match batch {
            Batch::All => RowIter::All(0..self.z.nrows()),
            Batch::Rows(rows) | Batch::Share { rows, .. } => RowIter::Some(rows.iter()),
        }
    }
}

enum RowIter<'b> {
    All(std::ops::Range<usize>),
    Some(std::slice::Iter<'b, usize>),
}

impl Iterator for RowIter<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        match self {
            RowIter::All(range) => range.next(),
            RowIter::Some(rows) => rows.next().copied(),
        }
    }
}

impl Objective for LeastSquares<'_> {
    fn dim(&self) -> usize {
        self.z.ncols()
    }

    fn samples(&self) -> usize {
        self.z.nrows()
    }

    fn loss(&mut self, w: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
        let mut grad = vec![0.0; w.len()];
        self.loss_and_gradient(w, batch, &mut grad)
    }

    fn loss_and_gradient(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        grad: &mut [f64],
    ) -> Result<f64, ObjectiveError> {
        let count = batch.len(self.z.nrows()).max(1) as f64;
        self.residual.clear();
        let mut loss = 0.0;
        for i in self.rows(batch) {
            let r: f64 = (0..w.len()).map(|j| self.z[(i, j)] * w[j]).sum::<f64>() - self.yc[i];
            loss += r * r;
            self.residual.push(r);
        }
        loss /= count;
        for (g, (wj, pj)) in grad.iter_mut().zip(w.iter().zip(&self.penalty)) {
            *g = 2.0 * pj * wj;
            loss += pj * wj * wj;
        }
        for (i, r) in self.rows(batch).zip(&self.residual) {
            for (j, g) in grad.iter_mut().enumerate() {
                *g += 2.0 / count * self.z[(i, j)] * r;
            }
        }
        Ok(loss)
    }
}

/// `σ_max(Z)²` by power iteration on `ZᵀZ` (converges from below; 100 steps or a
/// relative change under 1e-10).
fn largest_eigenvalue(z: MatRef<'_, f64>) -> f64 {
    let k = z.ncols();
    if k == 0 || z.nrows() == 0 {
        return 0.0;
    }
    let mut v = faer::Col::<f64>::from_fn(k, |j| 1.0 + j as f64 / k as f64);
    let mut estimate = 0.0;
    for _ in 0..100 {
        let norm = v.norm_l2();
        if norm == 0.0 {
            return 0.0;
        }
        v /= faer::Scale(norm);
        let w = z.transpose() * (z * &v);
        let next = w.norm_l2();
        v = w;
        if (next - estimate).abs() <= 1e-10 * next {
            return next;
        }
        estimate = next;
    }
    estimate
}

/// The decaying schedule of sgd and minibatch: `η` halves every 20 epochs, fast
/// progress first, then ever smaller steps that average out the sampling noise.
const HALVING: Schedule = Schedule::Step {
    every: 20,
    factor: 0.5,
};

/// A stochastic run that ends with `‖∇Q‖` above this fraction of `‖∇Q(0)‖` gets a
/// warning.
const STOCHASTIC_ENOUGH: f64 = 1e-3;

/// Fits by `solver` (gd, sgd or minibatch).
pub(crate) fn fit(
    model: &LinearRegression,
    x: MatRef<'_, f64>,
    y: ColRef<'_, f64>,
    names: Vec<String>,
) -> Result<Fit, LinregError> {
    let settings = &model.iterative;
    let problem =
        Problem::new(x, y, model.intercept, true, model.ridge).map_err(|bad| bad.named(&names))?;
    let z = problem.z().map_err(|bad| bad.named(&names))?;
    let yc = problem.centred_target();
    let n = problem.n() as f64;
    let penalty: Vec<f64> = problem
        .active
        .iter()
        .map(|&j| {
            let weight = if model.standardize {
                1.0
            } else {
                1.0 / problem.scale[j].powi(2)
            };
            model.ridge / n * weight
        })
        .collect();
    let max_penalty = penalty.iter().copied().fold(0.0, f64::max);
    let lipschitz = 2.0 / n * largest_eigenvalue(z.as_ref()) + 2.0 * max_penalty;
    let sample_lipschitz = (0..z.nrows())
        .map(|i| 2.0 * z.row(i).norm_l2().powi(2))
        .fold(0.0, f64::max)
        + 2.0 * max_penalty;
    let (method, default_lr, default_epochs, schedule) = match model.solver {
        Solver::Sgd => (Method::Sgd, 1.0 / sample_lipschitz, 200, HALVING),
        Solver::MiniBatch => (
            Method::MiniBatch {
                batch: settings.batch,
            },
            1.0 / lipschitz,
            500,
            HALVING,
        ),
        _ => (Method::Gd, 1.0 / lipschitz, 20_000, Schedule::Constant),
    };
    let lr = settings.learning_rate.unwrap_or(default_lr);
    if !(lr.is_finite() && lr > 0.0) {
        // Only the default can be unusable here (the given one was validated): it is
        // 1/L, infinite when every feature is constant.
        return Err(LinregError::InvalidOption {
            option: "lr",
            reason: format!(
                "the default step size 1/L is {lr}: every feature is constant, so there is nothing to fit — drop the constant features or give a learning rate"
            ),
        });
    }
    let mut objective = LeastSquares {
        z: &z,
        yc: &yc,
        penalty,
        residual: Vec::new(),
    };
    let w0 = vec![0.0; problem.k()];
    let mut g0 = vec![0.0; problem.k()];
    objective
        .loss_and_gradient(&w0, Batch::All, &mut g0)
        .map_err(|e| LinregError::Numerical(e.to_string()))?;
    let g0_norm = g0.iter().map(|g| g * g).sum::<f64>().sqrt();
    let max_epochs = settings.max_epochs.unwrap_or(default_epochs);
    let options = Options {
        method,
        lr,
        schedule,
        stop: StopRules {
            // A zero gradient at the start (a constant target: the intercept alone
            // fits it) is already converged; the rule must still be a positive bound.
            tol_grad: Some((settings.tolerance * g0_norm).max(f64::MIN_POSITIVE)),
            max_epochs: Some(max_epochs),
            ..StopRules::default()
        },
        seed: settings.seed,
        ..Options::default()
    };
    let outcome = minimize(&mut objective, &w0, &options, &mut NoObserver).map_err(|source| {
        LinregError::Iterative {
            solver: model.solver,
            source,
        }
    })?;
    let (coefficients, intercept) = problem.unscale(&outcome.w);
    let (equilibrated, _) = problem.equilibrated().map_err(|bad| bad.named(&names))?;
    let sigma = if problem.k() > 0 {
        super::svd::singular_values(equilibrated.as_ref())
            .map_err(|e| LinregError::Numerical(format!("{e:?}")))?
    } else {
        Vec::new()
    };
    let top = sigma.first().copied().unwrap_or(0.0);
    let rcond = problem.rows().max(problem.k()) as f64 * f64::EPSILON;
    let rank = sigma.iter().filter(|&&s| s > rcond * top).count();
    let condition_number = match sigma.last() {
        Some(&min) if sigma.len() == problem.k() && min > 0.0 => top / min,
        Some(_) => f64::INFINITY,
        None => 1.0,
    };
    let mut warnings = Vec::new();
    if rank < problem.k() {
        warnings.push(format!(
            "rank deficient: rank {rank} for {} features — the coefficients are not identifiable; from a zero start {} tends to the minimum-norm solution in standardised units",
            problem.k(),
            model.solver
        ));
    }
    // A stochastic run normally ends on its epoch limit, its step size decayed; it is
    // worth a warning only when the gradient is still far from zero.
    let stochastic = model.solver != Solver::Gd;
    let far = outcome.gradient_norm > STOCHASTIC_ENOUGH * g0_norm;
    if !outcome.stop.converged() && (!stochastic || far) {
        warnings.push(format!(
            "{} stopped at the limit of {max_epochs} epochs before ‖∇Q‖ fell to {:.0e} of its start (now {:.2e}) — raise the epoch limit or use a closed-form solver",
            model.solver, settings.tolerance, outcome.gradient_norm
        ));
    }
    let step = match model.solver {
        Solver::Sgd => {
            format!("η₀ = 1/max Lᵢ = {lr:.3e} halved every 20 epochs, one sample per step")
        }
        Solver::MiniBatch => format!(
            "η₀ = 1/L = {lr:.3e} halved every 20 epochs, batches of {}",
            settings.batch
        ),
        _ => format!("constant step 1/L = {lr:.3e}, L = 2/N·σ_max(X)² by power iteration"),
    };
    // The relative tolerance is this solver's own rule, not an option of `minimize`.
    let stopped = match outcome.stop {
        StopReason::GradientNorm => {
            format!("‖∇Q‖ fell below {:.0e} of its start", settings.tolerance)
        }
        StopReason::MaxEpochs => format!("reached the limit of {max_epochs} epochs"),
        other => other.description().to_owned(),
    };
    Ok(Fit {
        solver_used: model.solver,
        why: format!(
            "{} on standardised features, {step}; stopped: {stopped}",
            model.solver,
        ),
        features: names,
        intercept,
        coefficients,
        rank,
        condition_number,
        warnings,
        iterations: Some(outcome.iterations),
        epochs: Some(outcome.epochs),
        seconds: outcome.seconds,
    })
}
