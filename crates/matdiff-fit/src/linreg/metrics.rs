//! Goodness of fit and a seeded train/test split.

use faer::{Col, ColRef, Mat, MatRef};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Mean squared error `‖y − ŷ‖² / N` (0 for no samples).
pub fn mse(y: ColRef<'_, f64>, predicted: ColRef<'_, f64>) -> f64 {
    let n = y.nrows();
    if n == 0 {
        return 0.0;
    }
    let rss: f64 = (0..n).map(|i| (y[i] - predicted[i]).powi(2)).sum();
    rss / n as f64
}

/// Root mean squared error `√mse`, in the units of `y`.
pub fn rmse(y: ColRef<'_, f64>, predicted: ColRef<'_, f64>) -> f64 {
    mse(y, predicted).sqrt()
}

/// Coefficient of determination `R² = 1 − RSS/TSS`, with `TSS = Σ (yᵢ − ȳ)²`.
///
/// 1 is a perfect fit, 0 is no better than predicting the mean, negative is worse.
/// A constant `y` has `TSS = 0`: the result is 1 for a perfect fit and 0 otherwise,
/// as in scikit-learn.
pub fn r2(y: ColRef<'_, f64>, predicted: ColRef<'_, f64>) -> f64 {
    let n = y.nrows();
    if n == 0 {
        return 0.0;
    }
    let mean = (0..n).map(|i| y[i]).sum::<f64>() / n as f64;
    let tss: f64 = (0..n).map(|i| (y[i] - mean).powi(2)).sum();
    let rss: f64 = (0..n).map(|i| (y[i] - predicted[i]).powi(2)).sum();
    if tss == 0.0 {
        return if rss == 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - rss / tss
}

/// Row indices of a seeded random train/test split: `round(N · test_fraction)` rows go
/// to the test set (at least one row stays for training). The same seed gives the same
/// split; both index lists are sorted.
pub fn train_test_split(n: usize, test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let fraction = if test_fraction.is_finite() {
        test_fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let n_test = ((n as f64 * fraction).round() as usize).min(n.saturating_sub(1));
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut test = order[..n_test].to_vec();
    let mut train = order[n_test..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    (train, test)
}

/// The rows of `x` with the given indices, in that order.
pub fn select_rows(x: MatRef<'_, f64>, rows: &[usize]) -> Mat<f64> {
    Mat::from_fn(rows.len(), x.ncols(), |i, j| x[(rows[i], j)])
}

/// The entries of `y` with the given indices, in that order.
pub fn select_entries(y: ColRef<'_, f64>, rows: &[usize]) -> Col<f64> {
    Col::from_fn(rows.len(), |i| y[rows[i]])
}
