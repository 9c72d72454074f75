//! Numeric evaluation of matdiff expressions on faer: inputs and their sizes,
//! compiled evaluation plans, a naive reference evaluator, random instances honouring
//! declared structure, the finite-difference gradient checker, and data files (CSV,
//! .npy).
//!
//! Internal; use the `matdiff` crate. This crate's API may change without notice.

pub mod check;
pub mod data;
pub mod error;
pub mod fuzz_entry;
pub mod inputs;
pub mod kernels;
mod mapped;
pub mod memory;
pub mod plan;
pub mod reference;
pub mod stored;
pub mod value;

pub use check::{
    check_derivative, default_sizes, random_inputs, CheckOptionError, CheckOptions, CheckReport,
};
pub use error::EvalError;
pub use inputs::{InputError, Inputs, Sizes, Values};
pub use plan::{Plan, PlanOptions};
pub use stored::{Order, SharedValues, Stored};
pub use value::Value;
