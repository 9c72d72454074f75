//! Losses of linear models, recognised symbolically: sample-separable through `X*w`.
//!
//! Most losses minimised on data are sums over the samples of a scalar function of the
//! linear predictor `z_i = x_iᵀw`, plus a penalty on the coefficients:
//!
//! ```text
//! Q(w) = Σ_i ℓ(z_i, y_i, …) + Σ_j ρ(w_j) + κ,      z = X w
//! ```
//!
//! Least squares `1/N*norm2(X*w - y)^2` is `ℓ(z, y) = (z − y)²/N`; logistic regression
//! `1/N*sum(log(1 + exp(-y.*(X*w))))` is `ℓ(z, y) = softplus(−y z)/N`; a ridge term
//! `lambda*norm2(w)^2` is `ρ(w_j) = λ w_j²`. With `ℓ' = ∂ℓ/∂z` and `ρ'` the gradient
//! is `∇Q = Σ_i ℓ'(z_i, y_i) x_i + ρ'(w)`: per sample one dot product and one
//! `axpy` on a row of `X`, with nothing to allocate. [`LinearForm::recognise`] finds
//! this form in the loss's IR; anything else keeps the generic evaluation plan.
//!
//! `ℓ` and `ρ` are built as scalar expressions in a graph of their own, with scalar
//! variables for the predictor, the row-aligned data (`y`), the dimension sizes and
//! the scalar data; their derivatives come from the same differentiation engine as
//! every other gradient ([`derive()`]), and a [`Tape`] evaluates them. A dimension name
//! used as a scalar is an input too, so on a batch `1/N` is `1/B`, as in the plan.

use std::collections::BTreeMap;

use matdiff_core::diff::canonicalize;
use matdiff_core::{derive, print, Dim, Func, Function, Graph, Id, Kind, Node, Shape, Sym};

/// Where an input of a [`Tape`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// The size of a named dimension of the loss (the batch size for the sample
    /// dimension on a batch).
    Dim(Sym),
    /// A scalar data variable of the loss.
    Scalar(Sym),
}

/// A loss recognised as `Σ_i ℓ(x_iᵀw, …) + Σ_j ρ(w_j) + κ`.
#[derive(Clone, Debug)]
pub struct LinearForm {
    /// The data matrix whose rows are the samples (`X`), `N × d`.
    pub design: Sym,
    /// The row-aligned data vectors `ℓ` reads besides `z` (`y`), in the order of the
    /// per-sample inputs `1, 2, …` of [`LinearForm::sample`].
    pub columns: Vec<Sym>,
    /// Per sample: inputs `[z, columns…]`; outputs `[ℓ, ℓ', κ]`, where the constant
    /// `κ` (the terms without samples or coefficients) depends on parameters only.
    pub sample: Tape,
    /// Per coefficient, when the loss has a penalty: input `[w_j]`; outputs `[ρ, ρ']`.
    pub penalty: Option<Tape>,
    /// `ℓ`, `ℓ'` and `ρ` as text, for reports: `1/N*(z - y)^2`.
    pub texts: FormTexts,
}

/// The pieces of a [`LinearForm`] as text that parses back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormTexts {
    /// The per-sample loss `ℓ`.
    pub sample: String,
    /// Its derivative `∂ℓ/∂z`.
    pub slope: String,
    /// The per-coefficient penalty `ρ`, if any.
    pub penalty: Option<String>,
}

impl LinearForm {
    /// Recognises `loss` (a scalar of `graph`, canonical as [`canonicalize`] leaves it)
    /// as a linear-model loss in the vector `wrt` over the samples of dimension
    /// `samples`, where `data` are the variables that have data. `None` when the loss
    /// is not of that form (the generic plan then evaluates it).
    pub fn recognise(
        graph: &Graph,
        loss: Id,
        wrt: Sym,
        samples: Sym,
        data: &[Sym],
    ) -> Option<LinearForm> {
        let var = *graph.variable(wrt)?;
        if var.shape.cols != Dim::ONE || var.shape.rows == Dim::ONE {
            return None;
        }
        let spans_samples = |sym: Sym| {
            graph.variable(sym).is_some_and(|v| {
                v.shape.rows == Dim::Named(samples) || v.shape.cols == Dim::Named(samples)
            })
        };
        // Which nodes depend on `w`, and which on data spanning the samples.
        let mut on_w = vec![false; graph.len()];
        let mut on_samples = vec![false; graph.len()];
        for id in graph.reachable(&[loss]) {
            let node = graph.node(id);
            let (mut w, mut s) = match node {
                Node::Var(sym) => (sym == wrt, data.contains(&sym) && spans_samples(sym)),
                _ => (false, false),
            };
            for c in node.children() {
                w |= on_w[c.index()];
                s |= on_samples[c.index()];
            }
            on_w[id.index()] = w;
            on_samples[id.index()] = s;
        }
        // The one product `X*w` with a sample-spanning data matrix.
        let mut predictor = None;
        for id in graph.reachable(&[loss]) {
            if let Node::Mul(a, b) = graph.node(id) {
                if let (Node::Var(x), Node::Var(v)) = (graph.node(a), graph.node(b)) {
                    let is_design = data.contains(&x)
                        && graph.variable(x).is_some_and(|xv| {
                            xv.shape.rows == Dim::Named(samples) && xv.shape.cols == var.shape.rows
                        });
                    if v == wrt && is_design {
                        if predictor.is_some_and(|(p, _)| p != id) {
                            return None;
                        }
                        predictor = Some((id, x));
                    }
                }
            }
        }
        let (predictor, design) = predictor?;
        let zeta_name = print::text(graph, predictor);
        let mut r = Recogniser {
            graph,
            wrt,
            samples,
            on_w,
            on_samples,
            out: Graph::new(),
            params: Vec::new(),
            memo: BTreeMap::new(),
            leaves: BTreeMap::new(),
            names: Vec::new(),
            predictor,
            zeta: Id(0),
            omega: Id(0),
        };
        r.zeta = r.declare(&zeta_name);
        r.omega = r.declare(graph.name(wrt));
        let (zeta, omega) = (r.zeta, r.omega);
        let mut split = Split::default();
        r.split(loss, None, &mut split)?;
        // ℓ and κ.
        let columns: Vec<Sym> = split.columns.iter().map(|&(s, _)| s).collect();
        let sample_loss = sum_terms(&mut r.out, &split.sample);
        let constant = sum_terms(&mut r.out, &split.constant);
        let mut function = Function {
            graph: std::mem::take(&mut r.out),
            root: sample_loss,
        };
        let slope = derive(&mut function, &zeta_name, 1).ok()?.expr;
        let mut out = function.graph;
        let sample_loss = canonicalize(&mut out, sample_loss);
        let mut inputs = vec![zeta];
        inputs.extend(split.columns.iter().map(|&(_, leaf)| leaf));
        let texts_sample = print::text(&out, sample_loss);
        let texts_slope = print::text(&out, slope);
        let params = r.params.clone();
        let sample = Tape::compile(&out, &inputs, &params, &[sample_loss, slope, constant])?;
        // ρ.
        let (penalty, penalty_text) = if split.penalty.is_empty() {
            (None, None)
        } else {
            let rho = sum_terms(&mut out, &split.penalty);
            let text = print::text(&out, rho);
            let mut function = Function {
                graph: out,
                root: rho,
            };
            let rho_slope = derive(&mut function, graph.name(wrt), 1).ok()?.expr;
            let mut out = function.graph;
            let rho = canonicalize(&mut out, rho);
            let tape = Tape::compile(&out, &[omega], &params, &[rho, rho_slope])?;
            (Some(tape), Some(text))
        };
        Some(LinearForm {
            design,
            columns,
            sample,
            penalty,
            texts: FormTexts {
                sample: texts_sample,
                slope: texts_slope,
                penalty: penalty_text,
            },
        })
    }
}

/// The additive terms of the loss, sorted by what they range over.
#[derive(Default)]
struct Split {
    /// Per-sample terms `coef · h(z_i, y_i)`, in the scalar graph.
    sample: Vec<Id>,
    /// Per-coefficient terms `coef · h(w_j)`.
    penalty: Vec<Id>,
    /// Terms without samples or coefficients.
    constant: Vec<Id>,
    /// The row-aligned data vectors met so far and their scalar leaves.
    columns: Vec<(Sym, Id)>,
}

/// Which entries a vector expression is taken entry by entry over.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Range {
    /// The samples: leaves are `X*w` and row-aligned data vectors.
    Samples,
    /// The coefficients: the leaf is `w`.
    Coefficients,
}

struct Recogniser<'a> {
    graph: &'a Graph,
    wrt: Sym,
    samples: Sym,
    on_w: Vec<bool>,
    on_samples: Vec<bool>,
    /// The scalar graph `ℓ` and `ρ` are built in.
    out: Graph,
    /// The scalar variables of `out` bound from sizes and scalar data, by symbol of `out`.
    params: Vec<(Sym, Param)>,
    /// Sample-free scalar subexpressions already translated.
    memo: BTreeMap<Id, Id>,
    /// Leaves of the current range: a node of the loss and its scalar in `out`.
    leaves: BTreeMap<Id, Id>,
    /// Names declared in `out`.
    names: Vec<String>,
    /// The node `X*w` of the loss, and the scalars `z` and `w_j` of `out`.
    predictor: Id,
    zeta: Id,
    omega: Id,
}

impl Recogniser<'_> {
    /// A scalar variable of `out` called `name` (or `name_`, … when taken); its node.
    fn declare(&mut self, name: &str) -> Id {
        let mut name = name.to_owned();
        while self.names.contains(&name) {
            name.push('_');
        }
        self.names.push(name.clone());
        let sym = self.out.declare(&name, Kind::Scalar, Shape::SCALAR);
        self.out.add(Node::Var(sym))
    }

    /// A parameter input named like `sym` of the loss.
    fn param(&mut self, sym: Sym, param: Param) -> Id {
        if let Some(&(s, _)) = self.params.iter().find(|(_, p)| *p == param) {
            return self.out.add(Node::Var(s));
        }
        let graph = self.graph;
        let node = self.declare(graph.name(sym));
        let Node::Var(s) = self.out.node(node) else {
            unreachable!("declare adds a variable")
        };
        self.params.push((s, param));
        node
    }

    /// Sorts the additive terms of `id` (times `coef`) into `split`.
    fn split(&mut self, id: Id, coef: Option<Id>, split: &mut Split) -> Option<()> {
        let g = self.graph;
        if !g.shape(id).is_scalar() {
            return None;
        }
        let (w, s) = (self.on_w[id.index()], self.on_samples[id.index()]);
        if !w && !s {
            let value = self.constant(id)?;
            split.constant.push(self.scaled(coef, value));
            return Some(());
        }
        match g.node(id) {
            Node::Add(a, b) => {
                self.split(a, coef, split)?;
                return self.split(b, coef, split);
            }
            Node::Neg(a) => {
                let minus = self.out.constant(-1.0);
                let coef = Some(self.scaled(coef, minus));
                return self.split(a, coef, split);
            }
            _ => {}
        }
        // A reduction over the samples or the coefficients, tried before scalings so
        // that `u'*v` is read as a sum of products.
        let range = if s {
            Range::Samples
        } else {
            Range::Coefficients
        };
        self.leaves.clear();
        match range {
            Range::Samples => {
                self.leaves.insert(self.predictor, self.zeta);
            }
            Range::Coefficients => {
                let w = g.find(&Node::Var(self.wrt))?;
                self.leaves.insert(w, self.omega);
            }
        }
        for &(sym, leaf) in &split.columns {
            if let Some(node) = g.find(&Node::Var(sym)) {
                if range == Range::Samples {
                    self.leaves.insert(node, leaf);
                }
            }
        }
        let columns_before = split.columns.len();
        if let Some(h) = self.reduction(id, range, split) {
            let term = self.scaled(coef, h);
            match range {
                Range::Samples => split.sample.push(term),
                Range::Coefficients => split.penalty.push(term),
            }
            return Some(());
        }
        split.columns.truncate(columns_before);
        // A scaling by a sample- and coefficient-free scalar.
        let (a, b) = match g.node(id) {
            Node::Mul(a, b) => (a, b),
            Node::Div(a, b) => {
                let divisor = self.constant(b)?;
                let one = self.out.constant(1.0);
                let factor = self.out.div(one, divisor);
                let coef = Some(self.scaled(coef, factor));
                return self.split(a, coef, split);
            }
            _ => return None,
        };
        let (factor, rest) = if self.is_constant(a) && g.shape(b).is_scalar() {
            (a, b)
        } else if self.is_constant(b) && g.shape(a).is_scalar() {
            (b, a)
        } else {
            return None;
        };
        let factor = self.constant(factor)?;
        let coef = Some(self.scaled(coef, factor));
        self.split(rest, coef, split)
    }

    fn scaled(&mut self, coef: Option<Id>, value: Id) -> Id {
        match coef {
            None => value,
            Some(c) => self.out.mul(c, value),
        }
    }

    /// Depends neither on `w` nor on the samples.
    fn is_constant(&self, id: Id) -> bool {
        !self.on_w[id.index()] && !self.on_samples[id.index()] && self.graph.shape(id).is_scalar()
    }

    /// `Σ_k h(v_k)` read off a scalar `id` over `range`: `h` in `out`.
    fn reduction(&mut self, id: Id, range: Range, split: &mut Split) -> Option<Id> {
        let g = self.graph;
        let vector = |x: Id| g.shape(x).cols == Dim::ONE && g.shape(x).rows != Dim::ONE;
        match g.node(id) {
            Node::Apply(Func::Sum, v) if vector(v) => self.entry(v, range, split),
            Node::Apply(Func::Norm1, v) if vector(v) => {
                let e = self.entry(v, range, split)?;
                Some(self.out.apply(Func::Abs, e))
            }
            Node::Pow(base, two) if g.const_value(two) == Some(2.0) => match g.node(base) {
                Node::Apply(Func::Norm2, v) if vector(v) => {
                    let e = self.entry(v, range, split)?;
                    let two = self.out.constant(2.0);
                    Some(self.out.add(Node::Pow(e, two)))
                }
                _ => None,
            },
            Node::Inner(u, v) if vector(u) && vector(v) => {
                let (a, b) = (self.entry(u, range, split)?, self.entry(v, range, split)?);
                Some(self.out.add(Node::Mul(a, b)))
            }
            Node::Mul(u, v) if vector(v) && g.shape(u).is_row() => {
                let (a, b) = (
                    self.row_entry(u, range, split)?,
                    self.entry(v, range, split)?,
                );
                Some(self.out.add(Node::Mul(a, b)))
            }
            _ => None,
        }
    }

    /// The `k`-th entry of the vector `id` (or `id` itself when it is a constant
    /// scalar, broadcast) as a scalar expression of `out`.
    fn entry(&mut self, id: Id, range: Range, split: &mut Split) -> Option<Id> {
        let g = self.graph;
        if let Some(&leaf) = self.leaves.get(&id) {
            return Some(leaf);
        }
        if self.is_constant(id) {
            return self.constant(id);
        }
        let shape = g.shape(id);
        let length = match range {
            Range::Samples => Dim::Named(self.samples),
            Range::Coefficients => g.variable(self.wrt)?.shape.rows,
        };
        if shape != Shape::vector(length) {
            return None;
        }
        let node = g.node(id);
        let e = |x: Id, this: &mut Self, split: &mut Split| this.entry(x, range, split);
        let out = match node {
            Node::Var(sym) if range == Range::Samples && self.on_samples[id.index()] => {
                let name = g.name(sym).to_owned();
                let leaf = self.declare(&name);
                split.columns.push((sym, leaf));
                self.leaves.insert(id, leaf);
                return Some(leaf);
            }
            Node::Ones(_) => self.out.constant(1.0),
            Node::Add(a, b) => {
                let (a, b) = (e(a, self, split)?, e(b, self, split)?);
                self.out.add(Node::Add(a, b))
            }
            Node::Neg(a) => {
                let a = e(a, self, split)?;
                self.out.add(Node::Neg(a))
            }
            Node::ElemMul(a, b) | Node::Mul(a, b) => {
                let (a, b) = (e(a, self, split)?, e(b, self, split)?);
                self.out.add(Node::Mul(a, b))
            }
            Node::ElemDiv(a, b) | Node::Div(a, b) => {
                let (a, b) = (e(a, self, split)?, e(b, self, split)?);
                self.out.add(Node::Div(a, b))
            }
            Node::ElemPow(a, b) => {
                let (a, b) = (e(a, self, split)?, e(b, self, split)?);
                self.out.add(Node::Pow(a, b))
            }
            Node::Apply(f, a) if f.is_elementwise() => {
                let a = e(a, self, split)?;
                self.out.add(Node::Apply(f, a))
            }
            _ => return None,
        };
        Some(out)
    }

    /// The `k`-th entry of the row vector `id`: `u'`, scaled or negated.
    fn row_entry(&mut self, id: Id, range: Range, split: &mut Split) -> Option<Id> {
        let g = self.graph;
        match g.node(id) {
            Node::Transpose(u) => self.entry(u, range, split),
            Node::Neg(r) => {
                let e = self.row_entry(r, range, split)?;
                Some(self.out.add(Node::Neg(e)))
            }
            Node::Mul(a, b) if self.is_constant(a) => {
                let (a, b) = (self.constant(a)?, self.row_entry(b, range, split)?);
                Some(self.out.add(Node::Mul(a, b)))
            }
            Node::Mul(a, b) | Node::Div(a, b) if self.is_constant(b) => {
                let (a, b) = (self.row_entry(a, range, split)?, self.constant(b)?);
                let op = match g.node(id) {
                    Node::Div(..) => Node::Div(a, b),
                    _ => Node::Mul(a, b),
                };
                Some(self.out.add(op))
            }
            _ => None,
        }
    }

    /// A scalar free of `w` and of the samples, as an expression of `out`.
    fn constant(&mut self, id: Id) -> Option<Id> {
        if let Some(&done) = self.memo.get(&id) {
            return Some(done);
        }
        let g = self.graph;
        if !self.is_constant(id) {
            return None;
        }
        let c = |x: Id, this: &mut Self| this.constant(x);
        let out = match g.node(id) {
            Node::Const(r) => self.out.constant(r.value()),
            Node::DimValue(sym) => self.param(sym, Param::Dim(sym)),
            Node::Var(sym) => self.param(sym, Param::Scalar(sym)),
            Node::Add(a, b) => {
                let (a, b) = (c(a, self)?, c(b, self)?);
                self.out.add(Node::Add(a, b))
            }
            Node::Neg(a) => {
                let a = c(a, self)?;
                self.out.add(Node::Neg(a))
            }
            Node::Mul(a, b) | Node::ElemMul(a, b) | Node::Inner(a, b) => {
                let (a, b) = (c(a, self)?, c(b, self)?);
                self.out.add(Node::Mul(a, b))
            }
            Node::Div(a, b) | Node::ElemDiv(a, b) => {
                let (a, b) = (c(a, self)?, c(b, self)?);
                self.out.add(Node::Div(a, b))
            }
            Node::Pow(a, b) | Node::ElemPow(a, b) => {
                let (a, b) = (c(a, self)?, c(b, self)?);
                self.out.add(Node::Pow(a, b))
            }
            Node::Transpose(a) => c(a, self)?,
            Node::Apply(f, a) if f.is_elementwise() => {
                let a = c(a, self)?;
                self.out.add(Node::Apply(f, a))
            }
            _ => return None,
        };
        self.memo.insert(id, out);
        Some(out)
    }
}

/// `t₁ + t₂ + …`, or `0` without terms.
fn sum_terms(out: &mut Graph, terms: &[Id]) -> Id {
    let mut iter = terms.iter().copied();
    match iter.next() {
        None => out.constant(0.0),
        Some(first) => iter.fold(first, |acc, t| out.add(Node::Add(acc, t))),
    }
}

/// One scalar operation of a [`Tape`], on slot indices.
#[derive(Clone, Copy, Debug)]
enum Op {
    Const(f64),
    Add(u32, u32),
    Neg(u32),
    Mul(u32, u32),
    Div(u32, u32),
    Square(u32),
    Powi(u32, i32),
    Pow(u32, u32),
    Apply(Func, u32),
}

impl Op {
    #[inline]
    fn apply(self, s: &[f64]) -> f64 {
        let at = |i: u32| s[i as usize];
        match self {
            Op::Const(v) => v,
            Op::Add(a, b) => at(a) + at(b),
            Op::Neg(a) => -at(a),
            Op::Mul(a, b) => at(a) * at(b),
            Op::Div(a, b) => at(a) / at(b),
            Op::Square(a) => at(a) * at(a),
            Op::Powi(a, k) => at(a).powi(k),
            Op::Pow(a, b) => at(a).powf(at(b)),
            Op::Apply(f, a) => matdiff_num::kernels::elementwise(f, at(a)).unwrap_or(f64::NAN),
        }
    }
}

/// A compiled scalar function of a few per-row inputs and some parameters: the
/// straight-line program of a scalar expression DAG, in topological order. The
/// operations that depend on parameters only run once per [`Tape::bind`]; the rest
/// run per row, on preallocated slots.
#[derive(Clone, Debug)]
pub struct Tape {
    slots: Vec<f64>,
    rows: usize,
    params: Vec<(u32, Param)>,
    invariant: Vec<(u32, Op)>,
    varying: Vec<(u32, Op)>,
    outputs: Vec<u32>,
}

impl Tape {
    /// The program computing `roots` of the scalar graph `g`, reading `inputs` per row
    /// and `params` at [`Tape::bind`]. `None` if a node is not a scalar operation.
    fn compile(g: &Graph, inputs: &[Id], params: &[(Sym, Param)], roots: &[Id]) -> Option<Tape> {
        let mut slot: BTreeMap<Id, u32> = BTreeMap::new();
        let mut varying_node: BTreeMap<Id, bool> = BTreeMap::new();
        for (k, &id) in inputs.iter().enumerate() {
            slot.insert(id, k as u32);
            varying_node.insert(id, true);
        }
        let mut tape = Tape {
            slots: Vec::new(),
            rows: inputs.len(),
            params: Vec::new(),
            invariant: Vec::new(),
            varying: Vec::new(),
            outputs: Vec::new(),
        };
        let mut next = inputs.len() as u32;
        for id in g.reachable(roots) {
            if slot.contains_key(&id) {
                continue;
            }
            let node = g.node(id);
            if !g.shape(id).is_scalar() {
                return None;
            }
            let s = |x: Id| slot.get(&x).copied();
            let op = match node {
                Node::Const(r) => Op::Const(r.value()),
                Node::Zeros(_) => Op::Const(0.0),
                Node::Ones(_) | Node::Eye(_) => Op::Const(1.0),
                Node::Var(sym) => {
                    let (_, param) = params.iter().find(|(p, _)| *p == sym)?;
                    tape.params.push((next, *param));
                    slot.insert(id, next);
                    varying_node.insert(id, false);
                    next += 1;
                    continue;
                }
                Node::Add(a, b) => Op::Add(s(a)?, s(b)?),
                Node::Neg(a) => Op::Neg(s(a)?),
                Node::Mul(a, b) | Node::ElemMul(a, b) | Node::Inner(a, b) => Op::Mul(s(a)?, s(b)?),
                Node::Div(a, b) | Node::ElemDiv(a, b) => Op::Div(s(a)?, s(b)?),
                Node::Pow(a, b) | Node::ElemPow(a, b) => match g.const_value(b) {
                    Some(2.0) => Op::Square(s(a)?),
                    Some(k) if k.fract() == 0.0 && k.abs() <= 64.0 => Op::Powi(s(a)?, k as i32),
                    _ => Op::Pow(s(a)?, s(b)?),
                },
                // The transpose of a scalar is the scalar.
                Node::Transpose(a) => {
                    let at = s(a)?;
                    let varies = varying_node.get(&a).copied().unwrap_or(false);
                    slot.insert(id, at);
                    varying_node.insert(id, varies);
                    continue;
                }
                Node::Apply(f, a) if f.is_elementwise() => Op::Apply(f, s(a)?),
                _ => return None,
            };
            let varies = node
                .children()
                .any(|c| varying_node.get(&c).copied().unwrap_or(false));
            slot.insert(id, next);
            varying_node.insert(id, varies);
            if varies {
                tape.varying.push((next, op));
            } else {
                tape.invariant.push((next, op));
            }
            next += 1;
        }
        tape.outputs = roots
            .iter()
            .map(|r| slot.get(r).copied())
            .collect::<Option<_>>()?;
        tape.slots = vec![0.0; next as usize];
        Some(tape)
    }

    /// The parameters the tape reads, to be given to [`Tape::bind`] in this order.
    pub fn params(&self) -> impl Iterator<Item = Param> + '_ {
        self.params.iter().map(|&(_, p)| p)
    }

    /// Sets the parameters (in the order of [`Tape::params`]) and computes everything
    /// that depends on them only.
    pub fn bind(&mut self, values: &[f64]) {
        for (&(slot, _), &v) in self.params.iter().zip(values) {
            self.slots[slot as usize] = v;
        }
        for &(dst, op) in &self.invariant {
            self.slots[dst as usize] = op.apply(&self.slots);
        }
    }

    /// Evaluates on one row of inputs (`rows` values, see [`Tape::inputs`]).
    #[inline]
    pub fn run(&mut self, row: &[f64]) {
        // An element-wise loop: the inputs are one to three values, too few for a
        // call to `memcpy`.
        for (slot, &v) in self.slots[..self.rows].iter_mut().zip(row) {
            *slot = v;
        }
        for &(dst, op) in &self.varying {
            self.slots[dst as usize] = op.apply(&self.slots);
        }
    }

    /// Evaluates with one input (`z` or `w_j`) and returns the first two outputs.
    #[inline]
    pub fn run1(&mut self, x: f64) -> (f64, f64) {
        self.slots[0] = x;
        for &(dst, op) in &self.varying {
            self.slots[dst as usize] = op.apply(&self.slots);
        }
        (self.output(0), self.output(1))
    }

    /// After a run: the domain error of the first elementwise function whose argument
    /// is outside its domain (`log of a non-positive entry`), if any; such an entry
    /// evaluates to NaN.
    pub fn domain_error(&self) -> Option<&'static str> {
        self.invariant
            .iter()
            .chain(&self.varying)
            .find_map(|&(_, op)| match op {
                Op::Apply(f, a) => {
                    matdiff_num::kernels::elementwise(f, self.slots[a as usize]).err()
                }
                _ => None,
            })
    }

    /// The number of per-row inputs.
    pub fn inputs(&self) -> usize {
        self.rows
    }

    /// Output `k` of the last evaluation.
    #[inline]
    pub fn output(&self, k: usize) -> f64 {
        self.slots[self.outputs[k] as usize]
    }
}
