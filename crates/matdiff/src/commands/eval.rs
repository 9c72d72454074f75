//! `matdiff eval`: the value of an expression on given inputs, with its gradient,
//! Jacobian or Hessian.

use anyhow::Result;
use matdiff::{Error, Values};

use crate::input::load;
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
    /// The inputs: a JSON object of numbers, flat lists (vectors) and lists of rows by
    /// variable name (a bare value for a function of one variable), inline or `@FILE`.
    #[arg(
        long,
        value_name = "JSON|@FILE",
        required_unless_present = "data",
        allow_hyphen_values = true
    )]
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
    /// Print one JSON object (what eval always prints; accepted as on every subcommand).
    #[arg(long)]
    pub json: bool,
}

/// Runs `matdiff eval`: reads the inputs, asks the library for the value and the
/// derivatives, and prints them as one JSON object.
pub fn run(args: Args) -> Result<()> {
    let function = load(&args.expr, args.decls.as_deref())?;
    let mut values = match &args.at {
        Some(at) => {
            let (text, source) = crate::input::read_point("--at", at)?;
            function
                .values_from_json(&text)
                .map_err(|e| Failure::BadInput(format!("in `{source}`: {e}")))?
        }
        None => Values::new(),
    };
    for (k, binding) in args.data.iter().enumerate() {
        let (name, path) = binding
            .split_once('=')
            .ok_or_else(|| Failure::BadInput(format!("--data `{binding}`: expected NAME=FILE")))?;
        let name = name.trim();
        if values.contains(name) {
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
        values.insert(name, value);
    }
    let source = match (&args.at, args.data.is_empty()) {
        (Some(at), true) => at.clone(),
        (Some(at), false) => format!("{at} and --data"),
        (None, _) => "--data".to_string(),
    };
    let order = args.order.unwrap_or(if args.wrt.is_some() { 1 } else { 0 });
    if args.wrt.is_none() && order > 0 {
        return Err(Failure::BadInput(format!(
            "--order {order} needs --wrt NAME: the variable to differentiate by"
        ))
        .into());
    }
    let evaluation = function
        .evaluation(&values.inputs(), args.wrt.as_deref(), order)
        .map_err(|e| match e {
            // The point is the user's, as a starting point is in `minimize`: outside
            // the function's domain it is bad input (exit 2) there and here.
            Error::Domain(_) | Error::Invalid(_) | Error::TooLarge(_) => {
                Failure::BadInput(e.to_string())
            }
            other => Failure::BadInput(format!("in `{source}`: {other}")),
        })?;
    println!("{evaluation}");
    Ok(())
}
