//! `matdiff eval`: the value of an expression on given inputs, with its gradient,
//! Jacobian or Hessian.

use anyhow::Result;
use matdiff_core::{derive, DerivativeKind, Function, Id, Node, Sym};
use matdiff_num::{EvalError, Inputs, Plan, Sizes};

use crate::input::load_function;
use crate::report::Failure;

/// Arguments of `matdiff eval`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression, or `@file` with declarations and the expression.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// Declarations, separated by `;` or `,`: `X: matrix(N, d); w: vector(d)`.
    #[arg(long = "let", value_name = "DECLS")]
    pub decls: Option<String>,
    /// The inputs: a JSON object of numbers, flat lists (vectors) and lists of rows.
    #[arg(long, value_name = "INPUTS.json", required_unless_present = "data")]
    pub at: Option<String>,
    /// One variable from a data file: `X=X.csv` (header row) or `X=X.npy`; repeatable,
    /// and combined with --at.
    #[arg(long = "data", value_name = "NAME=FILE")]
    pub data: Vec<String>,
    /// Also differentiate with respect to this variable.
    #[arg(long, value_name = "NAME")]
    pub wrt: Option<String>,
    /// 0: the value only; 1: and the gradient (or Jacobian); 2: and the Hessian.
    /// Defaults to 1 with --wrt, else 0.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub order: Option<u8>,
}

/// Runs `matdiff eval`.
pub fn run(args: Args) -> Result<()> {
    let mut function = load_function(&args.expr, args.decls.as_deref())?;
    let mut inputs = match &args.at {
        Some(at) => {
            let text = crate::input::read_text(
                at,
                crate::input::JSON_FILE_MAX_BYTES,
                "a JSON inputs file",
            )?;
            Inputs::from_json(&text, &function.graph)
                .map_err(|e| Failure::BadInput(format!("in `{at}`: {e}")))?
        }
        None => Inputs::new(),
    };
    for (k, binding) in args.data.iter().enumerate() {
        let (name, path) = binding
            .split_once('=')
            .ok_or_else(|| Failure::BadInput(format!("--data `{binding}`: expected NAME=FILE")))?;
        let name = name.trim();
        let given = function
            .graph
            .variable_named(name)
            .is_some_and(|v| inputs.get(v.name).is_some());
        if given {
            let first = if args.data[..k]
                .iter()
                .any(|b| b.split_once('=').is_some_and(|(n, _)| n.trim() == name))
            {
                "an earlier --data".to_owned()
            } else {
                format!("--at {}", args.at.as_deref().unwrap_or_default())
            };
            return Err(Failure::BadInput(format!(
                "--data {binding}: `{name}` is already given by {first} — give each variable once"
            ))
            .into());
        }
        let value =
            crate::input::load_matrix(path).map_err(|e| Failure::BadInput(e.to_string()))?;
        inputs
            .set_named(&function.graph, name, value)
            .map_err(|e| Failure::BadInput(format!("--data {binding}: {e}")))?;
    }
    let source = match (&args.at, args.data.is_empty()) {
        (Some(at), true) => at.clone(),
        (Some(at), false) => format!("{at} and --data"),
        (None, _) => "--data".to_string(),
    };
    let order = args.order.unwrap_or(if args.wrt.is_some() { 1 } else { 0 });
    // The value is computed in its stable form (`log(1 + exp(z))` as `softplus(z)`).
    function.root = matdiff_core::stable::stabilize(&mut function.graph, function.root);
    let mut outputs: Vec<(&'static str, Id)> = vec![("value", function.root)];
    match (&args.wrt, order) {
        (None, 0) => {}
        (None, _) => {
            return Err(Failure::BadInput(format!(
                "--order {order} needs --wrt NAME: the variable to differentiate by"
            ))
            .into())
        }
        (Some(_), 0) => {}
        (Some(wrt), _) => outputs.extend(derivatives(&mut function, wrt, order)?),
    }
    let json = evaluate(&function, &inputs, &outputs, &source)?;
    println!("{json}");
    Ok(())
}

/// Whether the variable is a matrix (not a scalar or a vector): its Hessian is a
/// linear map, even where it happens to be zero.
fn is_matrix(graph: &matdiff_core::Graph, var: Sym) -> bool {
    graph
        .variable(var)
        .is_some_and(|v| v.shape.cols != matdiff_core::Dim::ONE)
}

/// The derivative outputs (`gradient`, `jacobian`, `hessian`) of `function`.
fn derivatives(function: &mut Function, wrt: &str, order: u8) -> Result<Vec<(&'static str, Id)>> {
    let d = derive(function, wrt, order).map_err(|e| Failure::BadInput(e.to_string()))?;
    let graph = &function.graph;
    let in_direction = |id: Id, var: Sym| {
        graph
            .reachable(&[id])
            .into_iter()
            .any(|n| graph.node(n) == Node::Differential(var))
    };
    match d.kind {
        DerivativeKind::Gradient => Ok(vec![("gradient", d.expr)]),
        DerivativeKind::Jacobian => Ok(vec![("jacobian", d.expr)]),
        DerivativeKind::Differential => Err(Failure::BadInput(format!(
            "the derivative with respect to `{wrt}` is a differential form, not an array of numbers — \
             see it with `matdiff derive EXPR --wrt {wrt}`"
        ))
        .into()),
        DerivativeKind::Hessian if in_direction(d.expr, d.wrt) || is_matrix(graph, d.wrt) => Err(Failure::BadInput(format!(
            "the hessian with respect to the matrix `{wrt}` is a linear map, not an array of numbers — \
             see it with `matdiff derive EXPR --wrt {wrt} --order 2`"
        ))
        .into()),
        DerivativeKind::Hessian => {
            let mut out = Vec::new();
            if let Some(g) = d.gradient {
                out.push(("gradient", g));
            }
            out.push(("hessian", d.expr));
            Ok(out)
        }
    }
}

/// Evaluates every output with one plan and writes `{"value": …, …}` in that order.
fn evaluate(
    function: &Function,
    inputs: &Inputs,
    outputs: &[(&str, Id)],
    at: &str,
) -> Result<String> {
    let graph = &function.graph;
    let fail = |e: EvalError| -> anyhow::Error {
        if e.is_input_error() {
            Failure::BadInput(format!("in `{at}`: {}", e.describe(graph))).into()
        } else if matches!(e, EvalError::Domain { .. }) {
            // The point is the user's, as a starting point is in `minimize`: outside
            // the function's domain it is bad input (exit 2) there and here.
            Failure::BadInput(e.describe(graph)).into()
        } else {
            Failure::Failed(e.describe(graph)).into()
        }
    };
    let roots: Vec<Id> = outputs.iter().map(|(_, id)| *id).collect();
    inputs
        .check_complete(graph, &roots)
        .map_err(|e| fail(e.into()))?;
    let sizes = Sizes::bind(graph, inputs).map_err(|e| fail(e.into()))?;
    let mut plan = Plan::compile(graph, &roots, &sizes).map_err(fail)?;
    let values = plan.run(inputs).map_err(fail)?;
    let fields: Vec<String> = outputs
        .iter()
        .zip(&values)
        .map(|((name, _), v)| format!("\"{name}\": {}", v.to_json()))
        .collect();
    Ok(format!("{{{}}}", fields.join(", ")))
}
