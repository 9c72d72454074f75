//! [`Function`]: a parsed, shape-checked expression, and what can be done with it —
//! derivatives, values, finite-difference checks and compiled evaluation.

use std::fmt;
use std::sync::Arc;

use faer::{Mat, MatRef};
use matdiff_core::print::derivation::ShapeEntry;
use matdiff_core::{print, DiffError, Graph, Id, Sym};
use matdiff_num::{EvalError, InputError, Plan, PlanOptions, Sizes, Value, Values};
use serde::Serialize;

use crate::derivative::Derivative;
use crate::error::{Error, Located};
use crate::inputs::{self, Inputs};
use crate::solved::Solved;

/// Which part of a function a source text holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// One expression.
    Expression,
    /// Declarations, then one expression (a file).
    Program,
    /// Declarations only.
    Declarations,
}

/// A named source text: the name appears in error messages (`<expr>`, a path).
///
/// ```
/// use matdiff::{Function, Source};
///
/// let f = Function::parse_sources(&[
///     Source::expression("<expr>", "norm2(X*w - y)^2"),
///     Source::declarations("<decls>", "X: matrix(N, d)"),
/// ])?;
/// assert_eq!(f.to_string(), "norm2(X*w - y)^2");
/// # Ok::<(), matdiff::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// The name shown in messages.
    pub name: &'a str,
    /// The text.
    pub text: &'a str,
    /// What it holds.
    pub kind: SourceKind,
}

impl<'a> Source<'a> {
    /// An expression.
    ///
    /// ```
    /// let s = matdiff::Source::expression("<expr>", "x'*x");
    /// assert_eq!(s.kind, matdiff::SourceKind::Expression);
    /// ```
    pub fn expression(name: &'a str, text: &'a str) -> Source<'a> {
        Source {
            name,
            text,
            kind: SourceKind::Expression,
        }
    }

    /// Declarations followed by one expression, as in a file.
    ///
    /// ```
    /// let s = matdiff::Source::program("loss.mdf", "A: matrix(n,n)\nx'*A*x");
    /// assert_eq!(s.kind, matdiff::SourceKind::Program);
    /// ```
    pub fn program(name: &'a str, text: &'a str) -> Source<'a> {
        Source {
            name,
            text,
            kind: SourceKind::Program,
        }
    }

    /// Declarations only: `X: matrix(N, d); w: vector(d)`.
    ///
    /// ```
    /// let s = matdiff::Source::declarations("<decls>", "X: matrix(N, d)");
    /// assert_eq!(s.kind, matdiff::SourceKind::Declarations);
    /// ```
    pub fn declarations(name: &'a str, text: &'a str) -> Source<'a> {
        Source {
            name,
            text,
            kind: SourceKind::Declarations,
        }
    }
}

/// A variable of a function: its name, kind and shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Variable {
    /// `scalar`, `vector`, `matrix`, `symmetric` or `spd`.
    pub kind: &'static str,
    /// The name.
    pub name: String,
    /// `[rows, cols]`: a dimension's name or a size (`["N", "d"]`, `["d", 1]`).
    pub shape: [ShapeEntry; 2],
    /// The declaration that gives it, as it parses back: `X: matrix(N, d)`.
    #[serde(skip)]
    pub declaration: String,
}

/// What a function is, as data (the schema of `matdiff parse --format json`, keys in
/// alphabetical order): the dimension names, the expression, its shape and type, and
/// the variables.
///
/// ```
/// let f = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
/// let summary = f.summary();
/// assert_eq!((summary.expr.as_str(), summary.type_.as_str()), ("1/N*norm2(X*w - y)^2", "scalar"));
/// assert_eq!(summary.dims, ["N", "d"]);
/// # Ok::<(), matdiff::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The dimension names.
    pub dims: Vec<String>,
    /// The expression as text that parses back.
    pub expr: String,
    /// `[rows, cols]` of its value.
    pub shape: [ShapeEntry; 2],
    /// Its shape in words: `scalar`, `vector(N)`, `matrix(N, d)`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The variables, in declaration order.
    pub variables: Vec<Variable>,
}

fn shape_entries(g: &Graph, shape: matdiff_core::Shape) -> [ShapeEntry; 2] {
    let entry = |d: matdiff_core::Dim| match d {
        matdiff_core::Dim::Size(n) => ShapeEntry::Size(n),
        matdiff_core::Dim::Named(s) => ShapeEntry::Named(g.name(s).to_owned()),
    };
    [entry(shape.rows), entry(shape.cols)]
}

/// A scalar, vector or matrix function of named variables, parsed and shape-checked.
///
/// ```
/// use matdiff::{Function, Inputs};
///
/// let f = Function::parse("x'*A*x + b'*x", "A: matrix(n,n)")?;
/// let g = f.gradient("x")?;
/// assert_eq!(g.to_string(), "b + (A + A')*x");
/// let a = matdiff::faer::mat![[2.0, 1.0], [0.0, 3.0]];
/// let inputs = Inputs::new().matrix("A", a.as_ref()).vector("x", &[1.0, -1.0]).vector("b", &[0.5, 0.5]);
/// let (value, grad) = f.value_and_gradient("x", &inputs)?;
/// assert_eq!(value, 4.0);
/// assert_eq!((grad[(0, 0)], grad[(1, 0)]), (3.5, -4.5));
/// # Ok::<(), matdiff::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Function {
    pub(crate) inner: matdiff_core::Function,
    /// Where each node of `inner` was written, for carets under errors found later.
    spans: Arc<matdiff_core::SourceMap>,
    /// The named source texts the function was parsed from.
    texts: Arc<Vec<(String, String)>>,
}

impl Function {
    /// Parses an expression and its declarations (`;`- or `,`-separated; may be
    /// empty). Undeclared names are inferred: vectors, or scalars where the shapes
    /// say so. Messages name the sources `<expr>` and `<decls>`.
    ///
    /// ```
    /// let f = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// assert_eq!(f.variables().len(), 3);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn parse(expr: &str, decls: &str) -> Result<Function, Error> {
        Function::parse_sources(&[
            Source::expression("<expr>", expr),
            Source::declarations("<decls>", decls),
        ])
    }

    /// Parses a function from several named sources: one expression or program and
    /// any number of declarations. Error messages point into them by name.
    ///
    /// ```
    /// use matdiff::{Function, Source};
    ///
    /// let error = Function::parse_sources(&[
    ///     Source::expression("<expr>", "X*w"),
    ///     Source::declarations("--let", "X: matrix(N, d); w: vector(N)"),
    /// ]).unwrap_err();
    /// assert!(matches!(error, matdiff::Error::Shape(_)));
    /// ```
    pub fn parse_sources(sources: &[Source<'_>]) -> Result<Function, Error> {
        let roles: Vec<(matdiff_core::SourceRole, &str)> = sources
            .iter()
            .map(|s| {
                let role = match s.kind {
                    SourceKind::Expression => matdiff_core::SourceRole::Expression,
                    SourceKind::Program => matdiff_core::SourceRole::Program,
                    SourceKind::Declarations => matdiff_core::SourceRole::Declarations,
                };
                (role, s.text)
            })
            .collect();
        let texts = Arc::new(
            sources
                .iter()
                .map(|s| (s.name.to_owned(), s.text.to_owned()))
                .collect::<Vec<_>>(),
        );
        match matdiff_core::parse_sources_mapped(&roles) {
            Ok((inner, spans)) => Ok(Function {
                inner,
                spans: Arc::new(spans),
                texts,
            }),
            Err(failure) => {
                let located = Located::new(failure.diagnostics, texts);
                Err(match failure.stage {
                    matdiff_core::Stage::Syntax => Error::Syntax(located),
                    matdiff_core::Stage::Shape => Error::Shape(located),
                })
            }
        }
    }

    /// The variables, in declaration order (declared first, then inferred).
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*A*x", "A: symmetric(n)")?;
    /// let names: Vec<_> = f.variables().into_iter().map(|v| v.declaration).collect();
    /// assert_eq!(names, ["A: symmetric(n)", "x: vector(n)"]);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn variables(&self) -> Vec<Variable> {
        let g = &self.inner.graph;
        g.variables()
            .iter()
            .map(|v| Variable {
                name: g.name(v.name).to_owned(),
                kind: v.kind.keyword(),
                shape: shape_entries(g, v.shape),
                declaration: print::describe_variable(g, v),
            })
            .collect()
    }

    /// The expression, its shape, the variables and the dimension names, as data.
    ///
    /// ```
    /// let f = matdiff::Function::parse("A*x", "A: matrix(m,n)")?;
    /// assert_eq!(f.summary().type_, "vector(m)");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn summary(&self) -> Summary {
        let g = &self.inner.graph;
        let shape = g.shape(self.inner.root);
        Summary {
            expr: self.to_string(),
            shape: shape_entries(g, shape),
            type_: print::shape(g, shape),
            variables: self.variables(),
            dims: g.dims().iter().map(|&d| g.name(d).to_owned()).collect(),
        }
    }

    /// The expression in Unicode, with a textbook look: `1/N·‖X·w − y‖²`.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*x", "")?;
    /// assert_eq!(f.pretty(), "xᵀ·x");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn pretty(&self) -> String {
        print::pretty(&self.inner.graph, self.inner.root)
    }

    /// The expression in LaTeX.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*x", "")?;
    /// assert!(f.latex().contains("x^"));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn latex(&self) -> String {
        print::latex(&self.inner.graph, self.inner.root)
    }

    /// The derivative of order 1 (gradient, Jacobian or differential) or 2 (Hessian)
    /// with respect to `wrt`, with its derivation.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*A*x", "A: matrix(n,n)")?;
    /// assert_eq!(f.derivative("x", 2)?.to_string(), "A + A'");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn derivative(&self, wrt: &str, order: u8) -> Result<Derivative, Error> {
        let mut function = self.inner.clone();
        let mut derivative = matdiff_core::derive(&mut function, wrt, order)
            .map_err(|e| self.diff_failure(wrt, e))?;
        derivative.steps = matdiff_core::diff::derivation(&mut function, &derivative)
            .map_err(|e| self.diff_failure(wrt, e))?;
        Ok(Derivative {
            function,
            inner: derivative,
        })
    }

    /// The gradient of a scalar function (for a vector function: its Jacobian; for a
    /// matrix function: its differential), with the derivation steps.
    ///
    /// ```
    /// let f = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// assert_eq!(f.gradient("w")?.to_string(), "2/N*X'*(X*w - y)");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn gradient(&self, wrt: &str) -> Result<Derivative, Error> {
        self.derivative(wrt, 1)
    }

    /// The Hessian of a scalar function with respect to `wrt`.
    ///
    /// ```
    /// let f = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// assert_eq!(f.hessian("w")?.to_string(), "2/N*X'*X");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn hessian(&self, wrt: &str) -> Result<Derivative, Error> {
        self.derivative(wrt, 2)
    }

    /// The value at `inputs`: a 1 × 1 matrix for a scalar, a column for a vector.
    ///
    /// ```
    /// let f = matdiff::Function::parse("A*x", "A: matrix(m,n)")?;
    /// let a = matdiff::faer::mat![[1.0, 2.0], [3.0, 4.0]];
    /// let y = f.value(&matdiff::Inputs::new().matrix("A", a.as_ref()).vector("x", &[1.0, 1.0]))?;
    /// assert_eq!((y[(0, 0)], y[(1, 0)]), (3.0, 7.0));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn value(&self, inputs: &Inputs<'_>) -> Result<Mat<f64>, Error> {
        let values = evaluate(&self.inner.graph, &[self.inner.root], inputs)?;
        Ok(values[0].to_matrix())
    }

    /// The value of a scalar function and its gradient with respect to `wrt`.
    ///
    /// ```
    /// let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let (v, g) = f.value_and_gradient("x", &matdiff::Inputs::new().vector("x", &[3.0, 4.0]))?;
    /// assert!((v - 25.0).abs() < 1e-12);
    /// assert_eq!((g[(0, 0)], g[(1, 0)]), (6.0, 8.0));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn value_and_gradient(
        &self,
        wrt: &str,
        inputs: &Inputs<'_>,
    ) -> Result<(f64, Mat<f64>), Error> {
        let mut compiled = self.compile(wrt)?;
        let (value, gradient) = compiled.value_and_gradient(inputs)?;
        Ok((value, gradient.to_owned()))
    }

    /// Compares the derivative with respect to `wrt` (a gradient, Jacobian or
    /// differential) with central finite differences on five random instances that
    /// honour the declarations.
    ///
    /// ```
    /// let f = matdiff::Function::parse("log(det(X))", "X: spd(n)")?;
    /// let check = f.check("X")?;
    /// assert!(check.passed, "{check:?}");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn check(&self, wrt: &str) -> Result<Check, Error> {
        let derivative = self.derivative(wrt, 1)?;
        derivative.check()
    }

    /// Random values for every variable, honouring the declared kinds as the
    /// finite-difference check draws them (symmetric, positive definite, positive
    /// entries under `log`, well conditioned under `inv`). Dimensions given in `sizes`
    /// take those sizes; the others get small distinct ones (2, 3, 4, …). The same seed
    /// gives the same values.
    ///
    /// ```
    /// let f = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// let values = f.sample_values(&[("N".into(), 30), ("d".into(), 2)], 7)?;
    /// let x = &values.iter().find(|(name, _)| name == "X").unwrap().1;
    /// assert_eq!((x.nrows(), x.ncols()), (30, 2));
    /// assert_eq!(values.len(), 3);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn sample_values(
        &self,
        sizes: &[(String, usize)],
        seed: u64,
    ) -> Result<Vec<(String, Mat<f64>)>, Error> {
        use rand::SeedableRng as _;
        let g = &self.inner.graph;
        let roots = [self.inner.root];
        let sizes = matdiff_num::check::full_rank_sizes(g, &roots, sizes);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let inputs = matdiff_num::check::random_inputs(g, &sizes, &roots, &mut rng)
            .map_err(|e| eval_error(g, e))?;
        Ok(g.variables()
            .iter()
            .filter_map(|v| {
                let value = inputs.view(v.name)?.to_owned();
                Some((g.name(v.name).to_owned(), value))
            })
            .collect())
    }

    /// Compiles the value and the gradient with respect to `wrt` for repeated
    /// evaluation: see [`Compiled`].
    ///
    /// ```
    /// let f = matdiff::Function::parse("norm2(x)^2", "")?;
    /// let mut c = f.compile("x")?;
    /// let (v, g) = c.value_and_gradient(&matdiff::Inputs::new().vector("x", &[1.0, 2.0]))?;
    /// assert!((v - 5.0).abs() < 1e-12 && (g[(1, 0)] - 4.0).abs() < 1e-12);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn compile(&self, wrt: &str) -> Result<Compiled, Error> {
        if !self.inner.graph.shape(self.inner.root).is_scalar() {
            return Err(Error::shape(format!(
                "a gradient needs a scalar function, and `{self}` is {}",
                print::shape(&self.inner.graph, self.inner.graph.shape(self.inner.root))
            )));
        }
        let mut function = self.inner.clone();
        let derivative =
            matdiff_core::derive(&mut function, wrt, 1).map_err(|e| self.diff_failure(wrt, e))?;
        Ok(Compiled {
            roots: [function.root, derivative.expr],
            wrt: derivative.wrt,
            function,
            run: Run {
                plan: None,
                values: [Value::Scalar(0.0), Value::Scalar(0.0)],
                scalar_gradient: Mat::zeros(1, 1),
            },
        })
    }

    /// A derivative that cannot be taken, with a caret under the refused power where
    /// one can be found in the source.
    fn diff_failure(&self, wrt: &str, error: DiffError) -> Error {
        if let DiffError::Power { refusal, message } = &error {
            if let Some(diagnostic) =
                crate::locate::refused_power(&self.texts, wrt, *refusal, message)
            {
                return Error::Unsupported(Located::new(vec![diagnostic], self.texts.clone()));
            }
        }
        diff_error(&self.inner.graph, wrt, error)
    }

    /// Solves `∇f = 0` for `wrt` in closed form, when `f` is quadratic in it: the
    /// stationary point in textbook form, the steps, and whether it is a minimum.
    ///
    /// A gradient that is not affine in `wrt` is [`Error::NoClosedForm`], with a caret
    /// under the first subexpression that is not quadratic.
    ///
    /// ```
    /// let f = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// let solved = f.solve("w")?;
    /// assert_eq!(solved.to_string(), "inv(X'*X)*X'*y");
    /// assert_eq!(solved.report().verdict, "minimum, unique when X has full column rank");
    /// let logistic = matdiff::Function::parse("sum(log(1 + exp(-y .* (X*w))))", "X: matrix(N,d)")?;
    /// assert!(matches!(logistic.solve("w"), Err(matdiff::Error::NoClosedForm(_))));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn solve(&self, wrt: &str) -> Result<Solved, Error> {
        use matdiff_core::solve::SolveError as S;
        let mut function = self.inner.clone();
        match matdiff_core::solve(&mut function, wrt) {
            Ok(solution) => Ok(Solved::new(function, solution)),
            Err(S::UnknownVariable(_)) => Err(inputs::unknown_variable(&self.inner.graph, wrt)),
            Err(S::Diff(e)) => Err(self.diff_failure(wrt, e)),
            Err(S::NotScalar { shape }) => Err(Error::shape(format!(
                "the function is a {shape}, not a scalar: there is no gradient to set to zero"
            ))),
            Err(error @ S::NotAffine { .. }) => {
                let S::NotAffine { culprit, why, .. } = &error else {
                    unreachable!("matched above")
                };
                let message =
                    format!("{error}. Use `matdiff minimize` (or Newton with `--order 2`)");
                // A caret under the first non-quadratic subexpression, where it was
                // written; else the reason in words.
                Err(Error::NoClosedForm(
                    match culprit.and_then(|id| self.spans.span(id)) {
                        Some(span) => Located::new(
                            vec![matdiff_syntax::Diagnostic::error(message, span, why.clone())
                                .with_note(
                                    "a closed form needs a quadratic function: its gradient affine in the variable",
                                )],
                            self.texts.clone(),
                        ),
                        None => Located::plain(format!("{message} ({why})")),
                    },
                ))
            }
            Err(other) => Err(Error::NoClosedForm(Located::plain(format!(
                "{other} — use `matdiff minimize` (or Newton with `--order 2`)"
            )))),
        }
    }
}

impl fmt::Display for Function {
    /// The expression as text that parses back: `x'*A*x + b'*x`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print::text(&self.inner.graph, self.inner.root))
    }
}

/// The value and gradient of a scalar function, compiled once and run many times.
///
/// The evaluation plan is compiled at the first call for the sizes of its inputs
/// (again when they change). The inputs are read where the caller keeps them, never
/// copied (a matrix stored by rows, [`Inputs::by_rows`], in place as well), and
/// the results are written into the buffers of the previous call: a call with inputs
/// of the shapes of the last one allocates nothing.
///
/// Data that stay the same over many calls are bound once with [`Compiled::bind`];
/// each call then passes only the variable.
///
/// ```
/// use matdiff::{faer, Function, Inputs};
///
/// let f = Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
/// let mut compiled = f.compile("w")?;
/// let x = faer::mat![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
/// let y = [1.0, 2.0, 3.0];
/// let mut w = [0.0, 0.0];
/// for _ in 0..200 {
///     let (_, g) = compiled.value_and_gradient(
///         &Inputs::new().matrix("X", x.as_ref()).vector("y", &y).vector("w", &w),
///     )?;
///     let step: Vec<f64> = (0..2).map(|i| 0.5 * g[(i, 0)]).collect();
///     w[0] -= step[0];
///     w[1] -= step[1];
/// }
/// assert!((w[0] - 1.0).abs() < 1e-6 && (w[1] - 2.0).abs() < 1e-6);
/// # Ok::<(), matdiff::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Compiled {
    function: matdiff_core::Function,
    roots: [Id; 2],
    /// The variable of the gradient.
    wrt: Sym,
    run: Run,
}

/// What a compiled function keeps between calls: the plan for the last shapes and
/// the buffers of the results.
#[derive(Clone, Debug)]
struct Run {
    plan: Option<Plan>,
    values: [Value; 2],
    scalar_gradient: Mat<f64>,
}

impl Compiled {
    /// The value and the gradient at `inputs`; the gradient is borrowed until the
    /// next call.
    ///
    /// ```
    /// let f = matdiff::Function::parse("sum(exp(x))", "")?;
    /// let mut c = f.compile("x")?;
    /// let (v, g) = c.value_and_gradient(&matdiff::Inputs::new().vector("x", &[0.0, 0.0]))?;
    /// assert_eq!((v, g[(0, 0)]), (2.0, 1.0));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn value_and_gradient(
        &mut self,
        inputs: &Inputs<'_>,
    ) -> Result<(f64, MatRef<'_, f64>), Error> {
        let graph = &self.function.graph;
        let bound = inputs.bind(graph).map_err(|e| name_known(graph, e))?;
        self.run.value_and_gradient(graph, &self.roots, &bound)
    }

    /// Binds `data`, the values of every variable but the gradient's, once: the
    /// returned [`Objective`] takes the variable alone at each call and reads the
    /// data where they are kept, for as long as it lives.
    ///
    /// ```
    /// use matdiff::{faer, Function, Inputs};
    ///
    /// let f = Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// let mut compiled = f.compile("w")?;
    /// let rows = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]; // 3 × 2, stored by rows
    /// let y = [1.0, 2.0, 3.0];
    /// let mut fg = compiled.bind(Inputs::new().by_rows("X", &rows, 3, 2).vector("y", &y))?;
    /// let (value, gradient) = fg.value_and_gradient(faer::mat![[1.0], [2.0]].as_ref())?;
    /// assert_eq!((value, gradient[(0, 0)]), (0.0, 0.0));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn bind<'c, 'd>(&'c mut self, data: Inputs<'d>) -> Result<Objective<'c, 'd>, Error> {
        let graph = &self.function.graph;
        let wrt = graph.name(self.wrt);
        if data.names().contains(&wrt) {
            return Err(Error::Invalid(format!(
                "`{wrt}` is the variable of the gradient, not data — give it at each call"
            )));
        }
        data.bind(graph).map_err(|e| name_known(graph, e))?;
        Ok(Objective {
            compiled: self,
            data,
        })
    }
}

impl Run {
    fn value_and_gradient<V: Values + ?Sized>(
        &mut self,
        graph: &Graph,
        roots: &[Id; 2],
        values: &V,
    ) -> Result<(f64, MatRef<'_, f64>), Error> {
        if !self.plan.as_ref().is_some_and(|plan| plan.fits(values)) {
            self.plan = Some(compile_for(graph, roots, values)?);
        }
        let plan = self.plan.as_mut().expect("compiled above");
        plan.run_into(values, &mut self.values)
            .map_err(|e| eval_error(graph, e))?;
        let value = self.values[0].as_scalar().unwrap_or(f64::NAN);
        let gradient = match &self.values[1] {
            Value::Matrix(m) => m.as_ref(),
            Value::Scalar(v) => {
                self.scalar_gradient[(0, 0)] = *v;
                self.scalar_gradient.as_ref()
            }
        };
        Ok((value, gradient))
    }
}

/// A compiled value and gradient with its data bound: a function of the variable
/// alone, `w ↦ (f(w), ∇f(w))`. Made by [`Compiled::bind`].
///
/// The data are borrowed for `'d` and read in place at every call; a call with a
/// variable of the shape of the last one allocates nothing.
#[derive(Debug)]
pub struct Objective<'c, 'd> {
    compiled: &'c mut Compiled,
    data: Inputs<'d>,
}

impl Objective<'_, '_> {
    /// The value and the gradient at `value` of the variable (a vector is one
    /// column); the gradient is borrowed until the next call.
    ///
    /// ```
    /// use matdiff::{faer, Function, Inputs};
    ///
    /// let f = Function::parse("norm2(A*x - b)^2", "A: matrix(m,n)")?;
    /// let mut compiled = f.compile("x")?;
    /// let a = faer::Mat::<f64>::identity(2, 2);
    /// let mut fg = compiled.bind(Inputs::new().matrix("A", a.as_ref()).vector("b", &[1.0, 1.0]))?;
    /// let x = faer::ColRef::from_slice(&[0.0, 0.0]);
    /// let (value, gradient) = fg.value_and_gradient(x.as_mat())?;
    /// assert!((value - 2.0).abs() < 1e-12 && (gradient[(1, 0)] + 2.0).abs() < 1e-12);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn value_and_gradient(
        &mut self,
        value: MatRef<'_, f64>,
    ) -> Result<(f64, MatRef<'_, f64>), Error> {
        let compiled = &mut *self.compiled;
        let graph = &compiled.function.graph;
        let name = graph.name(compiled.wrt);
        let value = matdiff_num::inputs::conform_view(graph, name, value)
            .map_err(|e| from_input(graph, e))?;
        let values = WithVariable {
            data: self.data.bound(graph),
            wrt: compiled.wrt,
            value,
        };
        compiled
            .run
            .value_and_gradient(graph, &compiled.roots, &values)
    }
}

/// Data and the value of the variable, as the plan reads them.
struct WithVariable<'b, 'a> {
    data: inputs::Bound<'b, 'a>,
    wrt: Sym,
    value: MatRef<'b, f64>,
}

impl Values for WithVariable<'_, '_> {
    fn value(&self, sym: Sym) -> Option<MatRef<'_, f64>> {
        if sym == self.wrt {
            Some(self.value)
        } else {
            self.data.value(sym)
        }
    }

    fn differential_value(&self, sym: Sym) -> Option<MatRef<'_, f64>> {
        self.data.differential_value(sym)
    }

    fn stored_by_rows(&self, sym: Sym) -> bool {
        sym != self.wrt && self.data.stored_by_rows(sym)
    }
}

/// A plan for `roots` at the sizes of `values`, after checking that every variable
/// they need is given.
fn compile_for<V: Values + ?Sized>(graph: &Graph, roots: &[Id], values: &V) -> Result<Plan, Error> {
    values
        .check_complete(graph, roots)
        .map_err(|e| from_input(graph, e))?;
    let sizes = bind_sizes(graph, values)?;
    let options = PlanOptions {
        by_rows: graph
            .variables()
            .iter()
            .map(|v| v.name)
            .filter(|&v| values.stored_by_rows(v))
            .collect(),
        ..PlanOptions::default()
    };
    Plan::compile_with(graph, roots, &sizes, &options).map_err(|e| eval_error(graph, e))
}

/// Evaluates `roots` of `graph` at `inputs`.
pub(crate) fn evaluate(
    graph: &Graph,
    roots: &[Id],
    inputs: &Inputs<'_>,
) -> Result<Vec<Value>, Error> {
    let bound = inputs.bind(graph).map_err(|e| name_known(graph, e))?;
    let mut plan = compile_for(graph, roots, &bound)?;
    plan.run(&bound).map_err(|e| eval_error(graph, e))
}

/// The largest number of entries one value may have: 2³² (32 GiB of `f64`).
const MAX_ENTRIES: u128 = 1 << 32;

/// The sizes the inputs bind, refusing any variable too large to hold.
pub(crate) fn bind_sizes<V: Values + ?Sized>(graph: &Graph, inputs: &V) -> Result<Sizes, Error> {
    let sizes = Sizes::bind(graph, inputs).map_err(|e| from_input(graph, e))?;
    for v in graph.variables() {
        if let (Some(r), Some(c)) = (sizes.dim(v.shape.rows), sizes.dim(v.shape.cols)) {
            if r as u128 * c as u128 > MAX_ENTRIES {
                return Err(Error::TooLarge(format!(
                    "`{}` would have {r} × {c} entries, more than {MAX_ENTRIES} — use smaller sizes",
                    graph.name(v.name)
                )));
            }
        }
    }
    Ok(sizes)
}

/// An unknown variable named with the variables there are.
pub(crate) fn name_known(graph: &Graph, error: Error) -> Error {
    match error {
        Error::UnknownVariable { name, .. } => inputs::unknown_variable(graph, &name),
        other => other,
    }
}

pub(crate) fn from_input(graph: &Graph, error: InputError) -> Error {
    name_known(graph, error.into())
}

pub(crate) fn eval_error(graph: &Graph, error: EvalError) -> Error {
    match error {
        EvalError::Input(e) => from_input(graph, e),
        EvalError::Domain { .. } | EvalError::NonFinite { .. } => {
            Error::Domain(error.describe(graph))
        }
        EvalError::Unsupported { .. } => Error::Invalid(error.describe(graph)),
        EvalError::TooLarge { .. } => Error::TooLarge(error.describe(graph)),
    }
}

pub(crate) fn diff_error(graph: &Graph, wrt: &str, error: DiffError) -> Error {
    match error {
        DiffError::UnknownVariable(_) => inputs::unknown_variable(graph, wrt),
        DiffError::Unsupported(message) | DiffError::Power { message, .. } => {
            Error::Invalid(message)
        }
        DiffError::TooLarge { .. } => Error::TooLarge(error.to_string()),
    }
}

/// The outcome of a finite-difference check, as data.
///
/// ```
/// let f = matdiff::Function::parse("x'*A*x", "A: matrix(n,n)")?;
/// let check = f.check("x")?;
/// assert!(check.passed);
/// assert_eq!(check.errors.len(), 5);
/// assert_eq!(check.sizes, [("n".to_string(), 2)]);
/// # Ok::<(), matdiff::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// `gradient`, `jacobian`, `differential` or `hessian`.
    pub kind: &'static str,
    /// The variable.
    pub wrt: String,
    /// Whether every trial was within the tolerance, or below the rounding floor of
    /// finite differences.
    pub passed: bool,
    /// The largest relative error of each trial.
    pub errors: Vec<f64>,
    /// The rounding floor of central differences in each trial: an error below it
    /// is as good as finite differences can tell.
    pub floors: Vec<f64>,
    /// Whether each trial passed: within the tolerance, or below its floor.
    pub trials_passed: Vec<bool>,
    /// The tolerance.
    pub tol: f64,
    /// The sizes the dimensions were given, by name.
    pub sizes: Vec<(String, usize)>,
}

pub(crate) fn check_report(
    graph: &Graph,
    derivative: &matdiff_core::Derivative,
    report: matdiff_num::CheckReport,
) -> Check {
    Check {
        kind: derivative.kind.name(),
        wrt: graph.name(derivative.wrt).to_owned(),
        passed: report.passed,
        trials_passed: (0..report.errors.len())
            .map(|i| report.trial_passed(i))
            .collect(),
        errors: report.errors,
        floors: report.floors,
        tol: report.tol,
        sizes: report
            .sizes
            .iter()
            .map(|(d, n)| (graph.name(d).to_owned(), n))
            .collect(),
    }
}
