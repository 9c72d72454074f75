//! Code generation: a function and its derivative as NumPy or Rust (faer) source that
//! returns `(value, derivative)`.
//!
//! Both generators walk the same [`schedule::Schedule`]: shared subexpressions get
//! temporaries `t_0, t_1, …` (the IR is hash-consed, so sharing is exact), products are
//! flattened into chains and ordered as described there, `inv(A) * B` is a solve.
//!
//! What is generated: the gradient of a scalar function (any variable), the Jacobian
//! of a vector function of a vector, the Hessian (`--order 2`) of a scalar function
//! of a scalar or vector, and the closed-form stationary point that `matdiff solve`
//! derives ([`numpy::numpy_solution`], [`rust::rust_solution`]). Differential forms (a matrix-valued function, a vector
//! function of a matrix) and the second differential with respect to a matrix are
//! linear maps, not arrays: generating them is refused with [`CodegenError`].

pub mod numpy;
pub mod rust;
pub mod schedule;

use crate::derivative::{Derivative, DerivativeKind};
use crate::ir::{Dim, Function, Graph, Id, Node, Sym, Variable};

pub use crate::instances::{data_needs, dimensions_in_use_order, DataNeeds};
pub use numpy::{numpy, numpy_solution};
pub use rust::{rust, rust_solution};

/// Why code could not be generated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodegenError {
    /// The derivative is a linear map in `dX`, not an array.
    #[error(
        "the derivative with respect to `{wrt}` is {what}, not an array of numbers — \
         generated code covers gradients, jacobians and hessians with respect to \
         a scalar or a vector, and (numpy only) differential forms; see it with \
         --format text"
    )]
    LinearMap {
        /// The variable.
        wrt: String,
        /// `a differential form` or `a second differential`.
        what: &'static str,
    },
    /// A dimension used as a number is not the size of any variable.
    #[error("dimension `{dim}` is not the size of any variable — declare a variable with it")]
    UnboundDimension {
        /// Its name.
        dim: String,
    },
    /// A node the generators cannot express.
    #[error("{problem}")]
    Unsupported {
        /// The node.
        node: Id,
        /// What is wrong and what to do.
        problem: String,
    },
}

/// What a generated function returns as its derivative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// `G` of the variable's shape.
    Gradient,
    /// `J` with `df = J dx`.
    Jacobian,
    /// `H` with `d(∇f) = H dx`.
    Hessian,
    /// `df` for a direction `dX` passed as an extra argument (a differential form,
    /// e.g. `d(inv(X)) = -inv(X)*dX*inv(X)`); NumPy only.
    Differential,
    /// The stationary point `w*` of a closed-form solve, alone (no value of `f`).
    Solution,
}

impl Output {
    /// The name of the derivative in generated code (`gradient`, `jacobian`, `hessian`).
    pub fn name(self) -> &'static str {
        match self {
            Output::Gradient => "gradient",
            Output::Jacobian => "jacobian",
            Output::Hessian => "hessian",
            Output::Differential => "differential",
            Output::Solution => "solution",
        }
    }
}

/// The output kind of a derivative, or why it is not an array.
pub fn output_of(f: &Function, d: &Derivative) -> Result<Output, CodegenError> {
    let g = &f.graph;
    let wrt = g.name(d.wrt).to_string();
    let in_direction = g
        .reachable(&[d.expr])
        .into_iter()
        .any(|n| matches!(g.node(n), Node::Differential(_) | Node::DifferentialOf(_)));
    match d.kind {
        DerivativeKind::Differential => Ok(Output::Differential),
        DerivativeKind::Hessian if in_direction => Err(CodegenError::LinearMap {
            wrt,
            what: "a second differential",
        }),
        _ if in_direction => Err(CodegenError::LinearMap {
            wrt,
            what: "a differential form",
        }),
        DerivativeKind::Gradient => Ok(Output::Gradient),
        DerivativeKind::Jacobian => Ok(Output::Jacobian),
        DerivativeKind::Hessian => Ok(Output::Hessian),
    }
}

/// The dimension names of `graph` bound from the variables' shapes, each with the
/// first variable and axis (0 rows, 1 columns) it is read from.
pub fn dimension_sources(graph: &Graph) -> Vec<(Sym, Sym, usize)> {
    dimensions_bound_by(graph.variables())
}

/// The dimension names bound from the shapes of `variables`, each with the first
/// variable and axis (0 rows, 1 columns) it is read from.
fn dimensions_bound_by(variables: &[Variable]) -> Vec<(Sym, Sym, usize)> {
    let mut out: Vec<(Sym, Sym, usize)> = Vec::new();
    for v in variables {
        for (axis, d) in [v.shape.rows, v.shape.cols].into_iter().enumerate() {
            if let Dim::Named(s) = d {
                if !out.iter().any(|(dim, _, _)| *dim == s) {
                    out.push((s, v.name, axis));
                }
            }
        }
    }
    out
}

/// Checks that every dimension used in the expressions is bound by one of the
/// parameters.
fn check_dims_bound(
    graph: &Graph,
    parameters: &[Variable],
    roots: &[Id],
) -> Result<(), CodegenError> {
    let bound = dimensions_bound_by(parameters);
    let is_bound = |s: Sym| bound.iter().any(|(d, _, _)| *d == s);
    for id in graph.reachable(roots) {
        let dims: Vec<Dim> = match graph.node(id) {
            Node::DimValue(s) => vec![Dim::Named(s)],
            Node::Eye(d) | Node::Ones(d) => vec![d],
            Node::Zeros(s) => vec![s.rows, s.cols],
            _ => Vec::new(),
        };
        for d in dims {
            let names: Vec<Sym> = match d {
                Dim::Size(_) => Vec::new(),
                Dim::Named(s) => match graph.dim_product_of(s) {
                    Some(p) => p.names.clone(),
                    None => vec![s],
                },
            };
            for s in names {
                if !is_bound(s) {
                    return Err(CodegenError::UnboundDimension {
                        dim: graph.name(s).to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Small distinct sizes (2, 3, 4, …) for the named dimensions, in first-use order, as
/// the gradient checker gives them.
pub fn default_sizes(graph: &Graph) -> Vec<(Sym, u64)> {
    dimensions_in_use_order(graph)
        .into_iter()
        .zip(2u64..)
        .collect()
}

/// The function's value, its derivative and everything a generator needs about them.
#[derive(Debug)]
pub(crate) struct Target<'f> {
    pub graph: &'f Graph,
    pub value: Id,
    pub derivative: Id,
    pub output: Output,
    pub wrt: Variable,
    /// The generated function's parameters, in declaration order.
    pub parameters: Vec<Variable>,
    /// The sizes of the dimensions in the generated random inputs.
    pub sizes: Vec<(Sym, u64)>,
    pub schedule: schedule::Schedule,
}

impl<'f> Target<'f> {
    pub fn new(f: &'f Function, d: &Derivative) -> Result<Target<'f>, CodegenError> {
        let output = output_of(f, d)?;
        let graph = &f.graph;
        let wrt = *graph
            .variable(d.wrt)
            .ok_or_else(|| CodegenError::Unsupported {
                node: d.expr,
                problem: format!("`{}` is not a variable of the function", graph.name(d.wrt)),
            })?;
        let roots = [f.root, d.expr];
        let parameters = graph.variables().to_vec();
        check_dims_bound(graph, &parameters, &roots)?;
        let schedule = schedule::Schedule::new(graph, &roots)?;
        Ok(Target {
            graph,
            value: f.root,
            derivative: d.expr,
            output,
            wrt,
            parameters,
            sizes: default_sizes(graph),
            schedule,
        })
    }

    /// The stationary point `point` (an expression without `wrt`) as a function of
    /// the variables it reads.
    pub fn solution(f: &'f Function, wrt: Sym, point: Id) -> Result<Target<'f>, CodegenError> {
        let graph = &f.graph;
        let wrt = *graph
            .variable(wrt)
            .ok_or_else(|| CodegenError::Unsupported {
                node: point,
                problem: format!("`{}` is not a variable of the function", graph.name(wrt)),
            })?;
        let reachable = graph.reachable(&[point]);
        let parameters: Vec<Variable> = graph
            .variables()
            .iter()
            .filter(|v| {
                reachable
                    .iter()
                    .any(|&n| matches!(graph.node(n), Node::Var(s) if s == v.name))
            })
            .copied()
            .collect();
        check_dims_bound(graph, &parameters, &[point])?;
        let schedule = schedule::Schedule::new(graph, &[point])?;
        Ok(Target {
            graph,
            value: point,
            derivative: point,
            output: Output::Solution,
            wrt,
            parameters,
            sizes: default_sizes(graph),
            schedule,
        })
    }
}

/// Formats a constant with a decimal point or exponent (`2.0`, `0.5`, `1e-5`).
pub(crate) fn float_literal(v: f64) -> String {
    format!("{v:?}")
}
