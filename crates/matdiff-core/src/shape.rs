//! Kinds and shapes: inference over the AST, with symbolic dimensions unified like
//! types.
//!
//! Every expression gets a type `rows × cols` whose dimensions are unification
//! variables. A dimension is either bound (a declared name such as `N`, or a fixed
//! size such as `3`) or free. Free dimensions come from declarations that leave them
//! out (`x: vector`), from undeclared names and from `eye`/`ones` without a size;
//! they are never 1, so an undeclared vector never silently becomes a scalar.
//! After solving, free dimensions get fresh readable names (`n`, `m`, `k`, …).
//!
//! Errors are [`Diagnostic`]s: the primary span is the offending operator or call,
//! secondary labels name the shapes of the operands, and notes say what to change.

use std::collections::{BTreeMap, BTreeSet};

use matdiff_syntax::{BinOp, Decl, DeclKind, Diagnostic, DimSpec, Expr, ExprKind, Program, Span};

use crate::ir::{Dim, Func, Graph, Kind, Shape};

/// Names that are scalars when undeclared.
pub const GREEK: [&str; 12] = [
    "alpha", "beta", "gamma", "delta", "eps", "eta", "lambda", "mu", "nu", "rho", "sigma", "tau",
];

/// The kind an undeclared name gets from the naming defaults: a single upper-case
/// letter (optionally followed by digits or `_…`) is a matrix, a Greek-letter name is
/// a scalar, any other name is a vector (names starting with an upper-case letter,
/// such as `Xt`, are matrices too).
pub fn default_kind(name: &str) -> Kind {
    if GREEK.contains(&name) {
        Kind::Scalar
    } else if name.chars().next().is_some_and(|c| c.is_uppercase()) {
        Kind::Matrix
    } else {
        Kind::Vector
    }
}

/// What a name in the expression stands for after inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A variable of the function.
    Variable,
    /// A dimension name used as a scalar.
    Dimension,
}

/// The result of inference: a graph in which every variable and dimension name is
/// declared (in declaration order, then first use), plus what lowering needs to know
/// about the names and the implicit sizes of the expression.
#[derive(Clone, Debug)]
pub struct Typing {
    /// Variables and dimension names, declared; no nodes yet.
    pub graph: Graph,
    roles: BTreeMap<String, Role>,
    sizes: BTreeMap<Span, Dim>,
}

impl Typing {
    /// What `name` stands for in the expression.
    pub fn role(&self, name: &str) -> Option<Role> {
        self.roles.get(name).copied()
    }

    /// The inferred size of the `eye` or `ones` written at `span`.
    pub fn size_at(&self, span: Span) -> Option<Dim> {
        self.sizes.get(&span).copied()
    }
}

/// The source texts by [`matdiff_syntax::SourceId`], when known. They let
/// diagnostics point at the operator itself rather than the gap between operands,
/// and tell a literal `-2` from `-(2)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Texts<'a>(pub &'a [&'a str]);

impl Texts<'_> {
    fn slice(&self, span: Span) -> Option<&str> {
        self.0
            .get(span.source.0 as usize)
            .and_then(|t| t.get(span.range()))
    }

    /// The span of the operator of a binary expression: the gap between the
    /// operands without blanks and parentheses.
    pub fn operator_span(&self, lhs: Span, rhs: Span) -> Span {
        let gap = Span {
            source: lhs.source,
            start: lhs.end.min(rhs.start),
            end: rhs.start.max(lhs.end),
        };
        let Some(text) = self.slice(gap) else {
            return gap;
        };
        let trim_left = text.len() - text.trim_start_matches([' ', '\t', '\n', '\r', ')']).len();
        let rest = &text[trim_left..];
        let inner = rest.trim_end_matches([' ', '\t', '\n', '\r', '(']);
        if inner.is_empty() {
            return gap;
        }
        Span {
            source: gap.source,
            start: gap.start + trim_left as u32,
            end: gap.start + (trim_left + inner.len()) as u32,
        }
    }

    /// The value of a numeric literal, folding a minus written directly before it
    /// (`-2` is the constant −2, while `-(2)` and `- 2` negate the constant 2).
    pub fn literal(&self, expr: &Expr) -> Option<f64> {
        match &expr.kind {
            ExprKind::Number(v) => Some(*v),
            ExprKind::Neg(inner) => match inner.kind {
                ExprKind::Number(v) => {
                    let gap = Span {
                        source: expr.span.source,
                        start: expr.span.start,
                        end: inner.span.start.max(expr.span.start),
                    };
                    let folded = match (self.slice(gap), self.slice(inner.span)) {
                        (Some(minus), Some(number)) => {
                            // The span of a parenthesised `(-2)` includes the `(`.
                            matches!(minus.trim_start_matches(['(', ' ']), "-" | "−")
                                && number.starts_with(|c: char| c.is_ascii_digit() || c == '.')
                        }
                        _ => matches!(gap.end - gap.start, 1 | 3),
                    };
                    folded.then_some(-v)
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// Infers the kinds and shapes of a program. `texts` are the source texts by
/// source id (may be empty).
pub fn infer(program: &Program, texts: Texts<'_>) -> Result<Typing, Vec<Diagnostic>> {
    let mut cx = Infer::new(texts);
    cx.declare(&program.decls);
    cx.collect_names(program);
    match &program.expr {
        Some(expr) => {
            cx.expr(expr);
        }
        None => cx.errors.push(Diagnostic::error(
            "expected an expression after the declarations",
            program.decls.last().map(|d| d.span).unwrap_or_default(),
            "the declarations end here",
        )),
    }
    if cx.errors.is_empty() {
        Ok(cx.finish())
    } else {
        Err(cx.errors)
    }
}

/// A dimension unification variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct DimVar(u32);

/// The size 1 (the columns of vectors, both sides of scalars).
const ONE: DimVar = DimVar(0);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Binding {
    Free,
    Named(String),
    Size(u64),
    /// The product of other dimensions (the rows of `kron(A, B)`, the length of
    /// `vec(X)`).
    Product(Vec<DimVar>),
}

/// A solved dimension: a size, a name (declared or invented), or a product of them.
enum Resolved {
    Size(u64),
    Name(String),
    Product(Vec<Resolved>),
}

/// The type of an expression; `Err` after an error, so that one mistake is
/// reported once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Err,
    Arr(DimVar, DimVar),
}

const SCALAR: Ty = Ty::Arr(ONE, ONE);

struct VarInfo {
    name: String,
    kind: Kind,
    rows: DimVar,
    cols: DimVar,
    /// The declaration's span, or `None` when the kind came from the naming defaults.
    decl: Option<Span>,
}

struct Infer<'a> {
    texts: Texts<'a>,
    parent: Vec<u32>,
    binding: Vec<Binding>,
    /// Display names given to free dimensions (in error messages, then at the end).
    invented: BTreeMap<u32, String>,
    taken: BTreeSet<String>,
    next_fresh: usize,
    named: BTreeMap<String, DimVar>,
    sizes: BTreeMap<u64, DimVar>,
    /// Dimension names in first-appearance order.
    dim_names: Vec<String>,
    /// The names in `dim_names`, for a check in constant time.
    dim_name_set: BTreeSet<String>,
    vars: Vec<VarInfo>,
    var_index: BTreeMap<String, usize>,
    implicit: Vec<(Span, DimVar)>,
    errors: Vec<Diagnostic>,
}

impl<'a> Infer<'a> {
    fn new(texts: Texts<'a>) -> Infer<'a> {
        let mut cx = Infer {
            texts,
            parent: Vec::new(),
            binding: Vec::new(),
            invented: BTreeMap::new(),
            taken: BTreeSet::new(),
            next_fresh: 0,
            named: BTreeMap::new(),
            sizes: BTreeMap::new(),
            dim_names: Vec::new(),
            dim_name_set: BTreeSet::new(),
            vars: Vec::new(),
            var_index: BTreeMap::new(),
            implicit: Vec::new(),
            errors: Vec::new(),
        };
        let one = cx.size(1);
        debug_assert_eq!(one, ONE);
        cx
    }

    // ---- dimensions ----------------------------------------------------------

    fn new_dim(&mut self, binding: Binding) -> DimVar {
        let v = DimVar(self.parent.len() as u32);
        self.parent.push(v.0);
        self.binding.push(binding);
        v
    }

    fn fresh(&mut self) -> DimVar {
        self.new_dim(Binding::Free)
    }

    fn size(&mut self, n: u64) -> DimVar {
        if let Some(&v) = self.sizes.get(&n) {
            return v;
        }
        let v = self.new_dim(Binding::Size(n));
        self.sizes.insert(n, v);
        v
    }

    fn named_dim(&mut self, name: &str) -> DimVar {
        if let Some(&v) = self.named.get(name) {
            return v;
        }
        let v = self.new_dim(Binding::Named(name.to_string()));
        self.named.insert(name.to_string(), v);
        self.add_dim_name(name);
        v
    }

    /// Records a dimension name in first-appearance order, once.
    fn add_dim_name(&mut self, name: &str) {
        if self.dim_name_set.insert(name.to_string()) {
            self.dim_names.push(name.to_string());
        }
    }

    fn find(&mut self, v: DimVar) -> DimVar {
        let mut root = v.0;
        while self.parent[root as usize] != root {
            root = self.parent[root as usize];
        }
        let mut cur = v.0;
        while self.parent[cur as usize] != root {
            let next = self.parent[cur as usize];
            self.parent[cur as usize] = root;
            cur = next;
        }
        DimVar(root)
    }

    /// Unifies two dimensions; fails when both are bound to different values, or
    /// when a free dimension would become 1.
    fn unify(&mut self, a: DimVar, b: DimVar) -> bool {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return true;
        }
        let (free, other) = match (&self.binding[a.0 as usize], &self.binding[b.0 as usize]) {
            (Binding::Free, _) => (a, b),
            (_, Binding::Free) => (b, a),
            (Binding::Product(_), _) | (_, Binding::Product(_)) => {
                // Products are equal when their factors are, in any order.
                if self.product_key(a) != self.product_key(b) {
                    return false;
                }
                self.parent[a.0 as usize] = b.0;
                return true;
            }
            _ => return false,
        };
        if self.binding[other.0 as usize] == Binding::Size(1) {
            return false;
        }
        self.parent[free.0 as usize] = other.0;
        if let Some(name) = self.invented.remove(&free.0) {
            if self.binding[other.0 as usize] == Binding::Free {
                self.invented.entry(other.0).or_insert(name);
            }
        }
        true
    }

    /// The dimension `a b`: a size when both are sizes, else a product.
    fn product_dim(&mut self, a: DimVar, b: DimVar) -> DimVar {
        if self.is_one(a) {
            return b;
        }
        if self.is_one(b) {
            return a;
        }
        let (ra, rb) = (self.find(a), self.find(b));
        if let (Binding::Size(x), Binding::Size(y)) =
            (&self.binding[ra.0 as usize], &self.binding[rb.0 as usize])
        {
            let n = x.saturating_mul(*y);
            return self.size(n);
        }
        self.new_dim(Binding::Product(vec![ra, rb]))
    }

    /// A product's fixed sizes multiplied and its other factors, as roots, sorted:
    /// equal keys are equal dimensions.
    fn product_key(&mut self, v: DimVar) -> (u64, Vec<DimVar>) {
        let root = self.find(v);
        match self.binding[root.0 as usize].clone() {
            Binding::Size(n) => (n, Vec::new()),
            Binding::Product(factors) => {
                let mut size = 1u64;
                let mut rest = Vec::new();
                for f in factors {
                    let (k, r) = self.product_key(f);
                    size = size.saturating_mul(k);
                    rest.extend(r);
                }
                rest.sort();
                (size, rest)
            }
            _ => (1, vec![root]),
        }
    }

    fn is_one(&mut self, v: DimVar) -> bool {
        self.find(v) == ONE
    }

    /// The next readable name for a free dimension that clashes with no other name.
    fn invent_name(&mut self) -> String {
        const FIRST: [&str; 5] = ["n", "m", "k", "p", "q"];
        loop {
            let i = self.next_fresh;
            self.next_fresh += 1;
            let candidate = match FIRST.get(i) {
                Some(s) => (*s).to_string(),
                None => format!("n{}", i - FIRST.len() + 1),
            };
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
        }
    }

    fn dim_text(&mut self, v: DimVar) -> String {
        let root = self.find(v);
        match &self.binding[root.0 as usize] {
            Binding::Named(n) => n.clone(),
            Binding::Size(s) => s.to_string(),
            Binding::Product(factors) => {
                let factors = factors.clone();
                let texts: Vec<String> = factors.into_iter().map(|f| self.dim_text(f)).collect();
                texts.join("*")
            }
            Binding::Free => {
                if let Some(n) = self.invented.get(&root.0) {
                    return n.clone();
                }
                let n = self.invent_name();
                self.invented.insert(root.0, n.clone());
                n
            }
        }
    }

    /// The final value of a dimension, naming it if it is still free.
    fn resolve(&mut self, v: DimVar) -> Resolved {
        let root = self.find(v);
        match self.binding[root.0 as usize].clone() {
            Binding::Size(s) => Resolved::Size(s),
            Binding::Named(n) => Resolved::Name(n),
            Binding::Product(factors) => {
                Resolved::Product(factors.into_iter().map(|f| self.resolve(f)).collect())
            }
            Binding::Free => {
                let name = self.dim_text(root);
                self.add_dim_name(&name);
                Resolved::Name(name)
            }
        }
    }

    // ---- types -----------------------------------------------------------------

    fn is_scalar(&mut self, ty: Ty) -> bool {
        match ty {
            Ty::Arr(r, c) => self.is_one(r) && self.is_one(c),
            Ty::Err => false,
        }
    }

    /// `scalar`, `vector(N)`, `row vector(N)` or `matrix(N, d)`.
    fn show(&mut self, ty: Ty) -> String {
        let Ty::Arr(r, c) = ty else {
            return "an erroneous expression".to_string();
        };
        match (self.is_one(r), self.is_one(c)) {
            (true, true) => "scalar".to_string(),
            (false, true) => format!("vector({})", self.dim_text(r)),
            (true, false) => format!("row vector({})", self.dim_text(c)),
            (false, false) => format!("matrix({}, {})", self.dim_text(r), self.dim_text(c)),
        }
    }

    // ---- declarations ------------------------------------------------------------

    /// Every name written anywhere, so that invented dimension names never clash,
    /// and the sizes of `eye(n)` / `ones(n)`, which are dimension names. Runs after
    /// the declarations, which take precedence.
    fn collect_names(&mut self, program: &Program) {
        for d in &program.decls {
            self.taken.insert(d.name.name.clone());
            for dim in &d.dims {
                if let DimSpec::Name(id) = dim {
                    self.taken.insert(id.name.clone());
                }
            }
        }
        if let Some(e) = &program.expr {
            self.collect_expr_names(e);
        }
    }

    fn collect_expr_names(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Number(_) => {}
            ExprKind::Name(n) => {
                self.taken.insert(n.clone());
            }
            ExprKind::Neg(a) | ExprKind::Transpose(a) => self.collect_expr_names(a),
            ExprKind::Binary { lhs, rhs, .. } | ExprKind::Inner(lhs, rhs) => {
                self.collect_expr_names(lhs);
                self.collect_expr_names(rhs);
            }
            ExprKind::Call { func, args } => {
                // `eye(n)` and `ones(n)` make `n` a dimension everywhere, also
                // where it is used as a scalar before the call.
                if let ([arg], "eye" | "ones") = (args.as_slice(), func.name.as_str()) {
                    self.collect_size_names(arg);
                }
                for a in args {
                    self.collect_expr_names(a);
                }
            }
        }
    }

    /// The names in a size (`n`, `m*p`) are dimensions.
    fn collect_size_names(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Name(n) if !self.var_index.contains_key(n) => {
                self.named_dim(n);
            }
            ExprKind::Binary {
                op: BinOp::Mul,
                lhs,
                rhs,
            } => {
                self.collect_size_names(lhs);
                self.collect_size_names(rhs);
            }
            _ => {}
        }
    }

    fn declare(&mut self, decls: &[Decl]) {
        for d in decls {
            let name = &d.name.name;
            if let Some(&i) = self.var_index.get(name) {
                let first = self.vars[i].decl.unwrap_or(d.span);
                self.errors.push(
                    Diagnostic::error(
                        format!("`{name}` is declared twice"),
                        d.name.span,
                        "declared again here",
                    )
                    .with_label(first, "first declared here")
                    .with_note("keep one declaration"),
                );
                continue;
            }
            let expected = d.kind.dim_count();
            if !d.dims.is_empty() && d.dims.len() != expected {
                self.errors.push(Diagnostic::error(
                    format!(
                        "`{}` takes {expected} dimension{}, found {}",
                        d.kind.keyword(),
                        if expected == 1 { "" } else { "s" },
                        d.dims.len()
                    ),
                    d.kind_span,
                    "wrong number of dimensions",
                ));
                continue;
            }
            let mut dims = Vec::new();
            for spec in &d.dims {
                match spec {
                    DimSpec::Name(id) => dims.push(self.named_dim(&id.name)),
                    DimSpec::Size(0, span) => {
                        self.errors.push(Diagnostic::error(
                            "a dimension must be at least 1",
                            *span,
                            "zero size",
                        ));
                        dims.push(self.fresh());
                    }
                    DimSpec::Size(n, _) => dims.push(self.size(*n)),
                }
            }
            let dim = |i: usize, cx: &mut Self| dims.get(i).copied().unwrap_or_else(|| cx.fresh());
            let (kind, rows, cols) = match d.kind {
                DeclKind::Scalar => (Kind::Scalar, ONE, ONE),
                DeclKind::Vector => (Kind::Vector, dim(0, self), ONE),
                DeclKind::Matrix => {
                    let r = dim(0, self);
                    (Kind::Matrix, r, dim(1, self))
                }
                DeclKind::Symmetric | DeclKind::Spd => {
                    let n = dim(0, self);
                    let kind = if d.kind == DeclKind::Spd {
                        Kind::Spd
                    } else {
                        Kind::Symmetric
                    };
                    (kind, n, n)
                }
            };
            self.var_index.insert(name.clone(), self.vars.len());
            self.vars.push(VarInfo {
                name: name.clone(),
                kind,
                rows,
                cols,
                decl: Some(d.span),
            });
        }
        // A name cannot be both a variable and a dimension.
        for d in decls {
            if self.named.contains_key(&d.name.name) {
                self.errors.push(
                    Diagnostic::error(
                        format!("`{}` is both a variable and a dimension", d.name.name),
                        d.name.span,
                        "declared as a variable here",
                    )
                    .with_note("rename the variable or the dimension"),
                );
            }
        }
    }

    /// The variable `name`, declaring it by the naming defaults on first use.
    fn variable(&mut self, name: &str) -> usize {
        if let Some(&i) = self.var_index.get(name) {
            return i;
        }
        let kind = default_kind(name);
        let (rows, cols) = match kind {
            Kind::Scalar => (ONE, ONE),
            Kind::Vector => (self.fresh(), ONE),
            _ => (self.fresh(), self.fresh()),
        };
        self.var_index.insert(name.to_string(), self.vars.len());
        self.vars.push(VarInfo {
            name: name.to_string(),
            kind,
            rows,
            cols,
            decl: None,
        });
        self.vars.len() - 1
    }

    // ---- expressions ---------------------------------------------------------------

    fn expr(&mut self, e: &Expr) -> Ty {
        match &e.kind {
            ExprKind::Number(_) => SCALAR,
            ExprKind::Name(name) => self.name(name, e.span),
            ExprKind::Neg(a) => self.expr(a),
            ExprKind::Transpose(a) => match self.expr(a) {
                Ty::Arr(r, c) => Ty::Arr(c, r),
                Ty::Err => Ty::Err,
            },
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs),
            ExprKind::Inner(a, b) => self.inner(e.span, a, b),
            ExprKind::Call { func, args } => self.call(&func.name, func.span, e, args),
        }
    }

    fn name(&mut self, name: &str, span: Span) -> Ty {
        if !self.var_index.contains_key(name) && self.named.contains_key(name) {
            return SCALAR;
        }
        if matches!(name, "eye" | "ones") {
            return self.implicit_size(name, span, None);
        }
        if !self.var_index.contains_key(name) && matdiff_syntax::functions::arity(name).is_some() {
            self.errors.push(
                Diagnostic::error(
                    format!("`{name}` is a function, not a variable"),
                    span,
                    "used without arguments",
                )
                .with_note(format!("call it: {name}(…)")),
            );
            return Ty::Err;
        }
        let i = self.variable(name);
        Ty::Arr(self.vars[i].rows, self.vars[i].cols)
    }

    /// `eye`/`ones` with the size given (`size`) or inferred.
    fn implicit_size(&mut self, name: &str, span: Span, size: Option<DimVar>) -> Ty {
        let n = size.unwrap_or_else(|| self.fresh());
        self.implicit.push((span, n));
        if name == "eye" {
            Ty::Arr(n, n)
        } else {
            Ty::Arr(n, ONE)
        }
    }

    fn binary(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr) -> Ty {
        let a = self.expr(lhs);
        let b = self.expr(rhs);
        if a == Ty::Err || b == Ty::Err {
            return Ty::Err;
        }
        let op_span = self.texts.operator_span(lhs.span, rhs.span);
        match op {
            BinOp::Add | BinOp::Sub | BinOp::ElemMul | BinOp::ElemDiv | BinOp::ElemPow => {
                if self.is_scalar(a) {
                    return b;
                }
                if self.is_scalar(b) {
                    return a;
                }
                self.same_shape(op.symbol(), op_span, (lhs, a), (rhs, b))
            }
            BinOp::Mul => {
                if self.is_scalar(a) {
                    return b;
                }
                if self.is_scalar(b) {
                    return a;
                }
                self.product(op_span, (lhs, a), (rhs, b))
            }
            BinOp::Div => {
                if self.is_scalar(b) {
                    return a;
                }
                let shown = self.show(b);
                let mut d = Diagnostic::error(
                    format!("`/` needs a scalar denominator, found {shown}"),
                    op_span,
                    "division by a non-scalar",
                )
                .with_label(rhs.span, format!("this is {shown}"))
                .with_note("use ./ for elementwise division, or inv(…) for a matrix inverse");
                d = self.guess_note(d, rhs, "scalar");
                self.errors.push(d);
                Ty::Err
            }
            BinOp::Pow => self.power(op_span, (lhs, a), (rhs, b)),
        }
    }

    /// `+ - .* ./ .^` and `<a, b>`: equal shapes.
    fn same_shape(&mut self, op: &str, op_span: Span, lhs: (&Expr, Ty), rhs: (&Expr, Ty)) -> Ty {
        let (Ty::Arr(ar, ac), Ty::Arr(br, bc)) = (lhs.1, rhs.1) else {
            return Ty::Err;
        };
        let column_row =
            (self.is_one(ac) && !self.is_one(ar) && self.is_one(br) && !self.is_one(bc))
                || (self.is_one(ar) && !self.is_one(ac) && self.is_one(bc) && !self.is_one(br));
        let both_columns = self.is_one(ac) && self.is_one(bc);
        let both_rows = self.is_one(ar) && self.is_one(br);
        let rows_ok = self.unify(ar, br);
        let cols_ok = self.unify(ac, bc);
        if rows_ok && cols_ok {
            return lhs.1;
        }
        // Names are given to free dimensions only now, so that a well-typed program
        // gets its names in declaration order.
        let (sa, sb) = (self.show(lhs.1), self.show(rhs.1));
        let (rows_text, cols_text) = (
            (self.dim_text(ar), self.dim_text(br)),
            (self.dim_text(ac), self.dim_text(bc)),
        );
        let what = match op {
            "<a, b>" => "inner product".to_string(),
            _ => format!("`{op}`"),
        };
        let mut d = Diagnostic::error(
            format!("dimension mismatch in {what}: {sa} and {sb}"),
            op_span,
            "shapes must be equal (or one side a scalar)",
        )
        .with_label(lhs.0.span, format!("this is {sa}"))
        .with_label(rhs.0.span, format!("this is {sb}"));
        if column_row {
            d = d.with_note(
                "a column vector and a row vector are not broadcast: transpose one of them",
            );
        } else {
            let (side, (x, y)) = if !rows_ok {
                (if both_columns { "lengths" } else { "rows" }, rows_text)
            } else {
                (if both_rows { "lengths" } else { "columns" }, cols_text)
            };
            d = d.with_note(format!("the {side} disagree: {x} vs {y}"));
        }
        d = self.declared_labels(d, &[lhs.0, rhs.0]);
        if !column_row {
            // A guessed name of another kind than its partner may be the mistake.
            for (e, other) in [(lhs, rhs), (rhs, lhs)] {
                let want = self.kind_word(other.1);
                d = self.guess_note(d, e.0, &want);
            }
        }
        self.errors.push(d);
        Ty::Err
    }

    /// The declaration keyword that would give a name the kind of `ty`.
    fn kind_word(&mut self, ty: Ty) -> String {
        match ty {
            Ty::Arr(r, c) => match (self.is_one(r), self.is_one(c)) {
                (true, true) => "scalar".to_string(),
                (false, true) => "vector".to_string(),
                _ => "matrix".to_string(),
            },
            Ty::Err => "matrix".to_string(),
        }
    }

    /// `a * b` for non-scalars: the inner dimensions unify.
    fn product(&mut self, op_span: Span, lhs: (&Expr, Ty), rhs: (&Expr, Ty)) -> Ty {
        let (Ty::Arr(ar, ac), Ty::Arr(br, bc)) = (lhs.1, rhs.1) else {
            return Ty::Err;
        };
        if self.unify(ac, br) {
            return Ty::Arr(ar, bc);
        }
        let (sa, sb) = (self.show(lhs.1), self.show(rhs.1));
        let (x, y) = (self.dim_text(ac), self.dim_text(br));
        let both_columns = self.is_one(ac) && self.is_one(bc);
        let mut d = Diagnostic::error(
            format!("dimension mismatch in `*`: {sa} and {sb}"),
            op_span,
            "matrix product of incompatible shapes",
        )
        .with_label(lhs.0.span, format!("this is {sa}"))
        .with_label(rhs.0.span, format!("this is {sb}"))
        .with_note(format!(
            "the inner dimensions disagree: {x} (columns on the left) vs {y} (rows on the right)"
        ));
        if both_columns {
            d = d.with_note("for an inner product write x'*y, for an outer product x*y'");
        }
        d = self.declared_labels(d, &[lhs.0, rhs.0]);
        if self.is_one(ac) {
            d = self.guess_note_with(d, lhs.0, |n| format!("declare `{n}: matrix` or use {n}'"));
        }
        if self.is_one(br) {
            d = self.guess_note_with(d, rhs.0, |n| format!("declare `{n}: matrix` or use {n}'"));
        }
        self.errors.push(d);
        Ty::Err
    }

    fn power(&mut self, op_span: Span, base: (&Expr, Ty), exp: (&Expr, Ty)) -> Ty {
        if !self.is_scalar(exp.1) {
            let shown = self.show(exp.1);
            let mut d = Diagnostic::error(
                format!("`^` needs a scalar exponent, found {shown}"),
                op_span,
                "non-scalar exponent",
            )
            .with_label(exp.0.span, format!("this is {shown}"))
            .with_note("use .^ for elementwise powers");
            d = self.guess_note(d, exp.0, "scalar");
            self.errors.push(d);
            return Ty::Err;
        }
        if self.is_scalar(base.1) {
            return base.1;
        }
        let Ty::Arr(r, c) = base.1 else {
            return Ty::Err;
        };
        let integer = self
            .texts
            .literal(exp.0)
            .is_some_and(|v| v.fract() == 0.0 && v.is_finite());
        if self.is_one(c) || self.is_one(r) || !self.unify(r, c) {
            let shown = self.show(base.1);
            let (x, y) = (self.dim_text(r), self.dim_text(c));
            let mut d = Diagnostic::error(
                format!("`^` of a non-square {shown}"),
                op_span,
                "a power needs a scalar or a square matrix",
            )
            .with_label(base.0.span, format!("this is {shown}"));
            if !self.is_one(c) && !self.is_one(r) {
                d = d.with_note(format!("the rows and columns disagree: {x} vs {y}"));
            }
            d = d.with_note("use .^ for elementwise powers");
            d = self.declared_labels(d, &[base.0]);
            d = self.guess_note(d, base.0, "scalar");
            self.errors.push(d);
            return Ty::Err;
        }
        if !integer {
            let shown = self.show(base.1);
            self.errors.push(
                Diagnostic::error(
                    "a matrix power needs a constant integer exponent",
                    op_span,
                    "matrix power",
                )
                .with_label(exp.0.span, "not an integer constant")
                .with_label(base.0.span, format!("this is {shown}"))
                .with_note("use .^ for elementwise powers"),
            );
            return Ty::Err;
        }
        base.1
    }

    fn inner(&mut self, span: Span, a: &Expr, b: &Expr) -> Ty {
        let ta = self.expr(a);
        let tb = self.expr(b);
        if ta == Ty::Err || tb == Ty::Err {
            return Ty::Err;
        }
        if self.same_shape("<a, b>", span, (a, ta), (b, tb)) == Ty::Err {
            return Ty::Err;
        }
        SCALAR
    }

    fn call(&mut self, name: &str, name_span: Span, e: &Expr, args: &[Expr]) -> Ty {
        if matches!(name, "eye" | "ones") {
            return self.sized_constant(name, e, args);
        }
        if name == "dot" {
            if let [a, b] = args {
                return self.inner(name_span, a, b);
            }
        }
        if name == "kron" {
            if let [a, b] = args {
                // kron(A, B) of A m × n and B p × q is m p × n q.
                let (ta, tb) = (self.expr(a), self.expr(b));
                let (Ty::Arr(ra, ca), Ty::Arr(rb, cb)) = (ta, tb) else {
                    return Ty::Err;
                };
                let rows = self.product_dim(ra, rb);
                let cols = self.product_dim(ca, cb);
                return Ty::Arr(rows, cols);
            }
        }
        let func = Func::from_name(name);
        let [arg] = args else {
            let expected = if matches!(name, "dot" | "kron") { 2 } else { 1 };
            self.errors.push(Diagnostic::error(
                format!(
                    "`{name}` takes {expected} argument{}, found {}",
                    if expected == 1 { "" } else { "s" },
                    args.len()
                ),
                name_span,
                "wrong number of arguments",
            ));
            return Ty::Err;
        };
        let Some(func) = func else {
            let mut d = Diagnostic::error(
                format!("unknown function `{name}`"),
                name_span,
                "not a built-in function",
            );
            if let Some(s) = matdiff_syntax::functions::suggest(name) {
                d = d.with_note(format!("did you mean `{s}`?"));
            }
            self.errors.push(d);
            return Ty::Err;
        };
        let t = self.expr(arg);
        let Ty::Arr(r, c) = t else {
            return Ty::Err;
        };
        if func.is_elementwise() {
            return t;
        }
        match func {
            Func::Sum | Func::Norm1 | Func::Norm2 | Func::Logsumexp => SCALAR,
            // One entry per column.
            Func::LogsumexpCols => Ty::Arr(ONE, c),
            // The columns stacked: m n × 1.
            Func::Vec => {
                let len = self.product_dim(r, c);
                Ty::Arr(len, ONE)
            }
            Func::Tr | Func::Det | Func::Logdet | Func::Inv => {
                if self.square(name, name_span, arg, t, "a square matrix") {
                    if func == Func::Inv {
                        t
                    } else {
                        SCALAR
                    }
                } else {
                    Ty::Err
                }
            }
            Func::Diag => {
                if self.is_one(c) {
                    Ty::Arr(r, r)
                } else if self.square(
                    name,
                    name_span,
                    arg,
                    t,
                    "a column vector or a square matrix",
                ) {
                    Ty::Arr(r, ONE)
                } else {
                    Ty::Err
                }
            }
            Func::Softmax => {
                // Over all entries, like `logsumexp`: a vector, a row or a matrix.
                if !(self.is_one(r) && self.is_one(c)) {
                    return t;
                }
                let shown = self.show(t);
                let mut d = Diagnostic::error(
                    format!("`softmax` needs a vector or a matrix, found {shown}"),
                    name_span,
                    "softmax of a scalar",
                )
                .with_label(arg.span, format!("this is {shown}"));
                d = self.declared_labels(d, &[arg]);
                self.errors.push(d);
                Ty::Err
            }
            _ => t,
        }
    }

    /// Checks that `t` is square (unifying its dimensions); reports an error if not.
    fn square(&mut self, name: &str, name_span: Span, arg: &Expr, t: Ty, needs: &str) -> bool {
        let Ty::Arr(r, c) = t else {
            return false;
        };
        if self.unify(r, c) {
            return true;
        }
        let shown = self.show(t);
        let (x, y) = (self.dim_text(r), self.dim_text(c));
        let mut d = Diagnostic::error(
            format!("`{name}` needs {needs}, found {shown}"),
            name_span,
            format!("{name} of a non-square argument"),
        )
        .with_label(arg.span, format!("this is {shown}"));
        if !self.is_one(r) && !self.is_one(c) {
            d = d.with_note(format!("the rows and columns disagree: {x} vs {y}"));
        }
        d = self.declared_labels(d, &[arg]);
        d = self.guess_note(d, arg, "matrix");
        self.errors.push(d);
        false
    }

    fn sized_constant(&mut self, name: &str, e: &Expr, args: &[Expr]) -> Ty {
        match args {
            [] => self.implicit_size(name, e.span, None),
            [arg] => {
                let size = self.size_of(arg);
                match size {
                    Some(n) => self.implicit_size(name, e.span, Some(n)),
                    None => {
                        self.errors.push(
                            Diagnostic::error(
                                format!("the size of `{name}` must be a dimension name or a positive integer"),
                                arg.span,
                                "not a size",
                            )
                            .with_note(format!("write {name}(n) with a dimension name, {name}(3), or {name} to infer it")),
                        );
                        Ty::Err
                    }
                }
            }
            _ => {
                self.errors.push(Diagnostic::error(
                    format!("`{name}` takes at most one argument, found {}", args.len()),
                    e.span,
                    "too many arguments",
                ));
                Ty::Err
            }
        }
    }

    /// The dimension written as a size: a positive integer, a dimension name, or a
    /// product of them (`ones(m*p)`, as the sizes of `kron` and `vec` print).
    fn size_of(&mut self, e: &Expr) -> Option<DimVar> {
        match &e.kind {
            ExprKind::Number(v) if *v >= 1.0 && v.fract() == 0.0 && *v < 1e15 => {
                Some(self.size(*v as u64))
            }
            ExprKind::Name(n) if !self.var_index.contains_key(n) => Some(self.named_dim(n)),
            ExprKind::Binary {
                op: BinOp::Mul,
                lhs,
                rhs,
            } => {
                let a = self.size_of(lhs)?;
                let b = self.size_of(rhs)?;
                Some(self.product_dim(a, b))
            }
            _ => None,
        }
    }

    // ---- hints -----------------------------------------------------------------

    /// The variable named by `e` (possibly transposed), when its kind was only
    /// guessed from its name.
    fn guessed_name<'e>(&self, e: &'e Expr) -> Option<&'e str> {
        match &e.kind {
            ExprKind::Name(n) => {
                let i = *self.var_index.get(n)?;
                self.vars[i].decl.is_none().then_some(n.as_str())
            }
            ExprKind::Transpose(a) => self.guessed_name(a),
            _ => None,
        }
    }

    fn guess_note(&self, d: Diagnostic, e: &Expr, wanted: &str) -> Diagnostic {
        let same_kind = self
            .guessed_name(e)
            .is_some_and(|n| self.vars[self.var_index[n]].kind.keyword() == wanted);
        if same_kind {
            return d;
        }
        self.guess_note_with(d, e, |n| format!("declare `{n}: {wanted}` if it is one"))
    }

    fn guess_note_with(&self, d: Diagnostic, e: &Expr, fix: impl Fn(&str) -> String) -> Diagnostic {
        let Some(name) = self.guessed_name(e) else {
            return d;
        };
        let i = self.var_index[name];
        let reason = match self.vars[i].kind {
            Kind::Scalar => "a Greek-letter name",
            Kind::Vector => "a lower-case name",
            _ => "an upper-case name",
        };
        let kind = self.vars[i].kind.keyword();
        d.with_note(format!(
            "`{name}` is undeclared, so it is taken to be a {kind} ({reason}): {}",
            fix(name)
        ))
    }

    /// Labels on the declarations of the variables an operand mentions directly.
    fn declared_labels(&mut self, mut d: Diagnostic, operands: &[&Expr]) -> Diagnostic {
        let mut seen = BTreeSet::new();
        for e in operands {
            let mut names = Vec::new();
            direct_names(e, &mut names);
            for n in names {
                let Some(&i) = self.var_index.get(n) else {
                    continue;
                };
                let Some(span) = self.vars[i].decl else {
                    continue;
                };
                if !seen.insert(i) {
                    continue;
                }
                let (rows, cols) = (self.vars[i].rows, self.vars[i].cols);
                let shown = self.show(Ty::Arr(rows, cols));
                d = d.with_label(span, format!("`{n}` is declared {shown} here"));
            }
        }
        d
    }

    // ---- the result ------------------------------------------------------------

    fn finish(mut self) -> Typing {
        let mut graph = Graph::new();
        // Free dimensions are named here, in declaration / first-use order of the
        // variables, then of the implicit sizes; the graph gets every dimension
        // name in first-appearance order.
        let mut resolved = Vec::new();
        for i in 0..self.vars.len() {
            let (rows, cols) = (self.vars[i].rows, self.vars[i].cols);
            let r = self.resolve(rows);
            let c = self.resolve(cols);
            resolved.push((r, c));
        }
        let mut implicit = Vec::new();
        for (span, v) in std::mem::take(&mut self.implicit) {
            implicit.push((span, self.resolve(v)));
        }
        for name in &self.dim_names {
            graph.declare_dim(name);
        }
        fn to_dim(d: Resolved, graph: &mut Graph) -> Dim {
            match d {
                Resolved::Size(s) => Dim::Size(s),
                Resolved::Name(n) => Dim::Named(graph.declare_dim(&n)),
                Resolved::Product(factors) => factors.into_iter().fold(Dim::ONE, |acc, f| {
                    let f = to_dim(f, graph);
                    graph.dim_product(acc, f)
                }),
            }
        }
        for (v, (r, c)) in self.vars.iter().zip(resolved) {
            let shape = Shape::new(to_dim(r, &mut graph), to_dim(c, &mut graph));
            graph.declare(&v.name, v.kind, shape);
        }
        let mut sizes = BTreeMap::new();
        for (span, d) in implicit {
            sizes.insert(span, to_dim(d, &mut graph));
        }
        let mut roles = BTreeMap::new();
        for n in &self.dim_names {
            roles.insert(n.clone(), Role::Dimension);
        }
        for v in &self.vars {
            roles.insert(v.name.clone(), Role::Variable);
        }
        Typing {
            graph,
            roles,
            sizes,
        }
    }
}

/// The names an operand mentions outside of function calls and products, i.e. the
/// ones whose shapes flow into the operand's shape directly.
fn direct_names<'e>(e: &'e Expr, out: &mut Vec<&'e str>) {
    match &e.kind {
        ExprKind::Name(n) => out.push(n),
        ExprKind::Neg(a) | ExprKind::Transpose(a) => direct_names(a, out),
        ExprKind::Binary { lhs, rhs, .. } => {
            direct_names(lhs, out);
            direct_names(rhs, out);
        }
        ExprKind::Call { func, args }
            if Func::from_name(&func.name).is_some_and(Func::is_elementwise) =>
        {
            for a in args {
                direct_names(a, out);
            }
        }
        _ => {}
    }
}
