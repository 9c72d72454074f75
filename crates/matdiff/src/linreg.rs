//! Linear regression `y ≈ b₀ + X b` by least squares: closed forms (normal
//! equations, pivoted QR, SVD, chosen by the conditioning) and gradient methods.

use faer::{ColRef, MatRef};
use serde::Serialize;

pub use matdiff_fit::linreg::Solver;

use crate::Error;

/// A fitted linear regression, as data (the schema of `matdiff linreg --json`'s fit).
///
/// ```
/// let (x, y) = matdiff::datasets::diabetes();
/// let ols = matdiff::linreg::fit(x.as_ref(), &y, matdiff::Solver::Auto)?;
/// assert!((ols.r2 - 0.51775).abs() < 1e-5);
/// assert_eq!(ols.rank, 10);
/// # Ok::<(), matdiff::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Regression {
    /// `b`, one coefficient per column of `X`.
    pub coefficients: Vec<f64>,
    /// `b₀`.
    pub intercept: f64,
    /// The coefficient of determination on the data fitted.
    pub r2: f64,
    /// The mean squared error on the data fitted.
    pub mse: f64,
    /// The 2-norm condition number of the (centred) design.
    pub condition: f64,
    /// The numerical rank of the design.
    pub rank: usize,
    /// The solver that ran (`normal`, `qr`, `svd`, `gd`, …).
    pub solver: &'static str,
    /// Why that solver, for `auto`.
    pub why: String,
    /// Constant or collinear columns, and the like.
    pub warnings: Vec<String>,
}

/// Fits `y ≈ b₀ + X b` by least squares with `solver`.
///
/// ```
/// use matdiff::{faer, linreg, Solver};
///
/// let x = faer::mat![[1.0], [2.0], [3.0], [4.0]];
/// let fit = linreg::fit(x.as_ref(), &[3.0, 5.0, 7.0, 9.0], Solver::Qr)?;
/// assert!((fit.coefficients[0] - 2.0).abs() < 1e-12 && (fit.intercept - 1.0).abs() < 1e-12);
/// # Ok::<(), matdiff::Error>(())
/// ```
pub fn fit(x: MatRef<'_, f64>, y: &[f64], solver: Solver) -> Result<Regression, Error> {
    let y = ColRef::from_slice(y);
    let model = matdiff_fit::linreg::LinearRegression {
        solver,
        ..Default::default()
    };
    let fit = model.fit(x, y, &[])?;
    let scores = fit.score(x, y);
    Ok(Regression {
        coefficients: fit.coefficients,
        intercept: fit.intercept,
        r2: scores.r2,
        mse: scores.mse,
        condition: fit.condition_number,
        rank: fit.rank,
        solver: fit.solver_used.name(),
        why: fit.why,
        warnings: fit.warnings,
    })
}
