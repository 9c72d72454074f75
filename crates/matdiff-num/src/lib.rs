//! matdiff-num

pub mod data;
