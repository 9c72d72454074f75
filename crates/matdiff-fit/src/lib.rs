//! matdiff-fit
