//! matdiff-fit: optimisers, stopping rules, schedules and line search
//! ([`optim`]); linear-regression solvers ([`linreg`]); bundled data sets ([`datasets`]).

pub mod datasets;
pub mod linreg;
pub mod optim;
