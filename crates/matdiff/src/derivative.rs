//! [`Derivative`]: a derivative with its derivation, printable, evaluable and
//! exportable as code.

use std::fmt;

use faer::Mat;
use matdiff_core::print::derivation::{self, Notation};
use matdiff_core::{codegen, print, DerivativeKind, Graph, Id, Node};
use matdiff_num::CheckOptions;

use crate::function::{check_report, eval_error, evaluate, Check};
use crate::{Error, Inputs};

/// A derivative of a [`Function`](crate::Function) with respect to one variable:
/// a gradient, Jacobian, differential or Hessian ([`Derivative::kind`]), with the
/// derivation by the seminar's rules ([`Derivative::steps`]).
///
/// ```
/// let f = matdiff::Function::parse("x'*A*x + b'*x", "A: matrix(n,n)")?;
/// let g = f.gradient("x")?;
/// assert_eq!(g.kind(), matdiff::DerivativeKind::Gradient);
/// assert_eq!(g.to_string(), "b + (A + A')*x");
/// assert_eq!(g.pretty(), "b + (A + Aᵀ)·x");
/// # Ok::<(), matdiff::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Derivative {
    pub(crate) function: matdiff_core::Function,
    pub(crate) inner: matdiff_core::Derivative,
}

/// One line of a derivation: the expression after the step, and the rule.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    /// The rule, in the seminar's words (`product rule`, `d(AXB) = A dX B`, …).
    pub rule: String,
    /// The expression after the step, as text that parses back.
    pub expr: String,
}

impl Derivative {
    /// Which object it is: a gradient, Jacobian, differential or Hessian.
    ///
    /// ```
    /// let f = matdiff::Function::parse("A*x", "A: matrix(m,n)")?;
    /// assert_eq!(f.gradient("x")?.kind(), matdiff::DerivativeKind::Jacobian);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn kind(&self) -> DerivativeKind {
        self.inner.kind
    }

    /// The derivation, from `df = d(f)` to the result, one step per rule.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*x", "")?;
    /// let steps = f.gradient("x")?.steps();
    /// assert_eq!(steps[0].expr, "d(x'*x)");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn steps(&self) -> Vec<Step> {
        self.steps_printed(print::text)
    }

    /// The derivation as [`Derivative::steps`] gives it, each expression in Unicode
    /// with a textbook look, as [`Derivative::pretty`] prints the result.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*x", "")?;
    /// let steps = f.gradient("x")?.pretty_steps();
    /// assert_eq!(steps[0].expr, "d(xᵀ·x)");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn pretty_steps(&self) -> Vec<Step> {
        self.steps_printed(print::pretty)
    }

    /// The derivation with each expression printed by `printer`.
    fn steps_printed(&self, printer: fn(&Graph, Id) -> String) -> Vec<Step> {
        let g = &self.function.graph;
        self.inner
            .steps
            .iter()
            .map(|s| Step {
                rule: s.rule.clone(),
                expr: printer(g, s.expr),
            })
            .collect()
    }

    /// A standalone LaTeX document (`article` with `amsmath`) of the derivation of the
    /// function called `name`: `d name = …` line by line with the rules, then
    /// `∇name = …`.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*x", "")?;
    /// let tex = f.gradient("x")?.latex_document("L");
    /// assert!(tex.starts_with("\\documentclass{article}"));
    /// assert!(tex.contains("\\mathrm{d}L &= ") && tex.contains("\\nabla L"));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn latex_document(&self, name: &str) -> String {
        print::latex_document(&print::latex_derivation(
            &self.function.graph,
            &self.inner.steps,
            &format!("\\mathrm{{d}}{name}"),
            &format!("\\nabla {name}"),
            self.inner.expr,
        ))
    }

    /// The result in Unicode, textbook look: `b + (A + Aᵀ)·x`.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*A*x", "A: matrix(n,n)")?;
    /// assert_eq!(f.hessian("x")?.pretty(), "A + Aᵀ");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn pretty(&self) -> String {
        print::pretty(&self.function.graph, self.inner.expr)
    }

    /// The result in LaTeX math.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*A*x", "A: matrix(n,n)")?;
    /// assert_eq!(f.hessian("x")?.latex(), "A + A^{\\top}");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn latex(&self) -> String {
        print::latex(&self.function.graph, self.inner.expr)
    }

    /// The derivation and the result as a LaTeX `align` environment, one line per
    /// step with its rule.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*x", "")?;
    /// let tex = f.gradient("x")?.latex_derivation();
    /// assert!(tex.starts_with("\\begin{align}") && tex.contains("\\nabla f &="));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn latex_derivation(&self) -> String {
        derivation::latex_align(&self.function.graph, &self.inner, None)
    }

    /// The same derivative without its derivation: the renderings then show the
    /// result alone.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*x", "")?;
    /// let g = f.gradient("x")?.without_steps();
    /// assert!(g.steps().is_empty());
    /// assert_eq!(g.text_derivation(), "2*x\n");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn without_steps(mut self) -> Derivative {
        self.inner.steps.clear();
        self
    }

    /// The derivation and the result as lines of text that parses back
    /// (`df = d(f)    (rule)`, `   = …`, then the result alone).
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*x", "")?;
    /// assert!(f.gradient("x")?.text_derivation().starts_with("df = d(x'*x)"));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn text_derivation(&self) -> String {
        derivation::lines(&self.function.graph, &self.inner, Notation::Text)
    }

    /// The derivation and the result as lines of Unicode text, the result with its
    /// header (`∇f = …`).
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*x", "")?;
    /// assert!(f.gradient("x")?.pretty_derivation().ends_with("∇f = 2·x\n"));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn pretty_derivation(&self) -> String {
        derivation::lines(&self.function.graph, &self.inner, Notation::Pretty)
    }

    /// The derivative as data: kind, result, LaTeX, shape and steps (the schema of
    /// `matdiff derive --format json`).
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*x", "")?;
    /// let report = f.gradient("x")?.report();
    /// assert_eq!((report.kind, report.result.as_str()), ("gradient", "2*x"));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn report(&self) -> crate::DerivationReport {
        derivation::Report::new(&self.function.graph, &self.inner)
    }

    /// A NumPy function returning the value and this derivative.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*x", "")?;
    /// assert!(f.gradient("x")?.to_numpy()?.contains("import numpy as np"));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn to_numpy(&self) -> Result<String, Error> {
        codegen::numpy(&self.function, &self.inner).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// A Rust function (on faer) returning the value and this derivative.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*x", "")?;
    /// assert!(f.gradient("x")?.to_rust()?.contains("pub fn"));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn to_rust(&self) -> Result<String, Error> {
        codegen::rust(&self.function, &self.inner).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// The derivative's value at `inputs` (a differential form also needs the
    /// direction, [`Inputs::direction`]).
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*A*x", "A: matrix(n,n)")?;
    /// let a = matdiff::faer::mat![[1.0, 2.0], [3.0, 4.0]];
    /// let h = f.hessian("x")?.evaluate(&matdiff::Inputs::new().matrix("A", a.as_ref()))?;
    /// assert_eq!(h[(0, 1)], 5.0);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn evaluate(&self, inputs: &Inputs<'_>) -> Result<Mat<f64>, Error> {
        let g = &self.function.graph;
        let needs_direction = g
            .reachable(&[self.inner.expr])
            .into_iter()
            .any(|n| matches!(g.node(n), Node::Differential(_)));
        let direction = format!("d{}", g.name(self.inner.wrt));
        if needs_direction && !inputs.names().contains(&direction.as_str()) {
            return Err(Error::Invalid(format!(
                "this {} is linear in `{direction}` — give the direction with Inputs::direction",
                self.inner.kind.name()
            )));
        }
        let values = evaluate(g, &[self.inner.expr], inputs)?;
        Ok(values[0].to_matrix())
    }

    /// Compares the derivative with central finite differences on five random
    /// instances.
    ///
    /// ```
    /// let f = matdiff::Function::parse("x'*A*x", "A: matrix(n,n)")?;
    /// assert!(f.hessian("x")?.check()?.passed);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn check(&self) -> Result<Check, Error> {
        self.check_with(&Checking::default())
    }

    /// [`Derivative::check`] with the number of trials, the seed, the tolerance and
    /// sizes of named dimensions given.
    ///
    /// ```
    /// use matdiff::Checking;
    ///
    /// let f = matdiff::Function::parse("x'*A*x", "A: matrix(n,n)")?;
    /// let checking = Checking { trials: 2, sizes: vec![("n".into(), 7)], ..Checking::default() };
    /// let check = f.gradient("x")?.check_with(&checking)?;
    /// assert_eq!((check.errors.len(), check.sizes.clone()), (2, vec![("n".to_string(), 7)]));
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn check_with(&self, checking: &Checking) -> Result<Check, Error> {
        let g = &self.function.graph;
        let options = CheckOptions {
            trials: checking.trials,
            seed: checking.seed,
            tol: checking.tol,
            fixed: checking.sizes.clone(),
        };
        options.validate().map_err(|e| Error::InvalidOption {
            option: e.option,
            reason: e.reason,
        })?;
        let report = matdiff_num::check_derivative(&self.function, &self.inner, &options)
            .map_err(|e| eval_error(g, e))?;
        Ok(check_report(g, &self.inner, report))
    }
}

/// How [`Derivative::check_with`] compares with finite differences.
///
/// ```
/// let checking = matdiff::Checking::default();
/// assert_eq!((checking.trials, checking.tol), (5, 1e-6));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Checking {
    /// Random instances to try.
    pub trials: usize,
    /// Seed of the instances and directions.
    pub seed: u64,
    /// The largest relative error that passes.
    pub tol: f64,
    /// Sizes of named dimensions; the others get small distinct sizes.
    pub sizes: Vec<(String, usize)>,
}

impl Default for Checking {
    fn default() -> Checking {
        let defaults = CheckOptions::default();
        Checking {
            trials: defaults.trials,
            seed: defaults.seed,
            tol: defaults.tol,
            sizes: defaults.fixed,
        }
    }
}

impl fmt::Display for Derivative {
    /// The result as text that parses back: `b + (A + A')*x`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print::text(&self.function.graph, self.inner.expr))
    }
}
