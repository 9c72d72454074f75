//! Logistic regression by the optimiser on real data, against published coefficients.
//!
//! `data/spector.csv` is Spector & Mazzeo (1980), "Probit analysis and economic
//! education", as shipped in statsmodels (`statsmodels.datasets.spector`): 32 students,
//! features `gpa`, `tuce`, `psi`, target `grade`. The reference maximum-likelihood fit
//! (statsmodels `Logit`) is const −13.021347, gpa 2.826113, tuce 0.095158,
//! psi 2.378688, log-likelihood −12.889634.

use matdiff_fit::optim::{
    minimize, Batch, LineSearch, Method, NoObserver, Objective, ObjectiveError, Options, Schedule,
    StopReason, StopRules,
};

const SPECTOR: &str = include_str!("data/spector.csv");

const REFERENCE: [f64; 4] = [-13.021347, 2.826113, 0.095158, 2.378688];
const LOG_LIKELIHOOD: f64 = -12.889634;

/// `Q(w) = 1/|B| Σ_{i∈B} [log(1 + exp(z_iᵀw)) − y_i z_iᵀw]`, the mean negative
/// log-likelihood, on standardised features `z = (x − mean)/sd` with a leading 1.
struct Logistic {
    /// Row-major `N×4`: 1, then the standardised features.
    z: Vec<f64>,
    y: Vec<f64>,
    mean: [f64; 3],
    sd: [f64; 3],
}

const D: usize = 4;

impl Logistic {
    /// The Spector data, standardised or raw (then `mean = 0`, `sd = 1`).
    fn spector(standardise: bool) -> Self {
        let mut lines = SPECTOR.lines();
        assert_eq!(lines.next(), Some("gpa,tuce,psi,grade"));
        let rows: Vec<[f64; 4]> = lines
            .map(|line| {
                let cells: Vec<f64> = line.split(',').map(|c| c.trim().parse().unwrap()).collect();
                cells.try_into().unwrap()
            })
            .collect();
        let n = rows.len() as f64;
        let mut mean = [0.0; 3];
        let mut sd = [0.0; 3];
        for j in 0..3 {
            if standardise {
                mean[j] = rows.iter().map(|r| r[j]).sum::<f64>() / n;
                sd[j] = (rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n).sqrt();
            } else {
                sd[j] = 1.0;
            }
        }
        let mut z = Vec::with_capacity(rows.len() * D);
        for r in &rows {
            z.push(1.0);
            z.extend((0..3).map(|j| (r[j] - mean[j]) / sd[j]));
        }
        let y = rows.iter().map(|r| r[3]).collect();
        Self { z, y, mean, sd }
    }

    /// Coefficients on the original features from those on the standardised ones.
    fn unstandardise(&self, w: &[f64]) -> [f64; 4] {
        let mut b = [0.0; 4];
        b[0] = w[0];
        for j in 0..3 {
            b[j + 1] = w[j + 1] / self.sd[j];
            b[0] -= w[j + 1] * self.mean[j] / self.sd[j];
        }
        b
    }

    fn accumulate(&self, w: &[f64], i: usize, scale: f64, grad: &mut [f64]) -> f64 {
        let row = &self.z[i * D..(i + 1) * D];
        let t: f64 = row.iter().zip(w).map(|(a, b)| a * b).sum();
        let softplus = t.max(0.0) + (-t.abs()).exp().ln_1p();
        let sigmoid = 1.0 / (1.0 + (-t).exp());
        for (g, a) in grad.iter_mut().zip(row) {
            *g += scale * (sigmoid - self.y[i]) * a;
        }
        softplus - self.y[i] * t
    }
}

impl Objective for Logistic {
    fn dim(&self) -> usize {
        D
    }

    fn samples(&self) -> usize {
        self.y.len()
    }

    fn loss(&mut self, w: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
        let mut grad = [0.0; D];
        self.loss_and_gradient(w, batch, &mut grad)
    }

    fn loss_and_gradient(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        grad: &mut [f64],
    ) -> Result<f64, ObjectiveError> {
        grad.fill(0.0);
        let size = batch.len(self.y.len()) as f64;
        let mut sum = 0.0;
        match batch {
            Batch::All => {
                for i in 0..self.y.len() {
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

fn converge(tol_grad: f64, max_epochs: usize) -> StopRules {
    StopRules {
        tol_grad: Some(tol_grad),
        max_epochs: Some(max_epochs),
        ..StopRules::default()
    }
}

#[test]
fn logistic_regression_on_spector_matches_the_reference() {
    // (case, standardise, options)
    let cases: Vec<(&str, bool, Options)> = vec![
        (
            "gd with line search",
            true,
            Options {
                method: Method::Gd,
                lr: 1.0,
                line_search: Some(LineSearch::default()),
                stop: converge(1e-9, 200_000),
                ..Options::default()
            },
        ),
        // Without standardisation the same answer takes about 400 000 steps instead
        // of 32: the reason for `--standardize`.
        (
            "gd with line search, raw features",
            false,
            Options {
                method: Method::Gd,
                lr: 1.0,
                line_search: Some(LineSearch::default()),
                stop: converge(1e-9, 1_000_000),
                ..Options::default()
            },
        ),
        (
            "nesterov",
            true,
            Options {
                method: Method::NESTEROV,
                lr: 0.5,
                stop: converge(1e-9, 200_000),
                ..Options::default()
            },
        ),
        (
            "adam, step-decayed η",
            true,
            Options {
                method: Method::ADAM,
                lr: 0.1,
                schedule: Schedule::Step {
                    every: 2000,
                    factor: 0.3,
                },
                stop: converge(1e-9, 40_000),
                ..Options::default()
            },
        ),
    ];
    let mut failures = Vec::new();
    for (case, standardise, options) in cases {
        let mut objective = Logistic::spector(standardise);
        let n = objective.samples() as f64;
        let outcome = match minimize(&mut objective, &[0.0; D], &options, &mut NoObserver) {
            Ok(outcome) => outcome,
            Err(e) => {
                failures.push(format!("{case}: {e}"));
                continue;
            }
        };
        let b = objective.unstandardise(&outcome.w);
        let worst = b
            .iter()
            .zip(REFERENCE)
            .map(|(got, want)| (got - want).abs())
            .fold(0.0, f64::max);
        let log_likelihood = -n * outcome.loss;
        if outcome.stop != StopReason::GradientNorm
            || worst > 1e-5
            || (log_likelihood - LOG_LIKELIHOOD).abs() > 1e-6
        {
            failures.push(format!(
                "{case}: {b:?}, log-likelihood {log_likelihood}, {} iterations, {}",
                outcome.iterations, outcome.stop
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
