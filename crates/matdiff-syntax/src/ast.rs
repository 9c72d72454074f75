//! The abstract syntax tree, as written by the user, with spans on every node.
//!
//! The tree is short-lived: `matdiff-core` checks its shapes and lowers it into the
//! hash-consed IR, keeping spans only for diagnostics.

use crate::span::Span;

/// A name with the span it was written at.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// An expression node.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// Binary operators, in the language's spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-` (also Unicode `−`)
    Sub,
    /// `*` (also `·`): matrix product or scalar scaling.
    Mul,
    /// `/`: division by a scalar.
    Div,
    /// `^`: scalar power, or integer power of a square matrix.
    Pow,
    /// `.*` (also `∘`): elementwise product.
    ElemMul,
    /// `./`: elementwise quotient.
    ElemDiv,
    /// `.^`: elementwise power.
    ElemPow,
}

impl BinOp {
    /// The ASCII spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
            BinOp::ElemMul => ".*",
            BinOp::ElemDiv => "./",
            BinOp::ElemPow => ".^",
        }
    }
}

/// What an expression is.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A numeric literal (`2`, `0.5`, `1e-3`).
    Number(f64),
    /// A variable, a dimension name used as a scalar, or a bare `eye` / `ones`.
    Name(String),
    /// Unary minus `-e`.
    Neg(Box<Expr>),
    /// `lhs op rhs`.
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// Postfix transpose `e'` (also `eᵀ`).
    Transpose(Box<Expr>),
    /// `<a, b>` (also `⟨a, b⟩`) and `dot(a, b)`: the (Frobenius) inner product.
    Inner(Box<Expr>, Box<Expr>),
    /// A call of a built-in function, e.g. `tr(X)`, `eye(n)`. Arity is checked by
    /// the parser against [`crate::functions::FUNCTIONS`].
    Call { func: Ident, args: Vec<Expr> },
}

/// The kind of a declared variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeclKind {
    Scalar,
    Vector,
    Matrix,
    Symmetric,
    Spd,
}

impl DeclKind {
    /// The spelling in declarations: `scalar`, `vector`, `matrix`, `symmetric`, `spd`.
    pub fn keyword(self) -> &'static str {
        match self {
            DeclKind::Scalar => "scalar",
            DeclKind::Vector => "vector",
            DeclKind::Matrix => "matrix",
            DeclKind::Symmetric => "symmetric",
            DeclKind::Spd => "spd",
        }
    }

    /// How many dimensions the kind takes when they are given.
    pub fn dim_count(self) -> usize {
        match self {
            DeclKind::Scalar => 0,
            DeclKind::Vector | DeclKind::Symmetric | DeclKind::Spd => 1,
            DeclKind::Matrix => 2,
        }
    }
}

/// A dimension in a declaration: a name (`N`) or a fixed size (`3`).
#[derive(Clone, Debug, PartialEq)]
pub enum DimSpec {
    Name(Ident),
    Size(u64, Span),
}

/// `name: kind(dims)`; `dims` is empty when they are left out (`x: vector`).
#[derive(Clone, Debug, PartialEq)]
pub struct Decl {
    pub name: Ident,
    pub kind: DeclKind,
    pub kind_span: Span,
    pub dims: Vec<DimSpec>,
    pub span: Span,
}

/// Declarations and (optionally) one expression: what `@file`, or `--let` plus the
/// expression argument, amount to.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Program {
    pub decls: Vec<Decl>,
    pub expr: Option<Expr>,
}

impl Expr {
    /// The tree as an S-expression, for readable tests: `(* (- 2) x)`, `(' X)`,
    /// `(<> a b)`, `(call tr X)`; numbers print with `{}` (`2`, `0.5`).
    pub fn to_sexpr(&self) -> String {
        let mut out = String::new();
        self.write_sexpr(&mut out);
        out
    }

    fn write_sexpr(&self, out: &mut String) {
        match &self.kind {
            ExprKind::Number(v) => out.push_str(&format!("{v}")),
            ExprKind::Name(name) => out.push_str(name),
            ExprKind::Neg(e) => {
                out.push_str("(- ");
                e.write_sexpr(out);
                out.push(')');
            }
            ExprKind::Binary { op, lhs, rhs } => {
                out.push('(');
                out.push_str(op.symbol());
                out.push(' ');
                lhs.write_sexpr(out);
                out.push(' ');
                rhs.write_sexpr(out);
                out.push(')');
            }
            ExprKind::Transpose(e) => {
                out.push_str("(' ");
                e.write_sexpr(out);
                out.push(')');
            }
            ExprKind::Inner(a, b) => {
                out.push_str("(<> ");
                a.write_sexpr(out);
                out.push(' ');
                b.write_sexpr(out);
                out.push(')');
            }
            ExprKind::Call { func, args } => {
                out.push_str("(call ");
                out.push_str(&func.name);
                for arg in args {
                    out.push(' ');
                    arg.write_sexpr(out);
                }
                out.push(')');
            }
        }
    }
}
