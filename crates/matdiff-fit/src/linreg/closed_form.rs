//! The closed-form least-squares solvers: normal equations, pivoted QR and SVD, and
//! the automatic choice between them.
//!
//! All three work on the equilibrated system `A D` of [`Problem`] (centred, columns
//! scaled to unit norm): the normal equations on its Gram matrix, formed block by
//! block from the data without a copy ([`Problem::normal_equations`]), QR on one copy
//! of it factored in place, SVD on one copy (and the SVD's own workspace). Precision,
//! for a condition number `κ = cond(A D)`:
//!
//! | solver | cost | relative error of the coefficients |
//! |---|---|---|
//! | `normal` — Cholesky of `AᵀA` | `O(N d² + d³)`, the cheapest | `≈ κ² ε` |
//! | `qr` — Householder QR with column pivoting | `O(N d²)`, about twice `normal` | `≈ κ ε` |
//! | `svd` — thin SVD | `O(N d²)` with a larger constant | `≈ κ ε`, and the minimum-norm solution when rank deficient |
//!
//! `qr` and `svd` are followed by two steps of iterative refinement with residuals
//! computed in compensated arithmetic on the original data ([`Problem::refine`]).
//! The numerical rank counts singular values (or `|R_jj|` of the pivoted QR) above
//! `rcond · σ_max` with `rcond = max(N, d) · ε`, LAPACK's and NumPy's default.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::qr::col_pivoting;
use faer::linalg::qr::no_pivoting::factor::recommended_block_size;
use faer::linalg::solvers::{Llt, Solve};
use faer::perm::PermRef;
use faer::{Mat, MatRef, Par, Scale, Side};

use super::problem::{NormalEquations, Problem};
use super::{LinregError, Solver};

/// Machine epsilon of f64.
const EPS: f64 = f64::EPSILON;

/// The automatic choice uses the normal equations only when they keep at least this
/// many significant digits, i.e. when `κ² ε ≤ 10^-12.5` (κ ≲ 38 after centring and
/// column scaling). Pivoted QR with refinement keeps about 14 digits, so `auto` never
/// gives up more than a digit or two for the speed of Cholesky: Longley (κ ≈ 1.1e2,
/// normal equations ≈ 12 digits) goes to QR, diabetes (κ ≈ 22) to Cholesky.
pub const NORMAL_MIN_DIGITS: f64 = 12.5;

/// An explicit `--solver normal` warns when it keeps fewer significant digits than this.
const NORMAL_WARN_DIGITS: f64 = 10.0;

/// Refinement steps after `qr` and `svd`.
const REFINEMENT_STEPS: usize = 2;

/// With more columns than this, the condition number that decides for the normal
/// equations is first estimated in `O(k²)` per step (power iteration), and the
/// eigenvalues (`O(k³)`, a tenth of the whole fit at `k = 1000`) are computed only
/// when the estimate is not clearly on the safe side.
const ESTIMATE_ABOVE: usize = 256;

/// Power-iteration steps at each end of the spectrum.
const POWER_STEPS: usize = 30;

/// The estimated `κ²` must keep the required digits even when multiplied by this:
/// Rayleigh quotients approach the extreme eigenvalues from inside, so the estimate
/// is low, but after thirty steps from a generic start not by a factor of two at
/// either end.
const ESTIMATE_MARGIN: f64 = 4.0;

/// Which closed-form solver to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClosedForm {
    Auto,
    Normal,
    Qr,
    Svd,
}

/// A closed-form solution in fit units, with its diagnostics.
pub(crate) struct Solution {
    pub beta: Vec<f64>,
    pub solver: Solver,
    pub why: String,
    pub rank: usize,
    pub condition_number: f64,
    pub warnings: Vec<String>,
}

/// Significant digits a solver with error `≈ amplification · ε` keeps.
fn digits(amplification: f64) -> f64 {
    (-(amplification * EPS).log10()).clamp(0.0, 16.0)
}

fn numerical(error: impl std::fmt::Debug) -> LinregError {
    LinregError::Numerical(format!("{error:?}"))
}

fn column(values: &[f64]) -> Mat<f64> {
    Mat::from_fn(values.len(), 1, |i, _| values[i])
}

/// Solves the problem with `which`, naming columns by `names` in warnings.
pub(crate) fn solve(
    p: &Problem<'_>,
    which: ClosedForm,
    names: &[String],
) -> Result<Solution, LinregError> {
    let requested = match which {
        ClosedForm::Auto | ClosedForm::Normal => Solver::Normal,
        ClosedForm::Qr => Solver::Qr,
        ClosedForm::Svd => Solver::Svd,
    };
    if p.k() == 0 {
        p.verify().map_err(|bad| bad.named(names))?;
        return Ok(Solution {
            beta: Vec::new(),
            solver: requested,
            why: "no feature varies: the fit is the mean of the target".to_owned(),
            rank: 0,
            condition_number: 1.0,
            warnings: Vec::new(),
        });
    }
    let free_rows = p.n().saturating_sub(usize::from(p.intercept));
    if p.ridge == 0.0 && free_rows < p.k() {
        let (a, unit) = p.equilibrated().map_err(|bad| bad.named(names))?;
        let mut s = svd(p, a.as_ref(), &unit, names)?;
        s.why = format!(
            "{} samples{} for {} features: the system is underdetermined, so svd gives the minimum-norm solution",
            p.n(),
            if p.intercept { " (one used by the intercept)" } else { "" },
            p.k()
        );
        s.warnings.insert(
            0,
            format!(
                "fewer samples than features ({} for {}): infinitely many exact fits — reporting the minimum-norm one",
                free_rows,
                p.k()
            ),
        );
        return Ok(s);
    }
    match which {
        ClosedForm::Normal => match normal(p, names)? {
            Ok(s) => Ok(s),
            Err(cond) => {
                let (a, unit) = p.equilibrated().map_err(|bad| bad.named(names))?;
                let mut s = svd(p, a.as_ref(), &unit, names)?;
                s.why = format!(
                    "normal equations requested, but XᵀX is singular to working precision (cond(X) ≈ {cond:.1e}); svd gives the minimum-norm solution instead"
                );
                s.warnings.insert(
                    0,
                    "normal equations failed: XᵀX is singular; used svd".to_owned(),
                );
                Ok(s)
            }
        },
        ClosedForm::Qr => {
            let (a, unit) = p.equilibrated().map_err(|bad| bad.named(names))?;
            match qr(p, a, &unit)? {
                Ok(s) => Ok(s),
                Err(rank) => {
                    // QR factored the matrix in place: form it again for the SVD.
                    let (a, unit) = p.equilibrated().map_err(|bad| bad.named(names))?;
                    let mut s = svd(p, a.as_ref(), &unit, names)?;
                    s.why = format!(
                        "qr requested, but pivoted QR found rank {rank} < {}; svd gives the minimum-norm solution instead",
                        p.k()
                    );
                    Ok(s)
                }
            }
        }
        ClosedForm::Svd => {
            let (a, unit) = p.equilibrated().map_err(|bad| bad.named(names))?;
            let mut s = svd(p, a.as_ref(), &unit, names)?;
            s.why = "svd requested: minimum-norm least squares from the thin SVD".to_owned();
            Ok(s)
        }
        ClosedForm::Auto => auto(p, names),
    }
}

/// Normal equations when they keep ≥ [`NORMAL_MIN_DIGITS`] digits, else pivoted QR,
/// else SVD. The condition number comes from the Gram matrix, so on a
/// well-conditioned problem the data are read once (the Gram matrix) or, with an
/// intercept, twice (the means first), and never copied.
fn auto(p: &Problem<'_>, names: &[String]) -> Result<Solution, LinregError> {
    let equations = p.normal_equations().map_err(|bad| bad.named(names))?;
    let llt = equations.gram.llt(Side::Lower).ok();
    let cond = gram_condition(&equations.gram, llt.as_ref(), NORMAL_MIN_DIGITS)?;
    let normal_digits = digits(cond * cond);
    if normal_digits >= NORMAL_MIN_DIGITS {
        if let Ok(mut s) = normal_from_gram(p, &equations, llt.as_ref(), cond) {
            s.why = format!(
                "cond(X) ≈ {cond:.2e} after centring and column scaling, so the normal equations keep about {normal_digits:.0} digits (≥ {NORMAL_MIN_DIGITS}): Cholesky of XᵀX, the cheapest solver"
            );
            return Ok(s);
        }
    }
    drop((equations, llt));
    let (a, unit) = p.equilibrated().map_err(|bad| bad.named(names))?;
    match qr(p, a, &unit)? {
        Ok(mut s) => {
            s.why = format!(
                "cond(X) ≈ {:.2e} after centring and column scaling: the normal equations would square it and keep only about {normal_digits:.0} digits, Householder QR with column pivoting keeps about {:.0}",
                s.condition_number,
                digits(s.condition_number)
            );
            Ok(s)
        }
        Err(rank) => {
            // QR factored the matrix in place: form it again for the SVD.
            let (a, unit) = p.equilibrated().map_err(|bad| bad.named(names))?;
            let mut s = svd(p, a.as_ref(), &unit, names)?;
            s.why = format!(
                "pivoted QR found rank {rank} < {} (linearly dependent columns): svd gives the minimum-norm solution",
                p.k()
            );
            Ok(s)
        }
    }
}

/// `√(λ_max / λ_min)` of the Gram matrix `AᵀA`: an estimate of `cond(A)` that is
/// reliable up to about `1/√ε` — enough to decide whether the normal equations are safe.
fn condition_from_gram(gram: &Mat<f64>) -> Result<f64, LinregError> {
    let eigenvalues = gram
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(numerical)?;
    let (Some(&min), Some(&max)) = (eigenvalues.first(), eigenvalues.last()) else {
        return Ok(1.0);
    };
    Ok(if min > 0.0 {
        (max / min).sqrt()
    } else {
        f64::INFINITY
    })
}

/// `cond(A D)` from the equilibrated Gram matrix, for a decision that needs `needed`
/// digits from the normal equations: from its eigenvalues, or — with many columns and
/// a Cholesky factor — from power iteration when that estimate keeps `needed` digits
/// with [`ESTIMATE_MARGIN`] to spare.
fn gram_condition(
    gram: &Mat<f64>,
    llt: Option<&Llt<f64>>,
    needed: f64,
) -> Result<f64, LinregError> {
    if let (Some(llt), true) = (llt, gram.nrows() > ESTIMATE_ABOVE) {
        let estimate = condition_estimate(gram, llt);
        if digits(estimate * estimate * ESTIMATE_MARGIN) >= needed {
            return Ok(estimate);
        }
    }
    condition_from_gram(gram)
}

/// `√(λ_max / λ_min)` of the Gram matrix `G` by power iteration on `G` and on `G⁻¹`
/// (through its Cholesky factor), from a fixed start with entries of both signs: an
/// estimate from below.
fn condition_estimate(gram: &Mat<f64>, llt: &Llt<f64>) -> f64 {
    let largest = |apply: &dyn Fn(&Mat<f64>) -> Mat<f64>| {
        let mut v = Mat::from_fn(gram.nrows(), 1, |j, _| {
            (j as f64 * 0.618_033_988_749_895).fract() - 0.5
        });
        let mut quotient = 0.0;
        for _ in 0..POWER_STEPS {
            let norm = v.norm_l2();
            if norm.is_nan() || norm == 0.0 {
                break;
            }
            v /= Scale(norm);
            let w = apply(&v);
            quotient = (v.transpose() * &w)[(0, 0)];
            v = w;
        }
        quotient
    };
    let max = largest(&|v| gram * v);
    let inverse_min = largest(&|v| llt.solve(v));
    (max * inverse_min).sqrt()
}

/// Normal equations; `Err(cond)` when `AᵀA` is singular to working precision.
fn normal(p: &Problem<'_>, names: &[String]) -> Result<Result<Solution, f64>, LinregError> {
    let equations = p.normal_equations().map_err(|bad| bad.named(names))?;
    let llt = equations.gram.llt(Side::Lower).ok();
    let cond = gram_condition(&equations.gram, llt.as_ref(), NORMAL_WARN_DIGITS)?;
    Ok(normal_from_gram(p, &equations, llt.as_ref(), cond).map(|mut s| {
        s.why = "normal equations requested: Cholesky of XᵀX".to_owned();
        let kept = digits(cond * cond);
        if kept < NORMAL_WARN_DIGITS {
            s.warnings.push(format!(
                "the normal equations square the condition number (cond(X) ≈ {cond:.2e}) and keep only about {kept:.0} significant digits here — use --solver qr or svd"
            ));
        }
        s
    }))
}

/// Cholesky of the equilibrated Gram matrix, `β = D γ`; `Err(cond)` when it is
/// singular to working precision.
fn normal_from_gram(
    p: &Problem<'_>,
    equations: &NormalEquations,
    llt: Option<&Llt<f64>>,
    cond: f64,
) -> Result<Solution, f64> {
    // Beyond κ² ε ≈ 1/k the Cholesky factor, if it exists at all, is noise.
    let singular = cond * cond * EPS * (p.k() as f64) >= 1.0 || cond.is_nan();
    if singular {
        return Err(cond);
    }
    let llt = llt.ok_or(cond)?;
    let gamma = llt.solve(column(&equations.rhs));
    let beta = (0..p.k())
        .map(|j| equations.unit[j] * gamma[(j, 0)])
        .collect();
    Ok(Solution {
        beta,
        solver: Solver::Normal,
        why: String::new(),
        rank: p.k(),
        condition_number: cond,
        warnings: Vec::new(),
    })
}

/// Pivoted QR with refinement; `Err(rank)` when the matrix is rank deficient.
fn qr(p: &Problem<'_>, a: Mat<f64>, unit: &[f64]) -> Result<Result<Solution, usize>, LinregError> {
    let (rows, k) = (a.nrows(), p.k());
    if rows < k {
        return Ok(Err(rows));
    }
    let factor = PivotedQr::new(a);
    let r = factor.r();
    let rank = qr_rank(r.as_ref(), rows);
    if rank < k {
        return Ok(Err(rank));
    }
    let sigma = super::svd::singular_values(r.as_ref()).map_err(numerical)?;
    let cond = condition(&sigma, k);
    let solve = |rhs: &[f64]| -> Vec<f64> {
        let gamma = factor.solve_lstsq(rhs);
        (0..k).map(|j| unit[j] * gamma[j]).collect()
    };
    let mut beta = solve(&p.rhs());
    p.refine(&mut beta, REFINEMENT_STEPS, &solve);
    Ok(Ok(Solution {
        beta,
        solver: Solver::Qr,
        why: "qr requested: Householder QR with column pivoting, then iterative refinement"
            .to_owned(),
        rank,
        condition_number: cond,
        warnings: Vec::new(),
    }))
}

/// Householder QR with column pivoting, factored in the matrix it is given (faer's
/// `ColPivQr` would first copy that matrix, as large as the data), on the rayon pool.
struct PivotedQr {
    /// `R` in the upper triangle, the Householder vectors below it.
    factors: Mat<f64>,
    /// The Householder blocks' coefficients.
    coefficients: Mat<f64>,
    /// The column permutation.
    forward: Vec<usize>,
    /// Its inverse.
    inverse: Vec<usize>,
}

impl PivotedQr {
    /// Factors `a` (at least as many rows as columns).
    fn new(mut a: Mat<f64>) -> Self {
        let (m, n) = a.shape();
        let par = Par::rayon(0);
        let block = recommended_block_size::<f64>(m, n);
        let mut coefficients = Mat::zeros(block, n);
        let (mut forward, mut inverse) = (vec![0; n], vec![0; n]);
        let mut scratch = MemBuffer::new(col_pivoting::factor::qr_in_place_scratch::<usize, f64>(
            m,
            n,
            block,
            par,
            Default::default(),
        ));
        col_pivoting::factor::qr_in_place(
            a.as_mut(),
            coefficients.as_mut(),
            &mut forward,
            &mut inverse,
            par,
            MemStack::new(&mut scratch),
            Default::default(),
        );
        Self {
            factors: a,
            coefficients,
            forward,
            inverse,
        }
    }

    /// The square upper-triangular factor `R`.
    fn r(&self) -> Mat<f64> {
        let n = self.factors.ncols();
        Mat::from_fn(n, n, |i, j| if i <= j { self.factors[(i, j)] } else { 0.0 })
    }

    /// The least-squares solution of `A x ≈ rhs`.
    fn solve_lstsq(&self, rhs: &[f64]) -> Vec<f64> {
        let (m, n) = self.factors.shape();
        let par = Par::rayon(0);
        let mut x = column(rhs);
        let mut scratch = MemBuffer::new(col_pivoting::solve::solve_lstsq_in_place_scratch::<
            usize,
            f64,
        >(m, n, self.coefficients.nrows(), 1, par));
        col_pivoting::solve::solve_lstsq_in_place(
            self.factors.as_ref(),
            self.coefficients.as_ref(),
            self.factors.as_ref(),
            PermRef::new_checked(&self.forward, &self.inverse, n),
            x.as_mut(),
            par,
            MemStack::new(&mut scratch),
        );
        (0..n).map(|j| x[(j, 0)]).collect()
    }
}

/// Numerical rank from the diagonal of the pivoted `R`: `|R_jj| > rcond · |R_00|`.
fn qr_rank(r: MatRef<'_, f64>, rows: usize) -> usize {
    let size = r.nrows().min(r.ncols());
    let rcond = rows.max(r.ncols()) as f64 * EPS;
    let top = if size > 0 { r[(0, 0)].abs() } else { 0.0 };
    (0..size)
        .take_while(|&j| r[(j, j)].abs() > rcond * top)
        .count()
}

/// `σ_max / σ_min` over `k` columns (infinite when fewer singular values than columns
/// or the smallest is zero).
fn condition(sigma: &[f64], k: usize) -> f64 {
    match (sigma.first(), sigma.last()) {
        (Some(&max), Some(&min)) if sigma.len() == k && min > 0.0 => max / min,
        (Some(_), _) => f64::INFINITY,
        _ => 1.0,
    }
}

/// Thin SVD: full rank → solution with refinement; rank deficient → the minimum-norm
/// solution and warnings naming the dependent columns.
fn svd(
    p: &Problem<'_>,
    a: MatRef<'_, f64>,
    unit: &[f64],
    names: &[String],
) -> Result<Solution, LinregError> {
    let k = p.k();
    let decomposition = super::svd::thin_svd(a).map_err(numerical)?;
    let sigma: Vec<f64> = decomposition.s.clone();
    let rcond = a.nrows().max(k) as f64 * EPS;
    let top = sigma.first().copied().unwrap_or(0.0);
    let rank = sigma.iter().filter(|&&s| s > rcond * top).count();
    let cond = condition(&sigma, k);
    let mut warnings = Vec::new();
    let beta = if rank == k {
        let solve = |rhs: &[f64]| -> Vec<f64> {
            let gamma = truncated_solve(&decomposition, rank, rhs);
            (0..k).map(|j| unit[j] * gamma[j]).collect()
        };
        let mut beta = solve(&p.rhs());
        p.refine(&mut beta, REFINEMENT_STEPS, &solve);
        beta
    } else {
        // The minimum-norm solution depends on the units of the coefficients, so it is
        // computed on the unequilibrated system; the rank decided above (on unit
        // columns) is independent of those units.
        let design = p.design().map_err(|bad| bad.named(names))?;
        let plain = super::svd::thin_svd(design.as_ref()).map_err(numerical)?;
        let solve = |rhs: &[f64]| truncated_solve(&plain, rank, rhs);
        let mut beta = solve(&p.rhs());
        p.refine(&mut beta, REFINEMENT_STEPS, &solve);
        warnings.extend(dependency_warnings(p, a, rank, names));
        beta
    };
    Ok(Solution {
        beta,
        solver: Solver::Svd,
        why: String::new(),
        rank,
        condition_number: cond,
        warnings,
    })
}

/// `Σ_{i<rank} vᵢ (uᵢᵀ rhs) / σᵢ`: the minimum-norm least-squares solution of the
/// rank-`rank` truncation.
fn truncated_solve(svd: &super::svd::ThinSvd, rank: usize, rhs: &[f64]) -> Vec<f64> {
    let (u, v) = (&svd.u, &svd.v);
    let sigma = &svd.s;
    let mut x = vec![0.0; v.nrows()];
    for i in 0..rank {
        let coefficient: f64 = (0..rhs.len()).map(|r| u[(r, i)] * rhs[r]).sum::<f64>() / sigma[i];
        for (j, xj) in x.iter_mut().enumerate() {
            *xj += v[(j, i)] * coefficient;
        }
    }
    x
}

/// Warnings for a rank-deficient design: exact duplicates by name, then the columns
/// that pivoted QR puts last (those closest to combinations of the others).
fn dependency_warnings(
    p: &Problem<'_>,
    a: MatRef<'_, f64>,
    rank: usize,
    names: &[String],
) -> Vec<String> {
    let k = p.k();
    let name = |local: usize| names[p.active[local]].as_str();
    let mut warnings = vec![format!(
        "rank deficient: rank {rank} for {k} features — the coefficients are not identifiable; reporting the minimum-norm solution"
    )];
    let mut explained = vec![false; k];
    for later in 0..k {
        let duplicate = (0..later).find(|&earlier| {
            !explained[earlier]
                && (0..p.n()).all(|i| p.x[(i, p.active[later])] == p.x[(i, p.active[earlier])])
        });
        if let Some(earlier) = duplicate {
            explained[later] = true;
            warnings.push(format!(
                "column '{}' duplicates column '{}' — drop one of them",
                name(later),
                name(earlier)
            ));
        }
    }
    let dependent = explained.iter().filter(|&&e| e).count();
    if dependent < k - rank.min(k) {
        let factor = a.col_piv_qr();
        let (forward, _) = factor.P().arrays();
        let mut tail: Vec<usize> = forward[rank.min(k)..]
            .iter()
            .copied()
            .filter(|&j| !explained[j])
            .collect();
        tail.sort_unstable();
        if !tail.is_empty() {
            let listed: Vec<String> = tail.iter().map(|&j| format!("'{}'", name(j))).collect();
            warnings.push(format!(
                "{} {} (nearly) a linear combination of the other columns — drop {} or add --ridge",
                if tail.len() == 1 { "column" } else { "columns" },
                listed.join(", ") + if tail.len() == 1 { " is" } else { " are" },
                if tail.len() == 1 { "it" } else { "some" },
            ));
        }
    }
    warnings
}
