//! Evaluation plans: an expression compiled once for bound sizes, then run on many
//! inputs with preallocated buffers.
//!
//! Compilation follows the symbolic schedule of matdiff-core
//! ([`matdiff_core::codegen::schedule`], shared with the code generators): the nodes
//! reachable from the roots in topological order, each computed once into one buffer.
//! Products are flattened into maximal chains of unshared `*` nodes, with their scalar
//! factors pulled out as one scaling, transposed factors read through transposed views
//! (never copied) and `inv(A) * B` turned into a solve; the order of the remaining
//! products is chosen by dynamic programming on the bound sizes, so `X'*(X*w)` never
//! forms `X'*X`. Finally the instructions that run along the rows of a long dimension
//! (`X*w`, elementwise work on `N`-vectors, `X'*v`, `sum`, …) are fused into passes over
//! blocks of rows (the `rows` module).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use matdiff_core::codegen::schedule::{self, Product, Recipe, Schedule};
use matdiff_core::codegen::CodegenError;
use matdiff_core::{Dim, Func, Graph, Id, Node, Sym};

use crate::error::EvalError;
use crate::inputs::{declared_shape, InputError, Sizes, Values};
use crate::kernels::{self, Lu};
use crate::value::Value;

mod rows;

/// Up to this many inputs are looked up into an array on the stack, so that a run
/// allocates nothing for them.
const INLINE_INPUTS: usize = 16;

/// Products with more multiply-adds than this run on the rayon pool.
const PARALLEL_FLOPS: usize = 1 << 22;

/// Where an operand lives: a buffer of the plan or an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    Buf(usize),
    Input(usize),
}

/// A matrix operand of a product, possibly read transposed.
#[derive(Clone, Copy, Debug)]
struct Operand {
    src: Src,
    transposed: bool,
}

/// One step of a product chain.
#[derive(Clone, Debug)]
enum Step {
    /// `dst = lhs * rhs`.
    MatMul {
        dst: usize,
        lhs: Operand,
        rhs: Operand,
    },
    /// `dst = A⁻¹ rhs`, by LU.
    Solve { dst: usize, a: Src, rhs: Operand },
    /// `dst = A⁻¹` (an inverse that ends a chain).
    Inverse { dst: usize, a: Src },
}

/// A flattened product `±(s₁ s₂ …) · F₁ F₂ …`.
#[derive(Clone, Debug)]
struct Chain {
    scalars: Vec<Src>,
    negate: bool,
    steps: Vec<Step>,
    /// With a single matrix factor and no steps: the factor to scale.
    single: Option<Operand>,
    /// For a 1 × 1 result stored as a scalar: the temporary the steps write to.
    scalar_from: Option<usize>,
}

#[derive(Clone, Debug)]
enum Op {
    Neg(Src),
    Map(Func, Src),
    Add(Src, Src),
    Sub(Src, Src),
    ElemMul(Src, Src),
    ElemDiv(Src, Src),
    ElemPow(Src, Src),
    Div(Src, Src),
    Pow(Src, Src),
    MatPow(Src, i64),
    Transpose(Src),
    Inner(Src, Src),
    Reduce(Func, Src),
    Inv(Src),
    DiagToMatrix(Src),
    DiagOfMatrix(Src),
    Softmax(Src),
    SoftmaxCols(Src),
    LogsumexpCols(Src),
    Vec(Src),
    Kron(Src, Src),
    Chain(Chain),
}

#[derive(Clone, Debug)]
struct Instr {
    node: Id,
    dst: usize,
    op: Op,
}

/// An input the plan reads: a variable or a differential, with its expected shape.
#[derive(Clone, Debug)]
struct InputSlot {
    sym: Sym,
    differential: bool,
    scalar: bool,
    name: String,
    declared: String,
    rows: usize,
    cols: usize,
}

/// One unit of a plan's run: an instruction, or a group of them fused into one pass
/// over blocks of rows.
#[derive(Clone, Debug)]
enum Unit {
    Single(Instr),
    Rows(Box<rows::RowGroup>),
}

/// How a plan is compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// Fuse the work along a dimension of at least this many rows into passes over
    /// blocks of rows; `None` runs every instruction on its own.
    pub fuse_rows_from: Option<usize>,
    /// The matrices that will be given stored by rows ([`Inputs::set_by_rows`](crate::Inputs::set_by_rows)): a
    /// block of their rows is contiguous, so they are read by blocks however many
    /// columns they have. (Any input may come stored either way; this only guides
    /// the choice of passes.)
    pub by_rows: Vec<Sym>,
}

impl Default for PlanOptions {
    fn default() -> PlanOptions {
        PlanOptions {
            fuse_rows_from: Some(rows::MIN_ROWS),
            by_rows: Vec::new(),
        }
    }
}

/// A compiled expression: run it on inputs of the sizes it was compiled for.
#[derive(Clone, Debug)]
pub struct Plan {
    units: Vec<Unit>,
    bufs: Vec<Value>,
    inputs: Vec<InputSlot>,
    roots: Vec<Src>,
}

/// A view of an operand's value.
#[derive(Clone, Copy)]
enum ValRef<'a> {
    S(f64),
    M(MatRef<'a, f64>),
}

impl Plan {
    /// Compiles the expressions `roots` of `graph` for the bound `sizes`.
    pub fn compile(graph: &Graph, roots: &[Id], sizes: &Sizes) -> Result<Plan, EvalError> {
        Plan::compile_with(graph, roots, sizes, &PlanOptions::default())
    }

    /// Like [`Plan::compile`], with `options`.
    pub fn compile_with(
        graph: &Graph,
        roots: &[Id],
        sizes: &Sizes,
        options: &PlanOptions,
    ) -> Result<Plan, EvalError> {
        Compiler::new(graph, roots, sizes).compile(options)
    }

    /// Every instruction, those inside fused groups included, in order.
    fn instrs(&self) -> impl Iterator<Item = &Instr> {
        self.units.iter().flat_map(|u| match u {
            Unit::Single(i) => std::slice::from_ref(i),
            Unit::Rows(g) => g.members.as_slice(),
        })
    }

    /// Evaluates the roots on `inputs` (which must have the compiled sizes). The
    /// buffers are reused: running again with new data gives new results.
    pub fn run<V: Values + ?Sized>(&mut self, inputs: &V) -> Result<Vec<Value>, EvalError> {
        let mut values = vec![Value::Scalar(0.0); self.roots.len()];
        self.run_into(inputs, &mut values)?;
        Ok(values)
    }

    /// Like [`Plan::run`], writing root `k` into `values[k]`: a matrix already of the
    /// root's shape is overwritten in place, so a caller that keeps `values` between
    /// runs allocates nothing for the results. The inputs are read where they are,
    /// never copied.
    pub fn run_into<V: Values + ?Sized>(
        &mut self,
        inputs: &V,
        values: &mut [Value],
    ) -> Result<(), EvalError> {
        assert_eq!(values.len(), self.roots.len(), "one value a root");
        let empty = MatRef::from_column_major_slice(&[], 0, 0);
        let mut inline = [empty; INLINE_INPUTS];
        let spilled: Vec<MatRef<'_, f64>>;
        let resolved: &[MatRef<'_, f64>] = if self.inputs.len() <= INLINE_INPUTS {
            for (place, slot) in inline.iter_mut().zip(&self.inputs) {
                *place = resolve(slot, inputs)?;
            }
            &inline[..self.inputs.len()]
        } else {
            spilled = self
                .inputs
                .iter()
                .map(|slot| resolve(slot, inputs))
                .collect::<Result<_, _>>()?;
            &spilled
        };
        for unit in &mut self.units {
            let instr = match unit {
                Unit::Single(instr) => instr,
                Unit::Rows(group) => {
                    group.run(&mut self.bufs, &self.inputs, resolved)?;
                    continue;
                }
            };
            let mut out = std::mem::take(&mut self.bufs[instr.dst]);
            let result = exec(
                &instr.op,
                &mut self.bufs,
                &self.inputs,
                resolved,
                &mut out,
                instr.node,
            );
            let finite = out.is_finite();
            self.bufs[instr.dst] = out;
            result?;
            if !finite {
                return Err(non_finite(instr.node, &instr.op));
            }
        }
        for (value, &src) in values.iter_mut().zip(&self.roots) {
            match (read(&self.bufs, &self.inputs, resolved, src), &mut *value) {
                (ValRef::S(v), _) => *value = Value::Scalar(v),
                (ValRef::M(m), Value::Matrix(out))
                    if out.nrows() == m.nrows() && out.ncols() == m.ncols() =>
                {
                    out.copy_from(m)
                }
                (ValRef::M(m), _) => *value = Value::Matrix(m.to_owned()),
            }
        }
        Ok(())
    }

    /// The `(rows, inner, cols)` of every matrix product the plan performs, in order
    /// (solves and inverses excluded); for inspecting the chosen product order.
    pub fn matmul_shapes(&self) -> Vec<(usize, usize, usize)> {
        let dims = |o: &Operand| {
            let (r, c) = match o.src {
                Src::Buf(b) => self.bufs[b].dims(),
                Src::Input(k) => (self.inputs[k].rows, self.inputs[k].cols),
            };
            if o.transposed {
                (c, r)
            } else {
                (r, c)
            }
        };
        let mut out = Vec::new();
        for instr in self.instrs() {
            if let Op::Chain(chain) = &instr.op {
                for step in &chain.steps {
                    if let Step::MatMul { lhs, rhs, .. } = step {
                        let ((m, k), (_, n)) = (dims(lhs), dims(rhs));
                        out.push((m, k, n));
                    }
                }
            }
        }
        out
    }

    /// What each instruction does, in execution order (`product`, `transpose`, `map exp`,
    /// …; a fused pass as `row blocks (…)` listing its instructions); for inspecting plans.
    pub fn operations(&self) -> Vec<String> {
        self.units
            .iter()
            .map(|u| match u {
                Unit::Single(i) => describe(&i.op),
                Unit::Rows(g) => format!(
                    "row blocks ({})",
                    g.members
                        .iter()
                        .map(|i| describe(&i.op))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
            .collect()
    }

    /// An estimate of the floating-point work of one run: the multiply-adds of every
    /// matrix product plus one operation per entry each instruction writes. Compares
    /// two plans for the same values (e.g. with and without hoisted invariants).
    pub fn flops(&self) -> usize {
        let entries: usize = self
            .instrs()
            .map(|i| {
                let (r, c) = self.bufs[i.dst].dims();
                r * c
            })
            .sum();
        let products: usize = self
            .matmul_shapes()
            .iter()
            .map(|&(m, k, n)| m * k * n)
            .sum();
        entries + products
    }

    /// The number of solves (from `inv(A) * B`) the plan performs.
    pub fn solve_count(&self) -> usize {
        self.instrs()
            .map(|i| match &i.op {
                Op::Chain(c) => c
                    .steps
                    .iter()
                    .filter(|s| matches!(s, Step::Solve { .. }))
                    .count(),
                _ => 0,
            })
            .sum()
    }

    /// Whether `inputs` have the shapes the plan was compiled for: every input it
    /// reads is given, with the compiled rows and columns.
    pub fn fits<V: Values + ?Sized>(&self, inputs: &V) -> bool {
        self.inputs.iter().all(|slot| resolve(slot, inputs).is_ok())
    }
}

/// The value of one input, checked against the compiled shape.
fn resolve<'a, V: Values + ?Sized>(
    slot: &InputSlot,
    inputs: &'a V,
) -> Result<MatRef<'a, f64>, EvalError> {
    let m = if slot.differential {
        inputs.differential_value(slot.sym)
    } else {
        inputs.value(slot.sym)
    };
    let m = m.ok_or_else(|| InputError::Missing {
        name: slot.name.clone(),
    })?;
    if (m.nrows(), m.ncols()) != (slot.rows, slot.cols) {
        return Err(InputError::ShapeMismatch {
            name: slot.name.clone(),
            declared: format!("{} ({} × {} here)", slot.declared, slot.rows, slot.cols),
            given: format!("{} × {}", m.nrows(), m.ncols()),
        }
        .into());
    }
    Ok(m)
}

/// What an instruction does, in a word or two.
fn describe(op: &Op) -> String {
    match op {
        Op::Neg(_) => "neg".to_string(),
        Op::Map(f, _) => format!("map {}", f.name()),
        Op::Add(..) => "add".to_string(),
        Op::Sub(..) => "subtract".to_string(),
        Op::ElemMul(..) => "elementwise product".to_string(),
        Op::ElemDiv(..) => "elementwise quotient".to_string(),
        Op::ElemPow(..) => "elementwise power".to_string(),
        Op::Div(..) => "divide".to_string(),
        Op::Pow(..) => "power".to_string(),
        Op::MatPow(_, k) => format!("matrix power {k}"),
        Op::Transpose(_) => "transpose".to_string(),
        Op::Inner(..) => "inner".to_string(),
        Op::Reduce(f, _) => f.name().to_string(),
        Op::Inv(_) => "inv".to_string(),
        Op::DiagToMatrix(_) => "diag of vector".to_string(),
        Op::DiagOfMatrix(_) => "diag of matrix".to_string(),
        Op::Softmax(_) => "softmax".to_string(),
        Op::SoftmaxCols(_) => "softmax of columns".to_string(),
        Op::LogsumexpCols(_) => "logsumexp of columns".to_string(),
        Op::Vec(_) => "vec".to_string(),
        Op::Kron(..) => "kron".to_string(),
        Op::Chain(c) if c.steps.is_empty() && c.single.is_some() => "scale".to_string(),
        Op::Chain(c) if c.steps.is_empty() => "scalar product".to_string(),
        Op::Chain(c) => format!(
            "product ({})",
            c.steps
                .iter()
                .map(|s| match s {
                    Step::MatMul { .. } => "matmul",
                    Step::Solve { .. } => "solve",
                    Step::Inverse { .. } => "inverse",
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

struct Compiler<'g> {
    graph: &'g Graph,
    roots: &'g [Id],
    sizes: &'g Sizes,
    src: Vec<Option<Src>>,
    bufs: Vec<Value>,
    inputs: Vec<InputSlot>,
    /// Bytes of the inputs and buffers planned so far, checked against `budget`
    /// before each buffer is allocated.
    planned: u128,
    budget: u64,
    /// The node being lowered, named when one of its temporaries is too large.
    current: Id,
}

impl<'g> Compiler<'g> {
    fn new(graph: &'g Graph, roots: &'g [Id], sizes: &'g Sizes) -> Compiler<'g> {
        Compiler {
            graph,
            roots,
            sizes,
            src: vec![None; graph.len()],
            bufs: Vec::new(),
            inputs: Vec::new(),
            planned: 0,
            budget: crate::memory::budget_bytes(),
            current: Id(0),
        }
    }

    fn compile(mut self, options: &PlanOptions) -> Result<Plan, EvalError> {
        let sizes = self.sizes;
        // Products are ordered for the bound sizes; an unbound dimension is reported
        // when its node is lowered.
        let size = |d: Dim| {
            sizes
                .dim(d)
                .map_or(schedule::NAMED_DIM_ESTIMATE, |n| n as u64)
        };
        let schedule =
            Schedule::with_sizes(self.graph, self.roots, &size).map_err(|e| match e {
                CodegenError::Unsupported { node, problem } => {
                    EvalError::Unsupported { node, problem }
                }
                other => EvalError::Unsupported {
                    node: self.roots.first().copied().unwrap_or(Id(0)),
                    problem: other.to_string(),
                },
            })?;
        // Every value's size first, before anything is allocated: a plan that cannot
        // fit is refused at once, not after minutes of filling its first buffers.
        // (Lowering counts again, with the products' temporaries.)
        for &id in schedule.order() {
            self.reserve_node(id)?;
        }
        self.planned = 0;
        let mut instrs = Vec::new();
        for &id in schedule.order() {
            let recipe = schedule.recipe(id).cloned().unwrap_or(Recipe::Direct);
            if let Some(instr) = self.lower(id, recipe)? {
                instrs.push(instr);
            }
        }
        let roots: Vec<Src> = self
            .roots
            .iter()
            .map(|r| self.src[r.index()].expect("roots are lowered"))
            .collect();
        let units = match options.fuse_rows_from {
            Some(min_rows) => rows::fuse(
                instrs,
                &rows::Shapes {
                    bufs: &self.bufs,
                    inputs: &self.inputs,
                },
                &roots,
                min_rows,
                &options.by_rows,
            ),
            None => instrs.into_iter().map(Unit::Single).collect(),
        };
        Ok(Plan {
            units,
            bufs: self.bufs,
            inputs: self.inputs,
            roots,
        })
    }

    fn is_scalar(&self, id: Id) -> bool {
        self.graph.shape(id).is_scalar()
    }

    fn dims(&self, id: Id) -> Result<(usize, usize), EvalError> {
        Ok(self.sizes.shape(self.graph, self.graph.shape(id))?)
    }

    fn new_buf(&mut self, scalar: bool, rows: usize, cols: usize) -> usize {
        self.bufs.push(if scalar {
            Value::Scalar(0.0)
        } else {
            Value::Matrix(Mat::zeros(rows, cols))
        });
        self.bufs.len() - 1
    }

    /// Counts a `rows × cols` matrix for `node` (written `what`) into the plan's
    /// memory, refusing it when the plan would pass the budget: every plan knows its
    /// sizes before it runs, so an evaluation that cannot fit fails here, with the
    /// subexpression named, rather than when an allocation fails.
    fn reserve(
        &mut self,
        node: Id,
        rows: usize,
        cols: usize,
        what: impl FnOnce(&Self) -> (String, Option<String>),
    ) -> Result<(), EvalError> {
        // Saturating: two saturated sizes (a `kron` of huge factors) overflow u128.
        let bytes = (rows as u128)
            .saturating_mul(cols as u128)
            .saturating_mul(8);
        self.planned = self.planned.saturating_add(bytes);
        if self.planned <= u128::from(self.budget) {
            return Ok(());
        }
        let (text, hint) = what(self);
        let size = |b: u128| crate::memory::describe_bytes(u64::try_from(b).unwrap_or(u64::MAX));
        let mut problem = format!(
            "`{text}` is a {rows} × {cols} matrix of {}; with the plan's other values that makes {}, more than the memory budget of {}",
            size(bytes),
            size(self.planned),
            size(u128::from(self.budget)),
        );
        if let Some(hint) = hint {
            problem.push_str(" — ");
            problem.push_str(&hint);
        }
        Err(EvalError::TooLarge { node, problem })
    }

    /// The text of a scheduled product, for messages.
    fn product_text(&self, product: &Product) -> String {
        match product {
            Product::Factor { id, transposed } => {
                let text = crate::error::expr_text(self.graph, *id);
                let atom = text.chars().all(|c| c.is_alphanumeric() || c == '_');
                match (atom, transposed) {
                    (_, false) => text,
                    (true, true) => format!("{text}'"),
                    (false, true) => format!("({text})'"),
                }
            }
            Product::Mul { lhs, rhs, .. } => {
                format!("{}*{}", self.product_text(lhs), self.product_text(rhs))
            }
            Product::Solve { a, rhs } => format!(
                "inv({})*{}",
                crate::error::expr_text(self.graph, *a),
                self.product_text(rhs)
            ),
            Product::Inverse(a) => format!("inv({})", crate::error::expr_text(self.graph, *a)),
        }
    }

    fn input(&mut self, id: Id, sym: Sym, differential: bool) -> Result<Src, EvalError> {
        let graph = self.graph;
        let (rows, cols) = self.dims(id)?;
        self.reserve(id, rows, cols, |c| {
            (crate::error::expr_text(c.graph, id), None)
        })?;
        let name = graph.name(sym);
        let declared = graph
            .variable(sym)
            .map(|v| declared_shape(graph, v))
            .unwrap_or_else(|| "scalar".to_string());
        self.inputs.push(InputSlot {
            sym,
            differential,
            scalar: self.is_scalar(id),
            name: if differential {
                format!("d{name}")
            } else {
                name.to_string()
            },
            declared,
            rows,
            cols,
        });
        Ok(Src::Input(self.inputs.len() - 1))
    }

    fn src_of(&self, id: Id) -> Src {
        self.src[id.index()].expect("children are lowered before parents")
    }

    /// Counts `id`'s value (and the working copy of a factorisation) into the
    /// plan's memory; inputs are counted where they are bound.
    fn reserve_node(&mut self, id: Id) -> Result<(), EvalError> {
        let node = self.graph.node(id);
        let scalar = self.is_scalar(id);
        let (rows, cols) = self.dims(id)?;
        if !scalar && !matches!(node, Node::Var(_) | Node::Differential(_)) {
            self.reserve(id, rows, cols, |c| {
                let text = crate::error::expr_text(c.graph, id);
                let hint = match node {
                    Node::Mul(a, b) => product_hint(
                        &crate::error::expr_text(c.graph, a),
                        &crate::error::expr_text(c.graph, b),
                    ),
                    _ => None,
                };
                (text, hint)
            })?;
        }
        // A factorisation (inv, det, logdet, a matrix power) works on a copy of its
        // square operand: count that scratch too.
        let factored = match node {
            Node::Apply(Func::Inv | Func::Det | Func::Logdet, a) => Some(a),
            Node::Pow(a, _) if !self.is_scalar(a) => Some(a),
            _ => None,
        };
        if let Some(a) = factored {
            let (r, c) = self.dims(a)?;
            self.reserve(id, r, c, |c| {
                let text = crate::error::expr_text(c.graph, id);
                (format!("the working copy of {text}"), None)
            })?;
        }
        Ok(())
    }

    /// Assigns `id` its buffer (or input) and builds its instruction.
    fn lower(&mut self, id: Id, recipe: Recipe) -> Result<Option<Instr>, EvalError> {
        let graph = self.graph;
        let node = graph.node(id);
        let scalar = self.is_scalar(id);
        self.current = id;
        let (rows, cols) = self.dims(id)?;
        self.reserve_node(id)?;
        // Leaves are inputs or constants filled in once.
        let constant = match node {
            Node::Var(sym) => {
                self.src[id.index()] = Some(self.input(id, sym, false)?);
                return Ok(None);
            }
            Node::Differential(sym) => {
                self.src[id.index()] = Some(self.input(id, sym, true)?);
                return Ok(None);
            }
            Node::Const(r) => Some(Value::Scalar(r.value())),
            Node::DimValue(d) => Some(Value::Scalar(self.sizes.get(d).ok_or_else(|| {
                InputError::UnboundDimension {
                    dim: graph.name(d).to_string(),
                }
            })? as f64)),
            Node::Eye(_) => Some(Value::Matrix(Mat::identity(rows, cols))),
            Node::Ones(_) => Some(Value::Matrix(Mat::from_fn(rows, cols, |_, _| 1.0))),
            Node::Zeros(_) if scalar => Some(Value::Scalar(0.0)),
            Node::Zeros(_) => Some(Value::Matrix(Mat::zeros(rows, cols))),
            _ => None,
        };
        if let Some(value) = constant {
            self.bufs.push(value);
            self.src[id.index()] = Some(Src::Buf(self.bufs.len() - 1));
            return Ok(None);
        }
        let op = match recipe {
            Recipe::Chain(chain) => Op::Chain(self.chain(scalar, rows, cols, &chain)?),
            Recipe::Sub(a, b) => Op::Sub(self.src_of(a), self.src_of(b)),
            Recipe::MatPow(a, k) => Op::MatPow(self.src_of(a), k),
            Recipe::Direct => {
                let s = |c: Id| self.src_of(c);
                match node {
                    Node::Add(a, b) => Op::Add(s(a), s(b)),
                    Node::Neg(a) => Op::Neg(s(a)),
                    Node::Div(a, b) => Op::Div(s(a), s(b)),
                    Node::Pow(a, b) => Op::Pow(s(a), s(b)),
                    Node::ElemMul(a, b) => Op::ElemMul(s(a), s(b)),
                    Node::ElemDiv(a, b) => Op::ElemDiv(s(a), s(b)),
                    Node::ElemPow(a, b) => Op::ElemPow(s(a), s(b)),
                    Node::Transpose(a) => Op::Transpose(s(a)),
                    Node::Inner(a, b) => Op::Inner(s(a), s(b)),
                    Node::Kron(a, b) => Op::Kron(s(a), s(b)),
                    Node::Apply(f, a) => match f {
                        _ if f.is_elementwise() => Op::Map(f, s(a)),
                        _ if f.is_reduction() => Op::Reduce(f, s(a)),
                        Func::Inv => Op::Inv(s(a)),
                        Func::Softmax => Op::Softmax(s(a)),
                        Func::SoftmaxCols => Op::SoftmaxCols(s(a)),
                        Func::LogsumexpCols => Op::LogsumexpCols(s(a)),
                        Func::Vec => Op::Vec(s(a)),
                        Func::Diag if graph.shape(a).cols == matdiff_core::Dim::ONE => {
                            Op::DiagToMatrix(s(a))
                        }
                        Func::Diag => Op::DiagOfMatrix(s(a)),
                        _ => unreachable!(
                            "every function is elementwise, a reduction, inv, softmax, vec or diag"
                        ),
                    },
                    _ => unreachable!("leaves and products are handled above"),
                }
            }
        };
        let dst = self.new_buf(scalar, rows, cols);
        self.src[id.index()] = Some(Src::Buf(dst));
        Ok(Some(Instr { node: id, dst, op }))
    }

    /// Lowers a scheduled product chain: its steps in the schedule's order, the last
    /// one writing the node's own buffer (or, for a 1 × 1 result kept as a scalar, a
    /// temporary).
    fn chain(
        &mut self,
        scalar: bool,
        rows: usize,
        cols: usize,
        scheduled: &schedule::Chain,
    ) -> Result<Chain, EvalError> {
        let scalars: Vec<Src> = scheduled.scalars.iter().map(|&s| self.src_of(s)).collect();
        let mut chain = Chain {
            scalars,
            negate: scheduled.negate,
            steps: Vec::new(),
            single: None,
            scalar_from: None,
        };
        match &scheduled.product {
            None => {}
            Some(Product::Factor { id, transposed }) => {
                chain.single = Some(Operand {
                    src: self.src_of(*id),
                    transposed: *transposed,
                });
            }
            Some(product) => {
                let final_dst = if scalar {
                    self.temp(rows, cols)
                } else {
                    usize::MAX
                };
                chain.scalar_from = scalar.then_some(final_dst);
                self.emit(&mut chain, product, Some(final_dst))?;
            }
        }
        Ok(chain)
    }

    fn temp(&mut self, rows: usize, cols: usize) -> usize {
        self.new_buf(false, rows, cols)
    }

    /// Emits the steps of `product`, children first; the last goes to `dst` when
    /// given, the others to fresh temporaries. A factor is read where it lives.
    fn emit(
        &mut self,
        chain: &mut Chain,
        product: &Product,
        dst: Option<usize>,
    ) -> Result<Operand, EvalError> {
        let (rows, cols) = self.sizes.shape(self.graph, product.shape(self.graph))?;
        let step = match product {
            Product::Factor { id, transposed } => {
                return Ok(Operand {
                    src: self.src_of(*id),
                    transposed: *transposed,
                })
            }
            Product::Mul {
                lhs: left,
                rhs: right,
                ..
            } => {
                let lhs = self.emit(chain, left, None)?;
                let rhs = self.emit(chain, right, None)?;
                if dst.is_none() {
                    let node = self.current;
                    self.reserve(node, rows, cols, |c| {
                        let (a, b) = (c.product_text(left), c.product_text(right));
                        (format!("{a}*{b}"), product_hint(&a, &b))
                    })?;
                }
                let dst = dst.unwrap_or_else(|| self.temp(rows, cols));
                Step::MatMul { dst, lhs, rhs }
            }
            Product::Solve { a, rhs } => {
                let rhs = self.emit(chain, rhs, None)?;
                if dst.is_none() {
                    let node = self.current;
                    self.reserve(node, rows, cols, |c| (c.product_text(product), None))?;
                }
                let dst = dst.unwrap_or_else(|| self.temp(rows, cols));
                Step::Solve {
                    dst,
                    a: self.src_of(*a),
                    rhs,
                }
            }
            Product::Inverse(a) => {
                if dst.is_none() {
                    let node = self.current;
                    self.reserve(node, rows, cols, |c| (c.product_text(product), None))?;
                }
                let dst = dst.unwrap_or_else(|| self.temp(rows, cols));
                Step::Inverse {
                    dst,
                    a: self.src_of(*a),
                }
            }
        };
        let dst = match step {
            Step::MatMul { dst, .. } | Step::Solve { dst, .. } | Step::Inverse { dst, .. } => dst,
        };
        chain.steps.push(step);
        Ok(Operand {
            src: Src::Buf(dst),
            transposed: false,
        })
    }
}

/// The advice for a product `a*b` too large to form: multiply it into what it is
/// used with first.
fn product_hint(a: &str, b: &str) -> Option<String> {
    Some(format!(
        "if `{a}*{b}` is only multiplied by a vector or a thin matrix `v` afterwards, order the product so that it is never formed, e.g. `{a}*({b}*v)` instead of `{a}*{b}*v`"
    ))
}

fn read<'a>(
    bufs: &'a [Value],
    slots: &[InputSlot],
    inputs: &[MatRef<'a, f64>],
    src: Src,
) -> ValRef<'a> {
    match src {
        Src::Buf(b) => match &bufs[b] {
            Value::Scalar(v) => ValRef::S(*v),
            Value::Matrix(m) => ValRef::M(m.as_ref()),
        },
        Src::Input(k) if slots[k].scalar => ValRef::S(inputs[k][(0, 0)]),
        Src::Input(k) => ValRef::M(inputs[k]),
    }
}

fn operand<'a>(
    bufs: &'a [Value],
    slots: &[InputSlot],
    inputs: &[MatRef<'a, f64>],
    o: Operand,
) -> MatRef<'a, f64> {
    let m = match read(bufs, slots, inputs, o.src) {
        ValRef::M(m) => m,
        ValRef::S(_) => unreachable!("matrix factors are never scalars"),
    };
    if o.transposed {
        m.transpose()
    } else {
        m
    }
}

fn par_for(flops: usize) -> Par {
    if flops > PARALLEL_FLOPS {
        Par::rayon(0)
    } else {
        Par::Seq
    }
}

fn mat_out(out: &mut Value) -> &mut Mat<f64> {
    match out {
        Value::Matrix(m) => m,
        Value::Scalar(_) => unreachable!("matrix results have matrix buffers"),
    }
}

fn position(m: MatRef<'_, f64>, i: usize, j: usize) -> String {
    if m.nrows() == 1 && m.ncols() == 1 {
        String::new()
    } else if m.ncols() == 1 {
        format!(" at [{i}]")
    } else {
        format!(" at [{i}][{j}]")
    }
}

fn domain(node: Id, problem: impl Into<String>) -> EvalError {
    EvalError::Domain {
        node,
        problem: problem.into(),
    }
}

/// Names the likely cause when an operation produced a NaN or an infinity.
fn non_finite(node: Id, op: &Op) -> EvalError {
    match op {
        Op::ElemDiv(..) => domain(node, "division by a zero entry"),
        Op::Pow(..) | Op::ElemPow(..) => domain(
            node,
            "power of a negative number to a non-integer exponent, or of zero to a negative one",
        ),
        _ => EvalError::NonFinite {
            node,
            what: "overflow or an undefined operation".to_string(),
        },
    }
}

/// The value of a scalar operand (a 1 × 1 matrix counts).
fn scalar_of(v: ValRef<'_>) -> Option<f64> {
    match v {
        ValRef::S(x) => Some(x),
        ValRef::M(m) if m.nrows() == 1 && m.ncols() == 1 => Some(m[(0, 0)]),
        ValRef::M(_) => None,
    }
}

fn not_scalar(node: Id, what: &str) -> EvalError {
    EvalError::Unsupported {
        node,
        problem: format!("{what} must be a scalar"),
    }
}

/// `f` entrywise over `a` and `b`, broadcasting a scalar operand.
fn zip_into(out: &mut Value, a: ValRef<'_>, b: ValRef<'_>, f: impl Fn(f64, f64) -> f64) {
    match (a, b, out) {
        (ValRef::S(x), ValRef::S(y), Value::Scalar(o)) => *o = f(x, y),
        (ValRef::S(x), ValRef::S(y), Value::Matrix(o)) => o[(0, 0)] = f(x, y),
        (a, b, Value::Matrix(o)) => {
            for j in 0..o.ncols() {
                for i in 0..o.nrows() {
                    let x = match a {
                        ValRef::S(x) => x,
                        ValRef::M(m) => m[(i, j)],
                    };
                    let y = match b {
                        ValRef::S(y) => y,
                        ValRef::M(m) => m[(i, j)],
                    };
                    o[(i, j)] = f(x, y);
                }
            }
        }
        // A scalar result of 1 × 1 operands.
        (a, b, Value::Scalar(o)) => {
            let first = |v: ValRef<'_>| match v {
                ValRef::S(x) => x,
                ValRef::M(m) => m[(0, 0)],
            };
            *o = f(first(a), first(b));
        }
    }
}

/// Calls `f` with the operand as a matrix (a scalar as 1 × 1).
fn with_matrix<T>(v: ValRef<'_>, f: impl FnOnce(MatRef<'_, f64>) -> T) -> T {
    match v {
        ValRef::M(m) => f(m),
        ValRef::S(x) => {
            let m = Mat::from_fn(1, 1, |_, _| x);
            f(m.as_ref())
        }
    }
}

fn set(out: &mut Value, v: f64) {
    match out {
        Value::Scalar(o) => *o = v,
        Value::Matrix(m) => m[(0, 0)] = v,
    }
}

fn exec(
    op: &Op,
    bufs: &mut [Value],
    slots: &[InputSlot],
    inputs: &[MatRef<'_, f64>],
    out: &mut Value,
    node: Id,
) -> Result<(), EvalError> {
    if let Op::Chain(chain) = op {
        return exec_chain(chain, bufs, slots, inputs, out, node);
    }
    let r = |s: Src| read(bufs, slots, inputs, s);
    match *op {
        Op::Neg(a) => zip_into(out, r(a), ValRef::S(0.0), |x, _| -x),
        Op::Add(a, b) => zip_into(out, r(a), r(b), |x, y| x + y),
        Op::Sub(a, b) => zip_into(out, r(a), r(b), |x, y| x - y),
        Op::ElemMul(a, b) => zip_into(out, r(a), r(b), |x, y| x * y),
        Op::ElemDiv(a, b) => zip_into(out, r(a), r(b), |x, y| x / y),
        Op::ElemPow(a, b) => zip_into(out, r(a), r(b), f64::powf),
        Op::Div(a, b) => {
            let d = scalar_of(r(b)).ok_or_else(|| not_scalar(node, "the divisor"))?;
            if d == 0.0 {
                return Err(domain(node, "division by zero"));
            }
            zip_into(out, r(a), ValRef::S(d), |x, y| x / y);
        }
        Op::Pow(a, b) => {
            let x = scalar_of(r(a)).ok_or_else(|| not_scalar(node, "the base"))?;
            let y = scalar_of(r(b)).ok_or_else(|| not_scalar(node, "the exponent"))?;
            if x < 0.0 && y.fract() != 0.0 {
                return Err(domain(
                    node,
                    format!("power of a negative number ({x}) to a non-integer exponent ({y})"),
                ));
            }
            if x == 0.0 && y < 0.0 {
                return Err(domain(node, "power of zero to a negative exponent"));
            }
            let v = x.powf(y);
            if v.is_infinite() && x.is_finite() {
                // An overflow, not a domain error: optimisers read it as divergence.
                return Err(EvalError::NonFinite {
                    node,
                    what: format!("overflow: {x:e}^{y} is too large for a double"),
                });
            }
            set(out, v);
        }
        Op::Map(f, a) => {
            let a = r(a);
            match (a, &mut *out) {
                (ValRef::S(x), o) => {
                    let v = kernels::elementwise(f, x)
                        .map_err(|p| domain(node, format!("{p} ({x})")))?;
                    set(o, v);
                }
                (ValRef::M(m), Value::Matrix(o)) => {
                    for j in 0..m.ncols() {
                        for i in 0..m.nrows() {
                            let x = m[(i, j)];
                            o[(i, j)] = kernels::elementwise(f, x).map_err(|p| {
                                domain(node, format!("{p} ({x}{})", position(m, i, j)))
                            })?;
                        }
                    }
                }
                (ValRef::M(m), Value::Scalar(o)) => {
                    let x = m[(0, 0)];
                    *o = kernels::elementwise(f, x)
                        .map_err(|p| domain(node, format!("{p} ({x})")))?;
                }
            }
        }
        Op::Transpose(a) => match r(a) {
            ValRef::S(x) => set(out, x),
            ValRef::M(m) => mat_out(out).copy_from(m.transpose()),
        },
        Op::Inner(a, b) => {
            let mut sum = 0.0;
            with_matrix(r(a), |ma| {
                with_matrix(r(b), |mb| {
                    for j in 0..ma.ncols() {
                        for i in 0..ma.nrows() {
                            sum += ma[(i, j)] * mb[(i, j)];
                        }
                    }
                })
            });
            set(out, sum);
        }
        Op::Reduce(f, a) => {
            let v = with_matrix(r(a), |m| reduce(f, m)).map_err(|p| domain(node, p))?;
            set(out, v);
        }
        Op::Inv(a) => {
            let inv = with_matrix(r(a), |m| {
                let lu = Lu::new(m);
                match lu.singular() {
                    Some(p) => Err(domain(node, format!("inv of a singular matrix: {p}"))),
                    None => Ok(lu.inverse()),
                }
            })?;
            match out {
                Value::Scalar(o) => *o = inv[(0, 0)],
                Value::Matrix(o) => *o = inv,
            }
        }
        Op::MatPow(a, k) => {
            let ValRef::M(m) = r(a) else {
                unreachable!("matrix powers have a matrix base")
            };
            *mat_out(out) = matrix_power(m, k).map_err(|p| domain(node, p))?;
        }
        Op::DiagToMatrix(a) => {
            let o = mat_out(out);
            o.fill(0.0);
            match r(a) {
                ValRef::S(x) => o[(0, 0)] = x,
                ValRef::M(v) => {
                    for i in 0..v.nrows() {
                        o[(i, i)] = v[(i, 0)];
                    }
                }
            }
        }
        Op::DiagOfMatrix(a) => match r(a) {
            ValRef::S(x) => set(out, x),
            ValRef::M(m) => {
                let o = mat_out(out);
                for i in 0..m.nrows() {
                    o[(i, 0)] = m[(i, i)];
                }
            }
        },
        Op::Softmax(a) => match r(a) {
            ValRef::S(_) => set(out, 1.0),
            ValRef::M(m) => kernels::softmax(m, mat_out(out)),
        },
        Op::SoftmaxCols(a) => match r(a) {
            ValRef::S(_) => set(out, 1.0),
            ValRef::M(m) => kernels::softmax_cols(m, mat_out(out)),
        },
        Op::LogsumexpCols(a) => match (r(a), out) {
            (ValRef::S(x), out) => set(out, x),
            (ValRef::M(m), Value::Scalar(o)) => *o = kernels::logsumexp(m),
            (ValRef::M(m), Value::Matrix(o)) => {
                for j in 0..m.ncols() {
                    o[(0, j)] = kernels::logsumexp(m.subcols(j, 1));
                }
            }
        },
        Op::Vec(a) => match (r(a), out) {
            (ValRef::S(x), out) => set(out, x),
            (ValRef::M(m), out) => {
                let o = mat_out(out);
                let rows = m.nrows();
                for j in 0..m.ncols() {
                    for i in 0..rows {
                        o[(j * rows + i, 0)] = m[(i, j)];
                    }
                }
            }
        },
        Op::Kron(a, b) => {
            let (ra, rb) = (r(a), r(b));
            with_matrix(ra, |ma| {
                with_matrix(rb, |mb| match out {
                    Value::Scalar(o) => *o = ma[(0, 0)] * mb[(0, 0)],
                    Value::Matrix(o) => kernels::kron(ma, mb, o),
                })
            });
        }
        Op::Chain(_) => unreachable!("handled above"),
    }
    Ok(())
}

/// A reduction to a scalar; `Err(problem)` outside its domain.
fn reduce(f: Func, m: MatRef<'_, f64>) -> Result<f64, String> {
    Ok(match f {
        Func::Tr => (0..m.nrows().min(m.ncols())).map(|i| m[(i, i)]).sum(),
        Func::Det => Lu::new(m).determinant(),
        Func::Logdet => kernels::logdet(m)?,
        Func::Sum => {
            let mut s = 0.0;
            kernels::for_each(m, |x| s += x);
            s
        }
        Func::Norm1 => {
            let mut s = 0.0;
            kernels::for_each(m, |x| s += x.abs());
            s
        }
        Func::Norm2 => m.norm_l2(),
        Func::Logsumexp => kernels::logsumexp(m),
        _ => unreachable!("only reductions are reduced"),
    })
}

/// `A^k` by repeated squaring; a negative k inverts first.
fn matrix_power(a: MatRef<'_, f64>, k: i64) -> Result<Mat<f64>, String> {
    let n = a.nrows();
    let mut base = if k < 0 {
        let lu = Lu::new(a);
        if let Some(p) = lu.singular() {
            return Err(format!("negative power of a singular matrix: {p}"));
        }
        lu.inverse()
    } else {
        a.to_owned()
    };
    let mut result: Option<Mat<f64>> = None;
    let mut e = k.unsigned_abs();
    let mut scratch = Mat::zeros(n, n);
    while e > 0 {
        if e & 1 == 1 {
            result = Some(match result {
                None => base.clone(),
                Some(r) => {
                    matmul(
                        scratch.as_mut(),
                        Accum::Replace,
                        r.as_ref(),
                        base.as_ref(),
                        1.0,
                        par_for(n * n * n),
                    );
                    scratch.clone()
                }
            });
        }
        e >>= 1;
        if e > 0 {
            matmul(
                scratch.as_mut(),
                Accum::Replace,
                base.as_ref(),
                base.as_ref(),
                1.0,
                par_for(n * n * n),
            );
            std::mem::swap(&mut base, &mut scratch);
        }
    }
    Ok(result.unwrap_or_else(|| Mat::identity(n, n)))
}

fn exec_chain(
    chain: &Chain,
    bufs: &mut [Value],
    slots: &[InputSlot],
    inputs: &[MatRef<'_, f64>],
    out: &mut Value,
    node: Id,
) -> Result<(), EvalError> {
    let mut alpha = if chain.negate { -1.0 } else { 1.0 };
    for &s in &chain.scalars {
        match read(bufs, slots, inputs, s) {
            ValRef::S(x) => alpha *= x,
            ValRef::M(m) => alpha *= m[(0, 0)],
        }
    }
    if chain.steps.is_empty() {
        match chain.single {
            None => set(out, alpha),
            Some(o) => {
                let m = operand(bufs, slots, inputs, o);
                match out {
                    Value::Scalar(s) => *s = alpha * m[(0, 0)],
                    Value::Matrix(dst) => {
                        for j in 0..m.ncols() {
                            for i in 0..m.nrows() {
                                dst[(i, j)] = alpha * m[(i, j)];
                            }
                        }
                    }
                }
            }
        }
        return Ok(());
    }
    let last = chain.steps.len() - 1;
    for (k, step) in chain.steps.iter().enumerate() {
        let dst = match step {
            Step::MatMul { dst, .. } | Step::Solve { dst, .. } | Step::Inverse { dst, .. } => *dst,
        };
        // The final step of a matrix-valued chain writes the node's own buffer.
        let to_out = k == last && chain.scalar_from.is_none();
        let mut target = if to_out {
            std::mem::take(out)
        } else {
            std::mem::take(&mut bufs[dst])
        };
        let result = (|| -> Result<(), EvalError> {
            let t = mat_out(&mut target);
            match *step {
                Step::MatMul { lhs, rhs, .. } => {
                    let l = operand(bufs, slots, inputs, lhs);
                    let r = operand(bufs, slots, inputs, rhs);
                    let flops = l.nrows() * l.ncols() * r.ncols();
                    matmul(t.as_mut(), Accum::Replace, l, r, 1.0, par_for(flops));
                }
                Step::Solve { a, rhs, .. } => {
                    let lu = with_matrix(read(bufs, slots, inputs, a), Lu::new);
                    if let Some(p) = lu.singular() {
                        return Err(domain(node, format!("inv of a singular matrix: {p}")));
                    }
                    *t = lu.solve(operand(bufs, slots, inputs, rhs));
                }
                Step::Inverse { a, .. } => {
                    let lu = with_matrix(read(bufs, slots, inputs, a), Lu::new);
                    if let Some(p) = lu.singular() {
                        return Err(domain(node, format!("inv of a singular matrix: {p}")));
                    }
                    *t = lu.inverse();
                }
            }
            Ok(())
        })();
        if to_out {
            *out = target;
        } else {
            bufs[dst] = target;
        }
        result?;
    }
    match chain.scalar_from {
        Some(t) => {
            let v = bufs[t].as_scalar().unwrap_or(f64::NAN);
            set(out, alpha * v);
        }
        None if alpha != 1.0 => {
            let o = mat_out(out);
            for j in 0..o.ncols() {
                for i in 0..o.nrows() {
                    o[(i, j)] *= alpha;
                }
            }
        }
        None => {}
    }
    Ok(())
}
