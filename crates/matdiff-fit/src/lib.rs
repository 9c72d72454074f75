//! matdiff-fit: optimisers, stopping rules, schedules and line search
//! ([`optim`]); linear-regression solvers; data loading.

pub mod optim;
