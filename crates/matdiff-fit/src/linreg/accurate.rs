//! Sums and dot products with error-free transformations (Ogita, Rump & Oishi,
//! "Accurate sum and dot product", 2005): the result is as accurate as if computed in
//! twice the working precision, then rounded. Used for the residuals of iterative
//! refinement, where cancellation would otherwise eat the digits refinement recovers.

/// `a + b = s + e` exactly (Knuth's TwoSum).
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// `a · b = p + e` exactly (TwoProduct via a fused multiply-add).
fn two_product(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// A running sum that carries its rounding error along (Dot2 / Sum2).
#[derive(Clone, Copy, Default)]
pub(crate) struct Compensated {
    sum: f64,
    error: f64,
}

impl Compensated {
    /// Adds `value`.
    pub(crate) fn add(&mut self, value: f64) {
        let (s, e) = two_sum(self.sum, value);
        self.sum = s;
        self.error += e;
    }

    /// Adds `a · b`.
    pub(crate) fn add_product(&mut self, a: f64, b: f64) {
        let (p, ep) = two_product(a, b);
        let (s, es) = two_sum(self.sum, p);
        self.sum = s;
        self.error += ep + es;
    }

    /// The sum, rounded once.
    pub(crate) fn value(&self) -> f64 {
        self.sum + self.error
    }
}

/// The mean of `values`, summed accurately.
pub(crate) fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let mut sum = Compensated::default();
    let mut n = 0usize;
    for v in values {
        sum.add(v);
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        sum.value() / n as f64
    }
}

/// The mean of a slice, summed accurately in four interleaved compensated sums that
/// are merged at the end: the same accuracy as [`mean`], without one long chain of
/// dependent additions, so a column of a million values costs a memory read, not four
/// additions' latency per value.
pub(crate) fn mean_of(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut lanes = [Compensated::default(); 4];
    let chunks = values.chunks_exact(4);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            lane.add(v);
        }
    }
    let mut sum = Compensated::default();
    for lane in &lanes {
        sum.add(lane.sum);
        sum.error += lane.error;
    }
    for &v in rest {
        sum.add(v);
    }
    sum.value() / values.len() as f64
}

/// The interleaved sums of [`mean_of`], fed one value at a time: value `i` of `n`
/// goes where [`mean_of`] puts it, so the mean is the same bits. For the columns of a
/// matrix stored by rows, read one row after the other.
#[derive(Clone, Copy, Default)]
pub(crate) struct InterleavedMean {
    lanes: [Compensated; 4],
    tail: [f64; 3],
}

impl InterleavedMean {
    /// Adds value `i` (from 0) of `n`.
    pub(crate) fn add(&mut self, i: usize, n: usize, value: f64) {
        let whole = n / 4 * 4;
        if i < whole {
            self.lanes[i % 4].add(value);
        } else {
            self.tail[i - whole] = value;
        }
    }

    /// The mean of the `n` values added.
    pub(crate) fn mean(&self, n: usize) -> f64 {
        if n == 0 {
            return 0.0;
        }
        let mut sum = Compensated::default();
        for lane in &self.lanes {
            sum.add(lane.sum);
            sum.error += lane.error;
        }
        for &v in &self.tail[..n % 4] {
            sum.add(v);
        }
        sum.value() / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensation_recovers_what_plain_summation_loses() {
        // 1e16 + 1 − 1e16 is 0 in plain f64 arithmetic, 1 exactly.
        let mut sum = Compensated::default();
        for v in [1e16, 1.0, -1e16] {
            sum.add(v);
        }
        assert_eq!(sum.value(), 1.0);
        // (1 + 2⁻³⁰)² − 1 − 2⁻²⁹ = 2⁻⁶⁰, lost entirely without TwoProduct.
        let a = 1.0 + 2f64.powi(-30);
        let mut dot = Compensated::default();
        dot.add_product(a, a);
        dot.add(-1.0);
        dot.add(-(2f64.powi(-29)));
        assert_eq!(dot.value(), 2f64.powi(-60));
    }

    #[test]
    fn the_interleaved_mean_is_as_accurate_as_the_plain_one() {
        // Cancellation that plain summation gets wrong, in every position modulo 4.
        for shift in 0..5 {
            let mut values = vec![0.5; shift];
            values.extend([1e16, 1.0, -1e16, 3.0, 1e-3, -1e-3, 7.0]);
            let exact = (0.5 * shift as f64 + 11.0) / values.len() as f64;
            assert_eq!(mean_of(&values), exact, "shift {shift}");
            assert_eq!(mean(values.iter().copied()), exact, "shift {shift}");
        }
        assert_eq!(mean_of(&[]), 0.0);
    }

    #[test]
    fn the_mean_fed_value_by_value_is_the_interleaved_mean_bit_for_bit() {
        for n in 0..12 {
            let values: Vec<f64> = (0..n)
                .map(|i| 1e16 * f64::from(i % 3) - 0.1 * f64::from(i) + 1e-3)
                .collect();
            let mut fed = InterleavedMean::default();
            for (i, &v) in values.iter().enumerate() {
                fed.add(i, values.len(), v);
            }
            assert_eq!(
                fed.mean(values.len()).to_bits(),
                mean_of(&values).to_bits(),
                "n = {n}"
            );
        }
    }
}
