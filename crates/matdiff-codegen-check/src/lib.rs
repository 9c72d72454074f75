//! The Rust that `matdiff derive --format rust` generates, compiled as is: `build.rs`
//! runs the generator of matdiff-core on every case of `cases.rs` and on every
//! gradient, Jacobian and Hessian of the differentiation table, and each case's code
//! becomes a module here. The tests evaluate the generated functions on random inputs
//! and compare them with matdiff-num's evaluation plan, as Cranelift's ISLE compiles
//! and runs the code it generates.
//!
//! Internal: a test of the code generator, not a library to use; use the `matdiff` crate.

use faer::Mat;

/// A generated `f_and_grad` behind a uniform signature: the variables in order
/// (scalars as 1 × 1 matrices) to value and derivative as matrices.
pub type Runner = fn(&[Mat<f64>]) -> (Mat<f64>, Mat<f64>);

/// One generated function with what it was generated from.
#[derive(Clone, Copy, Debug)]
pub struct Generated {
    /// The module holding the code.
    pub module: &'static str,
    /// The expression.
    pub expr: &'static str,
    /// Its declarations.
    pub decls: &'static str,
    /// The variable differentiated with respect to.
    pub wrt: &'static str,
    /// 1 or 2.
    pub order: u8,
    /// The generated `f_and_grad`.
    pub run: Runner,
}

/// A generated `solution`: the closed-form stationary point of a quadratic loss.
#[derive(Clone, Copy, Debug)]
pub struct GeneratedSolution {
    /// The module holding the code.
    pub module: &'static str,
    /// The loss.
    pub expr: &'static str,
    /// Its declarations.
    pub decls: &'static str,
    /// The variable solved for.
    pub wrt: &'static str,
    /// The parameters of `solution`, in order.
    pub parameters: &'static [&'static str],
    /// The generated `solution` behind a uniform signature (scalars as 1 × 1).
    pub run: fn(&[Mat<f64>]) -> Mat<f64>,
}

/// A result of a generated function as a matrix (a scalar as 1 × 1).
pub trait IntoMat {
    /// The value as a matrix.
    fn into_mat(self) -> Mat<f64>;
}

impl IntoMat for f64 {
    fn into_mat(self) -> Mat<f64> {
        Mat::from_fn(1, 1, |_, _| self)
    }
}

impl IntoMat for Mat<f64> {
    fn into_mat(self) -> Mat<f64> {
        self
    }
}

include!(concat!(env!("OUT_DIR"), "/modules.rs"));
