//! matdiff-num
