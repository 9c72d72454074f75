//! A naive tree-walking evaluator: no sharing, no reordering, textbook formulas.
//! It is slow on purpose and serves as the oracle that plans are tested against.

use faer::Mat;
use matdiff_core::{Dim, Func, Graph, Id, Node};

use crate::error::EvalError;
use crate::inputs::{InputError, Inputs, Sizes};
use crate::value::Value;

/// Evaluates `id` by walking the tree, recomputing shared subexpressions.
pub fn evaluate(graph: &Graph, id: Id, inputs: &Inputs, sizes: &Sizes) -> Result<Value, EvalError> {
    let m = eval(graph, id, inputs, sizes)?;
    Ok(if graph.shape(id).is_scalar() {
        Value::Scalar(m[(0, 0)])
    } else {
        Value::Matrix(m)
    })
}

fn domain(node: Id, problem: &str) -> EvalError {
    EvalError::Domain {
        node,
        problem: problem.to_string(),
    }
}

fn eval(graph: &Graph, id: Id, inputs: &Inputs, sizes: &Sizes) -> Result<Mat<f64>, EvalError> {
    let ev = |c: Id| eval(graph, c, inputs, sizes);
    let size = |d: Dim| {
        sizes.dim(d).ok_or_else(|| {
            EvalError::from(InputError::UnboundDimension {
                dim: crate::inputs::dim_text(graph, d),
            })
        })
    };
    let scalar = |v: f64| Mat::from_fn(1, 1, |_, _| v);
    let missing = |s| {
        EvalError::from(InputError::Missing {
            name: graph.name(s).to_string(),
        })
    };
    Ok(match graph.node(id) {
        Node::Const(r) => scalar(r.value()),
        Node::Var(s) => inputs.get(s).ok_or_else(|| missing(s))?.clone(),
        Node::Differential(s) => inputs.differential(s).ok_or_else(|| missing(s))?.clone(),
        Node::DifferentialOf(_) => {
            return Err(EvalError::Unsupported {
                node: id,
                problem: "an unexpanded differential has no value".to_string(),
            })
        }
        Node::DimValue(s) => scalar(size(Dim::Named(s))? as f64),
        Node::Eye(d) => {
            let n = size(d)?;
            Mat::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.0 })
        }
        Node::Ones(d) => Mat::from_fn(size(d)?, 1, |_, _| 1.0),
        Node::Zeros(shape) => Mat::zeros(size(shape.rows)?, size(shape.cols)?),
        Node::Add(a, b) => broadcast(&ev(a)?, &ev(b)?, |x, y| x + y),
        Node::Neg(a) => map(&ev(a)?, |x| -x),
        Node::ElemMul(a, b) => broadcast(&ev(a)?, &ev(b)?, |x, y| x * y),
        Node::ElemDiv(a, b) => broadcast(&ev(a)?, &ev(b)?, |x, y| x / y),
        Node::ElemPow(a, b) => broadcast(&ev(a)?, &ev(b)?, f64::powf),
        Node::Div(a, b) => {
            let d = ev(b)?[(0, 0)];
            if d == 0.0 {
                return Err(domain(id, "division by zero"));
            }
            map(&ev(a)?, |x| x / d)
        }
        Node::Mul(a, b) => {
            let (x, y) = (ev(a)?, ev(b)?);
            if graph.shape(a).is_scalar() {
                map(&y, |v| x[(0, 0)] * v)
            } else if graph.shape(b).is_scalar() {
                map(&x, |v| v * y[(0, 0)])
            } else {
                product(&x, &y)
            }
        }
        Node::Pow(a, b) => {
            let (x, k) = (ev(a)?, ev(b)?[(0, 0)]);
            if graph.shape(a).is_scalar() {
                scalar(x[(0, 0)].powf(k))
            } else {
                let base = if k < 0.0 {
                    inverse(&x).ok_or_else(|| domain(id, "singular"))?
                } else {
                    x
                };
                let n = base.nrows();
                let mut r = Mat::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.0 });
                for _ in 0..(k.abs() as u64) {
                    r = product(&r, &base);
                }
                r
            }
        }
        Node::Transpose(a) => {
            let x = ev(a)?;
            Mat::from_fn(x.ncols(), x.nrows(), |i, j| x[(j, i)])
        }
        Node::Inner(a, b) => {
            let (x, y) = (ev(a)?, ev(b)?);
            let t = Mat::from_fn(x.ncols(), x.nrows(), |i, j| x[(j, i)]);
            let p = product(&t, &y);
            scalar((0..p.nrows()).map(|i| p[(i, i)]).sum())
        }
        Node::Kron(a, b) => {
            let (x, y) = (ev(a)?, ev(b)?);
            let (p, q) = (y.nrows(), y.ncols());
            Mat::from_fn(x.nrows() * p, x.ncols() * q, |i, j| {
                x[(i / p, j / q)] * y[(i % p, j % q)]
            })
        }
        Node::Apply(f, a) => apply(f, &ev(a)?, id, graph.shape(a).cols == Dim::ONE)?,
    })
}

fn apply(f: Func, x: &Mat<f64>, id: Id, column: bool) -> Result<Mat<f64>, EvalError> {
    let scalar = |v: f64| Mat::from_fn(1, 1, |_, _| v);
    let entries = || (0..x.ncols()).flat_map(move |j| (0..x.nrows()).map(move |i| x[(i, j)]));
    Ok(match f {
        Func::Tr => scalar((0..x.nrows()).map(|i| x[(i, i)]).sum()),
        Func::Det => scalar(determinant(x)),
        Func::Logdet => {
            let d = determinant(x);
            if d <= 0.0 {
                return Err(domain(
                    id,
                    "logdet of a matrix with a non-positive determinant",
                ));
            }
            scalar(d.ln())
        }
        Func::Inv => inverse(x).ok_or_else(|| domain(id, "inv of a singular matrix"))?,
        Func::Diag if column => {
            Mat::from_fn(
                x.nrows(),
                x.nrows(),
                |i, j| if i == j { x[(i, 0)] } else { 0.0 },
            )
        }
        Func::Diag => Mat::from_fn(x.nrows(), 1, |i, _| x[(i, i)]),
        Func::Sum => scalar(entries().sum()),
        Func::Norm1 => scalar(entries().map(f64::abs).sum()),
        Func::Norm2 => scalar(entries().map(|v| v * v).sum::<f64>().sqrt()),
        Func::Logsumexp => {
            let m = entries().fold(f64::NEG_INFINITY, f64::max);
            scalar(m + entries().map(|v| (v - m).exp()).sum::<f64>().ln())
        }
        Func::Softmax => {
            let m = entries().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = entries().map(|v| (v - m).exp()).sum();
            map(x, |v| (v - m).exp() / total)
        }
        Func::Vec => {
            let m = x.nrows();
            Mat::from_fn(m * x.ncols(), 1, |i, _| x[(i % m, i / m)])
        }
        Func::LogsumexpCols => Mat::from_fn(1, x.ncols(), |_, j| {
            let m = (0..x.nrows())
                .map(|i| x[(i, j)])
                .fold(f64::NEG_INFINITY, f64::max);
            m + (0..x.nrows())
                .map(|i| (x[(i, j)] - m).exp())
                .sum::<f64>()
                .ln()
        }),
        Func::SoftmaxCols => Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
            let m = (0..x.nrows())
                .map(|k| x[(k, j)])
                .fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = (0..x.nrows()).map(|k| (x[(k, j)] - m).exp()).sum();
            (x[(i, j)] - m).exp() / total
        }),
        Func::Log if entries().any(|v| v <= 0.0) => {
            return Err(domain(id, "log of a non-positive entry"))
        }
        Func::Sqrt if entries().any(|v| v < 0.0) => {
            return Err(domain(id, "sqrt of a negative entry"))
        }
        Func::Arcsin | Func::Arccos if entries().any(|v| v.abs() > 1.0) => {
            return Err(domain(id, "arcsin or arccos of an entry outside [-1, 1]"))
        }
        Func::Log1p if entries().any(|v| v <= -1.0) => {
            return Err(domain(id, "log1p of an entry not above -1"))
        }
        _ => map(x, |v| match f {
            Func::Exp => v.exp(),
            Func::Log => v.ln(),
            Func::Sin => v.sin(),
            Func::Cos => v.cos(),
            Func::Tan => v.tan(),
            Func::Tanh => v.tanh(),
            Func::Arcsin => v.asin(),
            Func::Arccos => v.acos(),
            Func::Arctan => v.atan(),
            Func::Sinh => v.sinh(),
            Func::Cosh => v.cosh(),
            Func::Log1p => v.ln_1p(),
            Func::Sqrt => v.sqrt(),
            Func::Abs => v.abs(),
            Func::Sigmoid => 1.0 / (1.0 + (-v).exp()),
            Func::Softplus => v.exp().ln_1p(),
            Func::Relu => {
                if v > 0.0 {
                    v
                } else {
                    0.0
                }
            }
            Func::Sign => {
                if v > 0.0 {
                    1.0
                } else if v < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            _ => {
                if v > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }),
    })
}

fn map(x: &Mat<f64>, f: impl Fn(f64) -> f64) -> Mat<f64> {
    Mat::from_fn(x.nrows(), x.ncols(), |i, j| f(x[(i, j)]))
}

fn broadcast(x: &Mat<f64>, y: &Mat<f64>, f: impl Fn(f64, f64) -> f64) -> Mat<f64> {
    let (r, c) = if x.nrows() * x.ncols() >= y.nrows() * y.ncols() {
        (x.nrows(), x.ncols())
    } else {
        (y.nrows(), y.ncols())
    };
    let at = |m: &Mat<f64>, i: usize, j: usize| {
        if m.nrows() == 1 && m.ncols() == 1 {
            m[(0, 0)]
        } else {
            m[(i, j)]
        }
    };
    Mat::from_fn(r, c, |i, j| f(at(x, i, j), at(y, i, j)))
}

/// The textbook triple loop.
pub fn product(x: &Mat<f64>, y: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(x.nrows(), y.ncols(), |i, j| {
        (0..x.ncols()).map(|k| x[(i, k)] * y[(k, j)]).sum()
    })
}

/// Gaussian elimination with partial pivoting.
pub fn determinant(x: &Mat<f64>) -> f64 {
    let n = x.nrows();
    let mut a = x.clone();
    let mut det = 1.0;
    for k in 0..n {
        let p = (k..n)
            .max_by(|&i, &j| a[(i, k)].abs().total_cmp(&a[(j, k)].abs()))
            .unwrap_or(k);
        if a[(p, k)] == 0.0 {
            return 0.0;
        }
        if p != k {
            for j in 0..n {
                let t = a[(k, j)];
                a[(k, j)] = a[(p, j)];
                a[(p, j)] = t;
            }
            det = -det;
        }
        det *= a[(k, k)];
        for i in k + 1..n {
            let factor = a[(i, k)] / a[(k, k)];
            for j in k..n {
                a[(i, j)] -= factor * a[(k, j)];
            }
        }
    }
    det
}

/// Gauss–Jordan elimination; `None` for a (numerically) singular matrix.
pub fn inverse(x: &Mat<f64>) -> Option<Mat<f64>> {
    let n = x.nrows();
    let mut a = x.clone();
    let mut inv = Mat::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.0 });
    let scale = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .fold(0.0_f64, |m, (i, j)| m.max(x[(i, j)].abs()));
    for k in 0..n {
        let p = (k..n).max_by(|&i, &j| a[(i, k)].abs().total_cmp(&a[(j, k)].abs()))?;
        if a[(p, k)].abs() <= 1e-14 * scale {
            return None;
        }
        for j in 0..n {
            let (t, u) = (a[(k, j)], inv[(k, j)]);
            a[(k, j)] = a[(p, j)];
            inv[(k, j)] = inv[(p, j)];
            a[(p, j)] = t;
            inv[(p, j)] = u;
        }
        let pivot = a[(k, k)];
        for j in 0..n {
            a[(k, j)] /= pivot;
            inv[(k, j)] /= pivot;
        }
        for i in 0..n {
            if i != k {
                let factor = a[(i, k)];
                for j in 0..n {
                    a[(i, j)] -= factor * a[(k, j)];
                    inv[(i, j)] -= factor * inv[(k, j)];
                }
            }
        }
    }
    Some(inv)
}
