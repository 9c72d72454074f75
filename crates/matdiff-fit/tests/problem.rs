//! `Problem`: a loss written in matdiff's language, bound to data, minimised by the
//! optimiser. Least squares on seeded synthetic data, with the closed-form solution
//! computed here by faer; batch losses and gradients against hand computations.

use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use matdiff_core::{parse_function, Function};
use matdiff_fit::optim::{
    minimize, Batch, LineSearch, Method, NoObserver, Objective, ObjectiveError, Options,
    StopReason, StopRules,
};
use matdiff_fit::problem::{Problem, ProblemError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const W_TRUE: [f64; 4] = [1.0, -2.0, 0.5, 3.0];
const N: usize = 120;

/// `X: N×d` (first column ones) and `y = X w_true + noise`, from a seeded RNG.
fn data(seed: u64) -> (Mat<f64>, Mat<f64>) {
    let d = W_TRUE.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Mat::from_fn(N, d, |_, j| {
        if j == 0 {
            1.0
        } else {
            rng.random_range(-1.0..1.0)
        }
    });
    let y = Mat::from_fn(N, 1, |i, _| {
        let clean: f64 = (0..d).map(|j| x[(i, j)] * W_TRUE[j]).sum();
        clean + 0.1 * rng.random_range(-1.0..1.0)
    });
    (x, y)
}

/// The least-squares solution `(XᵀX)⁻¹ Xᵀy`.
fn closed_form(x: &Mat<f64>, y: &Mat<f64>) -> Vec<f64> {
    let xtx = x.transpose() * x;
    let mut rhs = x.transpose() * y;
    xtx.llt(Side::Lower).unwrap().solve_in_place(&mut rhs);
    (0..rhs.nrows()).map(|i| rhs[(i, 0)]).collect()
}

fn function(expr: &str, decls: &str) -> Function {
    parse_function(expr, decls).unwrap_or_else(|e| panic!("`{expr}` parses: {e:?}"))
}

const MSE: &str = "1/N*norm2(X*w - y)^2";

fn least_squares(expr: &str) -> (Problem, Mat<f64>, Mat<f64>) {
    let (x, y) = data(7);
    let problem = Problem::new(
        function(expr, "X: matrix(N, d)"),
        "w",
        vec![("X".into(), x.clone()), ("y".into(), y.clone())],
        None,
    )
    .unwrap();
    (problem, x, y)
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max)
}

#[test]
fn gradient_descent_reaches_the_closed_form_solution() {
    let (mut problem, x, y) = least_squares(MSE);
    assert_eq!(problem.sample_dimension(), Some("N"));
    assert_eq!((problem.dim(), problem.samples()), (4, N));
    let solution = closed_form(&x, &y);
    let options = Options {
        method: Method::Gd,
        lr: 0.2,
        stop: StopRules {
            tol_grad: Some(1e-10),
            max_epochs: Some(20_000),
            ..StopRules::default()
        },
        ..Options::default()
    };
    let w0 = problem.zeros();
    let outcome = minimize(&mut problem, &w0, &options, &mut NoObserver).unwrap();
    assert_eq!(outcome.stop, StopReason::GradientNorm);
    assert!(
        max_diff(&outcome.w, &solution) < 1e-8,
        "{:?} vs {solution:?}",
        outcome.w
    );
}

#[test]
fn line_search_reaches_the_solution_of_the_summed_loss() {
    // Without 1/N the curvature is N times larger; the line search finds the step.
    let (mut problem, x, y) = least_squares("norm2(X*w - y)^2");
    let solution = closed_form(&x, &y);
    let options = Options {
        method: Method::Gd,
        lr: 1.0,
        line_search: Some(LineSearch::default()),
        stop: StopRules {
            tol_grad: Some(1e-8),
            max_epochs: Some(20_000),
            ..StopRules::default()
        },
        ..Options::default()
    };
    let w0 = problem.zeros();
    let outcome = minimize(&mut problem, &w0, &options, &mut NoObserver).unwrap();
    assert!(outcome.stop.converged(), "{:?}", outcome.stop);
    assert!(max_diff(&outcome.w, &solution) < 1e-7);
}

/// `(Σ_{i∈rows} (x_iᵀw − y_i)², Σ 2 x_i (x_iᵀw − y_i))` by hand.
fn hand_sums(x: &Mat<f64>, y: &Mat<f64>, w: &[f64], rows: &[usize]) -> (f64, Vec<f64>) {
    let mut loss = 0.0;
    let mut grad = vec![0.0; w.len()];
    for &i in rows {
        let r: f64 = (0..w.len()).map(|j| x[(i, j)] * w[j]).sum::<f64>() - y[(i, 0)];
        loss += r * r;
        for (j, g) in grad.iter_mut().enumerate() {
            *g += 2.0 * x[(i, j)] * r;
        }
    }
    (loss, grad)
}

/// Batches, including repeated indices (drawn with replacement) and a single sample.
const BATCHES: &[&[usize]] = &[&[3], &[0, 1, 2, 3], &[119, 5, 5, 42, 7], &[10, 20, 30]];

#[test]
fn a_batch_binds_the_sample_dimension_to_the_batch_size() {
    // `1/N` becomes `1/B`: the batch average. A plain sum stays the batch sum.
    for (expr, average) in [(MSE, true), ("norm2(X*w - y)^2", false)] {
        let (mut problem, x, y) = least_squares(expr);
        let w = [0.3, -0.7, 1.1, 0.2];
        for rows in BATCHES {
            let (sum, sum_grad) = hand_sums(&x, &y, &w, rows);
            let scale = if average {
                1.0 / rows.len() as f64
            } else {
                1.0
            };
            let mut grad = vec![0.0; 4];
            let loss = problem
                .loss_and_gradient(&w, Batch::Rows(rows), &mut grad)
                .unwrap();
            assert!(
                (loss - scale * sum).abs() < 1e-12 * sum.max(1.0),
                "{expr} {rows:?}"
            );
            let expected: Vec<f64> = sum_grad.iter().map(|g| scale * g).collect();
            assert!(max_diff(&grad, &expected) < 1e-10, "{expr} {rows:?}");
            let loss_only = problem.loss(&w, Batch::Rows(rows)).unwrap();
            assert_eq!(loss_only, loss);
        }
        let all: Vec<usize> = (0..N).collect();
        let (sum, sum_grad) = hand_sums(&x, &y, &w, &all);
        let scale = if average { 1.0 / N as f64 } else { 1.0 };
        let mut grad = vec![0.0; 4];
        let loss = problem
            .loss_and_gradient(&w, Batch::All, &mut grad)
            .unwrap();
        assert!((loss - scale * sum).abs() < 1e-12 * sum);
        let expected: Vec<f64> = sum_grad.iter().map(|g| scale * g).collect();
        assert!(max_diff(&grad, &expected) < 1e-10);
    }
}

/// Records the batches the optimiser asks for.
struct Recording {
    inner: Problem,
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

#[test]
fn sgd_visits_every_row_once_per_epoch_and_approaches_the_solution() {
    let (problem, x, y) = least_squares(MSE);
    let solution = closed_form(&x, &y);
    let w0 = problem.zeros();
    let mut recording = Recording {
        inner: problem,
        batches: Vec::new(),
    };
    let epochs = 30;
    let options = Options {
        method: Method::Sgd,
        lr: 0.02,
        stop: StopRules {
            tol_grad: None,
            max_epochs: Some(epochs),
            ..StopRules::default()
        },
        seed: 11,
        ..Options::default()
    };
    let outcome = minimize(&mut recording, &w0, &options, &mut NoObserver).unwrap();
    assert_eq!(outcome.stop, StopReason::MaxEpochs);
    assert_eq!(recording.batches.len(), epochs * N);
    for epoch in recording.batches.chunks(N) {
        let mut rows: Vec<usize> = epoch.iter().map(|b| b[0]).collect();
        assert!(epoch.iter().all(|b| b.len() == 1));
        rows.sort_unstable();
        assert_eq!(rows, (0..N).collect::<Vec<_>>());
    }
    // The first epoch is not in index order: the rows are shuffled.
    let first: Vec<usize> = recording.batches[..N].iter().map(|b| b[0]).collect();
    assert_ne!(first, (0..N).collect::<Vec<_>>());
    // A constant step leaves SGD in a noise ball around the solution (noise 0.1).
    assert!(max_diff(&outcome.w, &solution) < 0.1, "{:?}", outcome.w);
}

#[test]
fn minibatch_descent_approaches_the_solution() {
    let (mut problem, x, y) = least_squares(MSE);
    let solution = closed_form(&x, &y);
    let options = Options {
        method: Method::MiniBatch { batch: 16 },
        lr: 0.05,
        stop: StopRules {
            tol_grad: None,
            max_epochs: Some(200),
            ..StopRules::default()
        },
        ..Options::default()
    };
    let w0 = problem.zeros();
    let outcome = minimize(&mut problem, &w0, &options, &mut NoObserver).unwrap();
    assert!(max_diff(&outcome.w, &solution) < 0.03, "{:?}", outcome.w);
}

#[test]
fn a_matrix_variable_is_flattened_column_major() {
    // Two outputs at once: Y = X W + noise, W: d×2. The gradient 2/N Xᵀ(XW − Y) read
    // column-major must match central differences of the loss.
    let (x, y) = data(3);
    let y2 = Mat::from_fn(N, 2, |i, j| if j == 0 { y[(i, 0)] } else { -y[(i, 0)] });
    let mut problem = Problem::new(
        function("1/N*norm2(X*W - Y)^2", "X: matrix(N, d); W: matrix(d, k)"),
        "W",
        vec![("X".into(), x), ("Y".into(), y2)],
        None,
    )
    .unwrap();
    assert_eq!(problem.shape(), (4, 2));
    let w: Vec<f64> = (0..8).map(|k| 0.1 * k as f64 - 0.3).collect();
    let mut grad = vec![0.0; 8];
    problem
        .loss_and_gradient(&w, Batch::All, &mut grad)
        .unwrap();
    let h = 1e-6;
    for k in 0..8 {
        let (mut plus, mut minus) = (w.clone(), w.clone());
        plus[k] += h;
        minus[k] -= h;
        let fd = (problem.loss(&plus, Batch::All).unwrap()
            - problem.loss(&minus, Batch::All).unwrap())
            / (2.0 * h);
        assert!(
            (fd - grad[k]).abs() < 1e-6,
            "entry {k}: {fd} vs {}",
            grad[k]
        );
    }
    let m = problem.unflatten(&w);
    assert_eq!((m[(1, 0)], m[(0, 1)]), (w[1], w[4]));
    assert_eq!(problem.flatten(&m).unwrap(), w);
}

#[test]
fn the_loss_is_evaluated_in_its_stable_form() {
    // log(1 + exp(z)) overflows at z = 800 as written; it runs as softplus(z).
    let x = Mat::from_fn(2, 1, |i, _| if i == 0 { 800.0 } else { -800.0 });
    let y = Mat::from_fn(2, 1, |_, _| -1.0);
    let mut problem = Problem::new(
        function("sum(log(1 + exp(-y .* (X*w))))", ""),
        "w",
        vec![("X".into(), x), ("y".into(), y)],
        None,
    )
    .unwrap();
    let mut grad = vec![0.0; 1];
    let loss = problem
        .loss_and_gradient(&[1.0], Batch::All, &mut grad)
        .unwrap();
    assert!((loss - 800.0).abs() < 1e-9, "{loss}");
    assert!((grad[0] - 800.0).abs() < 1e-9, "{}", grad[0]);
}

fn setup(expr: &str, decls: &str, wrt: &str, data: &[&str], samples: Option<&str>) -> ProblemError {
    let (x, y) = data_small();
    let values = data
        .iter()
        .map(|&name| {
            let value = match name {
                "X" | "A" => x.clone(),
                "short" => Mat::from_fn(3, 1, |i, _| i as f64),
                _ => y.clone(),
            };
            let name = if name == "short" { "y" } else { name };
            (name.to_string(), value)
        })
        .collect();
    Problem::new(function(expr, decls), wrt, values, samples).unwrap_err()
}

fn data_small() -> (Mat<f64>, Mat<f64>) {
    (
        Mat::from_fn(5, 2, |i, j| (i + 2 * j) as f64),
        Mat::from_fn(5, 1, |i, _| i as f64),
    )
}

/// A problem that must fail to set up, and its message.
struct SetupError {
    expr: &'static str,
    decls: &'static str,
    wrt: &'static str,
    /// Data by name: `X` is 5 × 2, `y` 5 × 1, `short` a 3 × 1 value for `y`.
    data: &'static [&'static str],
    samples: Option<&'static str>,
    message: &'static str,
}

const DECLS: &str = "X: matrix(N, d)";

#[rustfmt::skip]
const SETUP_ERRORS: &[SetupError] = &[
    SetupError { expr: MSE, decls: DECLS, wrt: "v", data: &["X", "y"], samples: None,
        message: "`v` is not a variable of the expression — the variables are `X`, `w`, `y`" },
    SetupError { expr: "X*w - y", decls: DECLS, wrt: "w", data: &["X", "y"], samples: None,
        message: "the loss must be a scalar, but the expression is vector(N) — reduce it with sum(…) or norm2(…)^2" },
    SetupError { expr: MSE, decls: DECLS, wrt: "w", data: &["X"], samples: None,
        message: "no data for `y` — give a value for each" },
    SetupError { expr: "norm2(A*X*w - y)^2", decls: "", wrt: "w", data: &["y"], samples: None,
        message: "no data for `A`, `X` — give a value for each" },
    SetupError { expr: MSE, decls: DECLS, wrt: "w", data: &["X", "y", "z"], samples: None,
        message: "data given for `z`, which is not a variable of the expression — the variables are `X`, `w`, `y`" },
    SetupError { expr: MSE, decls: DECLS, wrt: "w", data: &["X", "y", "w"], samples: None,
        message: "`w` is the variable being optimised and takes no data — give its starting point instead" },
    SetupError { expr: MSE, decls: DECLS, wrt: "w", data: &["X", "y", "y"], samples: None,
        message: "data for `y` are given twice — give each variable once" },
    SetupError { expr: MSE, decls: DECLS, wrt: "w", data: &["X", "short"], samples: None,
        message: "dimension `N` is 5 from `X` but 3 from `y`" },
    SetupError { expr: MSE, decls: DECLS, wrt: "w", data: &["X", "y"], samples: Some("M"),
        message: "`M` is not a dimension of the expression — the dimensions are `N`, `d`" },
    SetupError { expr: "norm2(w)^2 + sum(y)", decls: "", wrt: "w", data: &["y"], samples: None,
        message: "dimension `n` of `w` is not bound by the data — declare its size, e.g. `w: vector(3)`" },
    SetupError { expr: "norm2(X*W)^2", decls: "X: matrix(N, d); W: matrix(d, k)", wrt: "W", data: &["X"], samples: None,
        message: "dimension `k` of `W` is not bound by the data — declare its size, e.g. `W: matrix(d, 3)`" },
];

#[test]
fn setup_errors_name_the_culprit() {
    for case in SETUP_ERRORS {
        let error = setup(case.expr, case.decls, case.wrt, case.data, case.samples);
        assert_eq!(
            error.to_string(),
            case.message,
            "{} --wrt {} {:?}",
            case.expr,
            case.wrt,
            case.data
        );
        assert!(error.is_input_error());
    }
}

#[test]
fn a_variable_spanning_the_sample_dimension_allows_only_full_batches() {
    // Dual coefficients a: one per sample, so batches cannot slice them.
    let (x, y) = data_small();
    let kernel = &x * x.transpose();
    let mut problem = Problem::new(
        function("norm2(K*a - y)^2", "K: symmetric(N)"),
        "a",
        vec![("K".into(), kernel), ("y".into(), y)],
        None,
    )
    .unwrap();
    let message = "`a` has the sample dimension `N`, so the data cannot be split into batches — use full-batch gd, or choose another sample dimension";
    assert_eq!(problem.check_batches().unwrap_err().to_string(), message);
    let w = vec![0.0; 5];
    let error = problem.loss(&w, Batch::Rows(&[0, 1])).unwrap_err();
    assert_eq!(error.to_string(), message);
    assert_eq!(problem.loss(&w, Batch::All).unwrap(), 30.0);
}

#[test]
fn a_square_data_matrix_is_sliced_along_both_sample_dimensions() {
    // w'Kw/N² ... on a batch, K[rows, rows]: the sub-matrix of the batch.
    let k = Mat::from_fn(4, 4, |i, j| (1 + i * 4 + j) as f64);
    let c = Mat::from_fn(4, 1, |i, _| (i + 1) as f64);
    let mut problem = Problem::new(
        function(
            "sum(K*c) * alpha",
            "K: matrix(N, N); c: vector(N); alpha: scalar",
        ),
        "alpha",
        vec![("K".into(), k.clone()), ("c".into(), c.clone())],
        None,
    )
    .unwrap();
    for rows in [&[0usize, 1, 2, 3][..], &[2, 0], &[3]] {
        let expected: f64 = rows
            .iter()
            .map(|&i| rows.iter().map(|&j| k[(i, j)] * c[(j, 0)]).sum::<f64>())
            .sum();
        let mut grad = [0.0];
        let loss = problem
            .loss_and_gradient(&[2.0], Batch::Rows(rows), &mut grad)
            .unwrap();
        assert_eq!((loss, grad[0]), (2.0 * expected, expected), "{rows:?}");
    }
}

#[test]
fn evaluation_errors_name_the_subexpression() {
    let (x, y) = data_small();
    let mut problem = Problem::new(
        function("sum(log(X*w)) + sum(y)", "X: matrix(N, d)"),
        "w",
        vec![("X".into(), x), ("y".into(), y)],
        None,
    )
    .unwrap();
    let error = problem.loss(&[-1.0, 0.0], Batch::All).unwrap_err();
    let inner = error.inner().downcast_ref::<ProblemError>().unwrap();
    assert!(!inner.is_input_error());
    assert!(error.to_string().contains("`log(X*w)`"), "{error}");
    let error = problem.loss(&[0.0, 0.0], Batch::Rows(&[9])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "sample index 9 is out of range: there are 5 samples"
    );
    let error = problem.loss(&[0.0, 0.0], Batch::Rows(&[])).unwrap_err();
    assert_eq!(error.to_string(), "a batch needs at least one sample");
}

#[test]
fn an_overflow_is_a_nan_loss_that_names_where_it_happened() {
    // The optimiser sees NaN (a rejected line-search trial, or a divergence); the
    // problem remembers which subexpression overflowed.
    let (x, y) = data_small();
    let mut problem = Problem::new(
        function("sum(exp(X*w)) + sum(y)", "X: matrix(N, d)"),
        "w",
        vec![("X".into(), x), ("y".into(), y)],
        None,
    )
    .unwrap();
    assert_eq!(problem.non_finite(), None);
    let mut grad = vec![0.0; 2];
    let loss = problem
        .loss_and_gradient(&[1000.0, 0.0], Batch::All, &mut grad)
        .unwrap();
    assert!(loss.is_nan() && grad.iter().all(|g| g.is_nan()));
    let at = problem.non_finite().unwrap();
    assert!(at.contains("`exp(X*w)`"), "{at}");
    let loss = problem.loss(&[0.1, 0.0], Batch::All).unwrap();
    assert!(loss.is_finite());
}

/// Which dimension is sliced into batches, by default and with `samples`.
struct SampleCase {
    expr: &'static str,
    decls: &'static str,
    /// Data in the order given: `X` 5 × 2, `y` 5 × 1, `A` 2 × 2, `B` 3 × 2.
    data: &'static [&'static str],
    samples: Option<&'static str>,
    dimension: &'static str,
    count: usize,
}

#[rustfmt::skip]
const SAMPLE_CASES: &[SampleCase] = &[
    SampleCase { expr: MSE, decls: DECLS, data: &["X", "y"], samples: None, dimension: "N", count: 5 },
    // `A`'s rows `d` are the optimised variable's: never a sample dimension by default.
    SampleCase { expr: "norm2(X*w - y)^2 + w'*A*w", decls: "X: matrix(N, d); A: matrix(d, d)",
        data: &["A", "X", "y"], samples: None, dimension: "N", count: 5 },
    // The dimension most data variables share.
    SampleCase { expr: "norm2(X*w - y)^2 + norm2(B*w)^2", decls: "X: matrix(N, d); B: matrix(M, d)",
        data: &["B", "X", "y"], samples: None, dimension: "N", count: 5 },
    SampleCase { expr: "norm2(X*w - y)^2 + norm2(B*w)^2", decls: "X: matrix(N, d); B: matrix(M, d)",
        data: &["B", "X", "y"], samples: Some("M"), dimension: "M", count: 3 },
];

#[test]
fn the_sample_dimension_is_the_shared_row_dimension_unless_named() {
    let (x, y) = data_small();
    for case in SAMPLE_CASES {
        let values = case
            .data
            .iter()
            .map(|&name| {
                let value = match name {
                    "X" => x.clone(),
                    "A" => Mat::identity(2, 2),
                    "B" => Mat::from_fn(3, 2, |i, j| (i * j) as f64),
                    _ => y.clone(),
                };
                (name.to_string(), value)
            })
            .collect();
        let problem =
            Problem::new(function(case.expr, case.decls), "w", values, case.samples).unwrap();
        assert_eq!(
            problem.sample_dimension(),
            Some(case.dimension),
            "{}",
            case.expr
        );
        assert_eq!(problem.samples(), case.count, "{}", case.expr);
    }
}

/// A run's end point and what the optimiser says of it.
fn fit(problem: &mut Problem, options: &Options) -> matdiff_fit::optim::Outcome {
    minimize(problem, &[0.0; 4], options, &mut NoObserver).expect("the run succeeds")
}

#[test]
fn steps_taken_in_place_are_the_steps_of_the_gradient() {
    // SGD and mini-batch steps run in place on the rows (`Objective::descend`);
    // momentum with β = 0 asks for the batch gradient and steps itself: the same
    // direction, so the same iterates, to the bit. Least squares, a logistic loss and
    // a loss with a constant term; single rows and batches of 1 to 40.
    let losses = [
        MSE,
        "sum(softplus(X*w)) - y'*X*w",
        "1/(2*N)*norm2(X*w - y)^2 + 3",
    ];
    // 700 samples, batches of up to 300 rows.
    let rows = 700;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let x = Mat::from_fn(rows, 4, |_, _| rng.random_range(-1.0..1.0));
    let y = Mat::from_fn(rows, 1, |i, _| x[(i, 0)] - 2.0 * x[(i, 3)] + 0.1);
    let problem = |loss: &str| {
        let data = vec![("X".into(), x.clone()), ("y".into(), y.clone())];
        Problem::new(function(loss, "X: matrix(N, d)"), "w", data, None).unwrap()
    };
    for loss in losses {
        for batch in [1, 2, 7, 40, 300] {
            let stop = StopRules {
                tol_grad: None,
                max_epochs: Some(3),
                ..StopRules::default()
            };
            let in_place = Options {
                method: if batch == 1 {
                    Method::Sgd
                } else {
                    Method::MiniBatch { batch }
                },
                lr: 0.01,
                stop,
                seed: 3,
                ..Options::default()
            };
            let general = Options {
                method: Method::Momentum { beta: 0.0 },
                batch: Some(batch),
                ..in_place
            };
            let (fast, slow) = (
                fit(&mut problem(loss), &in_place),
                fit(&mut problem(loss), &general),
            );
            assert_eq!(fast.w, slow.w, "{loss} with batches of {batch}");
            assert_eq!(fast.loss.to_bits(), slow.loss.to_bits(), "{loss}, {batch}");
            assert_eq!(fast.iterations, 3 * rows.div_ceil(batch), "{loss}, {batch}");
            // Full evaluations run blocks of rows in parallel, added in block order.
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let again = pool.install(|| fit(&mut problem(loss), &in_place));
                assert_eq!(again.w, fast.w, "{loss}, {batch}, {threads} threads");
            }
        }
    }
}

#[test]
fn the_epoch_loss_is_exact_or_the_running_average_of_the_batch_losses() {
    use matdiff_fit::optim::{EpochLoss, History, OptimError, Scope};
    let stop = StopRules {
        tol_grad: None,
        max_epochs: Some(4),
        ..StopRules::default()
    };
    let options = |epoch_loss| Options {
        method: Method::MiniBatch { batch: 16 },
        lr: 0.05,
        stop,
        seed: 5,
        epoch_loss,
        ..Options::default()
    };
    let run = |epoch_loss| {
        let (mut problem, ..) = least_squares(MSE);
        let mut history = History::new().with_steps();
        let outcome = minimize(&mut problem, &[0.0; 4], &options(epoch_loss), &mut history)
            .expect("the run succeeds");
        (outcome, history)
    };
    let (exact, exact_history) = run(EpochLoss::Exact);
    let (running, running_history) = run(EpochLoss::Running);
    // The same iterates, and the same exact loss and gradient norm at the end.
    assert_eq!(exact.w, running.w);
    assert_eq!(exact.loss.to_bits(), running.loss.to_bits());
    assert_eq!(
        exact.gradient_norm.to_bits(),
        running.gradient_norm.to_bits()
    );
    assert_eq!(
        (exact.epoch_loss, running.epoch_loss),
        (EpochLoss::Exact, EpochLoss::Running)
    );
    // Each running epoch loss is the mean of that epoch's batch losses; each exact one
    // the full loss at the epoch's last iterate.
    let (mut problem, ..) = least_squares(MSE);
    let steps = N.div_ceil(16);
    let epochs = |h: &History| {
        h.records
            .iter()
            .filter(|r| r.scope == Scope::Epoch && r.epoch > 0)
            .cloned()
            .collect::<Vec<_>>()
    };
    let batch_losses: Vec<f64> = running_history
        .records
        .iter()
        .filter(|r| r.scope == Scope::Step)
        .map(|r| r.loss)
        .collect();
    let running_epochs = epochs(&running_history);
    assert_eq!(running_epochs.len(), 4);
    for (e, record) in running_epochs.iter().enumerate() {
        let mean = batch_losses[e * steps..(e + 1) * steps].iter().sum::<f64>() / steps as f64;
        assert!(
            (record.loss - mean).abs() <= 1e-15 * mean.abs(),
            "epoch {e}"
        );
        assert!(record.grad_norm.is_nan());
    }
    let steps_of = |h: &History| {
        h.records
            .iter()
            .filter(|r| r.scope == Scope::Step)
            .map(|r| r.iteration)
            .collect::<Vec<_>>()
    };
    assert_eq!(steps_of(&exact_history), steps_of(&running_history));
    for record in epochs(&exact_history) {
        assert!(record.grad_norm.is_finite());
    }
    let mut grad = vec![0.0; 4];
    let full = problem
        .loss_and_gradient(&exact.w, Batch::All, &mut grad)
        .unwrap();
    assert_eq!(full.to_bits(), exact.loss.to_bits());
    assert_eq!(
        epochs(&exact_history).last().map(|r| r.loss.to_bits()),
        Some(full.to_bits())
    );

    // Auto: the running average unless a rule or the observer looks at the loss.
    let auto = options(EpochLoss::Auto);
    assert!(!auto.exact_epoch_loss(false));
    assert!(auto.exact_epoch_loss(true));
    for rules in [
        StopRules {
            tol_grad: Some(1e-6),
            ..stop
        },
        StopRules {
            tol_loss: Some(1e-6),
            ..stop
        },
        StopRules {
            n_iter_no_change: Some(3),
            ..stop
        },
    ] {
        assert!(Options {
            stop: rules,
            ..auto
        }
        .exact_epoch_loss(false));
    }
    let (mut problem, ..) = least_squares(MSE);
    let quiet = minimize(&mut problem, &[0.0; 4], &auto, &mut NoObserver).unwrap();
    assert_eq!(quiet.epoch_loss, EpochLoss::Running);
    assert_eq!(quiet.w, exact.w);
    // The running average cannot serve a gradient tolerance.
    let refused = Options {
        stop: StopRules {
            tol_grad: Some(1e-6),
            ..stop
        },
        ..options(EpochLoss::Running)
    };
    let (mut problem, ..) = least_squares(MSE);
    let error = minimize(&mut problem, &[0.0; 4], &refused, &mut NoObserver).unwrap_err();
    assert!(matches!(error, OptimError::InvalidOption { .. }), "{error}");
}

#[test]
fn sgd_on_several_threads_approaches_the_solution_and_refuses_what_it_cannot_do() {
    use matdiff_fit::optim::{OptimError, Sampling, Schedule};
    let (x, y) = data(7);
    let solution = closed_form(&x, &y);
    let sgd = Options {
        method: Method::Sgd,
        lr: 0.02,
        stop: StopRules {
            tol_grad: None,
            max_epochs: Some(60),
            ..StopRules::default()
        },
        seed: 1,
        threads: Some(3),
        ..Options::default()
    };
    let (mut problem, ..) = least_squares(MSE);
    let outcome = fit(&mut problem, &sgd);
    assert_eq!(outcome.iterations, 60 * N);
    // SGD at a constant η ends in a neighbourhood of the solution, as on one thread.
    let (mut alone, ..) = least_squares(MSE);
    let one = fit(
        &mut alone,
        &Options {
            threads: None,
            ..sgd
        },
    );
    let off = max_diff(&outcome.w, &solution);
    assert!(off < 0.1, "{:?} against {solution:?}", outcome.w);
    assert!(off < 3.0 * max_diff(&one.w, &solution) + 0.02, "{off}");
    let refused = [
        Options {
            method: Method::Gd,
            ..sgd
        },
        Options {
            sampling: Sampling::Replace,
            ..sgd
        },
        Options {
            schedule: Schedule::InvScaling { power: 0.25 },
            ..sgd
        },
        Options {
            stop: StopRules {
                max_iter: Some(10),
                ..sgd.stop
            },
            ..sgd
        },
        Options {
            threads: Some(0),
            ..sgd
        },
    ];
    for options in refused {
        let (mut problem, ..) = least_squares(MSE);
        let error = minimize(&mut problem, &[0.0; 4], &options, &mut NoObserver).unwrap_err();
        assert!(
            matches!(
                error,
                OptimError::InvalidOption {
                    option: "threads",
                    ..
                }
            ),
            "{error}"
        );
    }
    // A loss that is not a linear model's has no parallel steps.
    let (mut problem, ..) = least_squares("1/N*norm2(X*w - y)^2 + norm2(w)^4");
    let error = minimize(&mut problem, &[0.0; 4], &sgd, &mut NoObserver).unwrap_err();
    assert!(error.to_string().contains("linear model"), "{error}");
}
