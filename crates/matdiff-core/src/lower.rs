//! Lowering: a shape-checked AST to an IR [`Function`].
//!
//! The lowering is structural, with three normalisations:
//! - `a - b` becomes `Add(a, Neg(b))`, and a minus written directly before a
//!   numeric literal folds into a negative constant (`-2` is `Const(-2)`);
//! - `dot(a, b)` and `<a, b>` both become `Inner`;
//! - `0*ones(m)*ones(n)'`, `0*ones(m)` and `0*ones(n)'` become `Zeros` of that shape,
//!   which is how the text printer writes the zero matrix.

use matdiff_syntax::{
    parse_decls, parse_expr, parse_program, BinOp, Decl, Diagnostic, Expr, ExprKind, Ident,
    Program, SourceId, Span,
};

use crate::ir::{Dim, Func, Function, Graph, Id, Node, Real, Shape};
use crate::shape::{self, Role, Texts, Typing};

/// Checks the shapes of a program and lowers it to a [`Function`]. Diagnostics point
/// at the gap between operands; use [`elaborate_in`] to point at operators.
pub fn elaborate(program: &Program) -> Result<Function, Vec<Diagnostic>> {
    elaborate_in(program, Texts::default())
}

/// [`elaborate`] with the source texts by source id, for exact operator spans and
/// for telling the literal `-2` from `-(2)`.
pub fn elaborate_in(program: &Program, texts: Texts<'_>) -> Result<Function, Vec<Diagnostic>> {
    elaborate_with_spans(program, texts).map(|(function, _)| function)
}

/// Where each node of a lowered function was written: the span of the first
/// subexpression that lowered to it. A side table, dense by node id, so that errors
/// found on the IR (a subexpression that is not affine, say) can point at the source.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    spans: Vec<Option<Span>>,
}

impl SourceMap {
    /// The span of the source text that lowered to `id`, if it came from the source.
    pub fn span(&self, id: Id) -> Option<Span> {
        self.spans.get(id.index()).copied().flatten()
    }

    fn record(&mut self, id: Id, span: Span) {
        if self.spans.len() <= id.index() {
            self.spans.resize(id.index() + 1, None);
        }
        self.spans[id.index()].get_or_insert(span);
    }
}

/// [`elaborate_in`], also returning where each node was written.
pub fn elaborate_with_spans(
    program: &Program,
    texts: Texts<'_>,
) -> Result<(Function, SourceMap), Vec<Diagnostic>> {
    if let Some(e) = &program.expr {
        let errors = constant_arguments(&program.decls, e, texts);
        if !errors.is_empty() {
            return Err(errors);
        }
    }
    let program = &Program {
        decls: program.decls.clone(),
        expr: program.expr.as_ref().map(constants),
    };
    let typing = shape::infer(program, texts)?;
    let Some(expr) = &program.expr else {
        return Err(vec![Diagnostic::error(
            "expected an expression after the declarations",
            Span::default(),
            "no expression",
        )]);
    };
    let mut lower = Lower {
        graph: typing.graph.clone(),
        typing: &typing,
        texts,
        spans: SourceMap::default(),
    };
    let root = lower.expr(expr).map_err(|d| vec![d])?;
    Ok((
        Function {
            graph: lower.graph,
            root,
        },
        lower.spans,
    ))
}

/// Parses an expression (source 0) and declarations (source 1), checks shapes and
/// lowers: `parse_function("1/N * norm2(X*w - y)^2", "X: matrix(N, d)")`.
pub fn parse_function(expr: &str, decls: &str) -> Result<Function, Vec<Diagnostic>> {
    parse_sources(&[
        (SourceRole::Expression, expr),
        (SourceRole::Declarations, decls),
    ])
    .map_err(|failure| failure.diagnostics)
}

/// What a source text holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceRole {
    /// One expression.
    Expression,
    /// Declarations, then one expression (a file).
    Program,
    /// Declarations only, separated by `;`, `,` or new lines.
    Declarations,
}

/// The stage at which a function failed to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The text does not parse.
    Syntax,
    /// The text parses but its kinds or shapes do not fit.
    Shape,
}

/// Why [`parse_sources`] failed: the stage and its diagnostics, whose spans point
/// into the sources by their position in the list.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadError {
    /// Syntax (nothing was elaborated) or shape.
    pub stage: Stage,
    /// At least one diagnostic.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses, checks and lowers a function given as several sources: one
/// [`SourceRole::Expression`] or [`SourceRole::Program`] and any number of
/// [`SourceRole::Declarations`]. Source `i` of the list gets [`SourceId`] `i`, so
/// diagnostics point into the texts by their position.
pub fn parse_sources(sources: &[(SourceRole, &str)]) -> Result<Function, LoadError> {
    parse_sources_mapped(sources).map(|(function, _)| function)
}

/// [`parse_sources`], also returning where each node was written (for carets under
/// errors found later on the IR).
pub fn parse_sources_mapped(
    sources: &[(SourceRole, &str)],
) -> Result<(Function, SourceMap), LoadError> {
    let mut diagnostics = Vec::new();
    let mut program = Program {
        decls: Vec::new(),
        expr: None,
    };
    for (index, &(role, text)) in sources.iter().enumerate() {
        let id = SourceId(index as u16);
        match role {
            SourceRole::Expression => {
                let (parsed, errors) = parse_expr(text, id);
                if errors.is_empty() && parsed.is_none() {
                    diagnostics.push(Diagnostic::error(
                        "expected an expression",
                        Span::new(id, 0, text.len()),
                        "empty expression",
                    ));
                }
                diagnostics.extend(errors);
                program.expr = program.expr.or(parsed);
            }
            SourceRole::Program => {
                let (parsed, errors) = parse_program(text, id);
                diagnostics.extend(errors);
                program.decls.extend(parsed.decls);
                program.expr = program.expr.or(parsed.expr);
            }
            SourceRole::Declarations => {
                let (parsed, errors) = parse_decls(text, id);
                diagnostics.extend(errors);
                program.decls.extend(parsed);
            }
        }
    }
    if !diagnostics.is_empty() {
        return Err(LoadError {
            stage: Stage::Syntax,
            diagnostics,
        });
    }
    let texts: Vec<&str> = sources.iter().map(|&(_, text)| text).collect();
    elaborate_with_spans(&program, Texts(&texts)).map_err(|diagnostics| LoadError {
        stage: Stage::Shape,
        diagnostics,
    })
}

/// Errors for `vector(c)` and `matrix(c)` whose `c` is not a scalar.
fn constant_arguments(decls: &[Decl], e: &Expr, texts: Texts<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match &e.kind {
        ExprKind::Call { func, args } => {
            if let ([arg], "vector" | "matrix") = (args.as_slice(), func.name.as_str()) {
                let alone = Program {
                    decls: decls.to_vec(),
                    expr: Some(arg.clone()),
                };
                if let Ok(f) = elaborate_in(&alone, texts) {
                    let shape = f.graph.shape(f.root);
                    if !shape.is_scalar() {
                        let shown = crate::print::shape(&f.graph, shape);
                        out.push(
                            Diagnostic::error(
                                format!("`{}(c)` needs a scalar c, found {shown}", func.name),
                                func.span,
                                format!("the all-c {}", func.name),
                            )
                            .with_label(arg.span, format!("this is {shown}"))
                            .with_note("the shape comes from the context: write `vector(2)`, `matrix(0.5)`"),
                        );
                    }
                }
            }
            for a in args {
                out.extend(constant_arguments(decls, a, texts));
            }
        }
        ExprKind::Number(_) | ExprKind::Name(_) => {}
        ExprKind::Neg(a) | ExprKind::Transpose(a) => {
            out.extend(constant_arguments(decls, a, texts))
        }
        ExprKind::Binary { lhs, rhs, .. } | ExprKind::Inner(lhs, rhs) => {
            out.extend(constant_arguments(decls, lhs, texts));
            out.extend(constant_arguments(decls, rhs, texts));
        }
    }
    out
}

/// MatrixCalculus.org's constants, shape from context: `vector(c)` is `c*ones` and
/// `matrix(c)` is `c*ones*ones'`, each `ones` sized by inference.
fn constants(e: &Expr) -> Expr {
    let boxed = |e: Expr| Box::new(e);
    let ones = |span: Span| Expr {
        kind: ExprKind::Call {
            func: Ident {
                name: "ones".to_string(),
                span,
            },
            args: Vec::new(),
        },
        span,
    };
    let times = |a: Expr, b: Expr, span: Span| Expr {
        kind: ExprKind::Binary {
            op: BinOp::Mul,
            lhs: boxed(a),
            rhs: boxed(b),
        },
        span,
    };
    let kind = match &e.kind {
        ExprKind::Call { func, args } if args.len() == 1 && func.name == "vector" => {
            return times(constants(&args[0]), ones(e.span), e.span);
        }
        ExprKind::Call { func, args } if args.len() == 1 && func.name == "matrix" => {
            // The two `ones` need distinct spans: their sizes are inferred apart.
            let column = ones(func.span);
            let row = Expr {
                kind: ExprKind::Transpose(boxed(ones(e.span))),
                span: e.span,
            };
            let all_ones = times(column, row, e.span);
            return times(constants(&args[0]), all_ones, e.span);
        }
        ExprKind::Number(_) | ExprKind::Name(_) => return e.clone(),
        ExprKind::Neg(a) => ExprKind::Neg(boxed(constants(a))),
        ExprKind::Transpose(a) => ExprKind::Transpose(boxed(constants(a))),
        ExprKind::Binary { op, lhs, rhs } => ExprKind::Binary {
            op: *op,
            lhs: boxed(constants(lhs)),
            rhs: boxed(constants(rhs)),
        },
        ExprKind::Inner(a, b) => ExprKind::Inner(boxed(constants(a)), boxed(constants(b))),
        ExprKind::Call { func, args } => ExprKind::Call {
            func: func.clone(),
            args: args.iter().map(constants).collect(),
        },
    };
    Expr { kind, span: e.span }
}

struct Lower<'t, 'a> {
    graph: Graph,
    typing: &'t Typing,
    texts: Texts<'a>,
    spans: SourceMap,
}

impl Lower<'_, '_> {
    fn expr(&mut self, e: &Expr) -> Result<Id, Diagnostic> {
        let id = self.node_of(e)?;
        self.spans.record(id, e.span);
        Ok(id)
    }

    fn node_of(&mut self, e: &Expr) -> Result<Id, Diagnostic> {
        if let Some(v) = self.texts.literal(e) {
            return Ok(self.graph.add(Node::Const(Real::new(v))));
        }
        if let Some(shape) = self.zeros(e) {
            return Ok(self.graph.add(Node::Zeros(shape)));
        }
        let node = match &e.kind {
            ExprKind::Number(v) => Node::Const(Real::new(*v)),
            ExprKind::Name(name) => match self.typing.role(name) {
                _ if matches!(name.as_str(), "eye" | "ones")
                    && self.typing.role(name).is_none() =>
                {
                    self.sized(name, e.span)?
                }
                Some(Role::Variable) => Node::Var(self.graph.symbols.intern(name)),
                Some(Role::Dimension) => Node::DimValue(self.graph.symbols.intern(name)),
                None => return Err(internal(e.span, "unknown name")),
            },
            ExprKind::Neg(a) => Node::Neg(self.expr(a)?),
            ExprKind::Transpose(a) => Node::Transpose(self.expr(a)?),
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.expr(lhs)?;
                let b = self.expr(rhs)?;
                match op {
                    BinOp::Add => Node::Add(a, b),
                    BinOp::Sub => {
                        let nb = self.graph.add(Node::Neg(b));
                        Node::Add(a, nb)
                    }
                    BinOp::Mul => Node::Mul(a, b),
                    BinOp::Div => Node::Div(a, b),
                    BinOp::Pow => Node::Pow(a, b),
                    BinOp::ElemMul => Node::ElemMul(a, b),
                    BinOp::ElemDiv => Node::ElemDiv(a, b),
                    BinOp::ElemPow => Node::ElemPow(a, b),
                }
            }
            ExprKind::Inner(a, b) => Node::Inner(self.expr(a)?, self.expr(b)?),
            ExprKind::Call { func, args } => match (func.name.as_str(), args.as_slice()) {
                ("eye" | "ones", _) => self.sized(&func.name, e.span)?,
                ("dot", [a, b]) => Node::Inner(self.expr(a)?, self.expr(b)?),
                ("kron", [a, b]) => Node::Kron(self.expr(a)?, self.expr(b)?),
                (name, [a]) => match Func::from_name(name) {
                    Some(f) => Node::Apply(f, self.expr(a)?),
                    None => return Err(internal(func.span, "unknown function")),
                },
                _ => return Err(internal(func.span, "wrong number of arguments")),
            },
        };
        Ok(self.graph.add(node))
    }

    fn sized(&self, name: &str, span: Span) -> Result<Node, Diagnostic> {
        let n = self
            .typing
            .size_at(span)
            .ok_or_else(|| internal(span, "size not inferred"))?;
        Ok(if name == "eye" {
            Node::Eye(n)
        } else {
            Node::Ones(n)
        })
    }

    /// The shape of `0*ones(m)*ones(n)'`, `0*ones(m)` or `0*ones(n)'`.
    fn zeros(&self, e: &Expr) -> Option<Shape> {
        let ExprKind::Binary {
            op: BinOp::Mul,
            lhs,
            rhs,
        } = &e.kind
        else {
            return None;
        };
        let is_zero = |x: &Expr| matches!(x.kind, ExprKind::Number(v) if v == 0.0);
        let transposed_ones = |x: &Expr| match &x.kind {
            ExprKind::Transpose(inner) => self.ones_size(inner),
            _ => None,
        };
        if let ExprKind::Binary {
            op: BinOp::Mul,
            lhs: zero,
            rhs: column,
        } = &lhs.kind
        {
            // `(0*ones(m))*ones(n)'` is a zero column times a row of ones.
            if is_zero(zero) && zero.span.start == lhs.span.start {
                if let (Some(m), Some(n)) = (self.ones_size(column), transposed_ones(rhs)) {
                    return Some(Shape::new(m, n));
                }
            }
        }
        if !is_zero(lhs) {
            return None;
        }
        if let Some(m) = self.ones_size(rhs) {
            return Some(Shape::vector(m));
        }
        transposed_ones(rhs).map(|n| Shape::new(Dim::ONE, n))
    }

    fn ones_size(&self, e: &Expr) -> Option<Dim> {
        let is_ones = match &e.kind {
            ExprKind::Name(n) => n == "ones" && self.typing.role(n).is_none(),
            ExprKind::Call { func, .. } => func.name == "ones",
            _ => false,
        };
        if is_ones {
            self.typing.size_at(e.span)
        } else {
            None
        }
    }
}

fn internal(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error(
        format!("internal error while lowering: {what}"),
        span,
        "here",
    )
    .with_note("please report this expression")
}
