//! Numeric kernels shared by the plan: stable elementwise functions and the
//! factorisations behind `det`, `logdet`, `inv` and solves.

use faer::linalg::solvers::{DenseSolveCore, PartialPivLu, Solve};
use faer::{Mat, MatRef, Side};
use matdiff_core::Func;

/// Pivots smaller than this fraction of the largest make a matrix numerically singular.
const SINGULAR_PIVOT_RATIO: f64 = 1e-14;

/// An elementwise function of one entry, numerically stable at extreme arguments.
/// Returns `Err(problem)` outside the function's domain.
pub fn elementwise(f: Func, x: f64) -> Result<f64, &'static str> {
    Ok(match f {
        Func::Exp => x.exp(),
        Func::Log if x <= 0.0 => return Err("log of a non-positive entry"),
        Func::Log => x.ln(),
        Func::Sin => x.sin(),
        Func::Cos => x.cos(),
        Func::Tan => x.tan(),
        Func::Tanh => x.tanh(),
        Func::Arcsin | Func::Arccos if x.abs() > 1.0 => {
            return Err("arcsin or arccos of an entry outside [-1, 1]")
        }
        Func::Arcsin => x.asin(),
        Func::Arccos => x.acos(),
        Func::Arctan => x.atan(),
        Func::Sinh => x.sinh(),
        Func::Cosh => x.cosh(),
        Func::Log1p if x <= -1.0 => return Err("log1p of an entry not above -1"),
        Func::Log1p => x.ln_1p(),
        Func::Sqrt if x < 0.0 => return Err("sqrt of a negative entry"),
        Func::Sqrt => x.sqrt(),
        Func::Abs => x.abs(),
        Func::Sigmoid => sigmoid(x),
        Func::Softplus => softplus(x),
        Func::Relu => x.max(0.0),
        Func::Sign => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
        Func::Step => {
            if x > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        _ => return Err("not an elementwise function"),
    })
}

/// `mᵀ`, copied in blocks of rows so that both the reads and the writes stay in cache:
/// `m` stored by rows (see [`Inputs::set_by_rows`](crate::Inputs::set_by_rows)).
pub fn transposed(m: MatRef<'_, f64>) -> Mat<f64> {
    const BLOCK: usize = 64;
    let (rows, cols) = (m.nrows(), m.ncols());
    let mut t = Mat::zeros(cols, rows);
    for start in (0..rows).step_by(BLOCK) {
        let end = (start + BLOCK).min(rows);
        for j in 0..cols {
            for i in start..end {
                t[(j, i)] = m[(i, j)];
            }
        }
    }
    t
}

/// Asks the processor to bring the cache line holding `values[0]` into its caches: a
/// hint that changes no value, only when the line arrives (nothing for an empty
/// slice, and nothing on processors without the instruction here).
#[inline]
pub fn prefetch(values: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(first) = values.first() {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch reads nothing and cannot fault, whatever the address;
        // the address is also that of a live `f64`. SSE, which the instruction needs,
        // is part of every x86-64 processor.
        #[allow(unsafe_code)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(first).cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}

/// `1 / (1 + exp(-x))` without overflow: for negative x, `exp(x) / (1 + exp(x))`.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + exp(x))` = `max(x, 0) + log1p(exp(-|x|))`, exact for large |x|.
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `log(sum(exp(x)))`, shifted by the maximum so that it never overflows.
pub fn logsumexp(m: MatRef<'_, f64>) -> f64 {
    let mut max = f64::NEG_INFINITY;
    for_each(m, |x| max = max.max(x));
    if !max.is_finite() {
        return max;
    }
    let mut sum = 0.0;
    for_each(m, |x| sum += (x - max).exp());
    max + sum.ln()
}

/// `exp(x) / sum(exp(x))`, max-shifted, written into `out` (same shape as `m`).
pub fn softmax(m: MatRef<'_, f64>, out: &mut Mat<f64>) {
    let mut max = f64::NEG_INFINITY;
    for_each(m, |x| max = max.max(x));
    let mut sum = 0.0;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let e = (m[(i, j)] - max).exp();
            out[(i, j)] = e;
            sum += e;
        }
    }
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            out[(i, j)] /= sum;
        }
    }
}

/// `softmax` of each column on its own, max-shifted per column, written into `out`.
pub fn softmax_cols(m: MatRef<'_, f64>, out: &mut Mat<f64>) {
    for j in 0..m.ncols() {
        let mut column = out.as_mut().subcols_mut(j, 1).to_owned();
        softmax(m.subcols(j, 1), &mut column);
        out.as_mut().subcols_mut(j, 1).copy_from(column.as_ref());
    }
}

/// The Kronecker product `a ⊗ b` written into `out` (block (i, j) is `a[i, j] b`).
pub fn kron(a: MatRef<'_, f64>, b: MatRef<'_, f64>, out: &mut Mat<f64>) {
    let (p, q) = (b.nrows(), b.ncols());
    for j in 0..out.ncols() {
        for i in 0..out.nrows() {
            out[(i, j)] = a[(i / p, j / q)] * b[(i % p, j % q)];
        }
    }
}

/// Calls `f` on every entry, column by column.
pub fn for_each(m: MatRef<'_, f64>, mut f: impl FnMut(f64)) {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            f(m[(i, j)]);
        }
    }
}

/// A partial-pivot LU factorisation with what the determinant and solves need.
pub struct Lu {
    lu: PartialPivLu<f64>,
    /// ±1: the sign of the row permutation.
    sign: f64,
    /// smallest / largest |pivot|; 0 for an exactly singular matrix.
    pivot_ratio: f64,
}

impl Lu {
    /// Factorises a square matrix.
    pub fn new(a: MatRef<'_, f64>) -> Lu {
        let lu = a.partial_piv_lu();
        let n = a.nrows();
        let (forward, _) = lu.P().arrays();
        // The sign of a permutation is (-1)^(n - number of cycles).
        let mut seen = vec![false; n];
        let mut cycles = 0;
        for start in 0..n {
            if !seen[start] {
                cycles += 1;
                let mut i = start;
                while !seen[i] {
                    seen[i] = true;
                    i = forward[i];
                }
            }
        }
        let sign = if (n - cycles) % 2 == 0 { 1.0 } else { -1.0 };
        let u = lu.U();
        let (mut lo, mut hi) = (f64::INFINITY, 0.0_f64);
        let mut all_finite = true;
        for i in 0..n {
            let p = u[(i, i)].abs();
            all_finite &= p.is_finite();
            lo = lo.min(p);
            hi = hi.max(p);
        }
        // A zero column makes the elimination divide 0 by 0: the pivots are then NaN.
        let pivot_ratio = if n == 0 {
            1.0
        } else if hi > 0.0 && all_finite {
            lo / hi
        } else {
            0.0
        };
        Lu {
            lu,
            sign,
            pivot_ratio,
        }
    }

    /// The determinant: the sign of the permutation times the product of the pivots.
    pub fn determinant(&self) -> f64 {
        if self.pivot_ratio == 0.0 {
            return 0.0;
        }
        let u = self.lu.U();
        (0..u.nrows()).fold(self.sign, |acc, i| acc * u[(i, i)])
    }

    /// `(sign of det, log|det|)`, without overflow.
    pub fn log_abs_determinant(&self) -> (f64, f64) {
        let u = self.lu.U();
        let mut sign = self.sign;
        let mut log = 0.0;
        for i in 0..u.nrows() {
            let p = u[(i, i)];
            sign *= p.signum();
            log += p.abs().ln();
        }
        if self.pivot_ratio == 0.0 {
            (0.0, f64::NEG_INFINITY)
        } else {
            (sign, log)
        }
    }

    /// `None` when the matrix is numerically singular; otherwise it is safe to solve.
    pub fn singular(&self) -> Option<String> {
        if self.pivot_ratio < SINGULAR_PIVOT_RATIO || !self.pivot_ratio.is_finite() {
            let cond = if self.pivot_ratio > 0.0 {
                format!("{:.1e}", 1.0 / self.pivot_ratio)
            } else {
                "infinite".to_string()
            };
            Some(format!(
                "the matrix is singular (estimated condition number {cond})"
            ))
        } else {
            None
        }
    }

    /// `A⁻¹`.
    pub fn inverse(&self) -> Mat<f64> {
        self.lu.inverse()
    }

    /// `A⁻¹ B`.
    pub fn solve(&self, b: MatRef<'_, f64>) -> Mat<f64> {
        self.lu.solve(b)
    }
}

/// `logdet(A)`: by Cholesky when A is symmetric positive definite, else by LU when
/// the determinant is positive. `Err(problem)` when it is not.
pub fn logdet(a: MatRef<'_, f64>) -> Result<f64, String> {
    if is_symmetric(a) {
        if let Ok(llt) = a.llt(Side::Lower) {
            let l = llt.L();
            let log: f64 = (0..l.nrows()).map(|i| l[(i, i)].ln()).sum();
            return Ok(2.0 * log);
        }
    }
    let lu = Lu::new(a);
    if let Some(problem) = lu.singular() {
        return Err(format!("logdet of a singular matrix: {problem}"));
    }
    let (sign, log) = lu.log_abs_determinant();
    if sign > 0.0 {
        Ok(log)
    } else {
        Err("logdet of a matrix with a negative determinant".to_string())
    }
}

/// Symmetric up to rounding.
pub fn is_symmetric(a: MatRef<'_, f64>) -> bool {
    if a.nrows() != a.ncols() {
        return false;
    }
    let scale = crate::value::max_abs(a);
    (0..a.ncols()).all(|j| (0..j).all(|i| (a[(i, j)] - a[(j, i)]).abs() <= 1e-12 * scale))
}
