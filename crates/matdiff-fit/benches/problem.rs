//! Criterion benchmarks of full-batch evaluations through `Problem`: the least-squares
//! loss and gradient with and without hoisted invariants, and the logistic-regression
//! gradient through the derived plan against a hand-written faer implementation of
//! the same formula (issue 8's 1.1× target); and the cost of one SGD sample and one
//! mini-batch of 256 of a linear model's loss, row kernel against the generic plan.
//!
//! Run with `cargo bench -p matdiff-fit`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use matdiff_core::parse_function;
use matdiff_fit::optim::{Batch, Objective};
use matdiff_fit::problem::Problem;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: usize = 20_000;
const D: usize = 50;
const DECLS: &str = "X: matrix(N, d); w: vector(d); y: vector(N)";

/// Seeded `X` (N × D), a noisy linear target `y` and 0/1 labels `t`.
fn data() -> (Mat<f64>, Mat<f64>, Mat<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = Mat::from_fn(N, D, |_, _| rng.random_range(-1.0..1.0));
    let y = Mat::from_fn(N, 1, |i, _| {
        x[(i, 0)] - 0.5 * x[(i, 1)] + 0.1 * rng.random_range(-1.0..1.0)
    });
    let t = Mat::from_fn(N, 1, |i, _| if y[(i, 0)] > 0.0 { 1.0 } else { 0.0 });
    (x, y, t)
}

fn problem(expr: &str, data: Vec<(String, Mat<f64>)>) -> Problem {
    Problem::new(parse_function(expr, DECLS).unwrap(), "w", data, None).unwrap()
}

fn least_squares(c: &mut Criterion) {
    let (x, y, _) = data();
    let w: Vec<f64> = (0..D).map(|i| ((i + 1) as f64).sin()).collect();
    let mut g = vec![0.0; D];
    let mut group = c.benchmark_group("least_squares_loss_and_gradient");
    for hoist in [false, true] {
        let mut p = problem(
            "1/N*norm2(X*w - y)^2",
            vec![("X".into(), x.clone()), ("y".into(), y.clone())],
        );
        if hoist {
            p.hoist().unwrap();
        }
        group.bench_function(if hoist { "hoisted" } else { "plain" }, |b| {
            b.iter(|| black_box(p.loss_and_gradient(&w, Batch::All, &mut g).unwrap()))
        });
    }
    group.finish();
}

fn logistic(c: &mut Criterion) {
    let (x, _, t) = data();
    let w: Vec<f64> = (0..D).map(|i| 0.1 * ((i + 1) as f64).sin()).collect();
    let mut g = vec![0.0; D];
    let mut group = c.benchmark_group("logistic_loss_and_gradient");
    let mut p = problem(
        "sum(softplus(X*w)) - y'*X*w",
        vec![("X".into(), x.clone()), ("y".into(), t.clone())],
    );
    group.bench_function("derived plan", |b| {
        b.iter(|| black_box(p.loss_and_gradient(&w, Batch::All, &mut g).unwrap()))
    });
    // The same formula by hand: z = X w, loss = Σ softplus(z) − t'z, g = X'(σ(z) − t).
    let wm = Mat::from_fn(D, 1, |i, _| w[i]);
    let mut z = Mat::<f64>::zeros(N, 1);
    let mut r = Mat::<f64>::zeros(N, 1);
    let mut gm = Mat::<f64>::zeros(D, 1);
    group.bench_function("hand-written faer", |b| {
        b.iter(|| {
            matmul(
                z.as_mut(),
                Accum::Replace,
                x.as_ref(),
                wm.as_ref(),
                1.0,
                Par::rayon(0),
            );
            let mut loss = 0.0;
            for i in 0..N {
                let (zi, ti) = (z[(i, 0)], t[(i, 0)]);
                loss += zi.max(0.0) + (-zi.abs()).exp().ln_1p() - ti * zi;
                r[(i, 0)] = 1.0 / (1.0 + (-zi).exp()) - ti;
            }
            matmul(
                gm.as_mut(),
                Accum::Replace,
                x.transpose(),
                r.as_ref(),
                1.0,
                Par::rayon(0),
            );
            black_box((loss, &gm));
        })
    });
    group.finish();
}

/// One SGD step's loss and gradient (one sample) and one mini-batch of 256, at
/// `d = 100`, through the row kernel of a linear model's loss and through the plan.
fn batches(c: &mut Criterion) {
    const WIDE: usize = 100;
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let x = Mat::from_fn(N, WIDE, |_, _| rng.random_range(-1.0..1.0));
    let y = Mat::from_fn(N, 1, |i, _| x[(i, 0)] + 0.1 * rng.random_range(-1.0..1.0));
    let w: Vec<f64> = (0..WIDE).map(|i| ((i + 1) as f64).sin()).collect();
    let mut g = vec![0.0; WIDE];
    let order: Vec<usize> = (0..N).map(|_| rng.random_range(0..N)).collect();
    let mut group = c.benchmark_group("linear_model_batches_d100");
    for kernel in [true, false] {
        let mut p = problem(
            "1/(2*N)*norm2(X*w - y)^2",
            vec![("X".into(), x.clone()), ("y".into(), y.clone())],
        );
        p.prepare_rows();
        p.use_row_kernel(kernel);
        let name = if kernel { "row kernel" } else { "plan" };
        let mut next = 0;
        group.bench_function(format!("one sample, {name}"), |b| {
            b.iter(|| {
                next = (next + 1) % N;
                let rows = &order[next..next + 1];
                black_box(p.loss_and_gradient(&w, Batch::Rows(rows), &mut g).unwrap())
            })
        });
        group.bench_function(format!("256 samples, {name}"), |b| {
            b.iter(|| {
                next = (next + 256) % (N - 256);
                let rows = &order[next..next + 256];
                black_box(p.loss_and_gradient(&w, Batch::Rows(rows), &mut g).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, least_squares, logistic, batches);
criterion_main!(benches);
