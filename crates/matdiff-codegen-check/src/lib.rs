//! The Rust that `matdiff derive --format rust` generates, compiled as is: `build.rs`
//! runs the generator of matdiff-core on every case of `cases.rs` and each case's code
//! becomes a module here. The tests evaluate the generated functions on random inputs
//! and compare them with matdiff-num's evaluation plan, as Cranelift's ISLE compiles
//! and runs the code it generates.

include!("../cases.rs");

/// The cases: module name, expression, declarations, variable, order.
pub fn cases() -> &'static [(&'static str, &'static str, &'static str, &'static str, u8)] {
    CASES
}

macro_rules! generated {
    ($($module:ident),* $(,)?) => {
        $(
            #[doc = concat!("The generated code of the case `", stringify!($module), "`.")]
            pub mod $module {
                // The generated text is checked for what it computes, not linted.
                #![allow(clippy::all, non_snake_case, dead_code, unused_imports)]
                include!(concat!(env!("OUT_DIR"), "/", stringify!($module), ".rs"));
            }
        )*

        /// The names of the generated modules, in `cases.rs` order.
        pub const MODULES: &[&str] = &[$(stringify!($module)),*];
    };
}

generated!(
    least_squares,
    least_squares_hessian,
    ridge,
    logistic,
    det,
    inv_quadratic,
    gaussian,
    mahalanobis,
    softmax_jacobian,
    sigmoid_jacobian,
    logsumexp_hessian,
    exp_hessian,
    two_layer,
    cube_trace,
    scalar_variable,
    softplus,
);
