//! The optimiser on a least-squares problem with a known closed-form solution.

mod optim_support;

use matdiff_fit::optim::{
    minimize, Batch, History, LineSearch, Method, NoObserver, Objective, ObjectiveError,
    OptimError, Options, Outcome, Sampling, Schedule, Scope, StopReason, StopRules,
};
use optim_support::{distance, limits, problem, LeastSquares, Problem};

fn run(problem: &mut Problem, options: &Options) -> Result<Outcome, OptimError> {
    minimize(&mut problem.objective, &[0.0; 4], options, &mut NoObserver)
}

#[test]
fn methods_reach_the_least_squares_solution() {
    let p = problem();
    let eta = 1.0 / p.lipschitz;
    // (case, options, tolerance on ‖w − w*‖)
    let cases: Vec<(&str, Options, f64)> = vec![
        (
            "gd with η = 1/L",
            Options {
                method: Method::Gd,
                lr: eta,
                stop: StopRules {
                    tol_grad: Some(1e-10),
                    max_epochs: Some(100_000),
                    ..StopRules::default()
                },
                ..Options::default()
            },
            1e-9,
        ),
        (
            "gd with η = 1.9/L",
            Options {
                method: Method::Gd,
                lr: 1.9 * eta,
                stop: StopRules {
                    tol_grad: Some(1e-10),
                    max_epochs: Some(100_000),
                    ..StopRules::default()
                },
                ..Options::default()
            },
            1e-9,
        ),
        (
            "gd with line search from a too large η",
            Options {
                method: Method::Gd,
                lr: 10.0,
                line_search: Some(LineSearch::default()),
                stop: StopRules {
                    tol_grad: Some(1e-10),
                    max_epochs: Some(100_000),
                    ..StopRules::default()
                },
                ..Options::default()
            },
            1e-9,
        ),
        (
            "momentum",
            Options {
                method: Method::MOMENTUM,
                lr: 0.1 * eta,
                stop: StopRules {
                    tol_grad: Some(1e-10),
                    max_epochs: Some(100_000),
                    ..StopRules::default()
                },
                ..Options::default()
            },
            1e-9,
        ),
        (
            "nesterov",
            Options {
                method: Method::NESTEROV,
                lr: 0.1 * eta,
                stop: StopRules {
                    tol_grad: Some(1e-10),
                    max_epochs: Some(100_000),
                    ..StopRules::default()
                },
                ..Options::default()
            },
            1e-9,
        ),
        (
            "momentum with line search",
            Options {
                method: Method::MOMENTUM,
                lr: 1.0,
                line_search: Some(LineSearch::default()),
                stop: StopRules {
                    tol_grad: Some(1e-10),
                    max_epochs: Some(100_000),
                    ..StopRules::default()
                },
                ..Options::default()
            },
            1e-9,
        ),
        (
            "adam, step-decayed η",
            Options {
                method: Method::ADAM,
                lr: 0.05,
                schedule: Schedule::Step {
                    every: 500,
                    factor: 0.3,
                },
                stop: limits(None, Some(5000)),
                ..Options::default()
            },
            1e-6,
        ),
        (
            "adam on mini-batches, invscaling",
            Options {
                method: Method::ADAM,
                batch: Some(20),
                lr: 0.05,
                schedule: Schedule::InvScaling { power: 0.5 },
                stop: limits(None, Some(300)),
                ..Options::default()
            },
            5e-2,
        ),
        (
            "sgd with invscaling",
            Options {
                method: Method::Sgd,
                lr: 0.1,
                schedule: Schedule::InvScaling { power: 0.5 },
                stop: limits(None, Some(200)),
                ..Options::default()
            },
            2e-2,
        ),
        (
            "sgd with replacement, step schedule",
            Options {
                method: Method::Sgd,
                lr: 0.05,
                sampling: Sampling::Replace,
                schedule: Schedule::Step {
                    every: 20,
                    factor: 0.5,
                },
                stop: limits(None, Some(200)),
                ..Options::default()
            },
            2e-2,
        ),
        (
            "mini-batch with invscaling",
            Options {
                method: Method::MiniBatch { batch: 16 },
                lr: 0.2,
                schedule: Schedule::InvScaling { power: 0.5 },
                stop: limits(None, Some(500)),
                ..Options::default()
            },
            2e-2,
        ),
        (
            "mini-batch, adaptive",
            Options {
                method: Method::MiniBatch { batch: 16 },
                lr: 0.2,
                schedule: Schedule::Adaptive,
                stop: StopRules {
                    min_improvement: 1e-7,
                    ..limits(None, Some(2000))
                },
                ..Options::default()
            },
            3e-3,
        ),
    ];
    let mut failures = Vec::new();
    for (case, options, tolerance) in cases {
        let mut p = problem();
        match run(&mut p, &options) {
            Ok(outcome) => {
                let error = distance(&outcome.w, &p.solution);
                if error.is_nan() || error >= tolerance {
                    failures.push(format!(
                        "{case}: ‖w − w*‖ = {error:e} ≥ {tolerance:e} after {} iterations ({})",
                        outcome.iterations, outcome.stop
                    ));
                }
            }
            Err(e) => failures.push(format!("{case}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Full-batch gradient descent with `η = 1/L` and only the given stop rules.
fn gd(p: &Problem, stop: StopRules) -> Options {
    Options {
        method: Method::Gd,
        lr: 1.0 / p.lipschitz,
        stop,
        ..Options::default()
    }
}

/// Runs with a history of every record.
fn run_with_history(p: &mut Problem, options: &Options) -> (Result<Outcome, OptimError>, History) {
    let mut history = History::new().with_steps();
    let result = minimize(&mut p.objective, &[0.0; 4], options, &mut history);
    (result, history)
}

fn epochs(history: &History) -> Vec<&matdiff_fit::optim::HistoryRecord> {
    history
        .records
        .iter()
        .filter(|r| r.scope == Scope::Epoch)
        .collect()
}

#[test]
fn each_stop_rule_fires_when_it_should_and_is_reported() {
    let p = problem();
    let far = Some(100_000);
    // Each case sets one rule besides a far-away limit, so only that rule can fire;
    // the check confirms from the history that it held at the end and not before.
    type Check = fn(&Outcome, &History) -> Result<(), String>;
    let cases: Vec<(StopReason, Options, Check)> = vec![
        (
            StopReason::GradientNorm,
            gd(
                &p,
                StopRules {
                    tol_grad: Some(1e-6),
                    ..limits(None, far)
                },
            ),
            |o, h| {
                let e = epochs(h);
                let before = e[e.len() - 2].grad_norm;
                ensure(o.gradient_norm < 1e-6 && before >= 1e-6, "gradient norms")
            },
        ),
        (
            StopReason::StepSize,
            gd(
                &p,
                StopRules {
                    tol_step: Some(1e-4),
                    ..limits(None, far)
                },
            ),
            |_, h| {
                let e = epochs(h);
                let (last, earlier) = e.split_last().unwrap();
                ensure(
                    last.step_norm < 1e-4 && earlier[1..].iter().all(|r| r.step_norm >= 1e-4),
                    "step norms",
                )
            },
        ),
        (
            StopReason::LossChange,
            gd(
                &p,
                StopRules {
                    tol_loss: Some(1e-8),
                    ..limits(None, far)
                },
            ),
            |_, h| {
                let e = epochs(h);
                let changes: Vec<f64> = e
                    .windows(2)
                    .map(|w| (w[1].loss - w[0].loss).abs())
                    .collect();
                let (last, earlier) = changes.split_last().unwrap();
                ensure(
                    *last < 1e-8 && earlier.iter().all(|c| *c >= 1e-8),
                    "loss changes",
                )
            },
        ),
        (
            StopReason::MaxIterations,
            Options {
                method: Method::Sgd,
                lr: 0.01,
                stop: limits(Some(37), None),
                ..Options::default()
            },
            |o, _| {
                ensure(
                    o.iterations == 37 && o.epochs == 0,
                    "37 steps within the first epoch",
                )
            },
        ),
        (
            StopReason::MaxEpochs,
            Options {
                method: Method::MiniBatch { batch: 16 },
                lr: 0.01,
                stop: limits(None, Some(3)),
                ..Options::default()
            },
            // ⌈200/16⌉ = 13 steps per epoch.
            |o, _| ensure(o.epochs == 3 && o.iterations == 39, "3 epochs of 13 steps"),
        ),
        (
            StopReason::NoImprovement,
            gd(
                &p,
                StopRules {
                    n_iter_no_change: Some(4),
                    min_improvement: 0.5,
                    ..limits(None, far)
                },
            ),
            // Gradient descent lowers the loss every step, so the best loss is the
            // previous one: the last four steps gained less than 0.5, the one before
            // them did not (or the run would have stopped earlier).
            |_, h| {
                let e = epochs(h);
                let gains: Vec<f64> = e.windows(2).map(|w| w[0].loss - w[1].loss).collect();
                let (earlier, last) = gains.split_at(gains.len() - 4);
                ensure(
                    last.iter().all(|g| *g < 0.5) && earlier.last().is_none_or(|g| *g >= 0.5),
                    "four epochs without improvement by 0.5",
                )
            },
        ),
        (
            StopReason::NoImprovement,
            Options {
                method: Method::MiniBatch { batch: 16 },
                lr: 0.1,
                schedule: Schedule::Adaptive,
                stop: StopRules {
                    min_improvement: 1e3,
                    ..limits(None, far)
                },
                ..Options::default()
            },
            // Every 5 epochs η is divided by 5, from 0.1 until it would fall below 1e-6.
            |o, h| {
                let lrs: Vec<f64> = epochs(h).iter().skip(1).map(|r| r.lr).collect();
                let expected: Vec<f64> = (0..lrs.len())
                    .map(|k| 0.1 / 5f64.powi((k / 5) as i32))
                    .collect();
                let close = lrs
                    .iter()
                    .zip(&expected)
                    .all(|(a, b)| (a - b).abs() <= 1e-15 * b);
                ensure(
                    close && o.epochs == 40,
                    "η divided by 5 every 5 epochs, 8 times",
                )
            },
        ),
    ];
    let mut failures = Vec::new();
    for (expected, options, check) in cases {
        let mut p = problem();
        match run_with_history(&mut p, &options) {
            (Ok(outcome), history) => {
                if outcome.stop != expected {
                    failures.push(format!("expected {expected:?}, got {:?}", outcome.stop));
                } else if let Err(e) = check(&outcome, &history) {
                    failures.push(format!("{expected:?}: {e}"));
                }
            }
            (Err(e), _) => failures.push(format!("{expected:?}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn ensure(condition: bool, what: &str) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(format!("{what} do not match the rule"))
    }
}

#[test]
fn the_gradient_rule_is_checked_at_the_start() {
    let mut p = problem();
    let w_star = p.solution.clone();
    let options = gd(
        &p,
        StopRules {
            tol_grad: Some(1e-8),
            ..limits(None, Some(10))
        },
    );
    let outcome = minimize(&mut p.objective, &w_star, &options, &mut NoObserver).unwrap();
    assert_eq!(outcome.stop, StopReason::GradientNorm);
    assert_eq!(outcome.iterations, 0);
}

/// An objective that reports the negated gradient: every step goes uphill.
struct WrongGradient(LeastSquares);

impl Objective for WrongGradient {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn samples(&self) -> usize {
        self.0.samples()
    }
    fn loss(&mut self, w: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
        self.0.loss(w, batch)
    }
    fn loss_and_gradient(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        grad: &mut [f64],
    ) -> Result<f64, ObjectiveError> {
        let loss = self.0.loss_and_gradient(w, batch, grad)?;
        grad.iter_mut().for_each(|g| *g = -*g);
        Ok(loss)
    }
}

#[test]
fn a_line_search_that_finds_no_decrease_stops_and_says_so() {
    let p = problem();
    let options = Options {
        line_search: Some(LineSearch::default()),
        ..gd(&p, limits(None, Some(100)))
    };
    let mut objective = WrongGradient(p.objective);
    let outcome = minimize(&mut objective, &[0.0; 4], &options, &mut NoObserver).unwrap();
    assert_eq!(outcome.stop, StopReason::LineSearchFailed);
    assert_eq!(outcome.iterations, 0);
    assert_eq!(outcome.w, vec![0.0; 4]);
}

#[test]
fn a_too_large_step_is_caught_as_divergence() {
    let p = problem();
    let eta = 1.0 / p.lipschitz;
    let cases = [
        (
            "gd, η = 2.5/L",
            Options {
                lr: 2.5 * eta,
                ..gd(&p, limits(None, Some(100_000)))
            },
        ),
        (
            "gd, η = 100/L",
            Options {
                lr: 100.0 * eta,
                ..gd(&p, limits(None, Some(100_000)))
            },
        ),
        (
            "sgd, η = 10",
            Options {
                method: Method::Sgd,
                lr: 10.0,
                stop: limits(None, Some(1000)),
                ..Options::default()
            },
        ),
        (
            "momentum, η = 5/L",
            Options {
                method: Method::MOMENTUM,
                lr: 5.0 * eta,
                ..gd(&p, limits(None, Some(100_000)))
            },
        ),
    ];
    for (case, options) in cases {
        let mut p = problem();
        let mut history = History::new().with_steps().with_weights();
        let result = minimize(&mut p.objective, &[0.0; 4], &options, &mut history);
        let Err(OptimError::Diverged {
            iteration,
            loss_trend,
            advice,
        }) = result
        else {
            panic!("{case}: expected divergence, got {result:?}");
        };
        assert!(iteration > 0, "{case}");
        assert!(loss_trend.len() >= 2, "{case}: {loss_trend:?}");
        let initial = history.records[0].loss;
        let last = *loss_trend.last().unwrap();
        assert!(
            !last.is_finite() || last > 1e3 * initial,
            "{case}: {loss_trend:?}"
        );
        assert!(
            loss_trend.windows(2).all(|w| w[1] >= w[0]) || !last.is_finite(),
            "{case}: {loss_trend:?}"
        );
        assert!(
            advice.contains("smaller learning rate")
                && advice.contains("line search")
                && !advice.contains("--"),
            "{case}: {advice}"
        );
        // The run stops before the weights overflow.
        let weights_finite = history
            .records
            .iter()
            .filter(|r| r.loss.is_finite())
            .all(|r| r.w.as_ref().unwrap().iter().all(|v| v.is_finite()));
        assert!(weights_finite, "{case}");
    }
}

/// The least-squares loss, but NaN from the `nan_from`-th evaluation on.
struct TurnsNan {
    inner: LeastSquares,
    calls: usize,
    nan_from: usize,
}

impl Objective for TurnsNan {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn samples(&self) -> usize {
        self.inner.samples()
    }
    fn loss(&mut self, w: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
        let mut grad = vec![0.0; self.dim()];
        self.loss_and_gradient(w, batch, &mut grad)
    }
    fn loss_and_gradient(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        grad: &mut [f64],
    ) -> Result<f64, ObjectiveError> {
        self.calls += 1;
        let loss = self.inner.loss_and_gradient(w, batch, grad)?;
        Ok(if self.calls >= self.nan_from {
            f64::NAN
        } else {
            loss
        })
    }
}

#[test]
fn a_nan_loss_is_divergence_and_a_nan_start_is_reported() {
    let p = problem();
    let options = gd(&p, limits(None, Some(100)));
    let mut objective = TurnsNan {
        inner: p.objective,
        calls: 0,
        nan_from: 5,
    };
    let result = minimize(&mut objective, &[0.0; 4], &options, &mut NoObserver);
    let Err(OptimError::Diverged {
        iteration,
        loss_trend,
        ..
    }) = result
    else {
        panic!("expected divergence, got {result:?}");
    };
    assert_eq!(iteration, 4);
    assert!(loss_trend.last().unwrap().is_nan());
    assert!(loss_trend[..loss_trend.len() - 1]
        .iter()
        .all(|l| l.is_finite()));

    objective.calls = 0;
    objective.nan_from = 1;
    let result = minimize(&mut objective, &[0.0; 4], &options, &mut NoObserver);
    assert!(
        matches!(result, Err(OptimError::NonFiniteStart { .. })),
        "{result:?}"
    );
}

#[derive(Debug, thiserror::Error)]
#[error("row {0} is unreadable")]
struct BadRow(usize);

/// Fails on the third evaluation with its own error type.
struct Fails(LeastSquares, usize);

impl Objective for Fails {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn samples(&self) -> usize {
        self.0.samples()
    }
    fn loss(&mut self, w: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
        self.0.loss(w, batch)
    }
    fn loss_and_gradient(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        grad: &mut [f64],
    ) -> Result<f64, ObjectiveError> {
        self.1 += 1;
        if self.1 == 3 {
            return Err(ObjectiveError::new(BadRow(17)));
        }
        self.0.loss_and_gradient(w, batch, grad)
    }
}

#[test]
fn an_objective_error_is_carried_through() {
    let p = problem();
    let options = gd(&p, limits(None, Some(100)));
    let mut objective = Fails(p.objective, 0);
    let result = minimize(&mut objective, &[0.0; 4], &options, &mut NoObserver);
    let Err(OptimError::Objective { iteration, source }) = result else {
        panic!("expected the objective's error, got {result:?}");
    };
    assert_eq!(iteration, 2);
    assert_eq!(
        source.inner().downcast_ref::<BadRow>().map(|b| b.0),
        Some(17)
    );
}

#[test]
fn the_same_seed_gives_bit_identical_weights() {
    let runs = [
        Options {
            method: Method::Sgd,
            lr: 0.05,
            stop: limits(None, Some(5)),
            ..Options::default()
        },
        Options {
            method: Method::MiniBatch { batch: 8 },
            sampling: Sampling::Replace,
            lr: 0.05,
            stop: limits(None, Some(5)),
            ..Options::default()
        },
        Options {
            method: Method::ADAM,
            batch: Some(10),
            lr: 0.05,
            stop: limits(None, Some(5)),
            ..Options::default()
        },
    ];
    for options in runs {
        let bits = |seed: u64| {
            let mut p = problem();
            let outcome = run(&mut p, &Options { seed, ..options }).unwrap();
            outcome.w.iter().map(|v| v.to_bits()).collect::<Vec<u64>>()
        };
        assert_eq!(bits(7), bits(7), "{options:?}");
        assert_ne!(bits(7), bits(8), "{options:?}");
    }
}

/// Records the sample indices of every batch it is asked about.
struct Recording {
    inner: LeastSquares,
    batches: Vec<Vec<usize>>,
}

impl Objective for Recording {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn samples(&self) -> usize {
        self.inner.samples()
    }
    fn loss(&mut self, w: &[f64], batch: Batch<'_>) -> Result<f64, ObjectiveError> {
        self.inner.loss(w, batch)
    }
    fn loss_and_gradient(
        &mut self,
        w: &[f64],
        batch: Batch<'_>,
        grad: &mut [f64],
    ) -> Result<f64, ObjectiveError> {
        if let Batch::Rows(rows) = batch {
            self.batches.push(rows.to_vec());
        }
        self.inner.loss_and_gradient(w, batch, grad)
    }
}

fn recorded_batches(sampling: Sampling, batch: usize, epochs: usize) -> Vec<Vec<usize>> {
    let options = Options {
        method: Method::MiniBatch { batch },
        sampling,
        lr: 0.01,
        stop: limits(None, Some(epochs)),
        ..Options::default()
    };
    let mut objective = Recording {
        inner: problem().objective,
        batches: Vec::new(),
    };
    minimize(&mut objective, &[0.0; 4], &options, &mut NoObserver).unwrap();
    objective.batches
}

#[test]
fn shuffle_visits_every_sample_once_per_epoch() {
    let n: usize = 200;
    for batch in [1, 7, 16, 199] {
        let batches = recorded_batches(Sampling::Shuffle, batch, 3);
        let steps = n.div_ceil(batch);
        assert_eq!(batches.len(), 3 * steps, "batch {batch}");
        let orders: Vec<Vec<usize>> = batches.chunks(steps).map(|epoch| epoch.concat()).collect();
        for order in &orders {
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "batch {batch}");
        }
        assert_ne!(
            orders[0], orders[1],
            "batch {batch}: each epoch is reshuffled"
        );
    }
}

#[test]
fn chunks_visit_every_sample_once_chunk_by_chunk() {
    let n: usize = 200;
    for (rows, batch) in [(50, 1), (64, 7), (200, 16), (1, 3)] {
        let batches = recorded_batches(Sampling::Chunks { rows }, batch, 3);
        let steps = n.div_ceil(batch);
        assert_eq!(batches.len(), 3 * steps, "chunks of {rows}, batch {batch}");
        let orders: Vec<Vec<usize>> = batches.chunks(steps).map(|epoch| epoch.concat()).collect();
        for order in &orders {
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "chunks of {rows}");
            // Each stretch of the epoch is one whole chunk.
            let mut start = 0;
            while start < n {
                let chunk = order[start] / rows;
                let len = rows.min(n - chunk * rows);
                assert!(
                    order[start..start + len].iter().all(|&i| i / rows == chunk),
                    "chunks of {rows}: samples {start}.. come from chunk {chunk}"
                );
                start += len;
            }
        }
        assert_ne!(orders[0], orders[1], "chunks of {rows}: reshuffled");
        assert_eq!(
            batches,
            recorded_batches(Sampling::Chunks { rows }, batch, 3),
            "the same seed draws the same batches"
        );
    }
}

#[test]
fn replace_draws_full_batches_with_repeats() {
    let batches = recorded_batches(Sampling::Replace, 7, 2);
    assert_eq!(batches.len(), 2 * 200usize.div_ceil(7));
    assert!(batches
        .iter()
        .all(|b| b.len() == 7 && b.iter().all(|&i| i < 200)));
    let mut first_epoch = batches[..29].concat();
    first_epoch.sort_unstable();
    first_epoch.dedup();
    assert!(
        first_epoch.len() < 200,
        "203 draws with replacement repeat some sample"
    );
}

#[test]
fn history_records_and_writes_csv() {
    let mut p = problem();
    let options = Options {
        method: Method::Sgd,
        lr: 0.01,
        stop: limits(None, Some(2)),
        ..Options::default()
    };
    let mut epochs_only = History::new();
    minimize(&mut p.objective, &[0.0; 4], &options, &mut epochs_only).unwrap();
    // The start and two epochs.
    assert_eq!(epochs_only.records.len(), 3);
    assert_eq!(
        epochs_only
            .records
            .iter()
            .map(|r| (r.iteration, r.epoch))
            .collect::<Vec<_>>(),
        vec![(0, 0), (200, 1), (400, 2)]
    );
    let (result, all) = run_with_history(&mut p, &options);
    result.unwrap();
    assert_eq!(all.records.len(), 1 + 2 * 200 + 2);

    let mut csv = Vec::new();
    epochs_only.write_csv_to(&mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "iteration,epoch,loss,grad_norm,step_norm,lr,seconds"
    );
    assert_eq!(lines.len(), 4);
    assert!(lines[1].starts_with("0,0,"));
    let fields: Vec<f64> = lines[2].split(',').map(|f| f.parse().unwrap()).collect();
    assert_eq!(fields.len(), 7);
    assert_eq!(fields[2], epochs_only.records[1].loss);
    // Elapsed seconds never run backwards.
    let seconds: Vec<f64> = lines[1..]
        .iter()
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(seconds[0] >= 0.0, "{seconds:?}");
    assert!(seconds.windows(2).all(|s| s[0] <= s[1]), "{seconds:?}");

    let mut with_weights = History::new().with_weights();
    let options = gd(&p, limits(None, Some(1)));
    minimize(&mut p.objective, &[0.0; 4], &options, &mut with_weights).unwrap();
    let mut csv = Vec::new();
    with_weights.write_csv_to(&mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.starts_with("iteration,epoch,loss,grad_norm,step_norm,lr,seconds,w0,w1,w2,w3\n0,0,")
    );
    assert!(csv.lines().nth(1).unwrap().ends_with(",0,0,0,0"));

    let path =
        std::env::temp_dir().join(format!("matdiff-optim-history-{}.csv", std::process::id()));
    epochs_only.write_csv(&path).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(written, lines.join("\n") + "\n");
}

#[test]
fn bad_options_are_rejected_with_the_option_named() {
    let base = Options::default();
    let cases: Vec<(&str, Options)> = vec![
        ("lr", Options { lr: 0.0, ..base }),
        (
            "lr",
            Options {
                lr: f64::NAN,
                ..base
            },
        ),
        (
            "batch",
            Options {
                method: Method::MiniBatch { batch: 0 },
                ..base
            },
        ),
        (
            "batch",
            Options {
                method: Method::Sgd,
                batch: Some(4),
                ..base
            },
        ),
        (
            "batch",
            Options {
                method: Method::ADAM,
                batch: Some(0),
                ..base
            },
        ),
        (
            "beta",
            Options {
                method: Method::Momentum { beta: 1.0 },
                ..base
            },
        ),
        (
            "beta",
            Options {
                method: Method::Adam {
                    beta1: 0.9,
                    beta2: -0.1,
                    eps: 1e-8,
                },
                ..base
            },
        ),
        (
            "eps",
            Options {
                method: Method::Adam {
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 0.0,
                },
                ..base
            },
        ),
        (
            "schedule",
            Options {
                schedule: Schedule::Step {
                    every: 0,
                    factor: 0.5,
                },
                ..base
            },
        ),
        (
            "schedule",
            Options {
                schedule: Schedule::Step {
                    every: 2,
                    factor: 1.5,
                },
                ..base
            },
        ),
        (
            "schedule",
            Options {
                schedule: Schedule::InvScaling { power: -1.0 },
                ..base
            },
        ),
        (
            "line_search",
            Options {
                method: Method::Sgd,
                line_search: Some(LineSearch::default()),
                ..base
            },
        ),
        (
            "line_search",
            Options {
                schedule: Schedule::Adaptive,
                line_search: Some(LineSearch::default()),
                ..base
            },
        ),
        (
            "line_search",
            Options {
                line_search: Some(LineSearch {
                    shrink: 1.0,
                    ..LineSearch::default()
                }),
                ..base
            },
        ),
        (
            "tol_grad",
            Options {
                stop: StopRules {
                    tol_grad: Some(-1.0),
                    ..base.stop
                },
                ..base
            },
        ),
        (
            "max_iter",
            Options {
                stop: limits(None, None),
                ..base
            },
        ),
        (
            "n_iter_no_change",
            Options {
                stop: StopRules {
                    n_iter_no_change: Some(0),
                    ..base.stop
                },
                ..base
            },
        ),
        (
            "divergence_factor",
            Options {
                divergence_factor: 0.0,
                ..base
            },
        ),
    ];
    for (option, options) in cases {
        let mut p = problem();
        match run(&mut p, &options) {
            Err(OptimError::InvalidOption { option: named, .. }) => {
                assert_eq!(named, option, "{options:?}");
            }
            other => panic!("{options:?}: expected invalid {option}, got {other:?}"),
        }
    }
    let mut p = problem();
    let result = minimize(&mut p.objective, &[0.0; 3], &base, &mut NoObserver);
    assert!(matches!(
        result,
        Err(OptimError::DimensionMismatch {
            expected: 4,
            found: 3
        })
    ));
}

#[test]
fn schedules_set_the_step_size_of_each_step() {
    let eta = 0.01;
    // (schedule, η of step k ≥ 1)
    type Rate = fn(f64, usize) -> f64;
    let cases: [(Schedule, Rate); 3] = [
        (Schedule::Constant, |eta, _| eta),
        (Schedule::InvScaling { power: 0.5 }, |eta, k| {
            eta / (k as f64).sqrt()
        }),
        (
            Schedule::Step {
                every: 3,
                factor: 0.5,
            },
            |eta, k| eta * 0.5f64.powi(((k - 1) / 3) as i32),
        ),
    ];
    for (schedule, rate) in cases {
        let mut p = problem();
        let options = Options {
            lr: eta,
            schedule,
            ..gd(&p, limits(None, Some(10)))
        };
        let (result, history) = run_with_history(&mut p, &options);
        result.unwrap();
        for record in &history.records[1..] {
            let want = rate(eta, record.iteration);
            assert!(
                (record.lr - want).abs() <= 1e-15 * want,
                "{schedule:?}, step {}: η = {}, expected {want}",
                record.iteration,
                record.lr
            );
        }
    }
}
