//! Linear regression `y ≈ b₀ + X b` by least squares: closed forms (normal
//! equations, pivoted QR, SVD, chosen by the conditioning) and gradient methods.

use faer::{ColRef, MatRef};
use serde::Serialize;

pub use matdiff_fit::linreg::Solver;
/// The model with every option (intercept, standardisation, ridge, solver, the
/// iterative solvers' settings), its fit with the scores, and the seeded
/// train/test split, for the fits that [`fit`] does not cover.
pub use matdiff_fit::linreg::{
    select_entries, select_rows, train_test_split, Fit, IterativeOptions, LinearRegression,
    LinregError, Scores,
};

use crate::Error;

/// A fitted linear regression, as data: the schema of `matdiff linreg --json`'s fit
/// (the condition number serialises as `condition_number`).
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
    /// The solver that ran (`normal`, `qr`, `svd`, `gd`, …).
    pub solver: &'static str,
    /// Why that solver, for `auto`.
    pub why: String,
    /// `b₀`.
    pub intercept: f64,
    /// `b`, one coefficient per column of `X`.
    pub coefficients: Vec<f64>,
    /// The names of the columns (`x1`, `x2`, …).
    pub features: Vec<String>,
    /// The coefficient of determination on the data fitted.
    pub r2: f64,
    /// The mean squared error on the data fitted.
    pub mse: f64,
    /// Its square root.
    pub rmse: f64,
    /// The numerical rank of the design.
    pub rank: usize,
    /// The 2-norm condition number of the (centred) design.
    #[serde(rename = "condition_number")]
    pub condition: f64,
    /// Updates of an iterative solver.
    pub iterations: Option<usize>,
    /// Passes over the data of an iterative solver.
    pub epochs: Option<usize>,
    /// Wall-clock seconds of the fit.
    pub seconds: f64,
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
        solver: fit.solver_used.name(),
        why: fit.why,
        intercept: fit.intercept,
        coefficients: fit.coefficients,
        features: fit.features,
        r2: scores.r2,
        mse: scores.mse,
        rmse: scores.rmse,
        rank: fit.rank,
        condition: fit.condition_number,
        iterations: fit.iterations,
        epochs: fit.epochs,
        seconds: fit.seconds,
        warnings: fit.warnings,
    })
}
