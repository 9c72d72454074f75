//! Numeric values: a scalar or a dense matrix (vectors are n × 1 columns).

use faer::{Mat, MatRef};

/// The value of an expression: a scalar, or a matrix (a vector is an n × 1 matrix).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar.
    Scalar(f64),
    /// A matrix; column vectors are n × 1, row vectors 1 × n.
    Matrix(Mat<f64>),
}

impl Default for Value {
    fn default() -> Value {
        Value::Scalar(0.0)
    }
}

impl Value {
    /// The scalar, or the single entry of a 1 × 1 matrix.
    pub fn as_scalar(&self) -> Option<f64> {
        match self {
            Value::Scalar(v) => Some(*v),
            Value::Matrix(m) if m.nrows() == 1 && m.ncols() == 1 => Some(m[(0, 0)]),
            Value::Matrix(_) => None,
        }
    }

    /// The matrix, if this is one.
    pub fn as_matrix(&self) -> Option<&Mat<f64>> {
        match self {
            Value::Matrix(m) => Some(m),
            Value::Scalar(_) => None,
        }
    }

    /// The value as a matrix (a scalar becomes 1 × 1).
    pub fn to_matrix(&self) -> Mat<f64> {
        match self {
            Value::Scalar(v) => Mat::from_fn(1, 1, |_, _| *v),
            Value::Matrix(m) => m.clone(),
        }
    }

    /// Rows × columns (1 × 1 for a scalar).
    pub fn dims(&self) -> (usize, usize) {
        match self {
            Value::Scalar(_) => (1, 1),
            Value::Matrix(m) => (m.nrows(), m.ncols()),
        }
    }

    /// Every entry is finite.
    pub fn is_finite(&self) -> bool {
        match self {
            Value::Scalar(v) => v.is_finite(),
            Value::Matrix(m) => all_finite(m.as_ref()),
        }
    }

    /// The JSON encoding of values: a number, a flat list for a column vector,
    /// a list of rows for a matrix.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Scalar(v) => number(*v),
            Value::Matrix(m) => matrix_to_json(m.as_ref()),
        }
    }

    /// The largest absolute difference to `other`, or infinity when the shapes differ.
    pub fn max_abs_diff(&self, other: &Value) -> f64 {
        let (a, b) = (self.to_matrix(), other.to_matrix());
        if a.nrows() != b.nrows() || a.ncols() != b.ncols() {
            return f64::INFINITY;
        }
        let mut worst: f64 = 0.0;
        for j in 0..a.ncols() {
            for i in 0..a.nrows() {
                worst = worst.max((a[(i, j)] - b[(i, j)]).abs());
            }
        }
        worst
    }

    /// The largest absolute entry.
    pub fn max_abs(&self) -> f64 {
        match self {
            Value::Scalar(v) => v.abs(),
            Value::Matrix(m) => max_abs(m.as_ref()),
        }
    }
}

/// The JSON encoding of a matrix: a flat list when it has one column, else a list of rows.
pub fn matrix_to_json(m: MatRef<'_, f64>) -> serde_json::Value {
    if m.ncols() == 1 {
        serde_json::Value::Array((0..m.nrows()).map(|i| number(m[(i, 0)])).collect())
    } else {
        serde_json::Value::Array(
            (0..m.nrows())
                .map(|i| {
                    serde_json::Value::Array((0..m.ncols()).map(|j| number(m[(i, j)])).collect())
                })
                .collect(),
        )
    }
}

fn number(v: f64) -> serde_json::Value {
    // Non-finite values never reach here: evaluation reports them as errors.
    serde_json::Number::from_f64(v)
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}

/// Every entry of `m` is finite.
pub(crate) fn all_finite(m: MatRef<'_, f64>) -> bool {
    (0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite()))
}

/// The largest absolute entry of `m` (0 for an empty matrix).
pub(crate) fn max_abs(m: MatRef<'_, f64>) -> f64 {
    let mut worst: f64 = 0.0;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            worst = worst.max(m[(i, j)].abs());
        }
    }
    worst
}
