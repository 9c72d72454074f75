//! Linear regression on rows spread over ranks, with the answers of one process.
//!
//! Every closed-form solver needs the data only through a small matrix:
//!
//! - the normal equations through the means `μ` and the centred co-moments
//!   `M = Σᵢ (zᵢ − μ)(zᵢ − μ)ᵀ` of the rows `zᵢ = [xᵢ yᵢ]`: each rank computes them
//!   for its rows, block by block, and the ranks' are merged in rank order by the
//!   parallel update of Chan, Golub and LeVeque: for parts `a` and `b`,
//!   `n = n_a + n_b`, `δ = μ_b − μ_a`, `μ = μ_a + δ n_b / n`,
//!   `M = M_a + M_b + δ δᵀ n_a n_b / n`;
//! - QR through the triangular factor `R` of the centred rows `[X − 1μᵀ, y − ȳ]`
//!   (TSQR): each rank factors its rows block by block, and the ranks' factors are
//!   merged by a QR of the two stacked triangles. `R` keeps the conditioning of the
//!   data, not its square, so ill-conditioned data (Longley) keep their digits.
//!
//! Either small matrix `S` (`RᵀR = M`; for the co-moments, their symmetric square
//! root) is itself a least-squares problem, `‖S_X β − s_y‖²`, with the same minimiser
//! as the centred data. It is handed to the one-process solvers
//! ([`LinearRegression::fit`] without an intercept), so the `auto` rule, the
//! rank-deficiency warnings and the condition number are those of one process. The
//! intercept comes back as `b₀ = ȳ − μᵀb`, constant columns are set aside as in one
//! process, and the scores come from one more pass (the residuals' sum of squares).

use faer::{Col, ColRef, Mat, MatRef, Side};

use super::{combine, sum, Peers};
use crate::linreg::{constant_column_warning, Fit, LinearRegression, LinregError, Scores, Solver};

/// Rows per block of the passes over a rank's rows.
const BLOCK: usize = 4096;

/// Means, centred co-moments and ranges of the columns of `[X y]` over some rows.
#[derive(Clone, Debug, PartialEq)]
struct Moments {
    /// The number of rows.
    n: f64,
    /// Column means.
    mean: Vec<f64>,
    /// `Σ (z − μ)(z − μ)ᵀ`, `p × p`.
    comoment: Mat<f64>,
    /// Column minima and maxima (constant columns have equal ones).
    min: Vec<f64>,
    max: Vec<f64>,
}

impl Moments {
    fn empty(p: usize) -> Moments {
        Moments {
            n: 0.0,
            mean: vec![0.0; p],
            comoment: Mat::zeros(p, p),
            min: vec![f64::INFINITY; p],
            max: vec![f64::NEG_INFINITY; p],
        }
    }

    /// The moments of the rows of `z` (one block).
    fn of(z: MatRef<'_, f64>) -> Moments {
        let (n, p) = z.shape();
        let mean: Vec<f64> = (0..p)
            .map(|j| z.col(j).iter().sum::<f64>() / n.max(1) as f64)
            .collect();
        let centred = Mat::from_fn(n, p, |i, j| z[(i, j)] - mean[j]);
        let comoment = centred.transpose() * &centred;
        let min = (0..p)
            .map(|j| z.col(j).iter().copied().fold(f64::INFINITY, f64::min))
            .collect();
        let max = (0..p)
            .map(|j| z.col(j).iter().copied().fold(f64::NEG_INFINITY, f64::max))
            .collect();
        Moments {
            n: n as f64,
            mean,
            comoment,
            min,
            max,
        }
    }

    /// Chan's parallel update: the moments of the rows of `self` and then `other`.
    fn merge(self, other: Moments) -> Moments {
        if other.n == 0.0 {
            return self;
        }
        if self.n == 0.0 {
            return other;
        }
        let n = self.n + other.n;
        let p = self.mean.len();
        let delta: Vec<f64> = (0..p).map(|j| other.mean[j] - self.mean[j]).collect();
        let mean = (0..p)
            .map(|j| self.mean[j] + delta[j] * (other.n / n))
            .collect();
        let weight = self.n * other.n / n;
        let comoment = Mat::from_fn(p, p, |i, j| {
            self.comoment[(i, j)] + other.comoment[(i, j)] + delta[i] * delta[j] * weight
        });
        Moments {
            n,
            mean,
            comoment,
            min: (0..p).map(|j| self.min[j].min(other.min[j])).collect(),
            max: (0..p).map(|j| self.max[j].max(other.max[j])).collect(),
        }
    }

    fn to_vec(&self) -> Vec<f64> {
        let p = self.mean.len();
        let mut v = Vec::with_capacity(1 + p * (p + 3));
        v.push(self.n);
        v.extend_from_slice(&self.mean);
        for j in 0..p {
            v.extend(self.comoment.col(j).iter());
        }
        v.extend_from_slice(&self.min);
        v.extend_from_slice(&self.max);
        v
    }

    fn from_vec(v: &[f64], p: usize) -> Moments {
        let mean = v[1..1 + p].to_vec();
        let at = 1 + p;
        let comoment = Mat::from_fn(p, p, |i, j| v[at + j * p + i]);
        let at = at + p * p;
        Moments {
            n: v[0],
            mean,
            comoment,
            min: v[at..at + p].to_vec(),
            max: v[at + p..at + 2 * p].to_vec(),
        }
    }
}

/// The rows `rows` of `[X y]` as one matrix, shifted by `shift` (the means, or 0).
fn block(x: MatRef<'_, f64>, y: &[f64], rows: std::ops::Range<usize>, shift: &[f64]) -> Mat<f64> {
    let d = x.ncols();
    Mat::from_fn(rows.len(), d + 1, |i, j| {
        let row = rows.start + i;
        let value = if j < d { x[(row, j)] } else { y[row] };
        value - shift[j]
    })
}

/// The blocks of rows of a rank's `n` rows.
fn blocks(n: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..n.div_ceil(BLOCK)).map(move |b| b * BLOCK..((b + 1) * BLOCK).min(n))
}

/// The moments of all ranks' rows, merged in rank order.
fn moments<P: Peers + ?Sized>(peers: &P, x: MatRef<'_, f64>, y: &[f64]) -> Moments {
    let p = x.ncols() + 1;
    let zero = vec![0.0; p];
    let local = blocks(x.nrows()).fold(Moments::empty(p), |acc, rows| {
        acc.merge(Moments::of(block(x, y, rows, &zero).as_ref()))
    });
    let merged = combine(peers, local.to_vec(), |a, b| {
        Moments::from_vec(&a, p)
            .merge(Moments::from_vec(&b, p))
            .to_vec()
    });
    Moments::from_vec(&merged, p)
}

/// The upper triangle `R` (`p × p`) of the QR factorisation of `[top; bottom]`.
fn stacked_r(top: MatRef<'_, f64>, bottom: MatRef<'_, f64>) -> Mat<f64> {
    let p = top.ncols();
    let rows = top.nrows() + bottom.nrows();
    let stacked = Mat::from_fn(rows, p, |i, j| {
        if i < top.nrows() {
            top[(i, j)]
        } else {
            bottom[(i - top.nrows(), j)]
        }
    });
    let qr = stacked.qr();
    let r = qr.thin_R();
    Mat::from_fn(p, p, |i, j| {
        if i < r.nrows() && i <= j {
            r[(i, j)]
        } else {
            0.0
        }
    })
}

/// TSQR: the `R` factor of all ranks' rows of `[X y]` shifted by `shift`.
fn tsqr<P: Peers + ?Sized>(peers: &P, x: MatRef<'_, f64>, y: &[f64], shift: &[f64]) -> Mat<f64> {
    let p = x.ncols() + 1;
    let local = blocks(x.nrows()).fold(Mat::<f64>::zeros(0, p), |r, rows| {
        stacked_r(r.as_ref(), block(x, y, rows, shift).as_ref())
    });
    let local = if local.nrows() == p {
        local
    } else {
        Mat::from_fn(p, p, |i, j| {
            if i < local.nrows() {
                local[(i, j)]
            } else {
                0.0
            }
        })
    };
    let flat = |m: &Mat<f64>| {
        (0..p)
            .flat_map(|j| m.col(j).iter().copied().collect::<Vec<_>>())
            .collect()
    };
    let unflat = |v: &[f64]| Mat::from_fn(p, p, |i, j| v[j * p + i]);
    let merged = combine(peers, flat(&local), |a, b| {
        flat(&stacked_r(unflat(&a).as_ref(), unflat(&b).as_ref()))
    });
    unflat(&merged)
}

/// The symmetric square root `S = Λ^½ Vᵀ` of a positive semidefinite `M = V Λ Vᵀ`
/// (negative rounding in `Λ` clamped to 0): `SᵀS = M`.
fn square_root(m: &Mat<f64>) -> Result<Mat<f64>, LinregError> {
    let eigen = m
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| LinregError::Numerical(format!("{e:?}")))?;
    let (u, s) = (eigen.U(), eigen.S());
    let p = m.nrows();
    Ok(Mat::from_fn(p, p, |i, j| {
        s.column_vector()[i].max(0.0).sqrt() * u[(j, i)]
    }))
}

/// A distributed fit: the fit as one process reports it, its scores on all rows,
/// and the number of rows.
#[derive(Clone, Debug, PartialEq)]
pub struct DistributedFit {
    /// The fit.
    pub fit: Fit,
    /// R², MSE and RMSE on all ranks' rows.
    pub scores: Scores,
    /// All ranks' rows, `N`.
    pub rows: usize,
}

/// Fits `model` to the rows of all ranks (this rank's are `x` and `y`), with the
/// closed-form solvers (`auto`, `normal`, `qr`, `svd`); every rank returns the same
/// fit. `feature_names` names the columns (empty: `x1`, `x2`, …).
pub fn fit<P: Peers + ?Sized>(
    peers: &P,
    model: &LinearRegression,
    x: MatRef<'_, f64>,
    y: ColRef<'_, f64>,
    feature_names: &[String],
) -> Result<DistributedFit, LinregError> {
    let started = std::time::Instant::now();
    if model.solver.is_iterative() {
        return Err(LinregError::InvalidOption {
            option: "solver",
            reason: format!(
                "{} is not distributed over rows — use auto, normal, qr or svd (or minimize for gradient methods)",
                model.solver
            ),
        });
    }
    if x.nrows() != y.nrows() {
        return Err(LinregError::RowMismatch {
            x_rows: x.nrows(),
            y_rows: y.nrows(),
        });
    }
    let d = x.ncols();
    let names: Vec<String> = if feature_names.is_empty() {
        (1..=d).map(|j| format!("x{j}")).collect()
    } else if feature_names.len() == d {
        feature_names.to_vec()
    } else {
        return Err(LinregError::NameMismatch {
            names: feature_names.len(),
            columns: d,
        });
    };
    let y: Vec<f64> = y.iter().copied().collect();
    let all = moments(peers, x, &y);
    if all.n == 0.0 {
        return Err(LinregError::NoRows);
    }
    let n = all.n;
    // Without an intercept nothing is centred: the moments about 0.
    let (mean, comoment) = if model.intercept {
        (all.mean.clone(), all.comoment.clone())
    } else {
        let m = &all.mean;
        let raw = Mat::from_fn(d + 1, d + 1, |i, j| all.comoment[(i, j)] + n * m[i] * m[j]);
        (vec![0.0; d + 1], raw)
    };
    let constant: Vec<usize> = (0..d)
        .filter(|&j| all.min[j] == all.max[j] && (model.intercept || all.min[j] == 0.0))
        .collect();
    let active: Vec<usize> = (0..d).filter(|j| !constant.contains(j)).collect();
    let scale: Vec<f64> = (0..d)
        .map(|j| {
            if model.standardize && !constant.contains(&j) {
                (comoment[(j, j)] / n).sqrt()
            } else {
                1.0
            }
        })
        .collect();
    let mut warnings: Vec<String> = constant
        .iter()
        .map(|&j| constant_column_warning(model.intercept, &names[j]))
        .collect();
    // The small problem ‖S_X β − s_y‖² over the active columns, from S (p × p).
    let reduced = |s: &Mat<f64>, solver: Solver| -> Result<Fit, LinregError> {
        let sx = Mat::from_fn(s.nrows(), active.len(), |i, k| {
            s[(i, active[k])] / scale[active[k]]
        });
        let sy = Col::from_fn(s.nrows(), |i| s[(i, d)]);
        let active_names: Vec<String> = active.iter().map(|&j| names[j].clone()).collect();
        LinearRegression {
            intercept: false,
            standardize: false,
            solver,
            ..model.clone()
        }
        .fit(sx.as_ref(), sy.as_ref(), &active_names)
    };
    let wants_gram = matches!(model.solver, Solver::Auto | Solver::Normal);
    let mut solved = None;
    if wants_gram && !active.is_empty() {
        let fit = reduced(&square_root(&comoment)?, model.solver)?;
        // The co-moments hold the square of the conditioning: only the normal
        // equations may use them; any other solver works on the data's own R.
        if fit.solver_used == Solver::Normal {
            solved = Some(fit);
        }
    }
    let small = match solved {
        Some(fit) => fit,
        None => reduced(&tsqr(peers, x, &y, &mean), model.solver)?,
    };
    let mut coefficients = vec![0.0; d];
    for (k, &j) in active.iter().enumerate() {
        coefficients[j] = small.coefficients[k] / scale[j];
    }
    let intercept = if model.intercept {
        mean[d] - (0..d).map(|j| mean[j] * coefficients[j]).sum::<f64>()
    } else {
        0.0
    };
    warnings.extend(small.warnings);
    let fit = Fit {
        solver_used: if active.is_empty() {
            model.solver
        } else {
            small.solver_used
        },
        why: small.why,
        features: names,
        intercept,
        coefficients,
        rank: small.rank,
        condition_number: small.condition_number,
        warnings,
        iterations: None,
        epochs: None,
        seconds: 0.0,
    };
    let scores = score(peers, &fit, x, &y, all.comoment[(d, d)], n);
    let seconds = started.elapsed().as_secs_f64();
    Ok(DistributedFit {
        fit: Fit { seconds, ..fit },
        scores,
        rows: n as usize,
    })
}

/// R², MSE and RMSE of `fit` on all ranks' rows: the residuals' sums of squares of
/// the ranks, added in rank order; `tss` is `Σ (yᵢ − ȳ)²`.
fn score<P: Peers + ?Sized>(
    peers: &P,
    fit: &Fit,
    x: MatRef<'_, f64>,
    y: &[f64],
    tss: f64,
    n: f64,
) -> Scores {
    let local: f64 = blocks(x.nrows())
        .map(|rows| {
            let predicted = fit.predict(x.subrows(rows.start, rows.len()));
            rows.clone()
                .zip(predicted.iter())
                .map(|(i, p)| (y[i] - p).powi(2))
                .sum::<f64>()
        })
        .sum();
    let rss = sum(peers, vec![local])[0];
    let r2 = if tss == 0.0 {
        if rss == 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        1.0 - rss / tss
    };
    let mse = rss / n;
    Scores {
        r2,
        mse,
        rmse: mse.sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::threads;
    use super::*;

    /// A design with a spread of scales and a known answer plus noise.
    fn data(n: usize) -> (Mat<f64>, Col<f64>) {
        let x = Mat::from_fn(n, 3, |i, j| {
            let t = i as f64;
            match j {
                0 => (t * 0.37).sin() * 10.0,
                1 => 1000.0 + (t * 1.3).cos() * 5.0,
                _ => (t * 0.011).powi(2),
            }
        });
        let y = Col::from_fn(n, |i| {
            2.0 + 0.5 * x[(i, 0)] - 3.0 * x[(i, 1)] + x[(i, 2)] + ((i * 7919) % 13) as f64 * 0.01
        });
        (x, y)
    }

    fn relative(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    #[test]
    fn ranks_agree_with_one_process_for_every_closed_form() {
        let (x, y) = data(1000);
        for solver in [Solver::Auto, Solver::Normal, Solver::Qr, Solver::Svd] {
            for standardize in [false, true] {
                let model = LinearRegression {
                    solver,
                    standardize,
                    ridge: if standardize { 0.5 } else { 0.0 },
                    ..Default::default()
                };
                let one = model.fit(x.as_ref(), y.as_ref(), &[]).unwrap();
                for size in [1, 2, 3, 4] {
                    let fits = threads::run(size, |peers| {
                        let rows = super::super::shard_rows(x.nrows(), peers.rank(), size);
                        fit(
                            peers,
                            &model,
                            x.as_ref().subrows(rows.start, rows.len()),
                            y.as_ref().subrows(rows.start, rows.len()),
                            &[],
                        )
                        .unwrap()
                    });
                    for got in &fits {
                        assert_eq!(got, &fits[0].clone().with_seconds(got.fit.seconds));
                        assert_eq!(got.fit.solver_used, one.solver_used, "{solver} K={size}");
                        let e = relative(got.fit.intercept, one.intercept);
                        assert!(
                            e < 1e-9,
                            "{solver} K={size} std={standardize}: intercept {e:e}"
                        );
                        for (g, w) in got.fit.coefficients.iter().zip(&one.coefficients) {
                            assert!(relative(*g, *w) < 1e-12, "{solver} K={size}: {g} vs {w}");
                        }
                        let scores = one.score(x.as_ref(), y.as_ref());
                        assert!(relative(got.scores.mse, scores.mse) < 1e-9);
                    }
                }
            }
        }
    }

    #[test]
    fn constant_columns_are_set_aside_as_in_one_process() {
        let (mut x, y) = data(50);
        for i in 0..50 {
            x[(i, 1)] = 4.0;
        }
        let model = LinearRegression::default();
        let one = model.fit(x.as_ref(), y.as_ref(), &[]).unwrap();
        let fits = threads::run(3, |peers| {
            let rows = super::super::shard_rows(50, peers.rank(), 3);
            fit(
                peers,
                &model,
                x.as_ref().subrows(rows.start, rows.len()),
                y.as_ref().subrows(rows.start, rows.len()),
                &[],
            )
            .unwrap()
        });
        assert_eq!(fits[0].fit.warnings, one.warnings);
        assert_eq!(fits[0].fit.coefficients[1], 0.0);
    }

    #[test]
    fn the_merge_of_moments_is_the_moments_of_the_whole() {
        let (x, y) = data(300);
        let y: Vec<f64> = y.iter().copied().collect();
        let z = block(x.as_ref(), &y, 0..300, &[0.0; 4]);
        let whole = Moments::of(z.as_ref());
        let parts = Moments::of(z.as_ref().subrows(0, 100))
            .merge(Moments::of(z.as_ref().subrows(100, 200)));
        assert_eq!(parts.n, whole.n);
        for i in 0..4 {
            assert!(relative(parts.mean[i], whole.mean[i]) < 1e-13);
            for j in 0..4 {
                let scale = (whole.comoment[(i, i)] * whole.comoment[(j, j)]).sqrt();
                assert!((parts.comoment[(i, j)] - whole.comoment[(i, j)]).abs() < 1e-12 * scale);
            }
        }
    }

    impl DistributedFit {
        fn with_seconds(mut self, seconds: f64) -> Self {
            self.fit.seconds = seconds;
            self
        }
    }
}
