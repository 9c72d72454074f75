//! The symbolic schedule of an expression: what the code generators emit, in which
//! order, and which values get a name.
//!
//! The schedule is purely symbolic: the nodes reachable from the roots in topological
//! order (ids are already topological), products flattened into maximal chains of
//! unshared `*` nodes with their scalar factors pulled out and negations absorbed,
//! transposed factors read as transposes, `inv(A) * B` turned into a solve, and `a + (-b)` into `a - b`. A node
//! read by more than one computation (or a root) gets a temporary; everything else is
//! written inline where it is used.
//!
//! **Product order.** The plan orders each chain by dynamic programming on the bound
//! sizes. Generated code does not know its sizes, so the same dynamic programming runs
//! on estimated sizes: a fixed size is itself and every named dimension counts as
//! [`NAMED_DIM_ESTIMATE`]. A chain that ends in a vector is therefore multiplied right
//! to left (`X'*(X*w)`, never `(X'*X)*w`), one that starts with a row vector left to
//! right, and an outer product `a*b'` is formed last; between equals the rightmost
//! products come first.
//!
//! [`Schedule::with_sizes`] orders products for known sizes: the evaluation plan of
//! `matdiff-num` is compiled from it, so generated code and the plan share one
//! lowering.

use crate::codegen::CodegenError;
use crate::ir::{Dim, Func, Graph, Id, Node, Shape};

/// The size assumed for a named dimension when ordering products.
pub const NAMED_DIM_ESTIMATE: u64 = 1000;

/// A matrix factor of a product chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Factor {
    /// The node multiplied (for an inverse factor: the matrix inverted).
    pub id: Id,
    /// Read transposed.
    pub transposed: bool,
    /// `inv(id)`: solved for rather than formed.
    pub inverse: bool,
}

/// How the matrix part of a chain is computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Product {
    /// One factor, read as is or transposed.
    Factor { id: Id, transposed: bool },
    /// `lhs * rhs`, with the shape of the result.
    Mul {
        lhs: Box<Product>,
        rhs: Box<Product>,
        shape: Shape,
    },
    /// `A⁻¹ rhs`, by a linear solve.
    Solve { a: Id, rhs: Box<Product> },
    /// `A⁻¹`, formed because it ends the chain.
    Inverse(Id),
}

impl Product {
    /// The shape of the product's value.
    pub fn shape(&self, graph: &Graph) -> Shape {
        match self {
            Product::Factor { id, transposed } => {
                let s = graph.shape(*id);
                if *transposed {
                    s.transposed()
                } else {
                    s
                }
            }
            Product::Mul { shape, .. } => *shape,
            Product::Solve { a, rhs } => Shape::new(graph.shape(*a).rows, rhs.shape(graph).cols),
            Product::Inverse(a) => graph.shape(*a),
        }
    }
}

/// A flattened product `±(s₁ s₂ …) · (matrix product)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// Scalar factors, multiplied together and with the matrix product.
    pub scalars: Vec<Id>,
    /// An odd number of absorbed negations.
    pub negate: bool,
    /// The matrix part; `None` for a product of scalars only.
    pub product: Option<Product>,
}

/// How one node is computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipe {
    /// From its children as the node says (leaves included).
    Direct,
    /// A product chain.
    Chain(Chain),
    /// `a - b`: an addition of an unshared negation.
    Sub(Id, Id),
    /// An integer power of a square matrix.
    MatPow(Id, i64),
}

/// The schedule of several roots of one graph.
#[derive(Clone, Debug)]
pub struct Schedule {
    roots: Vec<Id>,
    /// Computed nodes (not absorbed into a parent's chain), in topological order.
    order: Vec<Id>,
    recipes: Vec<Option<Recipe>>,
    /// How many computations read each node (a root counts as one more).
    reads: Vec<u32>,
}

impl Schedule {
    /// Schedules `roots` of `graph`, ordering products for estimated sizes (every
    /// named dimension [`NAMED_DIM_ESTIMATE`]).
    pub fn new(graph: &Graph, roots: &[Id]) -> Result<Schedule, CodegenError> {
        Schedule::with_sizes(graph, roots, &estimate)
    }

    /// Schedules `roots` of `graph`, ordering products by multiply-adds for the sizes
    /// `size` gives each dimension (bound sizes, when they are known).
    pub fn with_sizes(
        graph: &Graph,
        roots: &[Id],
        size: &dyn Fn(Dim) -> u64,
    ) -> Result<Schedule, CodegenError> {
        let n = graph.len();
        let reach = graph.reachable(roots);
        let mut uses = vec![0u32; n];
        for &id in &reach {
            for c in graph.node(id).children() {
                uses[c.index()] += 1;
            }
        }
        let mut reads = vec![0u32; n];
        for &r in roots {
            uses[r.index()] += 1;
            reads[r.index()] += 1;
        }
        let mut recipes: Vec<Option<Recipe>> = vec![None; n];
        // Parents come after children: walking backwards decides every parent's recipe,
        // and so which children it reads, before the children are visited.
        for &id in reach.iter().rev() {
            if reads[id.index()] == 0 {
                continue;
            }
            let recipe = recipe(graph, &uses, id, size)?;
            for c in operands(graph, id, &recipe) {
                reads[c.index()] += 1;
            }
            recipes[id.index()] = Some(recipe);
        }
        // An inverse that ends a chain is formed there; when the same `inv(A)` is
        // computed for another reader anyway, the chain reads that one instead.
        for &id in &reach {
            let Some(Recipe::Chain(chain)) = &mut recipes[id.index()] else {
                continue;
            };
            let Some(product) = &mut chain.product else {
                continue;
            };
            reuse_inverses(graph, product, &mut reads);
        }
        // A chain that multiplies factors whose product is computed for another reader
        // anyway reads that value: `y'*X*w` next to `softplus(X*w)` is `y'*(X*w)`.
        let mut reused = Vec::new();
        for &id in &reach {
            if let Some(Recipe::Chain(chain)) = &mut recipes[id.index()] {
                for m in reuse_products(graph, id, chain, &mut reads, size) {
                    reused.push((id, m));
                }
            }
        }
        let mut order: Vec<Id> = reach
            .into_iter()
            .filter(|id| recipes[id.index()].is_some())
            .collect();
        // A reused product is computed before the chain that reads it (its own
        // operands are factors of that chain, so they already are).
        for (chain, m) in reused {
            let at = |x: Id, order: &[Id]| order.iter().position(|&o| o == x);
            if let (Some(c), Some(p)) = (at(chain, &order), at(m, &order)) {
                if p > c {
                    order.remove(p);
                    order.insert(c, m);
                }
            }
        }
        Ok(Schedule {
            roots: roots.to_vec(),
            order,
            recipes,
            reads,
        })
    }

    /// The roots, as given.
    pub fn roots(&self) -> &[Id] {
        &self.roots
    }

    /// The computed nodes in topological order.
    pub fn order(&self) -> &[Id] {
        &self.order
    }

    /// How `id` is computed; `None` for nodes absorbed into a chain or unreachable.
    pub fn recipe(&self, id: Id) -> Option<&Recipe> {
        self.recipes[id.index()].as_ref()
    }

    /// How many computations (and roots) read `id`.
    pub fn reads(&self, id: Id) -> u32 {
        self.reads[id.index()]
    }

    /// The nodes that get a name in generated code, in evaluation order, with the
    /// name: each of `roots` under its own (`value`, `gradient`), every other shared
    /// node as a temporary `t_0, t_1, …`. Leaves are never named: they are the
    /// arguments and constants.
    pub fn bindings(&self, graph: &Graph, roots: &[(Id, &str)]) -> Vec<(Id, String)> {
        let mut temps = 0;
        let mut out = Vec::new();
        for &id in self.order() {
            let role = roots
                .iter()
                .find(|(r, _)| *r == id)
                .map(|(_, n)| n.to_string());
            if is_leaf(graph.node(id)) || (role.is_none() && !self.is_shared(graph, id)) {
                continue;
            }
            let name = role.unwrap_or_else(|| {
                temps += 1;
                format!("t_{}", temps - 1)
            });
            out.push((id, name));
        }
        out
    }

    /// Whether `id` is read more than once: it then gets a temporary (unless it is a
    /// leaf, which costs nothing to repeat).
    pub fn is_shared(&self, graph: &Graph, id: Id) -> bool {
        self.reads(id) > 1 && !is_leaf(graph.node(id))
    }
}

/// Replaces `Inverse(A)` by a read of the node `inv(A)` when that node is read anyway.
fn reuse_inverses(graph: &Graph, product: &mut Product, reads: &mut [u32]) {
    match product {
        Product::Inverse(a) => {
            if let Some(inv) = graph.find(&Node::Apply(Func::Inv, *a)) {
                if reads[inv.index()] > 0 {
                    reads[inv.index()] += 1;
                    reads[a.index()] -= 1;
                    *product = Product::Factor {
                        id: inv,
                        transposed: false,
                    };
                }
            }
        }
        Product::Mul { lhs, rhs, .. } => {
            reuse_inverses(graph, lhs, reads);
            reuse_inverses(graph, rhs, reads);
        }
        Product::Solve { rhs, .. } => reuse_inverses(graph, rhs, reads),
        Product::Factor { .. } => {}
    }
}

/// Replaces adjacent factors `A B` of `chain` (the recipe of `id`) by the node `A*B`
/// when that node is computed for another reader anyway, and reorders the chain;
/// returns the nodes now read. A factor that is not a leaf must stay read elsewhere,
/// so that nothing is computed for nobody.
fn reuse_products(
    graph: &Graph,
    id: Id,
    chain: &mut Chain,
    reads: &mut [u32],
    size: &dyn Fn(Dim) -> u64,
) -> Vec<Id> {
    fn plain(p: &Product, out: &mut Vec<(Id, bool)>) -> bool {
        match p {
            Product::Factor { id, transposed } => {
                out.push((*id, *transposed));
                true
            }
            Product::Mul { lhs, rhs, .. } => plain(lhs, out) && plain(rhs, out),
            Product::Solve { .. } | Product::Inverse(_) => false,
        }
    }
    let mut factors = Vec::new();
    match &chain.product {
        Some(p) if plain(p, &mut factors) && factors.len() > 1 => {}
        _ => return Vec::new(),
    }
    let spare = |x: Id, reads: &[u32]| is_leaf(graph.node(x)) || reads[x.index()] > 1;
    let mut used = Vec::new();
    let mut i = 0;
    while i + 1 < factors.len() {
        let ((a, ta), (b, tb)) = (factors[i], factors[i + 1]);
        // A row times a column is a scalar: it would have to join the chain's scalar
        // factors, not its matrix factors, so it is not reused here.
        let found = graph.find(&Node::Mul(a, b)).filter(|&m| {
            !ta && !tb
                && m != id
                && !graph.shape(m).is_scalar()
                && reads[m.index()] > 0
                && spare(a, reads)
                && spare(b, reads)
        });
        match found {
            Some(m) => {
                reads[m.index()] += 1;
                reads[a.index()] -= 1;
                reads[b.index()] -= 1;
                factors.splice(i..i + 2, [(m, false)]);
                used.push(m);
            }
            None => i += 1,
        }
    }
    if !used.is_empty() {
        let ops: Vec<Product> = factors
            .into_iter()
            .map(|(id, transposed)| Product::Factor { id, transposed })
            .collect();
        chain.product = Some(cheapest(graph, ops, size));
    }
    used
}

/// Variables, constants, dimension values, `eye`, `ones` and zeros.
pub fn is_leaf(node: Node) -> bool {
    matches!(
        node,
        Node::Const(_)
            | Node::Var(_)
            | Node::DimValue(_)
            | Node::Eye(_)
            | Node::Ones(_)
            | Node::Zeros(_)
            | Node::Differential(_)
    )
}

fn unsupported(id: Id, problem: &str) -> CodegenError {
    CodegenError::Unsupported {
        node: id,
        problem: problem.to_string(),
    }
}

fn recipe(
    graph: &Graph,
    uses: &[u32],
    id: Id,
    size: &dyn Fn(Dim) -> u64,
) -> Result<Recipe, CodegenError> {
    let unshared_neg = |x: Id| match graph.node(x) {
        Node::Neg(c) if uses[x.index()] == 1 => Some(c),
        _ => None,
    };
    match graph.node(id) {
        Node::Mul(..) => {
            let mut scalars = Vec::new();
            let mut factors = Vec::new();
            let mut negate = false;
            collect(
                graph,
                uses,
                id,
                true,
                &mut scalars,
                &mut factors,
                &mut negate,
            );
            Ok(Recipe::Chain(Chain {
                scalars,
                negate,
                product: order_product(graph, factors, size),
            }))
        }
        Node::Add(a, b) => match (unshared_neg(b), unshared_neg(a)) {
            (Some(c), _) => Ok(Recipe::Sub(a, c)),
            (None, Some(c)) => Ok(Recipe::Sub(b, c)),
            (None, None) => Ok(Recipe::Direct),
        },
        Node::DifferentialOf(_) => Err(unsupported(
            id,
            "an unexpanded differential has no value — differentiate it first",
        )),
        Node::Pow(a, b) if !graph.shape(a).is_scalar() => match graph.node(b) {
            Node::Const(r) if r.value().fract() == 0.0 && r.value().abs() <= 1e9 => {
                Ok(Recipe::MatPow(a, r.value() as i64))
            }
            _ => Err(unsupported(
                id,
                "a matrix power needs a constant integer exponent",
            )),
        },
        _ => Ok(Recipe::Direct),
    }
}

/// The nodes a recipe reads.
fn operands(graph: &Graph, id: Id, recipe: &Recipe) -> Vec<Id> {
    match recipe {
        Recipe::Direct => graph.node(id).children().collect(),
        Recipe::Sub(a, b) => vec![*a, *b],
        Recipe::MatPow(a, _) => vec![*a],
        Recipe::Chain(chain) => {
            let mut out = chain.scalars.clone();
            if let Some(p) = &chain.product {
                product_operands(p, &mut out);
            }
            out
        }
    }
}

fn product_operands(p: &Product, out: &mut Vec<Id>) {
    match p {
        Product::Factor { id, .. } | Product::Inverse(id) => out.push(*id),
        Product::Mul { lhs, rhs, .. } => {
            product_operands(lhs, out);
            product_operands(rhs, out);
        }
        Product::Solve { a, rhs } => {
            out.push(*a);
            product_operands(rhs, out);
        }
    }
}

/// Flattens the product `id` into scalar and matrix factors, as the plan does:
/// unshared products, negations and scalings are absorbed, transposes become
/// transposed reads and `inv(A)` an inverse factor.
fn collect(
    graph: &Graph,
    uses: &[u32],
    id: Id,
    top: bool,
    scalars: &mut Vec<Id>,
    factors: &mut Vec<Factor>,
    negate: &mut bool,
) {
    let is_scalar = |x: Id| graph.shape(x).is_scalar();
    let unshared = top || uses[id.index()] == 1;
    match graph.node(id) {
        Node::Mul(a, b)
            if top || (unshared && (!is_scalar(id) || (is_scalar(a) && is_scalar(b)))) =>
        {
            collect(graph, uses, a, false, scalars, factors, negate);
            collect(graph, uses, b, false, scalars, factors, negate);
        }
        Node::Neg(a) if !top && uses[id.index()] == 1 => {
            *negate = !*negate;
            collect(graph, uses, a, false, scalars, factors, negate);
        }
        _ if is_scalar(id) => scalars.push(id),
        Node::Transpose(a) if !is_scalar(a) => factors.push(Factor {
            id: a,
            transposed: true,
            inverse: false,
        }),
        Node::Apply(Func::Inv, a) => factors.push(Factor {
            id: a,
            transposed: false,
            inverse: true,
        }),
        _ => factors.push(Factor {
            id,
            transposed: false,
            inverse: false,
        }),
    }
}

/// The size assumed for `d` when sizes are not known.
pub fn estimate(d: Dim) -> u64 {
    match d {
        Dim::Size(n) => n,
        Dim::Named(_) => NAMED_DIM_ESTIMATE,
    }
}

/// Orders a chain: solves right to left at each inverse factor (an inverse at the end
/// is formed), and the cheapest order by estimated multiply-adds between them.
fn order_product(
    graph: &Graph,
    factors: Vec<Factor>,
    size: &dyn Fn(Dim) -> u64,
) -> Option<Product> {
    let mut ops: Vec<(Product, bool)> = factors
        .into_iter()
        .map(|f| {
            let p = if f.inverse {
                Product::Factor {
                    id: f.id,
                    transposed: false,
                }
            } else {
                Product::Factor {
                    id: f.id,
                    transposed: f.transposed,
                }
            };
            (p, f.inverse)
        })
        .collect();
    while let Some(j) = ops.iter().rposition(|o| o.1) {
        let Product::Factor { id: a, .. } = ops[j].0 else {
            unreachable!("inverse factors are plain factors")
        };
        if j + 1 == ops.len() {
            ops[j] = (Product::Inverse(a), false);
            continue;
        }
        let right: Vec<Product> = ops.drain(j + 1..).map(|o| o.0).collect();
        let rhs = cheapest(graph, right, size);
        ops[j] = (
            Product::Solve {
                a,
                rhs: Box::new(rhs),
            },
            false,
        );
    }
    if ops.is_empty() {
        return None;
    }
    Some(cheapest(
        graph,
        ops.into_iter().map(|o| o.0).collect(),
        size,
    ))
}

/// Multiplies `ops` in the order that is cheapest for the estimated sizes.
fn cheapest(graph: &Graph, ops: Vec<Product>, size: &dyn Fn(Dim) -> u64) -> Product {
    let n = ops.len();
    let shapes: Vec<Shape> = ops.iter().map(|p| p.shape(graph)).collect();
    // Factor i is p[i] × p[i + 1].
    let mut p: Vec<u64> = shapes.iter().map(|s| size(s.rows)).collect();
    p.push(size(shapes[n - 1].cols));
    let mut cost = vec![vec![0u64; n]; n];
    let mut split = vec![vec![0usize; n]; n];
    for len in 2..=n {
        for i in 0..=n - len {
            let j = i + len - 1;
            cost[i][j] = u64::MAX;
            // Where every order's cost saturates (sizes near u64::MAX), any split
            // is as good; this one keeps the split inside [i, j).
            split[i][j] = i;
            for k in i..j {
                let c = cost[i][k]
                    .saturating_add(cost[k + 1][j])
                    .saturating_add(p[i].saturating_mul(p[k + 1]).saturating_mul(p[j + 1]));
                if c < cost[i][j] {
                    cost[i][j] = c;
                    split[i][j] = k;
                }
            }
        }
    }
    let mut slots: Vec<Option<Product>> = ops.into_iter().map(Some).collect();
    build(&mut slots, &shapes, &split, 0, n - 1)
}

fn build(
    slots: &mut [Option<Product>],
    shapes: &[Shape],
    split: &[Vec<usize>],
    i: usize,
    j: usize,
) -> Product {
    if i == j {
        return slots[i].take().expect("each factor is used once");
    }
    let k = split[i][j];
    let lhs = build(slots, shapes, split, i, k);
    let rhs = build(slots, shapes, split, k + 1, j);
    Product::Mul {
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
        shape: Shape::new(shapes[i].rows, shapes[j].cols),
    }
}
