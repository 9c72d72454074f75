//! matdiff-fit: optimisers, stopping rules, schedules and line search
//! ([`optim`]); losses written as expressions and bound to data ([`problem`]);
//! linear-model losses recognised and evaluated row by row ([`linear_form`]), also
//! over data read from files chunk by chunk ([`stream`]); linear-regression solvers
//! ([`linreg`]); bundled data sets ([`datasets`]); one fit described once, with its
//! defaults, starting point and data ([`spec`]); the loss on a plane of two
//! coordinates, its grids and solver traces as numbers for pictures ([`plane`]).
//!
//! Internal; use the `matdiff` crate. This crate's API may change without notice.

pub mod datasets;
pub mod distributed;
mod hoist;
pub mod linear_form;
pub mod linreg;
pub mod optim;
pub mod plane;
pub mod problem;
mod rows;
pub mod spec;
pub mod stream;
