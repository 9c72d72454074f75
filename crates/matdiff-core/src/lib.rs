//! The symbolic core of matdiff: the IR, kinds and shape inference, differentiation,
//! simplification, printers and code generation. It never depends on a numeric
//! backend.

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
pub mod stable;

pub use derivative::{Derivative, DerivativeKind, Step};
pub use diff::{derive, DiffError};
pub use ir::{Dim, Func, Function, Graph, Id, Kind, Node, Real, Shape, Sym, Variable};
pub use lower::{elaborate, elaborate_in, parse_function};
pub use shape::Texts;
pub use simplify::simplify;
