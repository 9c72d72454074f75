//! The symbolic core of matdiff: the IR, kinds and shape inference, differentiation,
//! simplification, printers and code generation. It never depends on a numeric
//! backend.
//!
//! Internal; use the `matdiff` crate. This crate's API may change without notice.

pub mod build;
pub mod codegen;
pub mod derivative;
pub mod diff;
pub mod instances;
pub mod ir;
pub mod lower;
pub mod print;
pub mod shape;
pub mod simplify;
pub mod solve;
pub mod stable;

pub use derivative::{Derivative, DerivativeKind, Step};
pub use diff::{derive, DiffError, PowerRefusal, MAX_MATRIX_EXPONENT};
pub use ir::{Dim, Func, Function, Graph, Id, Kind, Node, Real, Shape, Sym, Variable};
pub use lower::{
    elaborate, elaborate_in, elaborate_with_spans, parse_function, parse_sources,
    parse_sources_mapped, LoadError, SourceMap, SourceRole, Stage,
};
pub use shape::Texts;
pub use simplify::simplify;
pub use solve::{solve, Solution, SolveError};
