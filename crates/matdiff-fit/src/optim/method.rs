//! The update rules: each maps a gradient to a direction `d`, with its own state; the
//! shared loop in `minimize` then steps `w ← w − η d`.

use super::options::Method;

/// A method's state, allocated once per run.
pub(crate) enum Rule {
    /// `d = g` (GD, SGD, mini-batch).
    Plain,
    /// `v ← βv + g`, `d = v`.
    Momentum { beta: f64, velocity: Vec<f64> },
    /// `v ← βv + g`, `d = g + βv`.
    Nesterov { beta: f64, velocity: Vec<f64> },
    /// Bias-corrected running moments of `g` and `g²`.
    Adam {
        beta1: f64,
        beta2: f64,
        eps: f64,
        mean: Vec<f64>,
        square: Vec<f64>,
        /// `β₁ᵗ` and `β₂ᵗ`, kept as products to avoid `powi` per step.
        beta1_t: f64,
        beta2_t: f64,
    },
}

impl Rule {
    /// The state for `method` over `dim` parameters.
    pub(crate) fn new(method: Method, dim: usize) -> Self {
        match method {
            Method::Gd | Method::Sgd | Method::MiniBatch { .. } => Rule::Plain,
            Method::Momentum { beta } => Rule::Momentum {
                beta,
                velocity: vec![0.0; dim],
            },
            Method::Nesterov { beta } => Rule::Nesterov {
                beta,
                velocity: vec![0.0; dim],
            },
            Method::Adam { beta1, beta2, eps } => Rule::Adam {
                beta1,
                beta2,
                eps,
                mean: vec![0.0; dim],
                square: vec![0.0; dim],
                beta1_t: 1.0,
                beta2_t: 1.0,
            },
        }
    }

    /// Whether the direction is the gradient itself (`d = g`).
    pub(crate) fn is_plain(&self) -> bool {
        matches!(self, Rule::Plain)
    }

    /// Updates the state with gradient `g` and writes the direction into `d`.
    pub(crate) fn direction(&mut self, g: &[f64], d: &mut [f64]) {
        match self {
            Rule::Plain => d.copy_from_slice(g),
            Rule::Momentum { beta, velocity } => {
                for ((v, &gi), di) in velocity.iter_mut().zip(g).zip(d) {
                    *v = *beta * *v + gi;
                    *di = *v;
                }
            }
            Rule::Nesterov { beta, velocity } => {
                for ((v, &gi), di) in velocity.iter_mut().zip(g).zip(d) {
                    *v = *beta * *v + gi;
                    *di = gi + *beta * *v;
                }
            }
            Rule::Adam {
                beta1,
                beta2,
                eps,
                mean,
                square,
                beta1_t,
                beta2_t,
            } => {
                *beta1_t *= *beta1;
                *beta2_t *= *beta2;
                let (c1, c2) = (1.0 - *beta1_t, 1.0 - *beta2_t);
                for (((m, s), &gi), di) in mean.iter_mut().zip(square.iter_mut()).zip(g).zip(d) {
                    *m = *beta1 * *m + (1.0 - *beta1) * gi;
                    *s = *beta2 * *s + (1.0 - *beta2) * gi * gi;
                    *di = (*m / c1) / ((*s / c2).sqrt() + *eps);
                }
            }
        }
    }

    /// Forgets the accumulated state, as at the start of a run.
    pub(crate) fn reset(&mut self) {
        match self {
            Rule::Plain => {}
            Rule::Momentum { velocity, .. } | Rule::Nesterov { velocity, .. } => {
                velocity.fill(0.0);
            }
            Rule::Adam {
                mean,
                square,
                beta1_t,
                beta2_t,
                ..
            } => {
                mean.fill(0.0);
                square.fill(0.0);
                *beta1_t = 1.0;
                *beta2_t = 1.0;
            }
        }
    }
}
