//! Logistic regression `P(y = 1 | x) = sigmoid(b + xᵀw)` by Newton's method on the
//! derived gradient and Hessian of minus the log-likelihood.
//!
//! The loss is written in matrix notation, `sum(softplus(X*w)) - y'*X*w` with a
//! column of ones in `X` for the intercept, and differentiated by the rules like any
//! other: `∇ = Xᵀ(sigmoid(Xw) − y)`, `H = Xᵀ diag(sigmoid(Xw) ∘ sigmoid(−Xw)) X`.
//! Newton's step `w ← w − H⁻¹∇` is halved until the loss falls.

use faer::linalg::solvers::Solve as _;
use faer::{Mat, MatRef, Side};
use serde::Serialize;

use crate::{Error, Function, Inputs};

/// The loss Newton's method minimises: minus the log-likelihood of labels 0 and 1,
/// with the intercept as the coefficient of a column of ones in `X`.
pub const LOSS: &str = "sum(softplus(X*w)) - y'*X*w";
/// Its declarations.
pub const DECLARATIONS: &str = "X: matrix(N, d); w: vector(d); y: vector(N)";

/// The most Newton steps: on data that are not separable Newton's method converges
/// quadratically, in a few dozen steps at most.
pub const MAX_STEPS: usize = 100;

/// A fitted logistic regression, as data.
///
/// ```
/// let x = matdiff::datasets::columns("spector", &["gpa", "tuce", "psi"])?;
/// let y: Vec<f64> = matdiff::datasets::columns("spector", &["grade"])?.col(0).iter().copied().collect();
/// let fit = matdiff::logistic::fit(x.as_ref(), &y, true)?;
/// assert!((fit.intercept + 13.021347).abs() < 1e-5);
/// assert!((fit.log_likelihood + 12.889634).abs() < 1e-6);
/// # Ok::<(), matdiff::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Logistic {
    /// `b`, the log-odds at `x = 0` (0 without an intercept).
    pub intercept: f64,
    /// `w`, one per column of `X`.
    pub coefficients: Vec<f64>,
    /// The log-likelihood at the fit, `Σ yᵢ log pᵢ + (1 − yᵢ) log(1 − pᵢ)`.
    pub log_likelihood: f64,
    /// The norm of the gradient there.
    pub grad_norm: f64,
    /// Newton steps taken.
    pub iterations: usize,
    /// The share of rows whose class (probability ≥ 1/2) is the label.
    pub accuracy: f64,
    /// The gradient in matrix notation, as derived.
    pub gradient: String,
    /// The Hessian in matrix notation, as derived.
    pub hessian: String,
}

/// Fits `P(y = 1 | x) = sigmoid(b + xᵀw)` to labels `y` of 0 and 1 by Newton's
/// method, with an intercept `b` or without.
///
/// Labels other than 0 and 1 are [`Error::Invalid`]; classes that a hyperplane
/// separates (the likelihood has no maximum) are [`Error::Divergence`].
pub fn fit(x: MatRef<'_, f64>, y: &[f64], intercept: bool) -> Result<Logistic, Error> {
    if y.len() != x.nrows() {
        return Err(Error::shape(format!(
            "X has {} rows but y has {} — give one label per row",
            x.nrows(),
            y.len()
        )));
    }
    if let Some(row) = y.iter().position(|&v| v != 0.0 && v != 1.0) {
        return Err(Error::Invalid(format!(
            "logistic regression needs labels 0 and 1, and row {} has {}",
            row + 1,
            y[row]
        )));
    }
    let offset = usize::from(intercept);
    let d = x.ncols() + offset;
    let design = Mat::from_fn(x.nrows(), d, |i, j| {
        if j < offset {
            1.0
        } else {
            x[(i, j - offset)]
        }
    });
    let loss = Function::parse(LOSS, DECLARATIONS)?;
    let gradient = loss.gradient("w")?;
    let hessian = loss.hessian("w")?;
    let value_at = |w: &[f64]| -> Result<f64, Error> {
        let inputs = Inputs::new()
            .matrix("X", design.as_ref())
            .vector("y", y)
            .vector("w", w);
        Ok(loss.value(&inputs)?[(0, 0)])
    };
    let mut w = vec![0.0; d];
    let mut value = value_at(&w)?;
    let mut iterations = 0;
    let mut grad_norm;
    'newton: loop {
        let inputs = Inputs::new()
            .matrix("X", design.as_ref())
            .vector("y", y)
            .vector("w", &w);
        let g = gradient.evaluate(&inputs)?;
        let h = hessian.evaluate(&inputs)?;
        grad_norm = g.col(0).iter().map(|v| v * v).sum::<f64>().sqrt();
        // Converged when the Newton decrement ∇ᵀH⁻¹∇ / 2, the loss still to gain, is
        // at the level of rounding in the loss.
        let mut step = g.clone();
        match h.llt(Side::Lower) {
            Ok(cholesky) => cholesky.solve_in_place(&mut step),
            Err(_) => return Err(separable(iterations)),
        }
        let decrement: f64 = (0..d).map(|i| g[(i, 0)] * step[(i, 0)]).sum::<f64>() / 2.0;
        if decrement <= 1e-14 * value.abs().max(1.0) {
            break;
        }
        if iterations == MAX_STEPS {
            return Err(separable(iterations));
        }
        let mut t = 1.0;
        loop {
            let trial: Vec<f64> = (0..d).map(|i| w[i] - t * step[(i, 0)]).collect();
            let trial_value = value_at(&trial)?;
            if trial_value <= value {
                w = trial;
                value = trial_value;
                break;
            }
            t /= 2.0;
            if t < 1e-10 {
                // No step lowers the loss: at the level of rounding that is the
                // maximum, unless much was still to gain.
                if decrement <= 1e-8 * value.abs().max(1.0) {
                    break 'newton;
                }
                return Err(separable(iterations));
            }
        }
        iterations += 1;
    }
    let correct = (0..x.nrows())
        .filter(|&i| {
            let score: f64 = (0..d).map(|j| design[(i, j)] * w[j]).sum();
            (score >= 0.0) == (y[i] == 1.0)
        })
        .count();
    Ok(Logistic {
        intercept: if intercept { w[0] } else { 0.0 },
        coefficients: w[offset..].to_vec(),
        log_likelihood: -value,
        grad_norm,
        iterations,
        accuracy: correct as f64 / x.nrows().max(1) as f64,
        gradient: gradient.to_string(),
        hessian: hessian.to_string(),
    })
}

fn separable(iterations: usize) -> Error {
    Error::Divergence(format!(
        "Newton's method found no maximum of the likelihood after {iterations} steps: the classes are (nearly) separated by a hyperplane, or a feature is constant or a copy of others — drop such columns"
    ))
}
