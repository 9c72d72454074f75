//! `matdiff check`: the derivative against central finite differences on random
//! instances.

use std::fmt::Write as _;

use anyhow::Result;
use matdiff::{Checking, Function};

use crate::input::load;
use crate::report::Failure;

/// Arguments of `matdiff check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression, or `@file` with declarations and the expression.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// The variable to differentiate by.
    #[arg(long, value_name = "NAME")]
    pub wrt: String,
    /// Declarations, separated by `;` or `,`: `X: matrix(N, d); w: vector(d)`.
    #[arg(long = "let", value_name = "DECLS")]
    pub decls: Option<String>,
    /// 1: gradient, Jacobian or differential; 2: Hessian.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub order: u8,
    /// Random instances to try.
    #[arg(long, default_value_t = 5)]
    pub trials: usize,
    /// Seed of the random instances.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The largest relative error that passes.
    #[arg(long, default_value_t = 1e-6)]
    pub tol: f64,
    /// Sizes of named dimensions, e.g. `n=5,m=3`; the others get small distinct sizes.
    #[arg(long, value_name = "NAME=SIZE,...")]
    pub dims: Option<String>,
    /// Print the report as one JSON object (kind, wrt, passed, errors, floors,
    /// trials_passed, tol, sizes, and the derivative).
    #[arg(long)]
    pub json: bool,
}

/// Runs `matdiff check` through the library; exits 1 when the derivative does not
/// match.
pub fn run(args: Args) -> Result<()> {
    let function = load(&args.expr, args.decls.as_deref())?;
    let sizes = parse_dims(args.dims.as_deref().unwrap_or(""), &function)?;
    let d = function
        .derivative(&args.wrt, args.order)
        .map_err(crate::commands::derive::derive_failure)?;
    let checking = Checking {
        trials: args.trials,
        seed: args.seed,
        tol: args.tol,
        sizes,
    };
    let report = d.check_with(&checking).map_err(|e| -> anyhow::Error {
        let message = format!("on a random instance: {e}");
        match e {
            matdiff::Error::InvalidOption { option, reason } => {
                let flag = match option {
                    "trials" => "--trials",
                    "tol" => "--tol",
                    _ => "--dims",
                };
                Failure::BadInput(format!("invalid {flag}: {reason}")).into()
            }
            matdiff::Error::Domain(_) => Failure::Failed(message).into(),
            _ => Failure::BadInput(message).into(),
        }
    })?;
    let what = report.kind;
    if args.json {
        #[derive(serde::Serialize)]
        struct Output<'a> {
            derivative: String,
            #[serde(flatten)]
            report: &'a matdiff::Check,
        }
        let output = Output {
            derivative: d.to_string(),
            report: &report,
        };
        println!("{}", serde_json::to_string_pretty(&output)?);
        return exit_for(&report);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{what}: {d}");
    let sizes: Vec<String> = report
        .sizes
        .iter()
        .map(|(name, n)| format!("{name} = {n}"))
        .collect();
    let _ = writeln!(out, "sizes: {}", sizes.join(", "));
    // The raw error beside the rounding floor of finite differences: a trial passes
    // within the tolerance, or below the floor, where the differences cannot see more.
    for (i, (e, floor)) in report.errors.iter().zip(&report.floors).enumerate() {
        let below = if *e > report.tol && report.trials_passed[i] {
            " (below the floor)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "trial {}: max relative error {e:.2e}, rounding floor {floor:.2e}{below}",
            i + 1
        );
    }
    let verdict = if report.passed { "PASS" } else { "FAIL" };
    let _ = writeln!(out, "{verdict} (tolerance {:e})", report.tol);
    print!("{out}");
    exit_for(&report)
}

/// Exit 0 when the check passed, 1 with the worst error when it did not.
fn exit_for(report: &matdiff::Check) -> Result<()> {
    if report.passed {
        Ok(())
    } else {
        let worst = report.errors.iter().copied().fold(0.0, f64::max);
        Err(Failure::Failed(format!(
            "the {} does not match finite differences (max relative error {worst:.2e} > {:e})",
            report.kind, report.tol
        ))
        .into())
    }
}

/// `n=5,m=3` as named sizes; every name must be a dimension of the function.
fn parse_dims(text: &str, function: &Function) -> Result<Vec<(String, usize)>> {
    let dims = function.summary().dims;
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = || {
            Failure::BadInput(format!(
                "--dims expects NAME=SIZE pairs like `n=5,m=3`, found `{item}`"
            ))
        };
        let (name, size) = item.split_once('=').ok_or_else(bad)?;
        let (name, size) = (name.trim(), size.trim());
        let size: usize = size.parse().ok().filter(|&n| n > 0).ok_or_else(bad)?;
        if !dims.iter().any(|d| d == name) {
            return Err(Failure::BadInput(format!(
                "--dims: `{name}` is not a dimension of the expression"
            ))
            .into());
        }
        out.push((name.to_string(), size));
    }
    Ok(out)
}
