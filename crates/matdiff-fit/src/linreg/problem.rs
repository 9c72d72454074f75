//! The least-squares problem a fit actually solves, and the way back to the user's units.
//!
//! With an intercept the features and the target are centred: the slope coefficients
//! of `y ≈ b₀ + X b` are those of `y − ȳ ≈ (X − 1μᵀ) b`, and `b₀ = ȳ − μᵀb`. Centring
//! leaves the intercept unpenalised under ridge and is far better conditioned than an
//! explicit column of ones (Longley: cond `[1 X]` ≈ 5e9). With `standardize` every
//! centred column is also divided by its standard deviation (by its root mean square
//! when there is no intercept, since nothing is centred then), so the coefficients `β`
//! solved for are per standard deviation and `b = β / s`.
//!
//! The solved system is `Z β ≈ y_c` with `Z = (X − 1μᵀ) / s`, augmented with
//! `√λ I β ≈ 0` under ridge. The closed-form solvers additionally scale the columns of
//! that matrix to unit norm (equilibration) before factorising it: this leaves the
//! solution unchanged and makes rank decisions independent of the units the columns
//! are measured in.
//!
//! `Z` is never stored for the normal equations: [`Problem::normal_equations`] forms
//! it block by block from `X` while it multiplies out the Gram matrix. Only the
//! factorisations that need the whole matrix (QR, SVD) get one copy of it.
//!
//! Every value must be finite. With an intercept the pass that computes the means
//! reads every value and sees a NaN or an infinity; without one nothing else needs
//! to read the data before the solve, so the check is left to the first pass that
//! does: the Gram matrix (a non-finite value makes its diagonal non-finite, and only
//! then are the columns searched) or [`Problem::verify`] before any copy.

use std::ops::Range;

use faer::{ColRef, Mat, MatRef};
use rayon::prelude::*;

use super::accurate::{mean, mean_of, Compensated, InterleavedMean};
use super::passes::{self, as_slice, shifted_copy, Stacked};
use super::LinregError;

/// Rows per block of the residual pass.
const RESIDUAL_BLOCK: usize = 4096;

/// A non-finite value in the data: its row (0-based) and its column (`None`: in `y`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NonFinite {
    pub row: usize,
    pub column: Option<usize>,
}

impl NonFinite {
    /// The error, naming the column by `names`.
    pub fn named(self, names: &[String]) -> LinregError {
        LinregError::NotFinite {
            what: match self.column {
                Some(j) => format!("column '{}' of X", names[j]),
                None => "y".to_owned(),
            },
            row: self.row + 1,
        }
    }

    /// The first of the non-finite values found in `y` (its first bad row) and in the
    /// columns of `X` (`(row, column)` pairs): the earliest row wins, and within a row
    /// `y` comes before the columns, as one reads a table.
    fn first(in_y: Option<usize>, in_x: impl Iterator<Item = (usize, usize)>) -> Option<NonFinite> {
        let in_y = in_y.map(|row| NonFinite { row, column: None });
        let in_x = in_x.min().map(|(row, j)| NonFinite {
            row,
            column: Some(j),
        });
        match (in_y, in_x) {
            (Some(a), Some(b)) => Some(if a.row <= b.row { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

/// What one pass over a column finds.
struct ColumnSummary {
    /// The first row with a NaN or an infinity.
    non_finite: Option<usize>,
    /// All values equal (with an intercept) or all zero (without).
    constant: bool,
    /// The mean (0 without an intercept).
    mean: f64,
    /// The scale `s` (standard deviation under `standardize`, else 1).
    scale: f64,
}

/// The centred (and possibly standardised) problem, with the columns that carry
/// information. Constant columns (all equal with an intercept, all zero without) are
/// set aside: their coefficient is zero in the minimum-norm solution.
pub(crate) struct Problem<'a> {
    /// The original features.
    pub x: MatRef<'a, f64>,
    /// The original target.
    pub y: ColRef<'a, f64>,
    /// Whether the model has an intercept.
    pub intercept: bool,
    /// The ridge penalty λ (0 for ordinary least squares).
    pub ridge: f64,
    /// Column means `μ` (0 without an intercept).
    pub mean: Vec<f64>,
    /// Column scales `s` (standard deviations under `standardize`, else 1).
    pub scale: Vec<f64>,
    /// The original indices of the columns in the solve.
    pub active: Vec<usize>,
    /// The original indices of the constant columns left out of the solve.
    pub constant: Vec<usize>,
    /// The mean of the target `ȳ` (0 without an intercept).
    pub target_mean: f64,
    /// Whether every value of `X` and `y` is known to be finite (see the module
    /// documentation).
    verified: bool,
}

/// The normal equations of the equilibrated system `A D` (`A = [Z; √λ I]`, `D` its
/// inverse column norms): `(A D)ᵀ(A D) γ = (A D)ᵀ [y_c; 0]`, and `β = D γ`.
pub(crate) struct NormalEquations {
    /// `D AᵀA D = D (ZᵀZ + λI) D`, unit diagonal.
    pub gram: Mat<f64>,
    /// `D Zᵀ y_c`.
    pub rhs: Vec<f64>,
    /// The scaling `D` (zero columns keep scale 1).
    pub unit: Vec<f64>,
}

impl<'a> Problem<'a> {
    /// Centres, standardises and sets aside constant columns, in one parallel pass
    /// over the columns; with an intercept that pass also checks every value.
    pub fn new(
        x: MatRef<'a, f64>,
        y: ColRef<'a, f64>,
        intercept: bool,
        standardize: bool,
        ridge: f64,
    ) -> Result<Self, NonFinite> {
        let summaries: Vec<ColumnSummary> = match by_rows(x) {
            Some(rows) => summarize_by_rows(x, rows, intercept, standardize),
            None => (0..x.ncols())
                .into_par_iter()
                .map(|j| summarize(x.col(j), intercept, standardize))
                .collect(),
        };
        let verified = intercept;
        if verified {
            let in_x = summaries
                .iter()
                .enumerate()
                .filter_map(|(j, s)| s.non_finite.map(|row| (row, j)));
            if let Some(bad) = NonFinite::first(first_non_finite(y), in_x) {
                return Err(bad);
            }
        }
        let (constant, active): (Vec<usize>, Vec<usize>) =
            (0..x.ncols()).partition(|&j| summaries[j].constant);
        let target_mean = if intercept {
            mean(y.iter().copied())
        } else {
            0.0
        };
        Ok(Self {
            x,
            y,
            intercept,
            ridge,
            mean: summaries.iter().map(|s| s.mean).collect(),
            scale: summaries.iter().map(|s| s.scale).collect(),
            active,
            constant,
            target_mean,
            verified,
        })
    }

    /// Checks that every value of `X` and `y` is finite, unless that is known: a
    /// parallel pass over the columns.
    pub fn verify(&self) -> Result<(), NonFinite> {
        if self.verified {
            return Ok(());
        }
        let in_x: Vec<(usize, usize)> = match by_rows(self.x) {
            // The first non-finite value in reading order is the earliest (row, column).
            Some(rows) => (0..self.x.nrows())
                .into_par_iter()
                .find_map_first(|i| {
                    rows.col(i)
                        .as_slice()
                        .iter()
                        .position(|v| !v.is_finite())
                        .map(|j| (i, j))
                })
                .into_iter()
                .collect(),
            None => (0..self.x.ncols())
                .into_par_iter()
                .filter_map(|j| first_non_finite(self.x.col(j)).map(|row| (row, j)))
                .collect(),
        };
        match NonFinite::first(first_non_finite(self.y), in_x.into_iter()) {
            Some(bad) => Err(bad),
            None => Ok(()),
        }
    }

    /// Number of samples.
    pub fn n(&self) -> usize {
        self.x.nrows()
    }

    /// Number of columns in the solve.
    pub fn k(&self) -> usize {
        self.active.len()
    }

    /// Rows of the solved system: the samples, plus one per coefficient under ridge.
    pub fn rows(&self) -> usize {
        if self.ridge > 0.0 {
            self.n() + self.k()
        } else {
            self.n()
        }
    }

    /// Writes the rows `rows` of column `k` of `Z` into `target`.
    fn z_column(&self, k: usize, rows: Range<usize>, target: &mut [f64]) {
        let j = self.active[k];
        let source = self.x.col(j).subrows(rows.start, rows.len());
        shifted_copy(source, target, self.mean[j], self.scale[j]);
    }

    /// `Z` itself, `N × k` (the iterative solvers work on it row by row).
    pub fn z(&self) -> Result<Mat<f64>, NonFinite> {
        self.verify()?;
        let mut z = Mat::zeros(self.n(), self.k());
        z.as_mut()
            .par_col_iter_mut()
            .enumerate()
            .for_each(|(k, column)| self.z_column(k, 0..self.n(), as_slice(column)));
        Ok(z)
    }

    /// The centred target `y − ȳ` (or `y` without an intercept).
    pub fn centred_target(&self) -> Vec<f64> {
        self.y.iter().map(|v| v - self.target_mean).collect()
    }

    /// The system matrix `A = [Z; √λ I]` (just `Z` without ridge), one copy.
    pub fn design(&self) -> Result<Mat<f64>, NonFinite> {
        Ok(self.system(|_| 1.0)?.0)
    }

    /// The system matrix with unit-norm columns, `A D`, and the scaling `D` (zero
    /// columns keep scale 1), one copy.
    pub fn equilibrated(&self) -> Result<(Mat<f64>, Vec<f64>), NonFinite> {
        self.system(|column| {
            let norm = ColRef::from_slice(column).norm_l2();
            if norm > 0.0 {
                1.0 / norm
            } else {
                1.0
            }
        })
    }

    /// `[Z; √λ I]` with each column multiplied by `factor(column)`, and the factors.
    /// Each column is formed, measured and scaled while it is in cache, in parallel
    /// over the columns.
    fn system(
        &self,
        factor: impl Fn(&[f64]) -> f64 + Sync,
    ) -> Result<(Mat<f64>, Vec<f64>), NonFinite> {
        self.verify()?;
        let (n, root) = (self.n(), self.ridge.sqrt());
        let mut a = Mat::zeros(self.rows(), self.k());
        let factors = a
            .as_mut()
            .par_col_iter_mut()
            .enumerate()
            .map(|(k, column)| {
                let column = as_slice(column);
                self.z_column(k, 0..n, &mut column[..n]);
                if self.ridge > 0.0 {
                    column[n + k] = root;
                }
                let f = factor(column);
                if f != 1.0 {
                    column.iter_mut().for_each(|v| *v *= f);
                }
                f
            })
            .collect();
        Ok((a, factors))
    }

    /// The normal equations of the equilibrated system, from one blockwise pass over
    /// the rows of `X` and `y` (see [`passes::gram`]): the Gram matrix of `[Z y_c]`
    /// holds `ZᵀZ`, and `Zᵀy_c` in its last row.
    pub fn normal_equations(&self) -> Result<NormalEquations, NonFinite> {
        let k = self.k();
        let full = passes::gram(&Stacked {
            x: self.x,
            columns: &self.active,
            shift: &self.mean,
            scale: &self.scale,
            y: self.y,
            y_shift: self.target_mean,
        });
        // A sum of squares is finite exactly when its terms are (or when it
        // overflowed, which the search tells apart).
        if !(0..=k).all(|j| full[(j, j)].is_finite()) {
            self.verify()?;
        }
        let unit: Vec<f64> = (0..k)
            .map(|j| {
                let norm = (full[(j, j)] + self.ridge).sqrt();
                if norm > 0.0 {
                    1.0 / norm
                } else {
                    1.0
                }
            })
            .collect();
        let gram = Mat::from_fn(k, k, |i, j| {
            let ridge = if i == j { self.ridge } else { 0.0 };
            unit[i] * (full[(i, j)] + ridge) * unit[j]
        });
        let rhs = (0..k).map(|j| unit[j] * full[(k, j)]).collect();
        Ok(NormalEquations { gram, rhs, unit })
    }

    /// The right-hand side of the first solve: `[y_c; 0]`.
    pub fn rhs(&self) -> Vec<f64> {
        let mut rhs = self.centred_target();
        rhs.resize(self.rows(), 0.0);
        rhs
    }

    /// Coefficients in the original units, and the intercept, from `β` (fit units,
    /// active columns). The intercept is `b₀ = ȳ − μᵀb`, the mean residual, with the
    /// means summed accurately and the dot product compensated.
    pub fn unscale(&self, beta: &[f64]) -> (Vec<f64>, f64) {
        let mut b = vec![0.0; self.x.ncols()];
        for (k, &j) in self.active.iter().enumerate() {
            b[j] = beta[k] / self.scale[j];
        }
        let intercept = if self.intercept {
            let mut b0 = Compensated::default();
            b0.add(self.target_mean);
            for (&mu, &bj) in self.mean.iter().zip(&b) {
                b0.add_product(-mu, bj);
            }
            b0.value()
        } else {
            0.0
        };
        (b, intercept)
    }

    /// The residuals `yᵢ − b₀ − xᵢᵀ b` on the original data, each accurate to about
    /// twice the working precision (compensated dot products). Blocks of rows in
    /// parallel, each reading the columns of `X` contiguously; every residual is
    /// summed in the same order whatever the blocks, so the result does not depend on
    /// the number of threads.
    pub fn residuals(&self, b: &[f64], intercept: f64) -> Vec<f64> {
        let mut residuals = vec![0.0; self.n()];
        residuals
            .par_chunks_mut(RESIDUAL_BLOCK)
            .enumerate()
            .for_each(|(index, out)| {
                let start = index * RESIDUAL_BLOCK;
                let mut sums: Vec<Compensated> = (start..start + out.len())
                    .map(|i| {
                        let mut r = Compensated::default();
                        r.add(self.y[i]);
                        r.add(-intercept);
                        r
                    })
                    .collect();
                match by_rows(self.x) {
                    // Row by row, the columns in the same order: the same sums.
                    Some(rows) => {
                        for (i, r) in (start..).zip(sums.iter_mut()) {
                            let row = rows.col(i).as_slice();
                            for (&xij, &bj) in row.iter().zip(b) {
                                if bj != 0.0 {
                                    r.add_product(-xij, bj);
                                }
                            }
                        }
                    }
                    None => {
                        for (j, &bj) in b.iter().enumerate() {
                            if bj != 0.0 {
                                let column = self.x.col(j).subrows(start, out.len());
                                for (r, &xij) in sums.iter_mut().zip(column.iter()) {
                                    r.add_product(-xij, bj);
                                }
                            }
                        }
                    }
                }
                for (o, r) in out.iter_mut().zip(&sums) {
                    *o = r.value();
                }
            });
        residuals
    }

    /// Iterative refinement of a least-squares solution `β` (fit units): the residual
    /// `r = y − b₀ − X b` is computed accurately on the original data, the correction
    /// `δ = argmin ‖A δ − [r − r̄; −√λ β]‖` comes from the same factorisation
    /// (`solve`), and `β ← β + δ`. At the least-squares solution the correction is
    /// zero, so each step removes most of the error the factorisation's rounding left.
    pub fn refine(&self, beta: &mut [f64], steps: usize, solve: &dyn Fn(&[f64]) -> Vec<f64>) {
        let root = self.ridge.sqrt();
        for _ in 0..steps {
            let (b, b0) = self.unscale(beta);
            let mut rhs = self.residuals(&b, b0);
            if self.intercept {
                let rbar = mean(rhs.iter().copied());
                rhs.iter_mut().for_each(|r| *r -= rbar);
            }
            if self.ridge > 0.0 {
                rhs.extend(beta.iter().map(|v| -root * v));
            }
            let delta = solve(&rhs);
            let mut changed = false;
            for (v, dv) in beta.iter_mut().zip(&delta) {
                if dv.is_finite() && *dv != 0.0 {
                    *v += dv;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }
}

/// The first row of a column with a NaN or an infinity.
fn first_non_finite(column: ColRef<'_, f64>) -> Option<usize> {
    match column.try_as_col_major() {
        Some(column) => column.as_slice().iter().position(|v| !v.is_finite()),
        None => column.iter().position(|v| !v.is_finite()),
    }
}

/// `x` stored by rows, as the columns of its transpose (row `i` is column `i`,
/// contiguous), or `None` when its columns are the contiguous ones.
fn by_rows(
    x: MatRef<'_, f64>,
) -> Option<MatRef<'_, f64, usize, usize, faer::ContiguousFwd, isize>> {
    if x.ncols() > 1 && x.col_stride() == 1 && x.row_stride() != 1 {
        x.transpose().try_as_col_major()
    } else {
        None
    }
}

/// Columns of `x` summarised together from a matrix stored by rows: a kibibyte of
/// each row, so that a group walks the rows in long runs the prefetcher follows
/// (groups of one cache line, eight columns, read each row's lines out of order and
/// took twice as long).
const SUMMARY_GROUP: usize = 128;

/// [`summarize`] for every column of `x`, stored by rows (`rows`, see [`by_rows`]):
/// groups of adjacent columns in parallel, each reading the rows in order, so that
/// the data are read about once per pass rather than once per column. Every sum runs
/// over the rows in the order [`summarize`] uses on a column, so the summaries are
/// the same bits.
fn summarize_by_rows(
    x: MatRef<'_, f64>,
    rows: MatRef<'_, f64, usize, usize, faer::ContiguousFwd, isize>,
    intercept: bool,
    standardize: bool,
) -> Vec<ColumnSummary> {
    let (n, m) = (x.nrows(), x.ncols());
    let groups: Vec<Vec<ColumnSummary>> = (0..m.div_ceil(SUMMARY_GROUP))
        .into_par_iter()
        .map(|g| {
            let columns = g * SUMMARY_GROUP..((g + 1) * SUMMARY_GROUP).min(m);
            let row = |i: usize| &rows.col(i).as_slice()[columns.clone()];
            let width = columns.len();
            let mut means = vec![InterleavedMean::default(); width];
            if intercept {
                for i in 0..n {
                    for (mean, &v) in means.iter_mut().zip(row(i)) {
                        mean.add(i, n, v);
                    }
                }
            }
            let mu: Vec<f64> = means
                .iter()
                .map(|mean| if intercept { mean.mean(n) } else { 0.0 })
                .collect();
            let first: Vec<f64> = if n > 0 {
                row(0).to_vec()
            } else {
                vec![0.0; width]
            };
            let mut constant = vec![true; width];
            // `Sum` for floats starts from −0.0; the terms are never −0.0, so this
            // adds as `summarize` does.
            let mut squares = vec![-0.0; width];
            for i in 0..n {
                for (k, &v) in row(i).iter().enumerate() {
                    constant[k] &= if intercept { v == first[k] } else { v == 0.0 };
                    squares[k] += (v - mu[k]).powi(2);
                }
            }
            columns
                .clone()
                .enumerate()
                .map(|(k, j)| {
                    if intercept && !mu[k].is_finite() {
                        if let Some(row) = first_non_finite(x.col(j)) {
                            return ColumnSummary {
                                non_finite: Some(row),
                                constant: false,
                                mean: 0.0,
                                scale: 1.0,
                            };
                        }
                    }
                    let scale = if standardize && !constant[k] {
                        (squares[k] / n as f64).sqrt()
                    } else {
                        1.0
                    };
                    ColumnSummary {
                        non_finite: None,
                        constant: constant[k],
                        mean: mu[k],
                        scale,
                    }
                })
                .collect()
        })
        .collect();
    groups.into_iter().flatten().collect()
}

/// One pass over a column (two with `standardize`): whether it is constant, its mean
/// and its scale, and with an intercept where it stops being finite.
fn summarize(column: ColRef<'_, f64>, intercept: bool, standardize: bool) -> ColumnSummary {
    let broken = |row| ColumnSummary {
        non_finite: Some(row),
        constant: false,
        mean: 0.0,
        scale: 1.0,
    };
    // With an intercept the mean reads every value; a NaN or an infinity makes it
    // non-finite, and only then is the column searched for the culprit.
    let mu = if intercept {
        match column.try_as_col_major() {
            Some(column) => mean_of(column.as_slice()),
            None => mean(column.iter().copied()),
        }
    } else {
        0.0
    };
    if intercept && !mu.is_finite() {
        if let Some(row) = first_non_finite(column) {
            return broken(row);
        }
    }
    let first = column.iter().next().copied().unwrap_or(0.0);
    let constant = if intercept {
        column.iter().all(|&v| v == first)
    } else {
        column.iter().all(|&v| v == 0.0)
    };
    let scale = if standardize && !constant {
        let n = column.nrows() as f64;
        (column.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / n).sqrt()
    } else {
        1.0
    };
    ColumnSummary {
        non_finite: None,
        constant,
        mean: mu,
        scale,
    }
}
