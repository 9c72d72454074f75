//! The least-squares problem a fit actually solves, and the way back to the user's units.
//!
//! With an intercept the features and the target are centred: the slope coefficients
//! of `y ≈ b₀ + X b` are those of `y − ȳ ≈ (X − 1μᵀ) b`, and `b₀ = ȳ − μᵀb`. Centring
//! leaves the intercept unpenalised under ridge and is far better conditioned than an
//! explicit column of ones (Longley: cond `[1 X]` ≈ 5e9). With `standardize` every
//! centred column is also divided by its standard deviation, so the coefficients `β`
//! solved for are per standard deviation and `b = β / s`.
//!
//! The solved system is `Z β ≈ y_c`, augmented with `√λ I β ≈ 0` under ridge. The
//! closed-form solvers additionally scale the columns of that matrix to unit norm
//! (equilibration) before factorising it: this leaves the solution unchanged and makes
//! rank decisions independent of the units the columns are measured in.

use faer::{ColRef, Mat, MatRef};

use super::accurate::{mean, Compensated};

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
    /// Column scales `s` (standard deviations under `standardize`, else 1).
    pub scale: Vec<f64>,
    /// The original indices of the columns in the solve.
    pub active: Vec<usize>,
    /// The original indices of the constant columns left out of the solve.
    pub constant: Vec<usize>,
    /// `Z = (X − 1μᵀ) / s` restricted to the active columns.
    pub z: Mat<f64>,
    /// The centred target `y − ȳ` (or `y` without an intercept).
    pub yc: Vec<f64>,
}

impl<'a> Problem<'a> {
    /// Centres, standardises and sets aside constant columns.
    pub fn new(
        x: MatRef<'a, f64>,
        y: ColRef<'a, f64>,
        intercept: bool,
        standardize: bool,
        ridge: f64,
    ) -> Self {
        let (n, d) = (x.nrows(), x.ncols());
        let mean_of = |j: usize| mean((0..n).map(|i| x[(i, j)]));
        let mu: Vec<f64> = (0..d)
            .map(|j| if intercept { mean_of(j) } else { 0.0 })
            .collect();
        let is_constant = |j: usize| {
            if intercept {
                (1..n).all(|i| x[(i, j)] == x[(0, j)])
            } else {
                (0..n).all(|i| x[(i, j)] == 0.0)
            }
        };
        let (constant, active): (Vec<usize>, Vec<usize>) = (0..d).partition(|&j| is_constant(j));
        let scale: Vec<f64> = (0..d)
            .map(|j| {
                if !standardize || constant.contains(&j) {
                    return 1.0;
                }
                let ss: f64 = (0..n).map(|i| (x[(i, j)] - mu[j]).powi(2)).sum();
                (ss / n as f64).sqrt()
            })
            .collect();
        let z = Mat::from_fn(n, active.len(), |i, k| {
            let j = active[k];
            (x[(i, j)] - mu[j]) / scale[j]
        });
        let ybar = if intercept {
            mean((0..n).map(|i| y[i]))
        } else {
            0.0
        };
        let yc = (0..n).map(|i| y[i] - ybar).collect();
        Self {
            x,
            y,
            intercept,
            ridge,
            scale,
            active,
            constant,
            z,
            yc,
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

    /// The system matrix `A = [Z; √λ I]` (just `Z` without ridge).
    pub fn design(&self) -> Mat<f64> {
        let (n, k) = (self.n(), self.k());
        let root = self.ridge.sqrt();
        Mat::from_fn(self.rows(), k, |i, j| {
            if i < n {
                self.z[(i, j)]
            } else if i - n == j {
                root
            } else {
                0.0
            }
        })
    }

    /// The system matrix with unit-norm columns, `A D`, and the scaling `D` (zero
    /// columns keep scale 1).
    pub fn equilibrated(&self) -> (Mat<f64>, Vec<f64>) {
        let mut a = self.design();
        let unit: Vec<f64> = (0..a.ncols())
            .map(|j| {
                let norm = a.col(j).norm_l2();
                if norm > 0.0 {
                    1.0 / norm
                } else {
                    1.0
                }
            })
            .collect();
        for (j, &u) in unit.iter().enumerate() {
            for v in a.col_mut(j).iter_mut() {
                *v *= u;
            }
        }
        (a, unit)
    }

    /// The right-hand side of the first solve: `[y_c; 0]`.
    pub fn rhs(&self) -> Vec<f64> {
        let mut rhs = self.yc.clone();
        rhs.resize(self.rows(), 0.0);
        rhs
    }

    /// Coefficients in the original units, and the intercept, from `β` (fit units,
    /// active columns). The intercept is the mean residual, summed accurately.
    pub fn unscale(&self, beta: &[f64]) -> (Vec<f64>, f64) {
        let mut b = vec![0.0; self.x.ncols()];
        for (k, &j) in self.active.iter().enumerate() {
            b[j] = beta[k] / self.scale[j];
        }
        let intercept = if self.intercept {
            mean((0..self.n()).map(|i| self.residual_at(i, &b, 0.0)))
        } else {
            0.0
        };
        (b, intercept)
    }

    /// `yᵢ − b₀ − xᵢᵀ b` on the original data, accurate to about twice the working
    /// precision (compensated dot product).
    pub fn residual_at(&self, i: usize, b: &[f64], intercept: f64) -> f64 {
        let mut r = Compensated::default();
        r.add(self.y[i]);
        r.add(-intercept);
        for (j, &bj) in b.iter().enumerate() {
            if bj != 0.0 {
                r.add_product(-self.x[(i, j)], bj);
            }
        }
        r.value()
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
            let mut rhs: Vec<f64> = (0..self.n()).map(|i| self.residual_at(i, &b, b0)).collect();
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
