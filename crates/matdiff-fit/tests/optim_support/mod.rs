//! Shared by the optimiser tests: a least-squares objective on synthetic data with its
//! closed-form solution.
#![allow(dead_code)]

use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use matdiff_fit::optim::{Batch, Objective, ObjectiveError, StopRules};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `Q(w) = 1/|B| Σ_{i∈B} (x_iᵀw − y_i)²`, the mean squared error on a batch.
pub struct LeastSquares {
    /// Row-major `N×d`.
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub d: usize,
}

impl LeastSquares {
    fn n(&self) -> usize {
        self.y.len()
    }

    fn residual(&self, w: &[f64], i: usize) -> f64 {
        let row = &self.x[i * self.d..(i + 1) * self.d];
        row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() - self.y[i]
    }

    fn accumulate(&self, w: &[f64], i: usize, scale: f64, grad: &mut [f64]) -> f64 {
        let r = self.residual(w, i);
        let row = &self.x[i * self.d..(i + 1) * self.d];
        for (g, a) in grad.iter_mut().zip(row) {
            *g += scale * 2.0 * r * a;
        }
        r * r
    }
}

impl Objective for LeastSquares {
    fn dim(&self) -> usize {
        self.d
    }

    fn samples(&self) -> usize {
        self.n()
    }

    fn loss(&mut self, w: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
        let mut grad = vec![0.0; self.d];
        self.loss_and_gradient(w, batch, &mut grad)
    }

    fn loss_and_gradient(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        grad: &mut [f64],
    ) -> Result<f64, ObjectiveError> {
        grad.fill(0.0);
        let size = batch.len(self.n()) as f64;
        let mut sum = 0.0;
        match batch {
            Batch::All => {
                for i in 0..self.n() {
                    sum += self.accumulate(w, i, 1.0 / size, grad);
                }
            }
            Batch::Rows(rows) | Batch::Share { rows, .. } => {
                for &i in rows {
                    sum += self.accumulate(w, i, 1.0 / size, grad);
                }
            }
        }
        Ok(sum / size)
    }
}

/// A synthetic problem: its objective, the least-squares solution from the normal
/// equations, and the Lipschitz constant `L = 2/N λ_max(XᵀX)` of the gradient.
pub struct Problem {
    pub objective: LeastSquares,
    pub solution: Vec<f64>,
    pub lipschitz: f64,
}

pub const W_TRUE: [f64; 4] = [1.0, -2.0, 0.5, 3.0];

pub fn problem() -> Problem {
    let (n, d) = (200, W_TRUE.len());
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f64> = (0..d)
            .map(|j| {
                if j == 0 {
                    1.0
                } else {
                    rng.random_range(-1.0..1.0)
                }
            })
            .collect();
        let clean: f64 = row.iter().zip(W_TRUE).map(|(a, b)| a * b).sum();
        y.push(clean + 0.1 * rng.random_range(-1.0..1.0));
        x.extend(row);
    }
    let xm = Mat::<f64>::from_fn(n, d, |i, j| x[i * d + j]);
    let ym = Mat::<f64>::from_fn(n, 1, |i, _| y[i]);
    let xtx = xm.transpose() * &xm;
    let mut rhs = xm.transpose() * &ym;
    xtx.llt(Side::Lower).unwrap().solve_in_place(&mut rhs);
    let solution = (0..d).map(|i| rhs[(i, 0)]).collect();
    let eigenvalues = xtx.self_adjoint_eigenvalues(Side::Lower).unwrap();
    let lipschitz = 2.0 / n as f64 * eigenvalues[d - 1];
    Problem {
        objective: LeastSquares { x, y, d },
        solution,
        lipschitz,
    }
}

pub fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q) * (p - q))
        .sum::<f64>()
        .sqrt()
}

/// Only the given limits; no convergence rule.
pub fn limits(max_iter: Option<usize>, max_epochs: Option<usize>) -> StopRules {
    StopRules {
        tol_step: None,
        tol_loss: None,
        tol_grad: None,
        max_iter,
        max_epochs,
        n_iter_no_change: None,
        min_improvement: 0.0,
    }
}
