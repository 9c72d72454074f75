//! `matdiff bench` (hidden): times the full-batch loss and gradient of a loss on data
//! through the derived evaluation plan, for `bench/compare.py` and for profiling.
//!
//! ```text
//! matdiff bench "1/N*norm2(X*w - y)^2" --wrt w --let "X: matrix(N, d)" \
//!     --data X=X.npy --data y=y.npy --repeat 5 [--hoist] [--json]
//! ```
//!
//! Prints the median seconds of one evaluation over `--repeat` runs at the point
//! `w_i = sin(i + 1)` (data loading and plan compilation excluded), the load seconds and
//! the sum of the gradient's entries (a checksum to compare with another
//! implementation). Without `--hoist` the plain derived plan runs, as it does for one
//! mini-batch; with it, the loop-invariant subexpressions are computed once first
//! (and timed apart).

use std::time::Instant;

use anyhow::Result;
use matdiff::fit::{Batch, Objective};
use serde_json::json;

use crate::commands::minimize::{bad_input, load_data};
use crate::input::load;
use crate::report::Failure;

/// Arguments of `matdiff bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The loss (a scalar expression), or `@file` with declarations and the expression.
    pub expr: String,
    /// The variable the gradient is taken with respect to.
    #[arg(long, value_name = "NAME")]
    pub wrt: String,
    /// Declarations, separated by `;` or `,`.
    #[arg(long = "let", value_name = "DECLS")]
    pub decls: Option<String>,
    /// Data for a variable: a CSV with a header row or a .npy file.
    #[arg(long = "data", value_name = "NAME=FILE")]
    pub data: Vec<String>,
    /// Timed evaluations; the median is reported.
    #[arg(long, value_name = "K", default_value_t = 5)]
    pub repeat: usize,
    /// Compute the loop invariants once first, as full-batch minimisation does.
    #[arg(long)]
    pub hoist: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `matdiff bench`.
pub fn run(args: Args) -> Result<()> {
    if args.repeat == 0 {
        return Err(Failure::BadInput("--repeat must be at least 1".to_owned()).into());
    }
    let function = load(&args.expr, args.decls.as_deref())?;
    let started = Instant::now();
    let data = load_data(&args.data, &function)?;
    let load_seconds = started.elapsed().as_secs_f64();
    let mut problem = matdiff::fit::problem(&function, &args.wrt, data, None).map_err(bad_input)?;
    let started = Instant::now();
    let hoisted = if args.hoist {
        problem.hoist().map_err(bad_input)?.values
    } else {
        Vec::new()
    };
    let hoist_seconds = started.elapsed().as_secs_f64();
    // The point `w_i = sin(i + 1)`, which bench/peers.py uses too.
    let w: Vec<f64> = (0..problem.dim()).map(|i| ((i + 1) as f64).sin()).collect();
    let mut grad = vec![0.0; problem.dim()];
    let mut times = Vec::with_capacity(args.repeat);
    let mut loss = 0.0;
    for _ in 0..args.repeat {
        let t = Instant::now();
        loss = problem
            .loss_and_gradient(&w, Batch::All, &mut grad)
            .map_err(|e| Failure::Failed(e.to_string()))?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let checksum: f64 = grad.iter().sum();
    if args.json {
        println!(
            "{}",
            json!({
                "seconds": median,
                "min_seconds": times[0],
                "load_seconds": load_seconds,
                "hoist_seconds": hoist_seconds,
                "hoisted": hoisted,
                "loss": loss,
                "checksum": checksum,
            })
        );
    } else {
        println!(
            "median {median:.6} s over {} runs (min {:.6} s)",
            args.repeat, times[0]
        );
        println!("load {load_seconds:.3} s, hoisting {hoist_seconds:.3} s");
        for h in &hoisted {
            println!("hoisted {h}");
        }
        println!("loss {loss}\ngradient checksum {checksum}");
    }
    Ok(())
}
