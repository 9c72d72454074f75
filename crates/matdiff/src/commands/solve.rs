//! `matdiff solve`: the closed-form stationary point of a quadratic loss, from
//! `∇f = 0`, with the steps, the Hessian's classification and, on data, the numbers.
//!
//! The symbolic work is [`matdiff_core::solve`]; the numbers go through the
//! evaluation plan, which computes `inv(A)*b` as a solve, never as an inverse.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use anyhow::Result;
use matdiff_core::solve::{equation_text, Report, Solution};
use matdiff_core::{print, Function, Graph, Id};
use matdiff_num::{EvalError, Inputs, Plan, Sizes, Value};
use serde::Serialize;

use crate::commands::derive::derive_failure;
use crate::commands::minimize::load_data;
use crate::input::load;
use crate::report::Failure;

/// Output formats of `matdiff solve`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ASCII that parses back: `w = inv(X'*X)*X'*y`, the Hessian and the verdict.
    Text,
    /// Unicode, the seminar's look: `∇f = 0 ⇔ … ⇔ w = (XᵀX)⁻¹Xᵀy`.
    Pretty,
    /// A LaTeX `align*` environment.
    Latex,
    /// One JSON object: solution, hessian, definiteness, verdict, steps (and numbers).
    Json,
    /// A Python module: `solution(…)` and `f_and_grad`, checking ∇f(w*) = 0 when run.
    Numpy,
    /// A Rust function on faer 0.24: `pub fn solution(…)`.
    Rust,
}

/// Arguments of `matdiff solve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression, or `@file` with declarations and the expression.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// The variable to solve for.
    #[arg(long, value_name = "NAME")]
    pub wrt: String,
    /// Declarations, separated by `;` or `,`: `X: matrix(N, d); W: spd(N)`.
    #[arg(long = "let", value_name = "DECLS")]
    pub decls: Option<String>,
    /// Show the steps from ∇f = 0 to the solution.
    #[arg(long)]
    pub steps: bool,
    /// How to print the result [default: pretty on a terminal, text otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Evaluate the solution on data: `X=X.csv` (header row), `X=X.npy` or
    /// `lambda=lambda.json`; repeatable, and combined with --at.
    #[arg(long = "data", value_name = "NAME=FILE")]
    pub data: Vec<String>,
    /// Evaluate the solution on inputs from a JSON object of numbers, flat lists
    /// (vectors) and lists of rows.
    #[arg(long, value_name = "INPUTS.json")]
    pub at: Option<String>,
}

/// Runs `matdiff solve`.
pub fn run(args: Args) -> Result<()> {
    let format = args.format.unwrap_or_else(|| {
        if std::io::stdout().is_terminal() {
            Format::Pretty
        } else {
            Format::Text
        }
    });
    let solved = load(&args.expr, args.decls.as_deref())?
        .solve(&args.wrt)
        .map_err(refusal)?;
    if matches!(format, Format::Numpy | Format::Rust) {
        if !args.data.is_empty() || args.at.is_some() {
            return Err(Failure::BadInput(
                "--format numpy and --format rust write code, not numbers — \
                 leave out --data and --at, or evaluate with --format text or json"
                    .to_string(),
            )
            .into());
        }
        let code = if format == Format::Numpy {
            solved.to_numpy()
        } else {
            solved.to_rust()
        };
        print!("{}", code.map_err(refusal)?);
        return Ok(());
    }
    let (mut function, solution) = solved.into_internal();
    let numbers = if args.data.is_empty() && args.at.is_none() {
        None
    } else {
        Some(evaluate(&mut function, &solution, &args)?)
    };
    let g = &function.graph;
    let output = match format {
        Format::Json => render_json(g, &solution, numbers.as_ref(), args.steps),
        Format::Latex => render_latex(g, &solution, args.steps),
        Format::Text | Format::Pretty | Format::Numpy | Format::Rust => {
            render_lines(g, &solution, format, args.steps, numbers.as_ref())
        }
    };
    print!("{output}");
    Ok(())
}

/// Why there is no closed form, as an error with its exit code: no closed form is a
/// failed solve (1, with the caret the library drew); anything else is bad input (2).
fn refusal(error: matdiff::Error) -> anyhow::Error {
    match error {
        matdiff::Error::NoClosedForm(_) => {
            error.eprint();
            Failure::Reported(1).into()
        }
        matdiff::Error::UnknownVariable { .. } => derive_failure(error),
        other => {
            other.eprint();
            Failure::Reported(2).into()
        }
    }
}

/// The solution evaluated on the given inputs through one plan, and the gradient
/// there.
#[derive(Serialize)]
struct Numbers {
    /// The stationary point.
    solution: serde_json::Value,
    /// `‖∇f(w*)‖` (Frobenius).
    gradient_norm: f64,
    /// How many linear solves the plan made (each `inv(A)*B`).
    solves: usize,
}

fn evaluate(function: &mut Function, solution: &Solution, args: &Args) -> Result<Numbers> {
    let source = match (&args.at, args.data.is_empty()) {
        (Some(at), true) => at.clone(),
        (Some(at), false) => format!("{at} and --data"),
        (None, _) => "--data".to_string(),
    };
    let mut inputs = match &args.at {
        Some(at) => {
            let text = std::fs::read_to_string(at)
                .map_err(|e| Failure::BadInput(format!("cannot read `{at}`: {e}")))?;
            Inputs::from_json(&text, &function.graph)
                .map_err(|e| Failure::BadInput(format!("in `{at}`: {e}")))?
        }
        None => Inputs::new(),
    };
    for (name, value) in load_data(&args.data, &function.graph)? {
        inputs
            .set_named(&function.graph, &name, value)
            .map_err(|e| Failure::BadInput(format!("--data {name}: {e}")))?;
    }
    let gradient = solution.gradient_at_point(&mut function.graph);
    let graph = &function.graph;
    let fail = |e: EvalError| -> anyhow::Error {
        if e.is_input_error() {
            Failure::BadInput(format!("in `{source}`: {}", e.describe(graph))).into()
        } else {
            Failure::Failed(format!(
                "{} — the system is singular on these data; {}",
                e.describe(graph),
                solution.minimum_norm.as_ref().map_or_else(
                    || "no closed form applies".to_string(),
                    |m| format!("the minimum-norm solution is {}, by {}", m.text, m.solver)
                )
            ))
            .into()
        }
    };
    let roots = [solution.point, gradient];
    inputs
        .check_complete(graph, &roots)
        .map_err(|e| fail(e.into()))?;
    let sizes = Sizes::bind(graph, &inputs).map_err(|e| fail(e.into()))?;
    let mut plan = Plan::compile(graph, &roots, &sizes).map_err(fail)?;
    let values = plan.run(&inputs).map_err(fail)?;
    Ok(Numbers {
        solution: values[0].to_json(),
        gradient_norm: frobenius(&values[1]),
        solves: plan.solve_count(),
    })
}

fn frobenius(v: &Value) -> f64 {
    let m = v.to_matrix();
    let mut sum = 0.0;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            sum += m[(i, j)] * m[(i, j)];
        }
    }
    sum.sqrt()
}

/// Text or pretty: the steps (when asked), the solution, the Hessian with its
/// classification, the verdict, the singular case, and the numbers.
fn render_lines(
    g: &Graph,
    solution: &Solution,
    format: Format,
    steps: bool,
    numbers: Option<&Numbers>,
) -> String {
    let pretty = format == Format::Pretty;
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
    let hessian_name = if is_second_differential(g, solution) {
        "d(∇f)"
    } else {
        "H"
    };
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
    if let Some(n) = numbers {
        let _ = writeln!(out, "{wrt}* = {}", n.solution);
        let _ = writeln!(
            out,
            "‖∇f({wrt}*)‖ = {:.3e} ({} linear solve{}, no inverse formed)",
            n.gradient_norm,
            n.solves,
            if n.solves == 1 { "" } else { "s" }
        );
    }
    out
}

/// `positive semidefinite (X'*X is a Gram form)`.
fn definiteness_words(report: &Report) -> String {
    let what = match report.definiteness {
        matdiff_core::solve::Definiteness::PositiveDefinite => "positive definite",
        matdiff_core::solve::Definiteness::PositiveSemidefinite => "positive semidefinite",
        matdiff_core::solve::Definiteness::Unknown => "not known to be positive semidefinite",
    };
    let mut conditions = report.definite_when.clone();
    conditions.extend(report.assuming.iter().cloned());
    let when = if conditions.is_empty()
        || report.definiteness != matdiff_core::solve::Definiteness::PositiveDefinite
    {
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

/// A matrix variable's Hessian is the second differential, linear in `dX`.
fn is_second_differential(g: &Graph, solution: &Solution) -> bool {
    g.variable(solution.wrt)
        .is_some_and(|v| v.shape.cols != matdiff_core::Dim::ONE)
}

/// `\begin{align*}` with one `\iff` line per step, then the solution.
fn render_latex(g: &Graph, solution: &Solution, steps: bool) -> String {
    let mut out = String::from("\\begin{align*}\n");
    let wrt = g.name(solution.wrt);
    if steps {
        out.push_str("  & \\nabla f = 0 \\\\\n");
        for step in &solution.steps {
            let _ = writeln!(
                out,
                "  \\iff{{}} & {} \\\\",
                equation_text(g, step, print::latex)
            );
        }
    }
    let _ = writeln!(out, "  {wrt}^\\star &= {}", print::latex(g, solution.point));
    out.push_str("\\end{align*}\n");
    out
}

/// The [`Report`], with the numbers when the solution was evaluated; steps only
/// when asked.
fn render_json(g: &Graph, solution: &Solution, numbers: Option<&Numbers>, steps: bool) -> String {
    #[derive(Serialize)]
    struct Output<'a> {
        #[serde(flatten)]
        report: Report,
        #[serde(skip_serializing_if = "Option::is_none")]
        numbers: Option<&'a Numbers>,
    }
    let mut report = solution.report(g);
    if !steps {
        report.steps.clear();
    }
    let output = Output { report, numbers };
    format!(
        "{}\n",
        serde_json::to_string_pretty(&output).unwrap_or_default()
    )
}
