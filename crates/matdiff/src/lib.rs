//! # matdiff: vector–matrix calculus as a library
//!
//! Write a function in matrix notation, get its gradient or Hessian by the
//! seminar's rules — with the derivation, simplified to textbook form — evaluate and
//! check it numerically, compile it for repeated evaluation, and fit it to data.
//! Everything goes through a handful of names: [`Function`], [`Derivative`],
//! [`Inputs`], [`Minimize`], [`linreg::fit`] and one error type, [`Error`]. The
//! dense matrices are [`faer`]'s, re-exported as [`matdiff::faer`](crate::faer) so
//! that you need not pin it.
//!
//! ## The seminar's example, end to end
//!
//! The least-squares loss of linear regression, `L(w) = 1/N ‖Xw − y‖²`: its gradient
//! by the rules, `∇L = 2/N Xᵀ(Xw − y)`; its Hessian `2/N XᵀX`; and the gradient
//! descent `w ← w − η∇L(w)` on the diabetes data, next to the closed form.
//!
//! ```
//! use matdiff::{Function, Inputs, Method, Minimize, Solver};
//!
//! // 1. The loss, parsed and shape-checked: `X` is declared, `w` and `y` inferred.
//! let loss = Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
//!
//! // 2. Its gradient with the derivation: dL = d(1/N <Xw − y, Xw − y>) = …
//! let gradient = loss.gradient("w")?;
//! assert_eq!(gradient.to_string(), "2/N*X'*(X*w - y)");
//! for step in gradient.steps() {
//!     println!("{}    ({})", step.expr, step.rule);
//! }
//! println!("{}", gradient.latex_derivation()); // a LaTeX align environment
//! assert_eq!(loss.hessian("w")?.to_string(), "2/N*X'*X");
//!
//! // 3. Checked against finite differences on random instances.
//! assert!(loss.check("w")?.passed);
//!
//! // 4. Evaluated on numbers: faer matrices and slices, by name.
//! let x = matdiff::faer::mat![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
//! let inputs = Inputs::new().matrix("X", x.as_ref()).vector("y", &[1.0, 2.0, 3.0]).vector("w", &[0.0, 0.0]);
//! let (value, grad) = loss.value_and_gradient("w", &inputs)?;
//! assert!((value - 14.0 / 3.0).abs() < 1e-12);
//! assert!((grad[(0, 0)] + 8.0 / 3.0).abs() < 1e-12);
//!
//! // 5. Fitted by gradient descent on the diabetes data, and by the closed form.
//! let (x, y) = matdiff::datasets::diabetes();
//! let fit = Minimize::new(&loss, "w").data("X", x.as_ref()).data("y", &y)
//!     .method(Method::Gd).lr(0.5).max_iter(100).run()?;
//! println!("loss {} after {} iterations ({:?})", fit.loss, fit.iterations, fit.stop_reason);
//! let ols = matdiff::linreg::fit(x.as_ref(), &y, Solver::Auto)?;
//! assert!((ols.r2 - 0.51775).abs() < 1e-5);
//! # Ok::<(), matdiff::Error>(())
//! ```
//!
//! ## Errors
//!
//! Every fallible call returns [`Error`]. Its variants classify the failure (syntax,
//! shape, unknown variable, domain, divergence, data file, I/O, too large, invalid
//! request); `Display` gives one line, and [`Error::render`] the located message with
//! carets under the expression that the command line prints.
//!
//! ## The crates behind it
//!
//! `matdiff-syntax`, `matdiff-core`, `matdiff-num` and `matdiff-fit` implement the
//! parser, the symbolic engine, the numeric evaluation and the optimisers. They are
//! internal: their APIs change without notice. Use this crate.

#![deny(missing_docs)]

mod datasets_impl;
mod derivative;
mod error;
mod function;
mod inputs;
mod locate;
mod minimize;
mod solved;
mod values;

pub use faer;

pub use derivative::{Checking, Derivative, Step};
pub use error::{Error, Located, Place};
pub use function::{Check, Compiled, Function, Objective, Source, SourceKind, Summary, Variable};
pub use inputs::Inputs;
pub use linreg::Solver;
pub use matdiff_core::print::derivation::{Report as DerivationReport, ShapeEntry};
pub use matdiff_core::solve::{
    Definiteness, MinimumNorm, Report as SolveReport, ReportStep as SolveStep,
};
pub use matdiff_core::DerivativeKind;
pub use matdiff_fit::optim::{EpochLoss, Record, Scope, StopReason};
pub use minimize::{DataValue, Fit, Minimize};
pub use solved::{Solved, SolvedValues};
pub use values::{Evaluation, Values};

/// The update rules of [`Minimize::method`].
pub use matdiff_fit::spec::MethodKind as Method;
/// How stochastic methods draw samples ([`Minimize::sampling`]).
pub use matdiff_fit::spec::SamplingKind as Sampling;
/// How the step size changes during a run ([`Minimize::schedule`]).
pub use matdiff_fit::spec::ScheduleKind as Schedule;

pub mod linreg;
pub mod logistic;
pub mod model;

/// The loss restricted to a plane of two coordinates, its values on a grid, gradient
/// arrows and the optimiser's trajectories, as plain numbers for drawing.
pub mod plane {
    pub use matdiff_fit::plane::*;
}

/// Bundled data sets.
pub mod datasets {
    pub use crate::datasets_impl::{columns, diabetes, diabetes_raw, names};
    /// A bundled data set by name (`diabetes`, `longley`, `spector`): its CSV text and
    /// its usual target column.
    pub use matdiff_fit::datasets::{find, Dataset};
}

/// Data files: CSV (with or without a header row) and `.npy` arrays, read into
/// matrices or named tables, within the memory budget of [`memory`].
pub mod data {
    pub use matdiff_num::data::{
        load_csv_columns, load_csv_with, load_matrix_stored, load_matrix_with, parse_csv,
        parse_csv_columns, CsvHeader, DataError, RowReader, Table,
    };
    pub use matdiff_num::{Order, SharedValues, Stored};
}

/// Data-parallel fitting over row shards: ranks that each hold a contiguous block of
/// rows, contributions combined in rank order so every rank and every rerun at the
/// same number of ranks gets the same bits. [`distributed::Alone`] is one process;
/// `World` (feature `mpi`) is the processes `mpirun` started. See docs/distributed.md.
pub mod distributed {
    pub use matdiff_fit::distributed::gradient::{DistributedError, DistributedProblem, LocalSgd};
    pub use matdiff_fit::distributed::linreg::{fit, DistributedFit};
    #[cfg(feature = "mpi")]
    pub use matdiff_fit::distributed::mpi::World;
    pub use matdiff_fit::distributed::shard::{
        load, rank_file, Shard, ShardError, RANK_PLACEHOLDER,
    };
    pub use matdiff_fit::distributed::{combine, gather, shard_rows, Alone, Peers};
}

/// The memory budget of computations and of data files read into memory.
pub mod memory {
    pub use matdiff_num::memory::{describe_bytes, parse_size, set_budget_bytes};
}

/// A fit described as data, as [`Minimize`] builds it and the command line fills it
/// from its flags: the method, schedule, stop rules with their defaults, starting
/// point, data (in memory or streamed) and sample dimension.
pub mod fit {
    pub use crate::minimize::{prepare, prepare_distributed, problem};
    pub use matdiff_fit::optim::{
        Batch, History, NoObserver, Objective, Observer, OptimError, Options, Outcome, Record,
        Scope,
    };
    pub use matdiff_fit::problem::{Problem, ProblemError};
    pub use matdiff_fit::spec::{
        describe_hoisting, random_start, Data, FitError, FitObjective, FitSpec, PreparedFit, Start,
        StopSpec, DEFAULT_BATCH, DEFAULT_CHUNK_ROWS, INIT_SCALE,
    };
}
