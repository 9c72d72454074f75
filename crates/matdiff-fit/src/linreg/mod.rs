//! Linear regression `y ≈ b₀ + X b`, in closed form and iteratively.
//!
//! ```text
//! minimise  ‖y − b₀ − X b‖² + λ ‖b‖²      (λ = 0: ordinary least squares)
//! ```
//!
//! Closed form (see [`Solver`]): normal equations `(XᵀX + λI) b = Xᵀy` by Cholesky,
//! Householder QR with column pivoting, or the SVD; [`Solver::Auto`] estimates
//! `cond(X)` and takes the cheapest one that keeps at least ten significant digits.
//! Iteratively: gradient descent, SGD and mini-batch gradient descent on the mean
//! squared error, through [`crate::optim`].
//!
//! The intercept is handled by centring (it is never penalised), `standardize` fits
//! on features divided by their standard deviations and reports coefficients in the
//! original units, and a rank-deficient design (a duplicated or constant column, fewer
//! rows than features) gives the minimum-norm solution and a warning naming the
//! columns — never a crash. Under ridge the penalty applies to the coefficients the
//! fit is done in: per standard deviation with `standardize`, original units without.
//!
//! ```
//! use faer::{col, mat};
//! use matdiff_fit::linreg::{LinearRegression, Solver};
//!
//! let x = mat![[1.0], [2.0], [3.0], [4.0]];
//! let y = col![3.0, 5.0, 7.0, 9.0];
//! let fit = LinearRegression { solver: Solver::Qr, ..Default::default() }
//!     .fit(x.as_ref(), y.as_ref(), &[])
//!     .unwrap();
//! assert!((fit.intercept - 1.0).abs() < 1e-12);
//! assert!((fit.coefficients[0] - 2.0).abs() < 1e-12);
//! ```

mod accurate;
mod closed_form;
mod iterative;
mod metrics;
mod passes;
mod problem;
mod svd;

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use faer::{Col, ColRef, MatRef};
use thiserror::Error;

pub use closed_form::NORMAL_MIN_DIGITS;
pub use iterative::IterativeOptions;
pub use metrics::{mse, r2, rmse, select_entries, select_rows, train_test_split};

use closed_form::ClosedForm;
use problem::Problem;

/// How to solve the least-squares problem.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Solver {
    /// Normal equations when `cond(X)² ε` leaves ≥ 12.5 digits, else pivoted QR, else
    /// (rank deficient) SVD. The fit says which and why.
    #[default]
    Auto,
    /// Cholesky of `XᵀX (+ λI)`: `O(N d² + d³)`, error `≈ cond(X)² ε`.
    Normal,
    /// Householder QR with column pivoting and iterative refinement: error `≈ cond(X) ε`.
    Qr,
    /// Thin SVD: error `≈ cond(X) ε`, minimum-norm when rank deficient.
    Svd,
    /// Full-batch gradient descent, step `1/L`.
    Gd,
    /// Stochastic gradient descent, one sample per step, decaying step.
    Sgd,
    /// Mini-batch gradient descent, decaying step.
    MiniBatch,
}

impl Solver {
    /// Every concrete solver, closed forms first (what `--solver all` compares).
    pub const ALL: [Solver; 6] = [
        Solver::Normal,
        Solver::Qr,
        Solver::Svd,
        Solver::Gd,
        Solver::Sgd,
        Solver::MiniBatch,
    ];

    /// The solver's name as the command line spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Solver::Auto => "auto",
            Solver::Normal => "normal",
            Solver::Qr => "qr",
            Solver::Svd => "svd",
            Solver::Gd => "gd",
            Solver::Sgd => "sgd",
            Solver::MiniBatch => "minibatch",
        }
    }

    /// Whether the solver is iterative (gradient descent of some kind).
    pub fn is_iterative(&self) -> bool {
        matches!(self, Solver::Gd | Solver::Sgd | Solver::MiniBatch)
    }
}

impl fmt::Display for Solver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Solver {
    type Err = LinregError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Solver::Auto]
            .into_iter()
            .chain(Solver::ALL)
            .find(|solver| solver.name() == s)
            .ok_or_else(|| LinregError::UnknownSolver(s.to_owned()))
    }
}

/// Why a fit could not be made.
#[derive(Debug, Error)]
pub enum LinregError {
    /// `X` and `y` disagree on the number of rows.
    #[error("X has {x_rows} rows but y has {y_rows} — give one target value per row")]
    RowMismatch {
        /// Rows of `X`.
        x_rows: usize,
        /// Entries of `y`.
        y_rows: usize,
    },
    /// There are no rows to fit.
    #[error("no rows to fit — the data are empty")]
    NoRows,
    /// The feature names do not match the columns.
    #[error("{names} feature names for {columns} columns — give one name per column")]
    NameMismatch {
        /// Names given.
        names: usize,
        /// Columns of `X`.
        columns: usize,
    },
    /// A value of `X` or `y` is NaN or infinite.
    #[error("{what} has a non-finite value at row {row} — remove or impute it")]
    NotFinite {
        /// `X` (with the column) or `y`.
        what: String,
        /// The row (1-based).
        row: usize,
    },
    /// An option is out of range.
    #[error("invalid {option}: {reason}")]
    InvalidOption {
        /// The option.
        option: &'static str,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A solver name that does not exist.
    #[error("unknown solver '{0}' — use auto, normal, qr, svd, gd, sgd or minibatch")]
    UnknownSolver(String),
    /// A factorisation did not converge (should not happen on finite data).
    #[error("the factorisation failed: {0}")]
    Numerical(String),
    /// An iterative solver diverged or failed.
    #[error("{solver} failed: {source}")]
    Iterative {
        /// The solver.
        solver: Solver,
        /// What the optimiser said.
        #[source]
        source: crate::optim::OptimError,
    },
}

/// The model and how to fit it.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearRegression {
    /// Fit an intercept `b₀` (by centring; never penalised).
    pub intercept: bool,
    /// Fit on features divided by their standard deviations; coefficients are still
    /// reported in the original units.
    pub standardize: bool,
    /// Ridge penalty `λ ≥ 0` on `‖b‖²` (on the standardised coefficients with
    /// `standardize`).
    pub ridge: f64,
    /// The solver.
    pub solver: Solver,
    /// Settings of the iterative solvers.
    pub iterative: IterativeOptions,
}

impl Default for LinearRegression {
    /// Ordinary least squares with an intercept, automatic solver.
    fn default() -> Self {
        Self {
            intercept: true,
            standardize: false,
            ridge: 0.0,
            solver: Solver::Auto,
            iterative: IterativeOptions::default(),
        }
    }
}

/// A fitted model and how it was obtained.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// The solver that produced the coefficients (for `auto`, the one it picked).
    pub solver_used: Solver,
    /// Why that solver, in a sentence.
    pub why: String,
    /// The feature names, one per coefficient.
    pub features: Vec<String>,
    /// The intercept `b₀` (0 without one).
    pub intercept: f64,
    /// The coefficients `b`, in the original units of the features.
    pub coefficients: Vec<f64>,
    /// Numerical rank of the (centred) design, features only.
    pub rank: usize,
    /// `σ_max/σ_min` of the centred design after scaling its columns to unit norm — the
    /// number that governs the accuracy of the closed-form solvers (infinite when rank
    /// deficient). With more than 256 columns and normal equations that are clearly
    /// safe, an estimate from below by power iteration.
    pub condition_number: f64,
    /// Things the user should know: dependent or constant columns, lost digits,
    /// an iterative run that stopped on its limit.
    pub warnings: Vec<String>,
    /// Steps taken (iterative solvers only).
    pub iterations: Option<usize>,
    /// Epochs, full passes over the data (iterative solvers only).
    pub epochs: Option<usize>,
    /// Wall-clock seconds of the fit.
    pub seconds: f64,
}

impl Fit {
    /// Predictions `b₀ + X b` for the rows of `x` (same columns as the fit), one
    /// parallel matrix–vector product.
    pub fn predict(&self, x: MatRef<'_, f64>) -> Col<f64> {
        let k = x.ncols().min(self.coefficients.len());
        let b = ColRef::from_slice(&self.coefficients[..k]);
        let mut predicted = x.subcols(0, k) * b;
        predicted
            .iter_mut()
            .for_each(|value| *value += self.intercept);
        predicted
    }

    /// Goodness of fit of the model on `(x, y)`.
    pub fn score(&self, x: MatRef<'_, f64>, y: ColRef<'_, f64>) -> Scores {
        let predicted = self.predict(x);
        Scores {
            r2: r2(y, predicted.as_ref()),
            mse: mse(y, predicted.as_ref()),
            rmse: rmse(y, predicted.as_ref()),
        }
    }
}

/// R², MSE and RMSE of a model on some data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    /// Coefficient of determination.
    pub r2: f64,
    /// Mean squared error.
    pub mse: f64,
    /// Root mean squared error.
    pub rmse: f64,
}

impl LinearRegression {
    /// Fits `y ≈ b₀ + X b`. `feature_names` names the columns of `x` (empty: `x1`, `x2`, …).
    ///
    /// Errors are bad input (mismatched sizes, NaN/Inf, a negative ridge) or, for the
    /// iterative solvers, a run that diverged. A rank-deficient design is not an error:
    /// the fit carries the minimum-norm solution and warnings naming the columns.
    pub fn fit(
        &self,
        x: MatRef<'_, f64>,
        y: ColRef<'_, f64>,
        feature_names: &[String],
    ) -> Result<Fit, LinregError> {
        let started = Instant::now();
        let names = self.validate(x, y, feature_names)?;
        let problem = Problem::new(x, y, self.intercept, self.standardize, self.ridge)
            .map_err(|bad| bad.named(&names))?;
        let mut warnings: Vec<String> = problem
            .constant
            .iter()
            .map(|&j| constant_column_warning(self.intercept, &names[j]))
            .collect();
        let which = match self.solver {
            // Nothing to iterate on: the fit is the mean, for every solver.
            _ if problem.k() == 0 => Some(ClosedForm::Auto),
            Solver::Auto => Some(ClosedForm::Auto),
            Solver::Normal => Some(ClosedForm::Normal),
            Solver::Qr => Some(ClosedForm::Qr),
            Solver::Svd => Some(ClosedForm::Svd),
            Solver::Gd | Solver::Sgd | Solver::MiniBatch => None,
        };
        let mut fit = match which {
            Some(which) => {
                let solution = closed_form::solve(&problem, which, &names)?;
                let (coefficients, intercept) = problem.unscale(&solution.beta);
                warnings.extend(solution.warnings);
                Fit {
                    solver_used: if problem.k() == 0 {
                        self.solver
                    } else {
                        solution.solver
                    },
                    why: solution.why,
                    features: names,
                    intercept,
                    coefficients,
                    rank: solution.rank,
                    condition_number: solution.condition_number,
                    warnings,
                    iterations: None,
                    epochs: None,
                    seconds: 0.0,
                }
            }
            None => {
                let mut fit = iterative::fit(self, x, y, names)?;
                warnings.append(&mut fit.warnings);
                fit.warnings = warnings;
                fit
            }
        };
        fit.seconds = started.elapsed().as_secs_f64();
        Ok(fit)
    }

    fn validate(
        &self,
        x: MatRef<'_, f64>,
        y: ColRef<'_, f64>,
        feature_names: &[String],
    ) -> Result<Vec<String>, LinregError> {
        if x.nrows() != y.nrows() {
            return Err(LinregError::RowMismatch {
                x_rows: x.nrows(),
                y_rows: y.nrows(),
            });
        }
        if x.nrows() == 0 {
            return Err(LinregError::NoRows);
        }
        self.iterative.validate()?;
        if !(self.ridge.is_finite() && self.ridge >= 0.0) {
            return Err(LinregError::InvalidOption {
                option: "ridge",
                reason: format!("λ = {} — the penalty must be a number ≥ 0", self.ridge),
            });
        }
        let names: Vec<String> = if feature_names.is_empty() {
            (1..=x.ncols()).map(|j| format!("x{j}")).collect()
        } else if feature_names.len() == x.ncols() {
            feature_names.to_vec()
        } else {
            return Err(LinregError::NameMismatch {
                names: feature_names.len(),
                columns: x.ncols(),
            });
        };
        Ok(names)
    }
}

/// The warning for a column set aside as constant (all equal with an intercept, all
/// zero without): its coefficient is 0.
pub(crate) fn constant_column_warning(intercept: bool, name: &str) -> String {
    if intercept {
        format!("column '{name}' is constant, which the intercept already covers — its coefficient is 0")
    } else {
        format!("column '{name}' is all zeros — its coefficient is 0")
    }
}
