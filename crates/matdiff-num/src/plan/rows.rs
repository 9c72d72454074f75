//! Row-block fusion: the part of a plan that runs along the rows of a long dimension,
//! done in one pass over memory.
//!
//! A loss over `N` samples and its gradient read the data matrix `X` (`N × d`) in
//! products such as `X*w` and `X'*v`, with elementwise work on `N`-vectors in between:
//! `2/N*X'*(X*w - y)`, `-1/N*X'*(y.*sigmoid(-y.*(X*w)))`. Run one instruction at a time,
//! every one of them is a pass over `N` entries, and `X` is read twice. Here the
//! instructions that live on the rows of `N` are grouped and run block by block:
//!
//! - **row values**, `N × 1`: `X*w` (a matrix with `N` rows times a vector that does
//!   not live on the rows), elementwise maps, sums, differences, products, quotients and
//!   powers of row values, full `N`-vectors (data such as `y`) and scalars, and their
//!   scalings;
//! - **reductions over the rows**: `X'*v` and `v'*X`, `u'*v` and `<u, v>`, `sum`, `norm1`
//!   and `norm2` of row values.
//!
//! Each block of rows computes its pieces of the row values in a scratch buffer that
//! stays in cache and adds its share to every reduction, reading its rows of `X` once
//! for both products. The blocks are split into a fixed number of tasks that run on
//! the rayon pool; their shares are summed in task order, so the result depends on the
//! sizes only, never on the number of threads.
//!
//! How long a block is depends on how `X` is stored. Stored by rows
//! ([`Inputs::set_by_rows`](crate::Inputs::set_by_rows), as NumPy stores C-order
//! arrays), a block is one contiguous stretch and is kept small enough for the
//! per-core cache. Stored by columns, a block reads a run down each column, and runs
//! must be long for the prefetcher: blocks are a few MiB, and a matrix too wide for
//! long runs is left to two plain passes.
//!
//! A row value that something outside the group reads (a root, `softmax`, a transpose)
//! is computed the ordinary way and read by the group as a full column. A reduction
//! whose result feeds a row value (`v - sum(v)/N`) needs the whole pass first: such a
//! row value goes into a later group, a second pass.

use std::collections::{BinaryHeap, HashMap};

use faer::linalg::matmul::matmul;
use faer::{Accum, ColMut, ColRef, MatRef, Par};
use matdiff_core::{Func, Sym};
use rayon::prelude::*;

use super::{domain, non_finite, read, InputSlot, Instr, Op, Operand, Src, Step, Unit, ValRef};
use crate::error::EvalError;
use crate::kernels;
use crate::value::Value;

/// Dimensions with fewer rows than this are never fused: one ordinary pass is cheap.
pub(super) const MIN_ROWS: usize = 1024;

/// A block of rows holds about this many entries (4 MiB) of the widest matrix it reads:
/// long enough runs down each column of a column-major `X` for the prefetcher, small
/// enough to stay in the last-level cache between the two products that read it.
const BLOCK_ENTRIES: usize = 1 << 19;

/// With every matrix stored by rows a block is contiguous whatever its length: it
/// holds about this many entries (256 KiB), so that it stays in the per-core cache
/// between the two products.
const BLOCK_ENTRIES_BY_ROWS: usize = 1 << 15;

/// Matrices with more columns than this are not read by blocks of rows: a block that
/// fits the cache would hold under 2048 rows, and with a column-major `X` each column
/// would be read in runs too short for the prefetcher (one page or less); two plain
/// passes down whole columns are faster.
const MAX_COLUMNS: usize = BLOCK_ENTRIES / 2048;

/// Rows per block: at least this many, so that per-block work is not all overhead…
const MIN_BLOCK_ROWS: usize = 64;
/// …and at most this many.
const MAX_BLOCK_ROWS: usize = 8192;

/// Fewer rows are split into at least this many blocks, so that every thread has work.
const MIN_BLOCKS: usize = 16;

/// The blocks are split into at most this many tasks of consecutive blocks: the work
/// the rayon pool balances, and the number of partial sums added in a fixed order.
const MAX_TASKS: usize = 64;

/// An operand of a row operation.
#[derive(Clone, Copy, Debug)]
enum Arg {
    /// A row value computed in the group: its block is in scratch slot `k`.
    Slot(usize),
    /// A full `N × 1` value computed outside the group (or an input).
    Column(Src),
    /// A scalar, read once per run.
    Scalar(Src),
}

#[derive(Clone, Copy, Debug)]
enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

/// What one operation of the group does to a block.
#[derive(Clone, Debug)]
enum Kind {
    /// `slot = α · X[rows] · w`.
    Affine {
        x: Src,
        w: Src,
    },
    /// `slot = α · a`.
    Scale {
        a: Arg,
    },
    Neg {
        a: Arg,
    },
    Map {
        f: Func,
        a: Arg,
    },
    Binary {
        op: Binary,
        a: Arg,
        b: Arg,
    },
    /// `slot = a / s` for a scalar `s`, which must not be zero.
    DivScalar {
        a: Arg,
        s: Src,
    },
    /// `sink += X[rows]ᵀ · v`.
    Gram {
        x: Src,
        v: Arg,
    },
    /// `sink += Σ a ∘ b`.
    Dot {
        a: Arg,
        b: Arg,
    },
    Sum {
        a: Arg,
    },
    Norm1 {
        a: Arg,
    },
    /// `sink += Σ a²`; the finish takes the square root.
    SumSquares {
        a: Arg,
    },
}

/// How a reduction's total becomes the node's value.
#[derive(Clone, Debug)]
struct Finish {
    /// The product of these scalars (and a sign) multiplies the total.
    scalars: Vec<Src>,
    negate: bool,
    sqrt: bool,
}

#[derive(Clone, Debug)]
struct RowOp {
    /// The member instruction this operation comes from (for errors).
    member: usize,
    kind: Kind,
    /// The scratch slot of a row value, the sink of a reduction.
    slot: Option<usize>,
    sink: Option<usize>,
    /// The scalars and sign of a chain (`Affine`, `Scale`).
    scale: Option<(Vec<Src>, bool)>,
}

#[derive(Clone, Debug)]
struct Sink {
    /// The buffer the reduction writes.
    dst: usize,
    /// Where its partial sums live in a task's share, and how many.
    offset: usize,
    len: usize,
    finish: Finish,
}

/// Something that went wrong in one block: the first operation (in order) to fail,
/// at which row.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
struct Event {
    op: usize,
    row: usize,
    what: What,
}

#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
enum What {
    /// An elementwise function outside its domain at this entry.
    Domain(&'static str, f64),
    DivisionByZero,
    NonFinite,
}

/// Instructions fused into one pass over the rows of a dimension.
#[derive(Clone, Debug)]
pub(super) struct RowGroup {
    layout: Layout,
    /// The instructions the group replaces, in their original order: for descriptions,
    /// flop counts and error messages.
    pub(super) members: Vec<Instr>,
    /// Per task: its scratch slots and its partial sums, allocated once.
    scratch: Vec<f64>,
    partials: Vec<f64>,
}

/// What the tasks of a group read: its operations and how the rows are split.
#[derive(Clone, Debug)]
struct Layout {
    rows: usize,
    block: usize,
    tasks: usize,
    blocks_per_task: usize,
    slots: usize,
    ops: Vec<RowOp>,
    sinks: Vec<Sink>,
    /// The value of each operation's scale factor in this run.
    alphas: Vec<f64>,
    /// The values of the scalar operands, read at the start of each run.
    scalars: Vec<(Src, f64)>,
}

/// The dimensions of every buffer and input, for the analysis.
pub(super) struct Shapes<'a> {
    pub(super) bufs: &'a [Value],
    pub(super) inputs: &'a [InputSlot],
}

impl Shapes<'_> {
    fn dims(&self, src: Src) -> (usize, usize) {
        match src {
            Src::Buf(b) => self.bufs[b].dims(),
            Src::Input(k) => (self.inputs[k].rows, self.inputs[k].cols),
        }
    }

    fn is_scalar(&self, src: Src) -> bool {
        match src {
            Src::Buf(b) => matches!(self.bufs[b], Value::Scalar(_)),
            Src::Input(k) => self.inputs[k].scalar,
        }
    }

    fn is_column(&self, src: Src, n: usize) -> bool {
        !self.is_scalar(src) && self.dims(src) == (n, 1)
    }
}

/// The role an instruction could play in a group over `n` rows.
#[derive(Clone, Debug)]
enum Role {
    /// It computes a row value from these operands (row values or full columns) and
    /// these other operands (scalars, the matrix and vector of `X*w`).
    Value { rows: Vec<Src>, other: Vec<Src> },
    /// It reduces over the rows.
    Reduction { rows: Vec<Src>, other: Vec<Src> },
}

impl Role {
    fn operands(&self) -> (&[Src], &[Src]) {
        match self {
            Role::Value { rows, other } | Role::Reduction { rows, other } => (rows, other),
        }
    }
}

/// The role of `instr` over `n` rows, if it has one.
fn role(instr: &Instr, shapes: &Shapes<'_>, n: usize) -> Option<Role> {
    let col = |s: Src| shapes.is_column(s, n);
    let scalar = |s: Src| shapes.is_scalar(s);
    let out_is_column = shapes.is_column(Src::Buf(instr.dst), n);
    let elementwise = |a: Src, b: Src| -> Option<Role> {
        if !out_is_column || !(col(a) || scalar(a)) || !(col(b) || scalar(b)) {
            return None;
        }
        let (rows, other): (Vec<Src>, Vec<Src>) = [a, b].into_iter().partition(|&s| col(s));
        Some(Role::Value { rows, other })
    };
    match &instr.op {
        Op::Neg(a) | Op::Map(_, a) if out_is_column && col(*a) => Some(Role::Value {
            rows: vec![*a],
            other: vec![],
        }),
        Op::Add(a, b)
        | Op::Sub(a, b)
        | Op::ElemMul(a, b)
        | Op::ElemDiv(a, b)
        | Op::ElemPow(a, b) => elementwise(*a, *b),
        Op::Div(a, b) if out_is_column && col(*a) && scalar(*b) => Some(Role::Value {
            rows: vec![*a],
            other: vec![*b],
        }),
        Op::Inner(a, b) if col(*a) && col(*b) => Some(Role::Reduction {
            rows: vec![*a, *b],
            other: vec![],
        }),
        Op::Reduce(Func::Sum | Func::Norm1 | Func::Norm2, a) if col(*a) => Some(Role::Reduction {
            rows: vec![*a],
            other: vec![],
        }),
        Op::Chain(chain) => {
            let scalars = chain.scalars.clone();
            match (chain.steps.as_slice(), chain.single) {
                ([], Some(o)) if !o.transposed && out_is_column && col(o.src) => {
                    Some(Role::Value {
                        rows: vec![o.src],
                        other: scalars,
                    })
                }
                ([Step::MatMul { lhs, rhs, .. }], _) => {
                    let (l, r) = (shapes.dims(lhs.src), shapes.dims(rhs.src));
                    let mut other = scalars;
                    if !lhs.transposed && !rhs.transposed && out_is_column && l.0 == n {
                        // X*w: the matrix is read by blocks of rows, w whole.
                        if r.1 != 1 || scalar(lhs.src) || scalar(rhs.src) {
                            return None;
                        }
                        other.extend([lhs.src, rhs.src]);
                        Some(Role::Value {
                            rows: vec![],
                            other,
                        })
                    } else if lhs.transposed && !rhs.transposed && l.0 == n && r.0 == n {
                        // X'*v, v'*X or u'*v: one of the two is a column.
                        if col(rhs.src) {
                            other.push(lhs.src);
                            let rows = if col(lhs.src) {
                                other.pop();
                                vec![lhs.src, rhs.src]
                            } else {
                                vec![rhs.src]
                            };
                            Some(Role::Reduction { rows, other })
                        } else if col(lhs.src) {
                            other.push(rhs.src);
                            Some(Role::Reduction {
                                rows: vec![lhs.src],
                                other,
                            })
                        } else {
                            None
                        }
                    } else {
                        None
                    }
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Replaces the instructions of `instrs` that live on the rows of a long dimension by
/// fused groups, keeping a valid order. `roots` are read after the run, so a row value
/// that is a root is computed the ordinary way.
pub(super) fn fuse(
    instrs: Vec<Instr>,
    shapes: &Shapes<'_>,
    roots: &[Src],
    min_rows: usize,
    by_rows: &[Sym],
) -> Vec<Unit> {
    let mut candidates: Vec<usize> = shapes
        .inputs
        .iter()
        .map(|s| s.rows)
        .filter(|&r| r >= min_rows)
        .collect();
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    candidates.dedup();
    for n in candidates {
        let groups = analyse(&instrs, shapes, roots, n, by_rows);
        if !groups.is_empty() {
            return assemble(instrs, shapes, n, groups, by_rows);
        }
    }
    instrs.into_iter().map(Unit::Single).collect()
}

/// The members of each group (instruction indices in order), for groups over `n` rows.
fn analyse(
    instrs: &[Instr],
    shapes: &Shapes<'_>,
    roots: &[Src],
    n: usize,
    by_rows: &[Sym],
) -> Vec<Vec<usize>> {
    let roles: Vec<Option<Role>> = instrs.iter().map(|i| role(i, shapes, n)).collect();
    let producer: HashMap<usize, usize> =
        instrs.iter().enumerate().map(|(k, i)| (i.dst, k)).collect();
    let produced_by = |s: Src| match s {
        Src::Buf(b) => producer.get(&b).copied(),
        Src::Input(_) => None,
    };
    let mut member: Vec<bool> = roles.iter().map(Option::is_some).collect();
    let mut level = vec![0usize; instrs.len()];
    loop {
        // Levels: a member reading a reduction of level l (directly or through
        // ordinary instructions) needs pass l + 1.
        let mut after = vec![0usize; instrs.len()];
        for k in 0..instrs.len() {
            let reads = reads(&instrs[k]);
            let before = |s: Src| produced_by(s).map_or(0, |p| after[p]);
            if member[k] {
                let (rows, other) = roles[k].as_ref().expect("members have roles").operands();
                let mut l = other.iter().map(|&s| before(s)).max().unwrap_or(0);
                for &s in rows {
                    if let Some(p) = produced_by(s) {
                        l = l.max(if member[p] && is_value(&roles[p]) {
                            level[p]
                        } else {
                            after[p]
                        });
                    }
                }
                level[k] = l;
                after[k] = if is_value(&roles[k]) { l } else { l + 1 };
            } else {
                after[k] = reads.iter().map(|&s| before(s)).max().unwrap_or(0);
            }
        }
        // A row value stays a member only if every reader is a member of its level
        // that reads it as a row operand, and it is not a root.
        let mut changed = false;
        for k in 0..instrs.len() {
            if !member[k] || !is_value(&roles[k]) {
                continue;
            }
            let me = Src::Buf(instrs[k].dst);
            let mut ok = !roots.contains(&me);
            let mut read = false;
            for (j, other) in instrs.iter().enumerate() {
                if !reads(other).contains(&me) {
                    continue;
                }
                read = true;
                let as_row = member[j]
                    && level[j] == level[k]
                    && roles[j].as_ref().is_some_and(|r| {
                        r.operands().0.contains(&me) && !r.operands().1.contains(&me)
                    });
                ok &= as_row;
            }
            if !ok || !read {
                member[k] = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // One group per level; a group is worth it when it fuses at least two operations.
    let mut by_level: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for k in 0..instrs.len() {
        if member[k] {
            by_level.entry(level[k]).or_default().push(k);
        }
    }
    let narrow = |k: usize| {
        reads(&instrs[k])
            .into_iter()
            .filter(|&s| !matches!(s, Src::Input(k) if by_rows.contains(&shapes.inputs[k].sym)))
            .map(|s| shapes.dims(s))
            .all(|(rows, cols)| rows != n || cols <= MAX_COLUMNS)
    };
    by_level
        .into_values()
        .filter(|g| g.len() >= 2 && g.iter().any(|&k| !is_value(&roles[k])))
        .filter(|g| g.iter().all(|&k| narrow(k)))
        .collect()
}

fn is_value(role: &Option<Role>) -> bool {
    matches!(role, Some(Role::Value { .. }))
}

/// Every source an instruction reads.
fn reads(instr: &Instr) -> Vec<Src> {
    match &instr.op {
        Op::Neg(a)
        | Op::Map(_, a)
        | Op::MatPow(a, _)
        | Op::Transpose(a)
        | Op::Reduce(_, a)
        | Op::Inv(a)
        | Op::DiagToMatrix(a)
        | Op::DiagOfMatrix(a)
        | Op::Softmax(a)
        | Op::SoftmaxCols(a)
        | Op::LogsumexpCols(a)
        | Op::Vec(a) => vec![*a],
        Op::Add(a, b)
        | Op::Sub(a, b)
        | Op::ElemMul(a, b)
        | Op::ElemDiv(a, b)
        | Op::ElemPow(a, b)
        | Op::Div(a, b)
        | Op::Pow(a, b)
        | Op::Inner(a, b)
        | Op::Kron(a, b) => vec![*a, *b],
        Op::Chain(chain) => {
            let mut out = chain.scalars.clone();
            out.extend(chain.single.map(|o| o.src));
            for step in &chain.steps {
                match *step {
                    Step::MatMul { lhs, rhs, .. } => out.extend([lhs.src, rhs.src]),
                    Step::Solve { a, rhs, .. } => out.extend([a, rhs.src]),
                    Step::Inverse { a, .. } => out.push(a),
                }
            }
            out
        }
    }
}

/// Every buffer an instruction writes (its own and its chain's temporaries).
fn writes(instr: &Instr) -> Vec<usize> {
    let mut out = vec![instr.dst];
    if let Op::Chain(chain) = &instr.op {
        for step in &chain.steps {
            match *step {
                Step::MatMul { dst, .. } | Step::Solve { dst, .. } | Step::Inverse { dst, .. } => {
                    if dst != usize::MAX {
                        out.push(dst)
                    }
                }
            }
        }
        out.extend(chain.scalar_from);
    }
    out
}

/// Builds the groups and orders them among the remaining instructions.
fn assemble(
    instrs: Vec<Instr>,
    shapes: &Shapes<'_>,
    n: usize,
    groups: Vec<Vec<usize>>,
    by_rows: &[Sym],
) -> Vec<Unit> {
    let mut group_of = vec![None; instrs.len()];
    for (g, members) in groups.iter().enumerate() {
        for &k in members {
            group_of[k] = Some(g);
        }
    }
    // Units: each ordinary instruction, then each group.
    let unit_of = |k: usize| match group_of[k] {
        Some(g) => instrs.len() + g,
        None => k,
    };
    let units = instrs.len() + groups.len();
    let mut writer: HashMap<usize, usize> = HashMap::new();
    for (k, instr) in instrs.iter().enumerate() {
        for b in writes(instr) {
            writer.insert(b, unit_of(k));
        }
    }
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); units];
    let mut pending = vec![0usize; units];
    let mut first = vec![usize::MAX; units];
    let mut present = vec![false; units];
    for (k, instr) in instrs.iter().enumerate() {
        let u = unit_of(k);
        present[u] = true;
        first[u] = first[u].min(k);
        for s in reads(instr) {
            if let Src::Buf(b) = s {
                if let Some(&w) = writer.get(&b) {
                    if w != u && !after[w].contains(&u) {
                        after[w].push(u);
                        pending[u] += 1;
                    }
                }
            }
        }
    }
    // Kahn's algorithm, taking the unit that came first in the original order.
    let mut ready: BinaryHeap<std::cmp::Reverse<(usize, usize)>> = (0..units)
        .filter(|&u| present[u] && pending[u] == 0)
        .map(|u| std::cmp::Reverse((first[u], u)))
        .collect();
    let mut order = Vec::with_capacity(units);
    while let Some(std::cmp::Reverse((_, u))) = ready.pop() {
        order.push(u);
        for &v in &after[u] {
            pending[v] -= 1;
            if pending[v] == 0 {
                ready.push(std::cmp::Reverse((first[v], v)));
            }
        }
    }
    let mut slots: Vec<Option<Instr>> = instrs.into_iter().map(Some).collect();
    let mut built: Vec<Option<RowGroup>> = groups
        .iter()
        .map(|members| {
            let members: Vec<Instr> = members
                .iter()
                .map(|&k| slots[k].take().expect("each instruction is in one group"))
                .collect();
            Some(RowGroup::new(members, shapes, n, by_rows))
        })
        .collect();
    order
        .into_iter()
        .map(|u| {
            if u < slots.len() {
                Unit::Single(slots[u].take().expect("each unit is ordered once"))
            } else {
                Unit::Rows(Box::new(
                    built[u - slots.len()]
                        .take()
                        .expect("each unit is ordered once"),
                ))
            }
        })
        .collect()
}

impl RowGroup {
    fn new(members: Vec<Instr>, shapes: &Shapes<'_>, n: usize, by_rows: &[Sym]) -> RowGroup {
        let stored_by_rows =
            |s: Src| matches!(s, Src::Input(k) if by_rows.contains(&shapes.inputs[k].sym));
        let mut all_by_rows = true;
        let mut slot_of: HashMap<usize, usize> = HashMap::new();
        let mut ops = Vec::new();
        let mut sinks = Vec::new();
        let mut offset = 0;
        let mut widest = 1;
        let mut scalar_srcs: Vec<Src> = Vec::new();
        for (m, instr) in members.iter().enumerate() {
            let arg = |s: Src| match s {
                Src::Buf(b) if slot_of.contains_key(&b) => Arg::Slot(slot_of[&b]),
                _ if shapes.is_scalar(s) => Arg::Scalar(s),
                _ => Arg::Column(s),
            };
            let mut scale = None;
            let mut finish = Finish {
                scalars: Vec::new(),
                negate: false,
                sqrt: false,
            };
            let kind = match &instr.op {
                Op::Neg(a) => Kind::Neg { a: arg(*a) },
                Op::Map(f, a) => Kind::Map { f: *f, a: arg(*a) },
                Op::Add(a, b) => binary(Binary::Add, arg(*a), arg(*b)),
                Op::Sub(a, b) => binary(Binary::Sub, arg(*a), arg(*b)),
                Op::ElemMul(a, b) => binary(Binary::Mul, arg(*a), arg(*b)),
                Op::ElemDiv(a, b) => binary(Binary::Div, arg(*a), arg(*b)),
                Op::ElemPow(a, b) => binary(Binary::Pow, arg(*a), arg(*b)),
                Op::Div(a, s) => Kind::DivScalar { a: arg(*a), s: *s },
                Op::Inner(a, b) => Kind::Dot {
                    a: arg(*a),
                    b: arg(*b),
                },
                Op::Reduce(Func::Sum, a) => Kind::Sum { a: arg(*a) },
                Op::Reduce(Func::Norm1, a) => Kind::Norm1 { a: arg(*a) },
                Op::Reduce(_, a) => {
                    finish.sqrt = true;
                    Kind::SumSquares { a: arg(*a) }
                }
                Op::Chain(chain) => {
                    let factors = (chain.scalars.clone(), chain.negate);
                    match (chain.steps.as_slice(), chain.single) {
                        ([], Some(o)) => {
                            scale = Some(factors);
                            Kind::Scale { a: arg(o.src) }
                        }
                        ([Step::MatMul { lhs, rhs, .. }], _) => {
                            let columns = |o: &Operand| shapes.dims(o.src).1;
                            if !lhs.transposed {
                                widest = widest.max(columns(lhs));
                                all_by_rows &= stored_by_rows(lhs.src);
                                scale = Some(factors);
                                Kind::Affine {
                                    x: lhs.src,
                                    w: rhs.src,
                                }
                            } else {
                                (finish.scalars, finish.negate) = factors;
                                let (l, r) = (arg(lhs.src), arg(rhs.src));
                                match (shapes.is_column(lhs.src, n), shapes.is_column(rhs.src, n)) {
                                    (true, true) => Kind::Dot { a: l, b: r },
                                    (false, _) => {
                                        widest = widest.max(columns(lhs));
                                        all_by_rows &= stored_by_rows(lhs.src);
                                        Kind::Gram { x: lhs.src, v: r }
                                    }
                                    (true, false) => {
                                        widest = widest.max(columns(rhs));
                                        all_by_rows &= stored_by_rows(rhs.src);
                                        Kind::Gram { x: rhs.src, v: l }
                                    }
                                }
                            }
                        }
                        _ => unreachable!("only single products and scalings are fused"),
                    }
                }
                _ => unreachable!("only row operations are fused"),
            };
            for s in kind_scalars(&kind)
                .into_iter()
                .chain(scale.iter().flat_map(|(s, _)| s.iter().copied()))
                .chain(finish.scalars.iter().copied())
            {
                if !scalar_srcs.contains(&s) {
                    scalar_srcs.push(s);
                }
            }
            let reduces = matches!(
                kind,
                Kind::Gram { .. }
                    | Kind::Dot { .. }
                    | Kind::Sum { .. }
                    | Kind::Norm1 { .. }
                    | Kind::SumSquares { .. }
            );
            let (slot, sink) = if reduces {
                let len = match &kind {
                    Kind::Gram { x, .. } => shapes.dims(*x).1,
                    _ => 1,
                };
                sinks.push(Sink {
                    dst: instr.dst,
                    offset,
                    len,
                    finish,
                });
                offset += len;
                (None, Some(sinks.len() - 1))
            } else {
                let k = slot_of.len();
                slot_of.insert(instr.dst, k);
                (Some(k), None)
            };
            ops.push(RowOp {
                member: m,
                kind,
                slot,
                sink,
                scale,
            });
        }
        let entries = if all_by_rows {
            BLOCK_ENTRIES_BY_ROWS
        } else {
            BLOCK_ENTRIES
        };
        let block = (entries / widest)
            .min(n.div_ceil(MIN_BLOCKS))
            .clamp(MIN_BLOCK_ROWS, MAX_BLOCK_ROWS);
        let blocks = n.div_ceil(block);
        let tasks = blocks.clamp(1, MAX_TASKS);
        let blocks_per_task = blocks.div_ceil(tasks);
        let tasks = blocks.div_ceil(blocks_per_task);
        let slots = slot_of.len();
        RowGroup {
            layout: Layout {
                rows: n,
                block,
                tasks,
                blocks_per_task,
                slots,
                alphas: vec![1.0; ops.len()],
                scalars: scalar_srcs.into_iter().map(|s| (s, 0.0)).collect(),
                ops,
                sinks,
            },
            members,
            scratch: vec![0.0; tasks * slots.max(1) * block],
            partials: vec![0.0; tasks * offset.max(1)],
        }
    }

    /// Runs the group: every reduction's value lands in its buffer.
    pub(super) fn run(
        &mut self,
        bufs: &mut [Value],
        slots: &[InputSlot],
        inputs: &[MatRef<'_, f64>],
    ) -> Result<(), EvalError> {
        let layout = &mut self.layout;
        let scalar = |s: Src| match read(bufs, slots, inputs, s) {
            ValRef::S(x) => x,
            ValRef::M(m) => m[(0, 0)],
        };
        for (src, value) in &mut layout.scalars {
            *value = scalar(*src);
        }
        for (op, alpha) in layout.ops.iter().zip(&mut layout.alphas) {
            *alpha = op.scale.as_ref().map_or(1.0, |(s, negate)| {
                let product: f64 = s.iter().map(|&s| scalar(s)).product();
                if *negate {
                    -product
                } else {
                    product
                }
            });
        }
        let layout = &self.layout;
        let stride = self.partials.len() / layout.tasks;
        let scratch_stride = self.scratch.len() / layout.tasks;
        let context = Context {
            layout,
            bufs,
            inputs,
        };
        let mut first = self
            .scratch
            .par_chunks_mut(scratch_stride)
            .zip(self.partials.par_chunks_mut(stride))
            .enumerate()
            .map(|(t, (scratch, partial))| context.task(t, scratch, partial))
            .reduce(|| None, earliest);
        // The shares, added in task order.
        for (s, sink) in layout.sinks.iter().enumerate() {
            let mut alpha = if sink.finish.negate { -1.0 } else { 1.0 };
            for &src in &sink.finish.scalars {
                alpha *= layout.scalar_value(src);
            }
            let total = |k: usize| {
                let mut acc = 0.0;
                for t in 0..layout.tasks {
                    acc += self.partials[t * stride + sink.offset + k];
                }
                if sink.finish.sqrt {
                    acc = acc.sqrt();
                }
                alpha * acc
            };
            let mut finite = true;
            match &mut bufs[sink.dst] {
                Value::Scalar(v) => {
                    *v = total(0);
                    finite = v.is_finite();
                }
                Value::Matrix(m) => {
                    // A column `X'*v` or a row `v'*X`: entry k either way.
                    let rows = m.nrows();
                    for k in 0..sink.len {
                        let v = total(k);
                        finite &= v.is_finite();
                        m[(k % rows, k / rows)] = v;
                    }
                }
            }
            if first.is_none() && !finite {
                let op = layout
                    .ops
                    .iter()
                    .position(|o| o.sink == Some(s))
                    .expect("every sink has its operation");
                first = Some(Event {
                    op,
                    row: 0,
                    what: What::NonFinite,
                });
            }
        }
        match first {
            None => Ok(()),
            Some(event) => Err(self.error(event)),
        }
    }

    /// The error of the first failing operation, worded as the unfused plan words it.
    fn error(&self, event: Event) -> EvalError {
        let member = &self.members[self.layout.ops[event.op].member];
        match event.what {
            What::Domain(problem, x) => {
                let at = if self.layout.rows == 1 {
                    String::new()
                } else {
                    format!(" at [{}]", event.row)
                };
                domain(member.node, format!("{problem} ({x}{at})"))
            }
            What::DivisionByZero => domain(member.node, "division by zero"),
            What::NonFinite => non_finite(member.node, &member.op),
        }
    }
}

impl Layout {
    fn scalar_value(&self, src: Src) -> f64 {
        self.scalars
            .iter()
            .find(|(s, _)| *s == src)
            .map_or(f64::NAN, |(_, v)| *v)
    }
}

fn binary(op: Binary, a: Arg, b: Arg) -> Kind {
    Kind::Binary { op, a, b }
}

/// The scalar operands an operation reads.
fn kind_scalars(kind: &Kind) -> Vec<Src> {
    let arg = |a: &Arg| match a {
        Arg::Scalar(s) => Some(*s),
        _ => None,
    };
    match kind {
        Kind::Affine { .. } | Kind::Gram { .. } => vec![],
        Kind::Scale { a }
        | Kind::Neg { a }
        | Kind::Map { a, .. }
        | Kind::Sum { a }
        | Kind::Norm1 { a }
        | Kind::SumSquares { a } => arg(a).into_iter().collect(),
        Kind::DivScalar { a, s } => arg(a).into_iter().chain([*s]).collect(),
        Kind::Binary { a, b, .. } | Kind::Dot { a, b } => {
            arg(a).into_iter().chain(arg(b)).collect()
        }
    }
}

/// The earlier of two events: the first operation in order, then the first row.
fn earliest(a: Option<Event>, b: Option<Event>) -> Option<Event> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if (y.op, y.row) < (x.op, x.row) { y } else { x }),
        (x, None) => x,
        (None, y) => y,
    }
}

/// What every task reads.
struct Context<'a> {
    layout: &'a Layout,
    bufs: &'a [Value],
    inputs: &'a [MatRef<'a, f64>],
}

/// A block's view of an operand.
#[derive(Clone, Copy)]
enum View<'a> {
    Scalar(f64),
    Rows(&'a [f64]),
}

impl Context<'_> {
    fn matrix(&self, src: Src) -> MatRef<'_, f64> {
        match src {
            Src::Buf(b) => match &self.bufs[b] {
                Value::Matrix(m) => m.as_ref(),
                Value::Scalar(_) => unreachable!("row operands are matrices"),
            },
            Src::Input(k) => self.inputs[k],
        }
    }

    /// A full `N × 1` operand as a slice (buffers and inputs store columns contiguously).
    fn column(&self, src: Src) -> &[f64] {
        self.matrix(src)
            .col(0)
            .try_as_col_major()
            .expect("columns are stored contiguously")
            .as_slice()
    }

    /// Runs task `t`'s blocks, writing its partial sums; the first failure, if any.
    fn task(&self, t: usize, scratch: &mut [f64], partial: &mut [f64]) -> Option<Event> {
        let g = self.layout;
        partial.fill(0.0);
        let first_block = t * g.blocks_per_task;
        for b in first_block..first_block + g.blocks_per_task {
            let start = b * g.block;
            if start >= g.rows {
                break;
            }
            let end = (start + g.block).min(g.rows);
            if let Some(event) = self.block(start, end, scratch, partial) {
                return Some(event);
            }
        }
        None
    }

    /// Runs every operation on rows `start..end`.
    fn block(
        &self,
        start: usize,
        end: usize,
        scratch: &mut [f64],
        partial: &mut [f64],
    ) -> Option<Event> {
        let g = self.layout;
        let m = end - start;
        for (k, op) in g.ops.iter().enumerate() {
            let fail = |row: usize, what: What| {
                Some(Event {
                    op: k,
                    row: start + row,
                    what,
                })
            };
            // Row values write their own slot and read earlier ones.
            let slot = op.slot.unwrap_or(g.slots);
            let (earlier, rest) = scratch.split_at_mut(slot * g.block);
            let view = |a: Arg| match a {
                Arg::Slot(s) => View::Rows(&earlier[s * g.block..s * g.block + m]),
                Arg::Column(src) => View::Rows(&self.column(src)[start..end]),
                Arg::Scalar(src) => View::Scalar(g.scalar_value(src)),
            };
            if let Some(sink) = op.sink {
                let sink = &g.sinks[sink];
                let acc = &mut partial[sink.offset..sink.offset + sink.len];
                match op.kind {
                    Kind::Gram { x, v } => {
                        let View::Rows(v) = view(v) else {
                            unreachable!("reductions read rows")
                        };
                        let x = self.matrix(x).subrows(start, m);
                        matmul(
                            ColMut::from_slice_mut(acc).as_mat_mut(),
                            Accum::Add,
                            x.transpose(),
                            ColRef::from_slice(v).as_mat(),
                            1.0,
                            Par::Seq,
                        );
                    }
                    Kind::Dot { a, b } => {
                        acc[0] += match (view(a), view(b)) {
                            (View::Rows(a), View::Rows(b)) => dot(a, b),
                            _ => unreachable!("reductions read rows"),
                        }
                    }
                    Kind::Sum { a } | Kind::Norm1 { a } | Kind::SumSquares { a } => {
                        let View::Rows(a) = view(a) else {
                            unreachable!("reductions read rows")
                        };
                        acc[0] += match op.kind {
                            Kind::Sum { .. } => sum_by(a, |x| x),
                            Kind::Norm1 { .. } => sum_by(a, f64::abs),
                            _ => dot(a, a),
                        }
                    }
                    _ => unreachable!("only reductions have sinks"),
                }
                continue;
            }
            let out = &mut rest[..m];
            let alpha = g.alphas[k];
            match op.kind {
                Kind::Affine { x, w } => {
                    matmul(
                        ColMut::from_slice_mut(out).as_mat_mut(),
                        Accum::Replace,
                        self.matrix(x).subrows(start, m),
                        self.matrix(w),
                        alpha,
                        Par::Seq,
                    );
                }
                Kind::Scale { a } => zip(out, view(a), View::Scalar(alpha), |x, a| x * a),
                Kind::Neg { a } => zip(out, view(a), View::Scalar(0.0), |x, _| -x),
                Kind::Map { f, a } => {
                    let View::Rows(a) = view(a) else {
                        unreachable!("maps of row values read rows")
                    };
                    for (i, (o, &x)) in out.iter_mut().zip(a).enumerate() {
                        match kernels::elementwise(f, x) {
                            Ok(v) => *o = v,
                            Err(problem) => return fail(i, What::Domain(problem, x)),
                        }
                    }
                }
                Kind::Binary { op, a, b } => {
                    let (a, b) = (view(a), view(b));
                    match op {
                        Binary::Add => zip(out, a, b, |x, y| x + y),
                        Binary::Sub => zip(out, a, b, |x, y| x - y),
                        Binary::Mul => zip(out, a, b, |x, y| x * y),
                        Binary::Div => zip(out, a, b, |x, y| x / y),
                        Binary::Pow => zip(out, a, b, f64::powf),
                    }
                }
                Kind::DivScalar { a, s } => {
                    let d = g.scalar_value(s);
                    if d == 0.0 {
                        return fail(0, What::DivisionByZero);
                    }
                    zip(out, view(a), View::Scalar(d), |x, y| x / y);
                }
                _ => unreachable!("reductions are handled above"),
            }
            if let Some(i) = out.iter().position(|v| !v.is_finite()) {
                return fail(i, What::NonFinite);
            }
        }
        None
    }
}

/// `f` entrywise over two operands, one of which may be a scalar.
fn zip(out: &mut [f64], a: View<'_>, b: View<'_>, f: impl Fn(f64, f64) -> f64) {
    match (a, b) {
        (View::Rows(a), View::Rows(b)) => {
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                *o = f(x, y);
            }
        }
        (View::Rows(a), View::Scalar(y)) => {
            for (o, &x) in out.iter_mut().zip(a) {
                *o = f(x, y);
            }
        }
        (View::Scalar(x), View::Rows(b)) => {
            for (o, &y) in out.iter_mut().zip(b) {
                *o = f(x, y);
            }
        }
        (View::Scalar(x), View::Scalar(y)) => out.fill(f(x, y)),
    }
}

/// `Σ aᵢ bᵢ` with four independent accumulators, so that the loop vectorises.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (a4, a_rest) = a.split_at(a.len() / 4 * 4);
    let (b4, b_rest) = b.split_at(a4.len());
    for (x, y) in a4.chunks_exact(4).zip(b4.chunks_exact(4)) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0;
    for (x, y) in a_rest.iter().zip(b_rest) {
        tail += x * y;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `Σ f(aᵢ)` with four independent accumulators.
fn sum_by(a: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0; 4];
    let (a4, rest) = a.split_at(a.len() / 4 * 4);
    for x in a4.chunks_exact(4) {
        for l in 0..4 {
            acc[l] += f(x[l]);
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + rest.iter().map(|&x| f(x)).sum::<f64>()
}
