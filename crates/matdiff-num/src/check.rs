//! The gradient checker: random instances honouring declared structure, and
//! derivatives compared with central finite differences.

use faer::Mat;
use matdiff_core::instances::{data_needs, dimensions_in_use_order};
use std::collections::BTreeMap;

use matdiff_core::{Derivative, DerivativeKind, Func, Function, Graph, Id, Kind, Node, Sym};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::EvalError;
use crate::inputs::{InputError, Inputs, Sizes};
use crate::plan::Plan;
use crate::value::Value;

/// Random directions tried per trial.
const DIRECTIONS_PER_TRIAL: usize = 3;

/// How to check a derivative.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Random instances to try.
    pub trials: usize,
    /// Seed of the random instances and directions.
    pub seed: u64,
    /// The largest relative error that passes.
    pub tol: f64,
    /// Dimensions fixed by name (`--dims n=5`); the others get small distinct sizes.
    pub fixed: Vec<(String, usize)>,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions {
            trials: 5,
            seed: 0,
            tol: 1e-6,
            fixed: Vec::new(),
        }
    }
}

/// A check option no check can run with.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("invalid {option}: {reason}")]
pub struct CheckOptionError {
    /// The option: `trials`, `tol` or `fixed`.
    pub option: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// The most random instances one check draws.
pub const MAX_TRIALS: usize = 10_000;

impl CheckOptions {
    /// Refuses options that would make a check vacuous or meaningless: no trials, a
    /// tolerance that is not a positive number, a dimension fixed twice or to 0.
    pub fn validate(&self) -> Result<(), CheckOptionError> {
        if self.trials == 0 {
            return Err(CheckOptionError {
                option: "trials",
                reason: "0 trials would pass without checking anything — give at least 1"
                    .to_owned(),
            });
        }
        if self.trials > MAX_TRIALS {
            return Err(CheckOptionError {
                option: "trials",
                reason: format!(
                    "{} trials — at most {MAX_TRIALS}: each trial is a new random instance, \
                     and a few already show a wrong derivative",
                    self.trials
                ),
            });
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(CheckOptionError {
                option: "tol",
                reason: format!("{} — the tolerance must be a positive number", self.tol),
            });
        }
        for (k, (name, size)) in self.fixed.iter().enumerate() {
            if *size == 0 {
                return Err(CheckOptionError {
                    option: "fixed",
                    reason: format!("`{name}` = 0 — a dimension needs at least 1"),
                });
            }
            if let Some((_, first)) = self.fixed[..k].iter().find(|(n, _)| n == name) {
                return Err(CheckOptionError {
                    option: "fixed",
                    reason: format!("`{name}` is given twice ({first} and {size})"),
                });
            }
        }
        Ok(())
    }
}

/// The outcome of a check.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// The relative error of each trial (its worst direction), not reduced by the
    /// rounding floor.
    pub errors: Vec<f64>,
    /// The rounding floor of each trial's worst direction: the relative error that
    /// central differences cannot tell from zero at that instance (`ε·|f| / h`,
    /// relative to the derivative's size).
    pub floors: Vec<f64>,
    /// The sizes the dimensions were given.
    pub sizes: Sizes,
    /// The tolerance used.
    pub tol: f64,
    /// Every trial within the tolerance or within its rounding floor.
    pub passed: bool,
}

impl CheckReport {
    /// Whether trial `i` passed: its error is within the tolerance, or below the
    /// rounding floor, where finite differences have nothing more to say.
    pub fn trial_passed(&self, i: usize) -> bool {
        self.errors[i] <= self.tol.max(self.floors[i])
    }
}

/// Small distinct sizes (2, 3, 4, …) for the dimensions not fixed by name, so that a
/// transposition mistake changes shapes or numbers.
pub fn default_sizes(graph: &Graph, fixed: &[(String, usize)]) -> Sizes {
    let mut sizes = Sizes::new();
    let mut used: Vec<usize> = Vec::new();
    for (name, n) in fixed {
        if let Some(s) = graph.symbols.get(name) {
            sizes.insert(s, *n);
            used.push(*n);
        }
    }
    let mut next = 2;
    for s in dimensions_in_use_order(graph) {
        if sizes.get(s).is_none() {
            while used.contains(&next) {
                next += 1;
            }
            sizes.insert(s, next);
            used.push(next);
        }
    }
    // Products of sizes chosen here agree by construction.
    let _ = sizes.fill_products(graph);
    sizes
}

/// Sizes for the check's random instances: [`default_sizes`], with the free sizes
/// permuted where needed so that every argument of `inv`, `det`, `logdet` and of a
/// negative matrix power has full rank (`X'*A*X` with `X: matrix(m, n)` needs
/// `m ≥ n`). When no assignment of the free sizes gives full rank (or there are too
/// many to try), the default sizes are kept and the check reports the singular matrix.
pub fn full_rank_sizes(graph: &Graph, roots: &[Id], fixed: &[(String, usize)]) -> Sizes {
    let sizes = default_sizes(graph, fixed);
    let order = graph.reachable(roots);
    let needs_full_rank: Vec<Id> = order
        .iter()
        .filter_map(|&id| match graph.node(id) {
            Node::Apply(Func::Inv | Func::Det | Func::Logdet, a) => Some(a),
            Node::Pow(a, k) if !graph.shape(a).is_scalar() => {
                graph.const_value(k).filter(|k| *k < 0.0).map(|_| a)
            }
            _ => None,
        })
        .collect();
    let full_rank = |sizes: &Sizes| {
        let ranks = rank_bounds(graph, &order, sizes);
        needs_full_rank.iter().all(|a| {
            let (r, c) = shape_of(graph, sizes, *a);
            ranks.get(a).copied().unwrap_or(0) >= r.min(c)
        })
    };
    if needs_full_rank.is_empty() || full_rank(&sizes) {
        return sizes;
    }
    let free: Vec<Sym> = dimensions_in_use_order(graph)
        .into_iter()
        .filter(|s| {
            !fixed
                .iter()
                .any(|(name, _)| graph.symbols.get(name) == Some(*s))
        })
        .collect();
    // 6! = 720 assignments at most, each a linear pass over the graph.
    const MAX_FREE: usize = 6;
    if free.len() > MAX_FREE {
        return sizes;
    }
    let mut values: Vec<usize> = free.iter().filter_map(|s| sizes.get(*s)).collect();
    values.sort_unstable();
    let mut permutation = values.clone();
    loop {
        let mut candidate = sizes.clone();
        for (s, n) in free.iter().zip(&permutation) {
            candidate.insert(*s, *n);
        }
        // The products follow their permuted factors.
        for (sym, _) in graph.dim_products() {
            candidate.remove(*sym);
        }
        let _ = candidate.fill_products(graph);
        if full_rank(&candidate) {
            return candidate;
        }
        if !next_permutation(&mut permutation) {
            return sizes;
        }
    }
}

/// Rearranges `v` into the next permutation in lexicographic order; `false` after the
/// last one.
fn next_permutation(v: &mut [usize]) -> bool {
    let Some(i) = (1..v.len()).rev().find(|&i| v[i - 1] < v[i]) else {
        return false;
    };
    let j = (i..v.len()).rev().find(|&j| v[j] > v[i - 1]).unwrap_or(i);
    v.swap(i - 1, j);
    v[i..].reverse();
    true
}

fn shape_of(graph: &Graph, sizes: &Sizes, id: Id) -> (usize, usize) {
    let shape = graph.shape(id);
    (
        sizes.dim(shape.rows).unwrap_or(1),
        sizes.dim(shape.cols).unwrap_or(1),
    )
}

/// An upper bound on the rank of every node of `order` (children first) for random
/// instances of these sizes: a product has at most the smaller rank of its factors, a
/// sum at most the sum of theirs, a vector or `ones` rank 1, and anything else (a
/// random variable, an elementwise function) at most its smaller side.
fn rank_bounds(graph: &Graph, order: &[Id], sizes: &Sizes) -> BTreeMap<Id, usize> {
    let mut ranks: BTreeMap<Id, usize> = BTreeMap::new();
    for &id in order {
        let (r, c) = shape_of(graph, sizes, id);
        let full = r.min(c);
        let rank = |x: Id| ranks.get(&x).copied().unwrap_or(full);
        let bound = match graph.node(id) {
            Node::Zeros(_) => 0,
            Node::Const(v) if v.value() == 0.0 => 0,
            Node::Mul(a, b) if graph.shape(a).is_scalar() => rank(b),
            Node::Mul(a, b) if graph.shape(b).is_scalar() => rank(a),
            Node::Mul(a, b) => rank(a).min(rank(b)),
            Node::Div(a, _) | Node::Neg(a) | Node::Transpose(a) => rank(a),
            Node::Add(a, b) if !graph.shape(a).is_scalar() && !graph.shape(b).is_scalar() => {
                rank(a) + rank(b)
            }
            _ => full,
        };
        ranks.insert(id, bound.min(full));
    }
    ranks
}

fn uniform(rng: &mut ChaCha8Rng, rows: usize, cols: usize, lo: f64, hi: f64) -> Mat<f64> {
    Mat::from_fn(rows, cols, |_, _| rng.random_range(lo..hi))
}

/// Random values for every variable of `graph`, honouring kinds: symmetric `(B + B')/2`,
/// spd `B B' + n I`, square matrices under `inv`/`det`/`logdet`/powers `B + n I`, and
/// positive entries for variables directly under `log`, `sqrt`, a division or a power,
/// and entries in (0.1, 0.9) for those directly under `arcsin` or `arccos`.
pub fn random_inputs(
    graph: &Graph,
    sizes: &Sizes,
    roots_hint: &[Id],
    rng: &mut ChaCha8Rng,
) -> Result<Inputs, EvalError> {
    let needs = data_needs(graph, roots_hint);
    let mut inputs = Inputs::new();
    for v in graph.variables() {
        let (r, c) = sizes.shape(graph, v.shape)?;
        let need = needs
            .iter()
            .find(|(s, _)| *s == v.name)
            .map(|(_, n)| *n)
            .unwrap_or_default();
        let m = match v.kind {
            Kind::Spd => {
                let b = uniform(rng, r, r, -1.0, 1.0);
                Mat::from_fn(r, r, |i, j| {
                    (0..r).map(|k| b[(i, k)] * b[(j, k)]).sum::<f64>()
                        + if i == j { r as f64 } else { 0.0 }
                })
            }
            Kind::Symmetric => {
                let b = uniform(rng, r, r, -1.0, 1.0);
                let shift = if need.well_conditioned { r as f64 } else { 0.0 };
                Mat::from_fn(r, r, |i, j| {
                    (b[(i, j)] + b[(j, i)]) / 2.0 + if i == j { shift } else { 0.0 }
                })
            }
            _ if need.bounded => uniform(rng, r, c, 0.1, 0.9),
            _ if need.positive => uniform(rng, r, c, 0.5, 2.0),
            _ if need.well_conditioned && r == c => {
                let b = uniform(rng, r, r, -1.0, 1.0);
                Mat::from_fn(r, r, |i, j| b[(i, j)] + if i == j { r as f64 } else { 0.0 })
            }
            _ => uniform(rng, r, c, -1.0, 1.0),
        };
        inputs.set(v.name, m);
    }
    Ok(inputs)
}

/// A random direction of unit Frobenius norm with the variable's shape; symmetric for
/// symmetric and spd variables.
pub fn random_direction(
    graph: &Graph,
    sizes: &Sizes,
    var: Sym,
    rng: &mut ChaCha8Rng,
) -> Result<Mat<f64>, EvalError> {
    let v = graph.variable(var).ok_or_else(|| InputError::Missing {
        name: graph.name(var).to_string(),
    })?;
    let (r, c) = sizes.shape(graph, v.shape)?;
    let b = uniform(rng, r, c, -1.0, 1.0);
    let m = if v.kind.is_symmetric() {
        Mat::from_fn(r, c, |i, j| (b[(i, j)] + b[(j, i)]) / 2.0)
    } else {
        b
    };
    let norm = m.norm_l2();
    Ok(if norm > 0.0 {
        Mat::from_fn(r, c, |i, j| m[(i, j)] / norm)
    } else {
        m
    })
}

/// The step for central differences at `x`: `1e-6 · max(1, ‖x‖)`.
pub fn step_for(x: &Mat<f64>) -> f64 {
    1e-6 * x.norm_l2().max(1.0)
}

/// `x + t·v`.
fn moved(x: &Mat<f64>, v: &Mat<f64>, t: f64) -> Mat<f64> {
    Mat::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)] + t * v[(i, j)])
}

/// `(f(x + hV) − f(x − hV)) / 2h` for the first root of `plan`, moving the variable `var`.
pub fn directional_fd(
    plan: &mut Plan,
    inputs: &Inputs,
    var: Sym,
    v: &Mat<f64>,
    h: f64,
) -> Result<Value, EvalError> {
    let x = inputs
        .get(var)
        .ok_or(InputError::Missing {
            name: format!("{var:?}"),
        })?
        .clone();
    let mut moved_inputs = inputs.clone();
    moved_inputs.set(var, moved(&x, v, h));
    let plus = plan.run(&moved_inputs)?.swap_remove(0);
    moved_inputs.set(var, moved(&x, v, -h));
    let minus = plan.run(&moved_inputs)?.swap_remove(0);
    Ok(match (plus, minus) {
        (Value::Scalar(a), Value::Scalar(b)) => Value::Scalar((a - b) / (2.0 * h)),
        (a, b) => {
            let (a, b) = (a.to_matrix(), b.to_matrix());
            Value::Matrix(Mat::from_fn(a.nrows(), a.ncols(), |i, j| {
                (a[(i, j)] - b[(i, j)]) / (2.0 * h)
            }))
        }
    })
}

/// The full finite-difference Jacobian of the first root of `plan` with respect to
/// `var`: one row per entry of the output and one column per entry of the variable,
/// both in column-major order. For a scalar output it is the gradient as a row.
pub fn full_fd(plan: &mut Plan, inputs: &Inputs, var: Sym, h: f64) -> Result<Mat<f64>, EvalError> {
    let x = inputs
        .get(var)
        .ok_or(InputError::Missing {
            name: format!("{var:?}"),
        })?
        .clone();
    let (r, c) = (x.nrows(), x.ncols());
    let mut columns: Vec<Mat<f64>> = Vec::with_capacity(r * c);
    for j in 0..c {
        for i in 0..r {
            let e = Mat::from_fn(r, c, |a, b| if (a, b) == (i, j) { 1.0 } else { 0.0 });
            columns.push(directional_fd(plan, inputs, var, &e, h)?.to_matrix());
        }
    }
    let outputs = columns.first().map(|m| m.nrows() * m.ncols()).unwrap_or(0);
    Ok(Mat::from_fn(outputs, columns.len(), |o, k| {
        let m = &columns[k];
        m[(o % m.nrows(), o / m.nrows())]
    }))
}

/// The finite-difference gradient of a scalar first root, shaped like the variable.
pub fn gradient_fd(
    plan: &mut Plan,
    inputs: &Inputs,
    var: Sym,
    h: f64,
) -> Result<Mat<f64>, EvalError> {
    let x = inputs.get(var).ok_or(InputError::Missing {
        name: format!("{var:?}"),
    })?;
    let (r, c) = (x.nrows(), x.ncols());
    let j = full_fd(plan, inputs, var, h)?;
    Ok(Mat::from_fn(r, c, |a, b| j[(0, a + b * r)]))
}

/// Whether `id` contains the differential `d var`.
fn has_differential(graph: &Graph, id: Id, var: Sym) -> bool {
    graph
        .reachable(&[id])
        .into_iter()
        .any(|n| graph.node(n) == Node::Differential(var))
}

fn frobenius(v: &Value) -> f64 {
    match v {
        Value::Scalar(x) => x.abs(),
        Value::Matrix(m) => m.norm_l2(),
    }
}

fn product(a: &Value, v: &Mat<f64>) -> Value {
    match a {
        Value::Scalar(s) => Value::Matrix(Mat::from_fn(v.nrows(), v.ncols(), |i, j| s * v[(i, j)])),
        Value::Matrix(m) => Value::Matrix(crate::reference::product(m, v)),
    }
}

fn inner(a: &Value, v: &Mat<f64>) -> f64 {
    let a = a.to_matrix();
    let mut s = 0.0;
    for j in 0..v.ncols() {
        for i in 0..v.nrows() {
            s += a[(i, j)] * v[(i, j)];
        }
    }
    s
}

/// Whether `d` is a differential form to be compared with the finite difference
/// itself (its value at `dX := V`), rather than contracted with `V`: an expression in
/// `dX`, any differential of a matrix-valued function, and the Hessian of a matrix
/// variable (the second differential `d(G)`). A zero of these forms has no `dX` left
/// in it, but it is still the value of the difference, with the difference's shape.
fn is_differential_form(graph: &Graph, d: &Derivative) -> bool {
    let matrix_variable = graph
        .variable(d.wrt)
        .is_some_and(|v| v.shape.cols != matdiff_core::Dim::ONE);
    has_differential(graph, d.expr, d.wrt)
        || d.kind == DerivativeKind::Differential
        || (d.kind == DerivativeKind::Hessian && matrix_variable)
}

/// Compares `d` with central finite differences of `f` on `opts.trials` random
/// instances: gradient `<G, V>`, Jacobian `J V`, differential with `dX := V`, Hessian
/// against differences of the gradient. A trial passes when its relative error is
/// within `opts.tol` or below the rounding floor of the differences.
pub fn check_derivative(
    f: &Function,
    d: &Derivative,
    opts: &CheckOptions,
) -> Result<CheckReport, EvalError> {
    let graph = &f.graph;
    let roots: Vec<Id> = [Some(f.root), Some(d.expr), d.gradient]
        .into_iter()
        .flatten()
        .collect();
    let sizes = full_rank_sizes(graph, &roots, &opts.fixed);
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let (mut fd_plan, fd_root) = match (d.kind, d.gradient) {
        (DerivativeKind::Hessian, Some(g)) => (Plan::compile(graph, &[g], &sizes)?, g),
        (DerivativeKind::Hessian, None) => {
            return Err(EvalError::Unsupported {
                node: d.expr,
                problem: "a hessian needs its gradient to be checked".to_string(),
            })
        }
        _ => (Plan::compile(graph, &[f.root], &sizes)?, f.root),
    };
    let linear_in_direction = is_differential_form(graph, d);
    let mut d_plan = Plan::compile(graph, &[d.expr], &sizes)?;
    let mut errors = Vec::with_capacity(opts.trials);
    let mut floors = Vec::with_capacity(opts.trials);
    let mut trial = Trial {
        graph,
        sizes: &sizes,
        d,
        tol: opts.tol,
        roots: [f.root, d.expr, fd_root],
        linear_in_direction,
        fd_plan: &mut fd_plan,
        d_plan: &mut d_plan,
    };
    for _ in 0..opts.trials {
        // A random instance can fall outside the function's domain (a log of a
        // negative sum, say): draw again a few times before giving up.
        let mut draws = 0;
        let worst = loop {
            draws += 1;
            match trial.run(&mut rng) {
                Ok(worst) => break worst,
                Err(EvalError::Domain { .. } | EvalError::NonFinite { .. })
                    if draws < MAX_DRAWS =>
                {
                    continue
                }
                Err(e) => return Err(e),
            }
        };
        errors.push(worst.error);
        floors.push(worst.floor);
    }
    let mut report = CheckReport {
        errors,
        floors,
        sizes,
        tol: opts.tol,
        passed: false,
    };
    report.passed = (0..report.errors.len()).all(|i| report.trial_passed(i));
    Ok(report)
}

/// Random draws per trial before a domain error is reported.
const MAX_DRAWS: usize = 10;

/// One derivative under test with its compiled plans.
struct Trial<'a> {
    graph: &'a Graph,
    sizes: &'a Sizes,
    d: &'a Derivative,
    tol: f64,
    roots: [Id; 3],
    linear_in_direction: bool,
    fd_plan: &'a mut Plan,
    d_plan: &'a mut Plan,
}

/// The relative error of one direction and the rounding floor it is measured against.
#[derive(Clone, Copy, Debug)]
struct Mismatch {
    error: f64,
    floor: f64,
}

impl Mismatch {
    /// How far past what passes: above 1 fails.
    fn excess(self, tol: f64) -> f64 {
        if self.error.is_nan() {
            f64::INFINITY
        } else {
            self.error / tol.max(self.floor).max(f64::MIN_POSITIVE)
        }
    }
}

impl Trial<'_> {
    /// The worst direction of a few at one random instance: the one whose error is
    /// furthest past the tolerance or its rounding floor.
    fn run(&mut self, rng: &mut ChaCha8Rng) -> Result<Mismatch, EvalError> {
        let (graph, sizes, d, tol) = (self.graph, self.sizes, self.d, self.tol);
        let var = d.wrt;
        let linear_in_direction = self.linear_in_direction;
        let (fd_plan, d_plan) = (&mut *self.fd_plan, &mut *self.d_plan);
        let mut inputs = random_inputs(graph, sizes, &self.roots, rng)?;
        let x = inputs
            .get(var)
            .ok_or_else(|| InputError::Missing {
                name: graph.name(var).to_string(),
            })?
            .clone();
        let h = step_for(&x);
        // Central differences cannot resolve changes below the rounding of the
        // function's own values: ε·|f|/h is their noise floor, and a mismatch within
        // it is no evidence against the derivative (f ≈ 1 + 1e-10, say).
        let magnitude = fd_plan.run(&inputs)?.swap_remove(0).max_abs();
        let noise = 64.0 * f64::EPSILON * magnitude / h;
        let wrong = Mismatch {
            error: f64::INFINITY,
            floor: 0.0,
        };
        let mut worst = Mismatch {
            error: 0.0,
            floor: 0.0,
        };
        for _ in 0..DIRECTIONS_PER_TRIAL {
            let v = random_direction(graph, sizes, var, rng)?;
            inputs.set_differential(var, v.clone());
            let fd = directional_fd(fd_plan, &inputs, var, &v, h)?;
            let derivative = d_plan.run(&inputs)?.swap_remove(0);
            let wrong_shape = match d.kind {
                DerivativeKind::Gradient if !linear_in_direction => {
                    derivative.dims() != (v.nrows(), v.ncols())
                }
                DerivativeKind::Jacobian | DerivativeKind::Hessian if !linear_in_direction => {
                    derivative.dims().1 != v.nrows() && !matches!(derivative, Value::Scalar(_))
                }
                _ => false,
            };
            if wrong_shape {
                // A derivative of the wrong shape (a transposed gradient, say) fails.
                worst = wrong;
                continue;
            }
            let (analytic, scale) = match d.kind {
                DerivativeKind::Gradient if !linear_in_direction => (
                    Value::Scalar(inner(&derivative, &v)),
                    frobenius(&derivative),
                ),
                _ if linear_in_direction => {
                    let s = frobenius(&derivative);
                    (derivative, s)
                }
                _ => (product(&derivative, &v), frobenius(&derivative)),
            };
            if analytic.dims() != fd.dims() {
                worst = wrong;
                continue;
            }
            // The Frobenius distance.
            let (a, b) = (analytic.to_matrix(), fd.to_matrix());
            let diff = Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] - b[(i, j)]).norm_l2();
            let denom = frobenius(&analytic)
                .max(frobenius(&fd))
                .max(scale)
                .max(1e-8);
            let this = Mismatch {
                error: diff / denom,
                floor: noise / denom,
            };
            if this.excess(tol) > worst.excess(tol) {
                worst = this;
            }
        }
        Ok(worst)
    }
}
