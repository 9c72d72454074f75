//! The intermediate representation: a hash-consed arena of nodes.
//!
//! Children always come before their parents, so iterating ids in increasing order
//! is a topological order. Equal subexpressions get the same [`Id`], which makes
//! equality O(1), lets derivatives share structure with the function, and gives
//! common-subexpression elimination for free when evaluating or generating code.
//! Every node carries its shape, computed when it is added.

use std::collections::HashMap;
use std::fmt;

/// The index of a node in a [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub u32);

impl Id {
    /// The position in the arena.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// An interned name (variable or dimension).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(pub u32);

/// Interned strings; ids are handed out in first-seen order.
#[derive(Clone, Debug, Default)]
pub struct Interner {
    names: Vec<String>,
    index: HashMap<String, Sym>,
}

impl Interner {
    /// The symbol for `name`, interning it on first use.
    pub fn intern(&mut self, name: &str) -> Sym {
        if let Some(&s) = self.index.get(name) {
            return s;
        }
        let s = Sym(self.names.len() as u32);
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), s);
        s
    }

    /// The symbol for `name` if it was interned.
    pub fn get(&self, name: &str) -> Option<Sym> {
        self.index.get(name).copied()
    }

    /// The text of a symbol.
    pub fn name(&self, sym: Sym) -> &str {
        &self.names[sym.0 as usize]
    }
}

/// One dimension of a shape: a fixed size or a named size bound from the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Size(u64),
    Named(Sym),
}

impl Dim {
    /// The dimension 1.
    pub const ONE: Dim = Dim::Size(1);
}

/// A dimension that is a product of others: the rows of `kron(A, B)` (m p for A m × n
/// and B p × q), the length of `vec(X)`. A constant factor and the named factors,
/// sorted by name, so that `m*p` and `p*m` are one dimension.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DimProduct {
    /// The product of the fixed sizes among the factors.
    pub size: u64,
    /// The named factors, sorted by name, repeated as often as they occur.
    pub names: Vec<Sym>,
}

/// Rows × columns. Scalars are 1 × 1, vectors are columns n × 1, row vectors 1 × n.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shape {
    pub rows: Dim,
    pub cols: Dim,
}

impl Shape {
    /// The shape of a scalar.
    pub const SCALAR: Shape = Shape {
        rows: Dim::ONE,
        cols: Dim::ONE,
    };

    /// `rows × cols`.
    pub fn new(rows: Dim, cols: Dim) -> Shape {
        Shape { rows, cols }
    }

    /// A column vector of length `n`.
    pub fn vector(n: Dim) -> Shape {
        Shape {
            rows: n,
            cols: Dim::ONE,
        }
    }

    /// 1 × 1.
    pub fn is_scalar(self) -> bool {
        self == Shape::SCALAR
    }

    /// n × 1 with n not 1.
    pub fn is_column(self) -> bool {
        self.cols == Dim::ONE && self.rows != Dim::ONE
    }

    /// 1 × n with n not 1.
    pub fn is_row(self) -> bool {
        self.rows == Dim::ONE && self.cols != Dim::ONE
    }

    /// rows = cols.
    pub fn is_square(self) -> bool {
        self.rows == self.cols
    }

    /// The transposed shape.
    pub fn transposed(self) -> Shape {
        Shape {
            rows: self.cols,
            cols: self.rows,
        }
    }
}

/// What a variable is declared (or inferred) to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Scalar,
    Vector,
    Matrix,
    /// A symmetric matrix: `S' = S`; its gradient is symmetrised.
    Symmetric,
    /// A symmetric positive definite matrix.
    Spd,
}

impl Kind {
    /// Symmetric or spd.
    pub fn is_symmetric(self) -> bool {
        matches!(self, Kind::Symmetric | Kind::Spd)
    }

    /// The declaration keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Kind::Scalar => "scalar",
            Kind::Vector => "vector",
            Kind::Matrix => "matrix",
            Kind::Symmetric => "symmetric",
            Kind::Spd => "spd",
        }
    }
}

/// A variable of the function: its name, kind and shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variable {
    pub name: Sym,
    pub kind: Kind,
    pub shape: Shape,
}

/// An `f64` constant stored by its bits so that nodes can be hashed; `-0.0` is
/// stored as `0.0` and every NaN as one NaN.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Real(u64);

impl Real {
    /// Wraps a value.
    pub fn new(v: f64) -> Real {
        let v = if v == 0.0 {
            0.0
        } else if v.is_nan() {
            f64::NAN
        } else {
            v
        };
        Real(v.to_bits())
    }

    /// The value.
    pub fn value(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl fmt::Debug for Real {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value())
    }
}

/// Built-in functions of one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Func {
    /// Trace of a square matrix.
    Tr,
    /// Determinant of a square matrix.
    Det,
    /// Log-determinant of a square matrix (its determinant must be positive).
    Logdet,
    /// Inverse of a square matrix.
    Inv,
    /// Vector → diagonal matrix, or square matrix → vector of its diagonal.
    Diag,
    /// Sum of all entries.
    Sum,
    /// Sum of absolute values of all entries.
    Norm1,
    /// Euclidean / Frobenius norm.
    Norm2,
    /// `log(sum(exp(x)))`, max-shifted when evaluated.
    Logsumexp,
    /// `exp(x) / sum(exp(x))` of a vector.
    Softmax,
    Exp,
    Log,
    Sin,
    Cos,
    Tan,
    Tanh,
    /// Inverse sine (`arcsin`, also written `asin`).
    Arcsin,
    /// Inverse cosine (`arccos`, also written `acos`).
    Arccos,
    /// Inverse tangent (`arctan`, also written `atan`).
    Arctan,
    Sinh,
    Cosh,
    /// `log(1 + x)`, exact for small x.
    Log1p,
    Sqrt,
    Abs,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `log(1 + exp(x))`.
    Softplus,
    /// `max(x, 0)`.
    Relu,
    /// The sign of each entry (−1, 0, 1): the derivative of `abs`.
    Sign,
    /// 1 where the entry is positive, else 0: the derivative of `relu`.
    Step,
    /// `logsumexp` of each column of a matrix: a row vector, one entry per column.
    LogsumexpCols,
    /// `softmax` of each column of a matrix on its own: each column sums to 1.
    SoftmaxCols,
    /// The columns of a matrix stacked into one column vector.
    Vec,
}

impl Func {
    /// Every function, in a fixed order.
    pub const ALL: [Func; 32] = [
        Func::Tr,
        Func::Det,
        Func::Logdet,
        Func::Inv,
        Func::Diag,
        Func::Sum,
        Func::Norm1,
        Func::Norm2,
        Func::Logsumexp,
        Func::Softmax,
        Func::Exp,
        Func::Log,
        Func::Sin,
        Func::Cos,
        Func::Tan,
        Func::Tanh,
        Func::Arcsin,
        Func::Arccos,
        Func::Arctan,
        Func::Sinh,
        Func::Cosh,
        Func::Log1p,
        Func::Sqrt,
        Func::Abs,
        Func::Sigmoid,
        Func::Softplus,
        Func::Relu,
        Func::Sign,
        Func::Step,
        Func::LogsumexpCols,
        Func::SoftmaxCols,
        Func::Vec,
    ];

    /// The name in the language.
    pub fn name(self) -> &'static str {
        match self {
            Func::Tr => "tr",
            Func::Det => "det",
            Func::Logdet => "logdet",
            Func::Inv => "inv",
            Func::Diag => "diag",
            Func::Sum => "sum",
            Func::Norm1 => "norm1",
            Func::Norm2 => "norm2",
            Func::Logsumexp => "logsumexp",
            Func::Softmax => "softmax",
            Func::LogsumexpCols => "logsumexp_cols",
            Func::SoftmaxCols => "softmax_cols",
            Func::Vec => "vec",
            Func::Exp => "exp",
            Func::Log => "log",
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Tan => "tan",
            Func::Tanh => "tanh",
            Func::Arcsin => "arcsin",
            Func::Arccos => "arccos",
            Func::Arctan => "arctan",
            Func::Sinh => "sinh",
            Func::Cosh => "cosh",
            Func::Log1p => "log1p",
            Func::Sqrt => "sqrt",
            Func::Abs => "abs",
            Func::Sigmoid => "sigmoid",
            Func::Softplus => "softplus",
            Func::Relu => "relu",
            Func::Sign => "sign",
            Func::Step => "step",
        }
    }

    /// The function with this name, or with one of its other spellings
    /// (`asin acos atan` for `arcsin arccos arctan`, `trace` for `tr`).
    pub fn from_name(name: &str) -> Option<Func> {
        let name = match name {
            "asin" => "arcsin",
            "acos" => "arccos",
            "atan" => "arctan",
            "trace" => "tr",
            other => other,
        };
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Applied entry by entry (`exp`, `log`, …, `sign`, `step`).
    pub fn is_elementwise(self) -> bool {
        !matches!(
            self,
            Func::Tr
                | Func::Det
                | Func::Logdet
                | Func::Inv
                | Func::Diag
                | Func::Sum
                | Func::Norm1
                | Func::Norm2
                | Func::Logsumexp
                | Func::Softmax
                | Func::LogsumexpCols
                | Func::SoftmaxCols
                | Func::Vec
        )
    }

    /// Returns a scalar (`tr det logdet sum norm1 norm2 logsumexp`).
    pub fn is_reduction(self) -> bool {
        matches!(
            self,
            Func::Tr
                | Func::Det
                | Func::Logdet
                | Func::Sum
                | Func::Norm1
                | Func::Norm2
                | Func::Logsumexp
        )
    }
}

/// One node of the IR. Children are [`Id`]s of earlier nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    /// A scalar constant.
    Const(Real),
    /// A variable (declared or inferred); its shape is in the graph's variable table.
    Var(Sym),
    /// A dimension name used as a scalar (`N` in `1/N`).
    DimValue(Sym),
    /// The identity matrix of size n.
    Eye(Dim),
    /// The column vector of ones of length n.
    Ones(Dim),
    /// The zero matrix of a shape (a differential that vanishes).
    Zeros(Shape),
    /// `a + b`; a scalar operand is broadcast.
    Add(Id, Id),
    /// `-a`.
    Neg(Id),
    /// `a * b`: matrix product, or scaling when either side is a scalar.
    Mul(Id, Id),
    /// `a / b` with `b` scalar.
    Div(Id, Id),
    /// `a ^ b`: scalar power, or integer power (a constant) of a square matrix.
    Pow(Id, Id),
    /// `a .* b`; a scalar operand is broadcast.
    ElemMul(Id, Id),
    /// `a ./ b`; a scalar operand is broadcast.
    ElemDiv(Id, Id),
    /// `a .^ b`; a scalar operand is broadcast.
    ElemPow(Id, Id),
    /// `a'`.
    Transpose(Id),
    /// `<a, b>` = `tr(a' * b)`.
    Inner(Id, Id),
    /// `f(a)` for a built-in function.
    Apply(Func, Id),
    /// `kron(a, b)`: the Kronecker product, block (i, j) is `a[i, j] * b`.
    Kron(Id, Id),
    /// The differential `dX` of a variable: the direction in differential forms.
    Differential(Sym),
    /// `d(e)`: the differential of a subexpression not yet expanded by the rules.
    /// It appears only in the intermediate lines of a derivation.
    DifferentialOf(Id),
}

impl Node {
    /// The same node with every child `c` replaced by `f(c)`.
    pub fn map_children(self, mut f: impl FnMut(Id) -> Id) -> Node {
        match self {
            Node::Add(a, b) => Node::Add(f(a), f(b)),
            Node::Neg(a) => Node::Neg(f(a)),
            Node::Mul(a, b) => Node::Mul(f(a), f(b)),
            Node::Div(a, b) => Node::Div(f(a), f(b)),
            Node::Pow(a, b) => Node::Pow(f(a), f(b)),
            Node::ElemMul(a, b) => Node::ElemMul(f(a), f(b)),
            Node::ElemDiv(a, b) => Node::ElemDiv(f(a), f(b)),
            Node::ElemPow(a, b) => Node::ElemPow(f(a), f(b)),
            Node::Transpose(a) => Node::Transpose(f(a)),
            Node::Inner(a, b) => Node::Inner(f(a), f(b)),
            Node::Kron(a, b) => Node::Kron(f(a), f(b)),
            Node::Apply(func, a) => Node::Apply(func, f(a)),
            Node::DifferentialOf(a) => Node::DifferentialOf(f(a)),
            leaf @ (Node::Const(_)
            | Node::Var(_)
            | Node::DimValue(_)
            | Node::Eye(_)
            | Node::Ones(_)
            | Node::Zeros(_)
            | Node::Differential(_)) => leaf,
        }
    }

    /// The children, in order.
    pub fn children(&self) -> Children {
        match *self {
            Node::Const(_)
            | Node::Var(_)
            | Node::DimValue(_)
            | Node::Eye(_)
            | Node::Ones(_)
            | Node::Zeros(_)
            | Node::Differential(_) => Children::none(),
            Node::Neg(a) | Node::Transpose(a) | Node::Apply(_, a) | Node::DifferentialOf(a) => {
                Children::one(a)
            }
            Node::Add(a, b)
            | Node::Mul(a, b)
            | Node::Div(a, b)
            | Node::Pow(a, b)
            | Node::ElemMul(a, b)
            | Node::ElemDiv(a, b)
            | Node::ElemPow(a, b)
            | Node::Inner(a, b)
            | Node::Kron(a, b) => Children::two(a, b),
        }
    }
}

/// Up to two children, iterable without allocating.
#[derive(Clone, Copy, Debug)]
pub struct Children {
    ids: [Id; 2],
    len: u8,
    pos: u8,
}

impl Children {
    fn none() -> Children {
        Children {
            ids: [Id(0); 2],
            len: 0,
            pos: 0,
        }
    }
    fn one(a: Id) -> Children {
        Children {
            ids: [a, Id(0)],
            len: 1,
            pos: 0,
        }
    }
    fn two(a: Id, b: Id) -> Children {
        Children {
            ids: [a, b],
            len: 2,
            pos: 0,
        }
    }
}

impl Iterator for Children {
    type Item = Id;
    fn next(&mut self) -> Option<Id> {
        if self.pos < self.len {
            self.pos += 1;
            Some(self.ids[self.pos as usize - 1])
        } else {
            None
        }
    }
}

/// The most nodes one graph may hold. Hash-consing keeps a derivative's graph far
/// smaller than its printed tree, but a few short expressions still have derivatives
/// whose graphs grow without end (the Hessian of `sin(sin(…a…))` nested hundreds
/// deep); past this many nodes the work is abandoned (see [`within_node_budget`]).
pub const NODE_BUDGET: usize = 2_000_000;

/// The payload of a graph that grew past [`NODE_BUDGET`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeBudgetExceeded {
    /// The budget that was reached.
    pub limit: usize,
}

/// Runs `work`, which adds nodes to graphs; `Err` when a graph grew past
/// [`NODE_BUDGET`] on the way. The graph is left consistent (every node it holds is
/// whole) but holds the unfinished work's nodes.
///
/// Reaching the budget unwinds out of [`Graph::add`] to here without the panic hook
/// (no message is printed); any other panic goes on unwinding.
pub fn within_node_budget<T>(work: impl FnOnce() -> T) -> Result<T, NodeBudgetExceeded> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(value) => Ok(value),
        Err(payload) => match payload.downcast::<NodeBudgetExceeded>() {
            Ok(exceeded) => Err(*exceeded),
            Err(other) => std::panic::resume_unwind(other),
        },
    }
}

/// A graph's node budget: [`NODE_BUDGET`] unless set otherwise.
#[derive(Clone, Copy, Debug)]
struct NodeLimit(usize);

impl Default for NodeLimit {
    fn default() -> NodeLimit {
        NodeLimit(NODE_BUDGET)
    }
}

/// The arena: nodes with their shapes, the symbol table, the variables and the
/// dimension names. One graph holds a function and everything derived from it.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    node_limit: NodeLimit,
    nodes: Vec<Node>,
    shapes: Vec<Shape>,
    index: HashMap<Node, Id>,
    /// Names of variables and dimensions.
    pub symbols: Interner,
    variables: Vec<Variable>,
    /// Where each variable is in `variables`: declarations take constant time each.
    variable_index: HashMap<Sym, usize>,
    dims: Vec<Sym>,
    dim_set: std::collections::HashSet<Sym>,
    /// Dimensions that are products of others, by the symbol that names them.
    products: Vec<(Sym, DimProduct)>,
    product_index: HashMap<Sym, usize>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Declares a variable (or redeclares it with a new kind and shape).
    pub fn declare(&mut self, name: &str, kind: Kind, shape: Shape) -> Sym {
        let sym = self.symbols.intern(name);
        let v = Variable {
            name: sym,
            kind,
            shape,
        };
        match self.variable_index.get(&sym) {
            Some(&k) => self.variables[k] = v,
            None => {
                self.variable_index.insert(sym, self.variables.len());
                self.variables.push(v);
            }
        }
        sym
    }

    /// Registers a dimension name (usable as a scalar and bound from the data).
    pub fn declare_dim(&mut self, name: &str) -> Sym {
        let sym = self.symbols.intern(name);
        if self.dim_set.insert(sym) {
            self.dims.push(sym);
        }
        sym
    }

    /// The dimension `a b`: a fixed size when both are, else a named product (`m*p`)
    /// whose size is the product of its factors' sizes once they are bound.
    pub fn dim_product(&mut self, a: Dim, b: Dim) -> Dim {
        let (ka, na) = self.dim_factors(a);
        let (kb, nb) = self.dim_factors(b);
        let size = ka.saturating_mul(kb);
        let mut names: Vec<Sym> = na.into_iter().chain(nb).collect();
        names.sort_by(|x, y| self.symbols.name(*x).cmp(self.symbols.name(*y)));
        match (size, names.as_slice()) {
            (_, []) => Dim::Size(size),
            (1, [only]) => Dim::Named(*only),
            _ => {
                let mut text: Vec<String> = Vec::new();
                if size != 1 {
                    text.push(size.to_string());
                }
                text.extend(names.iter().map(|s| self.symbols.name(*s).to_string()));
                let sym = self.symbols.intern(&text.join("*"));
                if !self.product_index.contains_key(&sym) {
                    self.product_index.insert(sym, self.products.len());
                    self.products.push((sym, DimProduct { size, names }));
                }
                Dim::Named(sym)
            }
        }
    }

    /// The constant factor and named factors of a dimension.
    fn dim_factors(&self, d: Dim) -> (u64, Vec<Sym>) {
        match d {
            Dim::Size(k) => (k, Vec::new()),
            Dim::Named(s) => match self.dim_product_of(s) {
                Some(p) => (p.size, p.names.clone()),
                None => (1, vec![s]),
            },
        }
    }

    /// The factors of a product dimension; `None` for a plain dimension name.
    pub fn dim_product_of(&self, s: Sym) -> Option<&DimProduct> {
        self.product_index.get(&s).map(|&k| &self.products[k].1)
    }

    /// Every product dimension, in first-use order.
    pub fn dim_products(&self) -> &[(Sym, DimProduct)] {
        &self.products
    }

    /// The variables, in declaration / first-use order.
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    /// The variable named `sym`.
    pub fn variable(&self, sym: Sym) -> Option<&Variable> {
        self.variable_index.get(&sym).map(|&k| &self.variables[k])
    }

    /// The variable with this name.
    pub fn variable_named(&self, name: &str) -> Option<&Variable> {
        self.symbols.get(name).and_then(|s| self.variable(s))
    }

    /// The dimension names, in first-use order.
    pub fn dims(&self) -> &[Sym] {
        &self.dims
    }

    /// The text of a symbol.
    pub fn name(&self, sym: Sym) -> &str {
        self.symbols.name(sym)
    }

    /// Adds a node (or finds the equal one) and returns its id. Its shape is
    /// computed from its children; shapes must already have been checked (by
    /// [`crate::shape`] for user input, by construction for derived expressions).
    pub fn add(&mut self, node: Node) -> Id {
        if let Some(&id) = self.index.get(&node) {
            return id;
        }
        if self.nodes.len() >= self.node_limit.0 {
            std::panic::resume_unwind(Box::new(NodeBudgetExceeded {
                limit: self.node_limit.0,
            }));
        }
        let shape = self.shape_of_new(&node);
        let id = Id(self.nodes.len() as u32);
        self.nodes.push(node);
        self.shapes.push(shape);
        self.index.insert(node, id);
        id
    }

    /// The node with this id.
    pub fn node(&self, id: Id) -> Node {
        self.nodes[id.index()]
    }

    /// The shape of a node.
    pub fn shape(&self, id: Id) -> Shape {
        self.shapes[id.index()]
    }

    /// Sets the most nodes this graph may hold (default [`NODE_BUDGET`]); adding a
    /// node past it unwinds to [`within_node_budget`].
    pub fn set_node_budget(&mut self, limit: usize) {
        self.node_limit = NodeLimit(limit);
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// No nodes yet.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The id of an existing equal node, if any.
    pub fn find(&self, node: &Node) -> Option<Id> {
        self.index.get(node).copied()
    }

    /// The ids reachable from `roots`, children before parents (increasing id).
    pub fn reachable(&self, roots: &[Id]) -> Vec<Id> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<Id> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if seen[id.index()] {
                continue;
            }
            seen[id.index()] = true;
            stack.extend(self.nodes[id.index()].children());
        }
        (0..self.nodes.len() as u32)
            .map(Id)
            .filter(|id| seen[id.index()])
            .collect()
    }

    /// Whether the subexpression `id` mentions the variable `var`.
    pub fn depends_on(&self, id: Id, var: Sym) -> bool {
        self.reachable(&[id])
            .into_iter()
            .any(|n| matches!(self.node(n), Node::Var(s) | Node::Differential(s) if s == var))
    }

    fn shape_of_new(&mut self, node: &Node) -> Shape {
        let s = |id: Id| self.shapes[id.index()];
        // The non-scalar operand of a broadcasting operation decides the shape.
        let broadcast = |a: Id, b: Id| if s(a).is_scalar() { s(b) } else { s(a) };
        match *node {
            Node::Const(_) | Node::DimValue(_) | Node::Inner(_, _) => Shape::SCALAR,
            Node::Var(sym) | Node::Differential(sym) => {
                self.variable(sym).map(|v| v.shape).unwrap_or(Shape::SCALAR)
            }
            Node::Eye(n) => Shape::new(n, n),
            Node::Ones(n) => Shape::vector(n),
            Node::Zeros(shape) => shape,
            Node::Add(a, b) | Node::ElemMul(a, b) | Node::ElemDiv(a, b) | Node::ElemPow(a, b) => {
                broadcast(a, b)
            }
            Node::Neg(a) | Node::Div(a, _) | Node::Pow(a, _) | Node::DifferentialOf(a) => s(a),
            Node::Mul(a, b) => {
                if s(a).is_scalar() {
                    s(b)
                } else if s(b).is_scalar() {
                    s(a)
                } else {
                    Shape::new(s(a).rows, s(b).cols)
                }
            }
            Node::Transpose(a) => s(a).transposed(),
            Node::Kron(a, b) => {
                let (sa, sb) = (s(a), s(b));
                let rows = self.dim_product(sa.rows, sb.rows);
                let cols = self.dim_product(sa.cols, sb.cols);
                Shape::new(rows, cols)
            }
            Node::Apply(f, a) => match f {
                _ if f.is_reduction() => Shape::SCALAR,
                Func::LogsumexpCols => Shape::new(Dim::ONE, s(a).cols),
                Func::Vec => {
                    let sa = s(a);
                    Shape::vector(self.dim_product(sa.rows, sa.cols))
                }
                Func::Diag => {
                    let sa = s(a);
                    if sa.cols == Dim::ONE {
                        Shape::new(sa.rows, sa.rows)
                    } else {
                        Shape::vector(sa.rows)
                    }
                }
                _ => s(a),
            },
        }
    }
}

/// A scalar, vector or matrix function of named variables: the graph and its root.
#[derive(Clone, Debug)]
pub struct Function {
    pub graph: Graph,
    pub root: Id,
}
