//! `--lr-sweep`: the same problem from the same start with the same seed at several
//! learning rates, their loss curves on one chart — the seminar's "small vs large
//! learning rate" picture on the user's own problem.
//!
//! A rate that diverges is a result here, not a failure: its curve is drawn up to where
//! it left the chart, the legend and the table say at which iteration, and the command
//! still exits 0.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use matdiff::fit::{History, Options, Outcome, PreparedFit};
use matdiff::StopReason;
use serde_json::json;

use super::plot::{self, Curve};
use super::{fit_failure, progress_bar, Progress};
use crate::report::Failure;

/// One learning rate of the sweep, as the user wrote it and as a number.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Rate {
    pub text: String,
    pub value: f64,
}

/// Reads `--lr-sweep`: positive numbers separated by commas, each once.
pub(super) fn parse_rates(list: &str) -> Result<Vec<Rate>, Failure> {
    let bad = |what: String| {
        Failure::BadInput(format!(
            "--lr-sweep `{list}`: {what} — give positive learning rates separated by commas, e.g. 1e-4,1e-3,1e-2,1e-1"
        ))
    };
    let mut rates: Vec<Rate> = Vec::new();
    for item in list.split(',') {
        let text = item.trim();
        if text.is_empty() {
            return Err(bad("an entry is empty".to_owned()));
        }
        let value: f64 = text
            .parse()
            .map_err(|_| bad(format!("`{text}` is not a number")))?;
        if !(value.is_finite() && value > 0.0) {
            return Err(bad(format!("`{text}` is not a positive learning rate")));
        }
        if let Some(twin) = rates.iter().find(|r| r.value == value) {
            return Err(bad(format!("`{text}` repeats `{}`", twin.text)));
        }
        rates.push(Rate {
            text: text.to_owned(),
            value,
        });
    }
    Ok(rates)
}

/// How one run of the sweep ended.
enum End {
    /// A stop rule fired.
    Stopped(Outcome),
    /// The loss ran away or turned NaN/Inf at this iteration.
    Diverged { iteration: usize, loss: f64 },
    /// The loss could not be evaluated at this iteration (e.g. `log` of a negative
    /// entry after an overshooting step).
    Failed { iteration: usize, message: String },
}

impl End {
    /// How the run ended, for the legend.
    fn summary(&self) -> String {
        match self {
            End::Stopped(outcome) if outcome.stop.converged() => "converged".to_owned(),
            End::Stopped(outcome) => match outcome.stop {
                StopReason::MaxIterations | StopReason::MaxEpochs => "stopped at limit".to_owned(),
                StopReason::NoImprovement => "stopped: no improvement".to_owned(),
                _ => "stopped: line search failed".to_owned(),
            },
            End::Diverged { iteration, .. } => format!("diverged at iteration {iteration}"),
            End::Failed { iteration, .. } => format!("failed at iteration {iteration}"),
        }
    }

    /// The stop reason's machine name, or how the run broke off.
    fn reason(&self) -> String {
        match self {
            End::Stopped(outcome) => outcome.stop.name().to_owned(),
            _ => self.summary(),
        }
    }

    fn loss(&self) -> f64 {
        match self {
            End::Stopped(outcome) => outcome.loss,
            End::Diverged { loss, .. } => *loss,
            End::Failed { .. } => f64::NAN,
        }
    }

    fn iterations(&self) -> usize {
        match self {
            End::Stopped(outcome) => outcome.iterations,
            End::Diverged { iteration, .. } | End::Failed { iteration, .. } => *iteration,
        }
    }
}

/// One learning rate's run: its full-loss history and how it ended.
struct SweepRun {
    rate: Rate,
    history: History,
    end: End,
}

/// Where and how the sweep reports.
pub(super) struct Report<'a> {
    pub plot: &'a Path,
    pub json: bool,
    pub quiet: bool,
}

/// Runs the prepared fit from its start at every rate, draws the curves and returns
/// the table (or JSON) for stdout. Fails only on bad input or an unwritable plot.
pub(super) fn sweep(
    fit: &mut PreparedFit,
    rates: Vec<Rate>,
    report: &Report<'_>,
) -> Result<String> {
    let base = fit.options;
    let mut runs = Vec::with_capacity(rates.len());
    for rate in rates {
        fit.options = Options {
            lr: rate.value,
            ..base
        };
        let mut observer = Progress {
            history: History::new(),
            // Every rate's loss curve is drawn and tabled.
            keeps_losses: true,
            bar: report.bar_wanted().then(|| {
                let bar = progress_bar(&fit.options);
                bar.set_prefix(format!("η = {}  ", rate.text));
                bar
            }),
            by_epoch: fit.options.stop.max_epochs.is_some(),
        };
        let result = fit.run(&mut observer);
        if let Some(bar) = &observer.bar {
            observer.finish(bar, result.as_ref().ok());
        }
        let end = match result {
            Ok(outcome) => End::Stopped(outcome),
            Err(error) => match (error.diverged_at(), error.failed_evaluation()) {
                (Some((iteration, loss)), _) => End::Diverged { iteration, loss },
                (None, Some((iteration, message))) => End::Failed { iteration, message },
                (None, None) => return Err(fit_failure(&error, None)),
            },
        };
        if let (End::Failed { iteration, message }, false) = (&end, report.quiet) {
            eprintln!(
                "note: η = {} failed at iteration {iteration}: {message}",
                rate.text
            );
        }
        runs.push(SweepRun {
            rate,
            history: observer.history,
            end,
        });
    }
    fit.options = base;
    plot::plot(&curves(&runs), report.plot).map_err(|e| {
        Failure::BadInput(format!(
            "cannot draw the plot `{}`: {e}",
            report.plot.display()
        ))
    })?;
    Ok(if report.json {
        json_report(fit, &runs)
    } else {
        table(&runs)
    })
}

impl Report<'_> {
    fn bar_wanted(&self) -> bool {
        !self.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())
    }
}

/// The loss curves, with runaway runs cut where they leave the chart: the chart's top
/// is a decade (log scale) or a span (linear scale) above the highest loss of the runs
/// that did not diverge and of every start, so that one exploding rate does not
/// flatten the others into the floor.
fn curves(runs: &[SweepRun]) -> Vec<Curve> {
    let finite = |run: &SweepRun| -> Vec<(f64, f64)> {
        run.history
            .records
            .iter()
            .filter(|r| r.loss.is_finite())
            .map(|r| (r.iteration as f64, r.loss))
            .collect()
    };
    let kept = |run: &SweepRun| matches!(run.end, End::Stopped(_));
    let mut reference = f64::NEG_INFINITY;
    let mut lowest = f64::INFINITY;
    for run in runs {
        let points = finite(run);
        if let Some(first) = points.first() {
            reference = reference.max(first.1);
        }
        for p in &points {
            lowest = lowest.min(p.1);
            if kept(run) {
                reference = reference.max(p.1);
            }
        }
    }
    let top = if lowest > 0.0 {
        reference * 10.0
    } else {
        reference + (reference - lowest).max(1.0)
    };
    runs.iter()
        .map(|run| {
            let mut points = Vec::new();
            let mut left_chart = false;
            for record in &run.history.records {
                let x = record.iteration as f64;
                if !(record.loss.is_finite() && record.loss <= top) {
                    // The loss left the chart here: the line runs up to its top edge.
                    if !kept(run) {
                        points.push((x, top));
                        left_chart = true;
                        break;
                    }
                    continue;
                }
                points.push((x, record.loss));
            }
            // A stochastic run diverges on a batch, between two full losses: the
            // line runs up from the last full loss at the iteration of that batch.
            if let (End::Diverged { iteration, .. }, false) = (&run.end, left_chart) {
                let x = *iteration as f64;
                if points.last().is_some_and(|p| p.0 < x) {
                    points.push((x, top));
                }
            }
            Curve {
                label: Some(format!("η = {}: {}", run.rate.text, run.end.summary())),
                points,
            }
        })
        .collect()
}

/// The table on stdout: one row per rate.
fn table(runs: &[SweepRun]) -> String {
    let width = runs
        .iter()
        .map(|r| r.rate.text.chars().count())
        .max()
        .unwrap_or(0)
        .max(1)
        + 2;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}{:<16}{:<12}stop reason",
        "η", "final loss", "iterations"
    );
    for run in runs {
        let _ = writeln!(
            out,
            "{:<width$}{:<16}{:<12}{}",
            run.rate.text,
            format!("{:.6e}", run.end.loss()),
            run.end.iterations(),
            run.end.reason()
        );
    }
    out
}

/// `{"runs": [{"lr", "loss", "iterations", "epochs", "stop_reason", "converged", …}]}`;
/// a run that diverged or failed has `"stop_reason": "diverged" | "failed"`, the
/// iteration in `"at_iteration"` and no solution.
fn json_report(fit: &PreparedFit, runs: &[SweepRun]) -> String {
    let finite = |x: f64| if x.is_finite() { json!(x) } else { json!(null) };
    let rows: Vec<serde_json::Value> = runs
        .iter()
        .map(|run| match &run.end {
            End::Stopped(outcome) => json!({
                "lr": run.rate.value,
                "solution": fit.solution(&outcome.w).to_json(),
                "loss": outcome.loss,
                "grad_norm": outcome.gradient_norm,
                "iterations": outcome.iterations,
                "epochs": outcome.epochs,
                "stop_reason": outcome.stop.name(),
                "converged": outcome.stop.converged(),
                "seconds": outcome.seconds,
            }),
            End::Diverged { iteration, loss } => json!({
                "lr": run.rate.value,
                "loss": finite(*loss),
                "iterations": iteration,
                "stop_reason": "diverged",
                "at_iteration": iteration,
                "converged": false,
            }),
            End::Failed { iteration, message } => json!({
                "lr": run.rate.value,
                "loss": null,
                "iterations": iteration,
                "stop_reason": "failed",
                "at_iteration": iteration,
                "error": message,
                "converged": false,
            }),
        })
        .collect();
    format!(
        "{}\n",
        serde_json::to_string_pretty(&json!({ "runs": rows })).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_lists() {
        let ok = parse_rates("1e-4, 1e-3,0.5").unwrap();
        let values: Vec<f64> = ok.iter().map(|r| r.value).collect();
        assert_eq!(values, [1e-4, 1e-3, 0.5]);
        assert_eq!(ok[0].text, "1e-4");
        for (list, says) in [
            ("", "an entry is empty"),
            ("1e-3,,1e-2", "an entry is empty"),
            ("1e-3,fast", "`fast` is not a number"),
            ("0", "`0` is not a positive learning rate"),
            ("1e-2,-1", "`-1` is not a positive learning rate"),
            ("inf", "`inf` is not a positive learning rate"),
            ("0.01,1e-2", "`1e-2` repeats `0.01`"),
        ] {
            let message = parse_rates(list).unwrap_err().to_string();
            assert!(message.contains(says), "{list}: {message}");
        }
    }
}
