//! Properties of the optimiser over random settings.

mod optim_support;

use matdiff_fit::optim::{
    minimize, Batch, Method, NoObserver, Objective, ObjectiveError, OptimError, Options, Sampling,
    Schedule,
};
use optim_support::{limits, problem};
use proptest::prelude::*;

/// An objective over `n` samples that only records the batches it is asked about.
struct Indices {
    n: usize,
    batches: Vec<Vec<usize>>,
}

impl Objective for Indices {
    fn dim(&self) -> usize {
        1
    }
    fn samples(&self) -> usize {
        self.n
    }
    fn loss(&mut self, _w: &[f64], _batch: Batch<'_>) -> Result<f64, ObjectiveError> {
        Ok(1.0)
    }
    fn loss_and_gradient(
        &mut self,
        _w: &[f64],
        batch: Batch<'_>,
        grad: &mut [f64],
    ) -> Result<f64, ObjectiveError> {
        if let Batch::Rows(rows) = batch {
            self.batches.push(rows.to_vec());
        }
        grad[0] = 1.0;
        Ok(1.0)
    }
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Gd),
        Just(Method::Sgd),
        (1usize..40).prop_map(|batch| Method::MiniBatch { batch }),
        (0.0..0.99f64).prop_map(|beta| Method::Momentum { beta }),
        (0.0..0.99f64).prop_map(|beta| Method::Nesterov { beta }),
        Just(Method::ADAM),
    ]
}

fn schedule() -> impl Strategy<Value = Schedule> {
    prop_oneof![
        Just(Schedule::Constant),
        (0.1..1.0f64).prop_map(|power| Schedule::InvScaling { power }),
        (1usize..10, 0.1..1.0f64).prop_map(|(every, factor)| Schedule::Step { every, factor }),
        Just(Schedule::Adaptive),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Without replacement, every epoch is a permutation of the samples cut into
    /// batches of `B` (the last one shorter).
    #[test]
    fn shuffle_is_a_permutation_per_epoch(n in 2usize..60, batch in 1usize..70, seed: u64) {
        prop_assume!(batch < n);
        let options = Options {
            method: Method::MiniBatch { batch },
            sampling: Sampling::Shuffle,
            lr: 1e-3,
            seed,
            stop: limits(None, Some(3)),
            ..Options::default()
        };
        let mut objective = Indices { n, batches: Vec::new() };
        minimize(&mut objective, &[0.0], &options, &mut NoObserver).unwrap();
        let steps = n.div_ceil(batch);
        prop_assert_eq!(objective.batches.len(), 3 * steps);
        for epoch in objective.batches.chunks(steps) {
            prop_assert!(epoch[..steps - 1].iter().all(|b| b.len() == batch));
            let mut order = epoch.concat();
            order.sort_unstable();
            prop_assert_eq!(order, (0..n).collect::<Vec<_>>());
        }
    }

    /// Whatever the method, schedule and step size, a run either returns finite
    /// weights and loss or reports divergence: never NaN weights.
    #[test]
    fn results_are_finite_or_divergence(
        method in method(),
        schedule in schedule(),
        log_lr in -3.0..3.0f64,
        seed: u64,
    ) {
        let mut p = problem();
        let options = Options {
            method,
            schedule,
            lr: 10f64.powf(log_lr),
            seed,
            stop: limits(Some(3000), Some(200)),
            ..Options::default()
        };
        match minimize(&mut p.objective, &[0.0; 4], &options, &mut NoObserver) {
            Ok(outcome) => {
                prop_assert!(outcome.w.iter().all(|v| v.is_finite()));
                prop_assert!(outcome.loss.is_finite() && outcome.gradient_norm.is_finite());
            }
            Err(OptimError::Diverged { loss_trend, .. }) => prop_assert!(!loss_trend.is_empty()),
            Err(e) => prop_assert!(false, "unexpected error: {e}"),
        }
    }
}
