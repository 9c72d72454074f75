//! [`Solved`]: the closed-form stationary point of a quadratic function, its
//! renderings (text, Unicode, LaTeX, data) and its value on numbers.

use std::fmt;
use std::fmt::Write as _;

use faer::Mat;
use matdiff_core::solve::{equation_text, Definiteness, Report};
use matdiff_core::{print, Graph, Id};
use matdiff_num::Values as _;
use serde::Serialize;

use crate::function::{bind_sizes, eval_error, from_input, name_known};
use crate::{Error, Inputs};

/// The closed-form stationary point of a quadratic function: see
/// [`Function::solve`](crate::Function::solve).
///
/// `Display` prints the point as text that parses back.
///
/// ```
/// let f = matdiff::Function::parse("x'*P*x/2 - b'*x", "P: spd(n)")?;
/// let solved = f.solve("x")?;
/// assert_eq!(solved.to_string(), "inv(P)*b");
/// assert_eq!(solved.report().verdict, "minimum, unique");
/// # Ok::<(), matdiff::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Solved {
    function: matdiff_core::Function,
    solution: matdiff_core::Solution,
    /// `∇f` at the point: an expression without the variable, built once.
    gradient_at_point: Id,
}

/// The solution as data: see [`Solved::report`].
pub type SolveReport = Report;

/// The stationary point evaluated on numbers: see [`Solved::evaluate`].
///
/// ```
/// let f = matdiff::Function::parse("x'*P*x/2 - b'*x", "P: spd(n)")?;
/// let p = matdiff::faer::mat![[2.0, 0.0], [0.0, 4.0]];
/// let at = f.solve("x")?.evaluate(&matdiff::Inputs::new().matrix("P", p.as_ref()).vector("b", &[2.0, 2.0]))?;
/// assert_eq!((at.solution[(0, 0)], at.solution[(1, 0)], at.solves), (1.0, 0.5, 1));
/// assert!(at.gradient_norm < 1e-12);
/// # Ok::<(), matdiff::Error>(())
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct SolvedValues {
    /// The stationary point (a scalar serialises as a number, a vector as a flat
    /// list, a matrix as a list of rows).
    #[serde(serialize_with = "crate::minimize::serialize_value")]
    pub solution: Mat<f64>,
    /// `‖∇f(w*)‖` (Frobenius).
    pub gradient_norm: f64,
    /// How many linear solves the evaluation made (each `inv(A)*B`): no inverse is
    /// formed.
    pub solves: usize,
}

impl Solved {
    /// A Python module (NumPy) with `solution(…)`, which computes the point from the
    /// variables it reads (`inv(A)*b` as a solve), and `f_and_grad` for the function
    /// and its gradient. Run as a script, it checks on random data that the gradient
    /// vanishes at the point.
    ///
    /// ```
    /// let f = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// let code = f.solve("w")?.to_numpy()?;
    /// assert!(code.contains("def solution(X, y):"));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn to_numpy(&self) -> Result<String, Error> {
        let g = &self.function.graph;
        let sizes = matdiff_num::check::full_rank_sizes(g, &[self.solution.point], &[]);
        let sizes: Vec<_> = sizes.iter().map(|(dim, n)| (dim, n as u64)).collect();
        let gradient = matdiff_core::Derivative {
            kind: matdiff_core::DerivativeKind::Gradient,
            wrt: self.solution.wrt,
            expr: self.solution.gradient,
            gradient: None,
            steps: Vec::new(),
        };
        matdiff_core::codegen::numpy_solution(
            &self.function,
            &gradient,
            self.solution.point,
            &sizes,
        )
        .map_err(|e| Error::Invalid(e.to_string()))
    }

    /// A Rust function (on faer) `solution(…)` that computes the point from the
    /// variables it reads.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*P*x/2 - b'*x", "P: spd(n)")?;
    /// assert!(f.solve("x")?.to_rust()?.contains("pub fn solution(P: MatRef<'_, f64>, b: MatRef<'_, f64>)"));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn to_rust(&self) -> Result<String, Error> {
        matdiff_core::codegen::rust_solution(&self.function, self.solution.wrt, self.solution.point)
            .map_err(|e| Error::Invalid(e.to_string()))
    }

    /// The steps from `∇f = 0` to the point, each an equation in Unicode with a
    /// textbook look and its rule.
    ///
    /// ```
    /// let f = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// let steps = f.solve("w")?.pretty_steps();
    /// assert_eq!(steps.last().unwrap().expr, "w = (Xᵀ·X)⁻¹·Xᵀ·y");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn pretty_steps(&self) -> Vec<crate::Step> {
        self.solution
            .steps
            .iter()
            .map(|step| crate::Step {
                rule: step.rule.clone(),
                expr: matdiff_core::solve::equation_text(&self.function.graph, step, print::pretty),
            })
            .collect()
    }

    pub(crate) fn new(
        mut function: matdiff_core::Function,
        solution: matdiff_core::Solution,
    ) -> Self {
        let gradient_at_point = solution.gradient_at_point(&mut function.graph);
        Solved {
            function,
            solution,
            gradient_at_point,
        }
    }

    /// The solution as data: the point (text and LaTeX), `∇f`, the Hessian, its
    /// definiteness with the reasons, the verdict and the steps. Serialises with the
    /// keys of `matdiff solve --format json`.
    ///
    /// ```
    /// let f = matdiff::Function::parse("norm2(A*X - B)^2", "A: matrix(m,n); X: matrix(n,p)")?;
    /// let report = f.solve("X")?.report();
    /// assert_eq!(report.solution, "inv(A'*A)*A'*B");
    /// assert!(!report.steps.is_empty());
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn report(&self) -> SolveReport {
        self.solution.report(&self.function.graph)
    }

    /// The solution in lines of text: the steps from `∇f = 0` (when `steps`), or
    /// `w = …`; the Hessian with its classification; the verdict; and the
    /// minimum-norm solution of the singular case. `pretty` writes Unicode in the
    /// seminar's look (`⇔`, `Xᵀ`), else ASCII that parses back.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*P*x/2 - b'*x", "P: spd(n)")?;
    /// let text = f.solve("x")?.lines(false, false);
    /// assert!(text.starts_with("x = inv(P)*b\nH = P: positive definite"), "{text}");
    /// assert!(text.ends_with("minimum, unique\n"));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn lines(&self, pretty: bool, steps: bool) -> String {
        let g = &self.function.graph;
        let solution = &self.solution;
        let printer: fn(&Graph, Id) -> String = if pretty { print::pretty } else { print::text };
        let report = solution.report(g);
        let wrt = &report.wrt;
        let mut out = String::new();
        if steps {
            if pretty {
                let _ = writeln!(out, "    ∇f = 0");
            }
            for step in &solution.steps {
                let lead = if pretty { "⇔   " } else { "" };
                let _ = writeln!(
                    out,
                    "{lead}{}    ({})",
                    equation_text(g, step, printer),
                    step.rule
                );
            }
        } else {
            let _ = writeln!(out, "{wrt} = {}", printer(g, solution.point));
        }
        // A matrix variable's Hessian is the second differential, linear in `dX`.
        let hessian_name = if self.is_matrix() { "d(∇f)" } else { "H" };
        let _ = writeln!(
            out,
            "{hessian_name} = {}: {}",
            printer(g, solution.hessian),
            definiteness_words(&report)
        );
        let _ = writeln!(out, "{}", report.verdict);
        if let Some(mn) = &report.minimum_norm {
            let text = if pretty { &mn.pretty } else { &mn.text };
            let _ = writeln!(
                out,
                "singular case: the minimum-norm solution {text}, by {}",
                mn.solver
            );
        }
        out
    }

    /// The solution as a LaTeX `align*` environment: one `\iff` line per step (when
    /// `steps`), then `w^\star = …`.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*P*x/2 - b'*x", "P: spd(n)")?;
    /// let tex = f.solve("x")?.latex(true);
    /// assert!(tex.starts_with("\\begin{align*}\n  & \\nabla f = 0"));
    /// assert!(tex.contains("x^\\star &= "));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn latex(&self, steps: bool) -> String {
        let g = &self.function.graph;
        let mut out = String::from("\\begin{align*}\n");
        let wrt = g.name(self.solution.wrt);
        if steps {
            out.push_str("  & \\nabla f = 0 \\\\\n");
            for step in &self.solution.steps {
                let _ = writeln!(
                    out,
                    "  \\iff{{}} & {} \\\\",
                    equation_text(g, step, print::latex)
                );
            }
        }
        let _ = writeln!(
            out,
            "  {wrt}^\\star &= {}",
            print::latex(g, self.solution.point)
        );
        out.push_str("\\end{align*}\n");
        out
    }

    /// The stationary point and the gradient there, evaluated on `inputs` through
    /// one plan, which computes `inv(A)*b` as a solve, never as an inverse.
    ///
    /// Values that do not fit are the error of the input; a singular system on these
    /// data is [`Error::Domain`], naming the minimum-norm solution where there is one.
    ///
    /// ```
    /// let f = matdiff::Function::parse("norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// let x = matdiff::faer::mat![[1.0, 1.0], [2.0, 2.0]];
    /// let singular = f.solve("w")?.evaluate(&matdiff::Inputs::new().matrix("X", x.as_ref()).vector("y", &[1.0, 2.0]));
    /// assert!(matches!(singular, Err(matdiff::Error::Domain(_))));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn evaluate(&self, inputs: &Inputs<'_>) -> Result<SolvedValues, Error> {
        let graph = &self.function.graph;
        let roots = [self.solution.point, self.gradient_at_point];
        let bound = inputs.bind(graph).map_err(|e| name_known(graph, e))?;
        bound
            .check_complete(graph, &roots)
            .map_err(|e| from_input(graph, e))?;
        let sizes = bind_sizes(graph, &bound)?;
        let singular = |e: matdiff_num::EvalError| {
            if e.is_input_error() {
                return eval_error(graph, e);
            }
            Error::Domain(format!(
                "{} — the system is singular on these data; {}",
                e.describe(graph),
                self.solution.minimum_norm.as_ref().map_or_else(
                    || "no closed form applies".to_string(),
                    |m| format!("the minimum-norm solution is {}, by {}", m.text, m.solver)
                )
            ))
        };
        let mut plan = matdiff_num::Plan::compile(graph, &roots, &sizes).map_err(singular)?;
        let values = plan.run(&bound).map_err(singular)?;
        Ok(SolvedValues {
            solution: values[0].to_matrix(),
            gradient_norm: values[1].to_matrix().norm_l2(),
            solves: plan.solve_count(),
        })
    }

    /// Whether the variable is a matrix: its Hessian is then the second
    /// differential.
    fn is_matrix(&self) -> bool {
        crate::values::is_matrix(&self.function.graph, self.solution.wrt)
    }
}

/// `positive semidefinite (X'*X is a Gram form)`.
fn definiteness_words(report: &Report) -> String {
    let what = match report.definiteness {
        Definiteness::PositiveDefinite => "positive definite",
        Definiteness::PositiveSemidefinite => "positive semidefinite",
        Definiteness::Unknown => "not known to be positive semidefinite",
    };
    let mut conditions = report.definite_when.clone();
    conditions.extend(report.assuming.iter().cloned());
    let when = if conditions.is_empty() || report.definiteness != Definiteness::PositiveDefinite {
        String::new()
    } else {
        format!(" when {}", conditions.join(" and "))
    };
    if report.reasons.is_empty() {
        format!("{what}{when}")
    } else {
        format!("{what}{when} ({})", report.reasons.join("; "))
    }
}

impl fmt::Display for Solved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print::text(&self.function.graph, self.solution.point))
    }
}
