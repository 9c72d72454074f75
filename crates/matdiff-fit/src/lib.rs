//! matdiff-fit: optimisers, stopping rules, schedules and line search
//! ([`optim`]); losses written as expressions and bound to data ([`problem`]);
//! linear-regression solvers; data loading.

pub mod optim;
pub mod problem;
