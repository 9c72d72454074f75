//! `mpirun -n K matdiff linreg --x X.npy --y y.npy --distributed`: each rank maps its
//! rows of the `.npy` files (or reads its own `X.{rank}.npy`), the closed form is
//! combined in rank order, and rank 0 prints the fit as one process would.

use anyhow::Result;
use matdiff::linreg::LinearRegression;

use super::{bad, Args};
use crate::commands::ranks::Ranks;

/// Options that a distributed fit cannot honour, with what to do instead.
fn refuse_unsupported(args: &Args) -> Result<()> {
    let refusal = if args.data.is_some() {
        Some("--distributed reads .npy files — give --x X.npy --y y.npy (X.{rank}.npy for files split by rank)")
    } else if args.x.is_none() {
        Some("--distributed needs --x X.npy --y y.npy")
    } else if args.test_fraction > 0.0 {
        Some("--test-fraction is not distributed — split the rows into files beforehand")
    } else if args.save.is_some() {
        Some("--save is not distributed yet — fit in one process to save the model")
    } else if args.model != super::ModelArg::Linear {
        Some("--model logistic is not distributed — only least squares is")
    } else {
        None
    };
    match refusal {
        Some(message) => Err(bad(message)),
        None => Ok(()),
    }
}

/// Runs the distributed fit on this rank.
pub(super) fn run(args: &Args, model: LinearRegression) -> Result<()> {
    refuse_unsupported(args)?;
    let solver: matdiff::Solver = args
        .solver
        .parse()
        .map_err(|e: matdiff::linreg::LinregError| bad(e.to_string()))?;
    let model = LinearRegression { solver, ..model };
    fit_on_ranks(args, model)
}

#[cfg(not(feature = "mpi"))]
fn fit_on_ranks(_args: &Args, _model: LinearRegression) -> Result<()> {
    Ranks::start().map(|_| ())
}

#[cfg(feature = "mpi")]
fn fit_on_ranks(args: &Args, model: LinearRegression) -> Result<()> {
    use matdiff::distributed;

    let (x_path, y_path) = match (&args.x, &args.y) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err(bad("--distributed needs --x X.npy --y y.npy")),
    };
    let ranks = Ranks::start()?;
    let (rank, size) = (ranks.rank(), ranks.size());
    let peers = ranks.peers();
    // Every rank learns of a failure to read (the ranks compare notes): the rank that
    // failed says why, rank 0 which rank it was, and all exit 2.
    let shard = distributed::load(peers.as_ref(), x_path, y_path)
        .map_err(|e| ranks.tell(bad(e.to_string()), e.is_local(rank)))?;
    let y = faer::ColRef::from_slice(&shard.y);
    let fit = distributed::fit(peers.as_ref(), &model, shard.x.view(), y, &[])
        .map_err(|e| ranks.tell(super::fit_failure(e), false))?;
    if !ranks.reports() {
        return Ok(());
    }
    let source = format!(
        "{} and {}, {} rows over {size} rank{}",
        x_path.display(),
        y_path.display(),
        fit.rows,
        if size == 1 { "" } else { "s" }
    );
    if args.json {
        let mut object = super::fit_json(&fit.fit, &fit.scores, None, fit.rows, 0);
        if let serde_json::Value::Object(map) = &mut object {
            map.insert("ranks".to_owned(), serde_json::json!(size));
        }
        println!("{}", serde_json::to_string_pretty(&object)?);
    } else {
        print!(
            "{}",
            super::render(&source, &fit.fit, &fit.scores, None, fit.rows, 0)
        );
        for warning in &fit.fit.warnings {
            eprintln!("warning: {warning}");
        }
    }
    Ok(())
}
