//! The row kernel of linear-model losses against the generic evaluation plan: for
//! each loss shape, the loss and gradient on random data, on batches and on all rows,
//! must agree (to rounding), and losses of another form must not be recognised.

use faer::Mat;
use matdiff_core::parse_function;
use matdiff_fit::optim::{Batch, Objective};
use matdiff_fit::problem::Problem;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DECLS: &str = "X: matrix(N, d); w: vector(d); y: vector(N); lambda: scalar";
const N: usize = 57;
const D: usize = 6;

/// What the targets `y` are drawn from.
#[derive(Clone, Copy)]
enum Targets {
    Real,
    Sign,
    Binary,
}

/// Loss, targets, and the expected per-sample loss `ℓ` as the form prints it.
const LINEAR: &[(&str, Targets)] = &[
    ("1/N*norm2(X*w - y)^2", Targets::Real),
    ("1/(2*N)*norm2(X*w - y)^2", Targets::Real),
    ("norm2(X*w - y)^2", Targets::Real),
    ("norm2(X*w - y)^2/N + lambda*norm2(w)^2", Targets::Real),
    ("1/N*norm2(y - X*w)^2 + lambda*w'*w + 3", Targets::Real),
    ("1/N*sum(log(1 + exp(-y.*(X*w))))", Targets::Sign),
    (
        "1/N*sum(log(1 + exp(-y.*(X*w)))) + lambda/2*norm2(w)^2",
        Targets::Sign,
    ),
    (
        "-1/N*(y'*log(sigmoid(X*w)) + (1 - y)'*log(1 - sigmoid(X*w)))",
        Targets::Binary,
    ),
    ("1/N*norm1(X*w - y) + lambda*norm1(w)", Targets::Real),
    ("sum(softplus(X*w) - y.*(X*w))/N", Targets::Binary),
    ("<X*w - y, X*w - y>/N + 0.5*norm2(w)^2", Targets::Real),
];

/// Losses that are not sums over samples of a function of `x_iᵀw`.
const OTHER: &[&str] = &[
    "norm2(X*w - y)",
    "logsumexp(X*w - y)",
    "1/N*norm2(X*w - y)^2 + norm2(w)",
    "norm2(X'*(X*w - y))^2",
    "sum(X*w)^2",
];

fn data(targets: Targets, seed: u64) -> Vec<(String, Mat<f64>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Mat::from_fn(N, D, |_, _| rng.random_range(-1.0..1.0));
    let y = Mat::from_fn(N, 1, |_, _| match targets {
        Targets::Real => rng.random_range(-2.0..2.0),
        Targets::Sign => {
            if rng.random_bool(0.5) {
                1.0
            } else {
                -1.0
            }
        }
        Targets::Binary => f64::from(u8::from(rng.random_bool(0.5))),
    });
    vec![
        ("X".into(), x),
        ("y".into(), y),
        ("lambda".into(), Mat::from_fn(1, 1, |_, _| 0.3)),
    ]
}

fn problem(expr: &str, targets: Targets) -> Problem {
    let function = parse_function(expr, DECLS).unwrap_or_else(|e| panic!("{expr}: {e:?}"));
    let mut data = data(targets, 11);
    if !expr.contains("lambda") {
        data.retain(|(name, _)| name != "lambda");
    }
    Problem::new(function, "w", data, None).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn evaluate(p: &mut Problem, w: &[f64], batch: Batch<'_>) -> (f64, Vec<f64>) {
    let mut grad = vec![0.0; D];
    let loss = p.loss_and_gradient(w, batch, &mut grad).unwrap();
    (loss, grad)
}

fn assert_close(expr: &str, what: &str, kernel: f64, plan: f64) {
    let tol = 1e-11 * (1.0 + plan.abs());
    assert!(
        (kernel - plan).abs() <= tol,
        "{expr}, {what}: row kernel {kernel} vs plan {plan}"
    );
}

#[test]
fn row_kernel_matches_the_plan() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let batches: Vec<Vec<usize>> = vec![
        vec![3],
        vec![0, 56, 7, 7],
        (0..32).map(|_| rng.random_range(0..N)).collect(),
    ];
    for &(expr, targets) in LINEAR {
        let mut fast = problem(expr, targets);
        assert!(
            fast.linear_form().is_some(),
            "{expr} is recognised as a linear model's loss"
        );
        assert!(fast.prepare_rows());
        let mut plain = fast.clone();
        plain.use_row_kernel(false);
        for trial in 0..3 {
            let w: Vec<f64> = (0..D).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut check = |batch: Batch<'_>, what: &str| {
                let (l1, g1) = evaluate(&mut fast, &w, batch);
                let (l2, g2) = evaluate(&mut plain, &w, batch);
                assert_close(expr, &format!("{what} loss, trial {trial}"), l1, l2);
                for (j, (a, b)) in g1.iter().zip(&g2).enumerate() {
                    assert_close(
                        expr,
                        &format!("{what} gradient[{j}], trial {trial}"),
                        *a,
                        *b,
                    );
                }
                // The loss alone agrees with the loss of the pair.
                let alone = fast.loss(&w, batch).unwrap();
                assert_close(expr, &format!("{what} loss alone"), alone, l1);
            };
            check(Batch::All, "full");
            for rows in &batches {
                check(Batch::Rows(rows), &format!("batch {rows:?}"));
            }
        }
    }
}

#[test]
fn other_losses_keep_the_plan() {
    for expr in OTHER {
        let p = problem(expr, Targets::Real);
        assert!(
            p.linear_form().is_none(),
            "{expr} is not a sum over samples of a function of x_i'w"
        );
    }
}

#[test]
fn the_form_reads_like_the_loss() {
    let cases = [
        ("1/N*norm2(X*w - y)^2", "1/N*(X*w - y)^2", None),
        (
            "1/N*sum(log(1 + exp(-y.*(X*w)))) + lambda*norm2(w)^2",
            "1/N*softplus(-y*X*w)",
            Some("lambda*w^2"),
        ),
    ];
    for (expr, sample, penalty) in cases {
        let p = problem(expr, Targets::Sign);
        let form = p.linear_form().expect("a linear model's loss");
        assert_eq!(form.texts.sample, sample, "{expr}");
        assert_eq!(form.texts.penalty.as_deref(), penalty, "{expr}");
    }
}

#[test]
fn failures_on_rows_are_reported_like_the_plans() {
    let mut p = problem("1/N*sum(log(X*w)) + norm2(y)^2", Targets::Real);
    assert!(p.prepare_rows());
    let w = vec![-1.0; D];
    // Some sample has x_i'w ≤ 0: a domain error, an error of the mathematics.
    let error = p.loss(&w, Batch::Rows(&[0, 1, 2, 3, 4, 5])).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("log of a non-positive entry in the loss of sample"),
        "{message}"
    );
    // An overflow is a NaN loss and gradient, with the sample named.
    let mut p = problem("sum(exp(X*w - y))", Targets::Real);
    assert!(p.prepare_rows());
    let w = vec![1e3; D];
    let mut grad = vec![0.0; D];
    let loss = p.loss_and_gradient(&w, Batch::All, &mut grad).unwrap();
    assert!(loss.is_nan() && grad.iter().all(|g| g.is_nan()));
    assert!(p
        .non_finite()
        .is_some_and(|at| at.contains("is not finite")));
}

/// With a fitted intercept, every linear loss against the same loss written with the
/// intercept as a scalar datum `b` (`X*w` read as `(X*w + b)`) on the generic plan:
/// the loss and the coefficients' gradient agree to rounding, and the intercept's
/// gradient with a central difference of the loss in `b`. The penalty leaves `b` out.
#[test]
fn a_fitted_intercept_is_a_last_column_of_ones() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let batches: Vec<Vec<usize>> = vec![vec![3], vec![0, 56, 7, 7]];
    for &(expr, targets) in LINEAR {
        let mut fitted = problem(expr, targets);
        fitted
            .fit_intercept()
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(fitted.dim(), D + 1, "{expr}: the parameters end with b");
        let written = expr.replace("X*w", "(X*w + b)");
        let function = parse_function(&written, &format!("{DECLS}; b: scalar")).unwrap();
        for trial in 0..3 {
            let w: Vec<f64> = (0..=D).map(|_| rng.random_range(-1.0..1.0)).collect();
            let b = w[D];
            let mut data = data(targets, 11);
            if !expr.contains("lambda") {
                data.retain(|(name, _)| name != "lambda");
            }
            data.push(("b".into(), Mat::from_fn(1, 1, |_, _| b)));
            let mut reference = Problem::new(function.clone(), "w", data, None)
                .unwrap_or_else(|e| panic!("{written}: {e}"));
            let mut check = |batch: Batch<'_>, what: &str| {
                let mut grad = vec![0.0; D + 1];
                let loss = fitted.loss_and_gradient(&w, batch, &mut grad).unwrap();
                let (plain_loss, plain_grad) = evaluate(&mut reference, &w[..D], batch);
                let what = format!("{what}, trial {trial}");
                assert_close(expr, &format!("{what} loss"), loss, plain_loss);
                for j in 0..D {
                    let at = format!("{what} gradient[{j}]");
                    assert_close(expr, &at, grad[j], plain_grad[j]);
                }
                let h = 1e-6;
                let mut shifted = w.clone();
                shifted[D] = b + h;
                let up = fitted.loss(&shifted, batch).unwrap();
                shifted[D] = b - h;
                let down = fitted.loss(&shifted, batch).unwrap();
                let difference = (up - down) / (2.0 * h);
                assert!(
                    (grad[D] - difference).abs() <= 1e-6 * (1.0 + difference.abs()),
                    "{expr}, {what}: ∂/∂b {} vs central difference {difference}",
                    grad[D]
                );
            };
            check(Batch::All, "full");
            for rows in &batches {
                check(Batch::Rows(rows), &format!("batch {rows:?}"));
            }
        }
    }
    // A loss that is not a linear model's has no predictor to add `b` to.
    let mut other = problem(OTHER[1], Targets::Real);
    let error = other.fit_intercept().unwrap_err().to_string();
    assert!(
        error.contains("write the intercept into the loss"),
        "{error}"
    );
}

/// Fits with an intercept follow the fits on `[X, 1]` without one, step for step (to
/// rounding: the dot products add in another order), by every kind of step: the
/// in-place SGD step, mini-batches, full gradient descent; Hogwild! SGD, not
/// reproducible, lands near the same point. Streamed data are refused.
#[test]
fn fits_with_an_intercept_follow_the_fits_on_a_column_of_ones() {
    use matdiff_fit::optim::NoObserver;
    use matdiff_fit::spec::{Data, FitSpec, MethodKind, StopSpec};
    let loss = "1/N*norm2(X*w - y)^2";
    let function = parse_function(loss, DECLS).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x = Mat::from_fn(N, D, |_, _| rng.random_range(-1.0..1.0));
    let y = Mat::from_fn(N, 1, |i, _| {
        2.5 + x[(i, 0)] - x[(i, 3)] + rng.random_range(-0.1..0.1)
    });
    let ones = Mat::from_fn(N, D + 1, |i, j| if j < D { x[(i, j)] } else { 1.0 });
    let spec = |method, batch, threads, design: &Mat<f64>, intercept| FitSpec {
        method,
        batch,
        threads,
        intercept,
        lr: 0.05,
        stop: StopSpec {
            tol_grad: Some(0.0),
            epochs: Some(30),
            max_iter: matches!(method, MethodKind::Gd).then_some(300),
            ..StopSpec::default()
        },
        data: vec![
            ("X".into(), Data::Memory(design.clone().into())),
            ("y".into(), Data::Memory(y.clone().into())),
        ],
        ..FitSpec::new("w")
    };
    let cases = [
        (MethodKind::Sgd, None, None),
        (MethodKind::MiniBatch, Some(8), None),
        (MethodKind::Gd, None, None),
        (MethodKind::Sgd, None, Some(2)),
    ];
    for (method, batch, threads) in cases {
        let mut with = spec(method, batch, threads, &x, true)
            .prepare(function.clone())
            .unwrap();
        let fitted = with.run(&mut NoObserver).unwrap();
        let mut without = spec(method, batch, threads, &ones, false)
            .prepare(function.clone())
            .unwrap();
        let plain = without.run(&mut NoObserver).unwrap();
        let tol = if threads.is_some() { 0.05 } else { 1e-9 };
        for (j, (a, b)) in fitted.w.iter().zip(&plain.w).enumerate() {
            assert!((a - b).abs() <= tol, "{method:?}: w[{j}] {a} vs {b}");
        }
        assert_eq!(with.intercept(&fitted.w), Some(fitted.w[D]));
        assert_eq!(with.unflatten(&fitted.w).nrows(), D);
        assert!((fitted.loss - plain.loss).abs() <= tol * (1.0 + plain.loss));
        assert!(
            (fitted.w[D] - 2.5).abs() < 0.2,
            "{method:?}: b = {}",
            fitted.w[D]
        );
    }
    let mut streamed = spec(MethodKind::Sgd, None, None, &x, true);
    streamed.stream = true;
    let error = streamed.prepare(function).unwrap_err().to_string();
    assert!(error.contains("data in memory only"), "{error}");
}
