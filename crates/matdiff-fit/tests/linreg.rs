//! Linear regression against published reference results (diabetes in 40-digit
//! arithmetic, Longley's NIST certified values), hand-checked rank-deficient cases,
//! ridge against an independent closed form, and the iterative solvers.

use faer::{Col, Mat};
use matdiff_fit::datasets;
use matdiff_fit::linreg::{r2, train_test_split, LinearRegression, Solver};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Features, target and feature names of a bundled data set.
fn bundled(name: &str) -> (Mat<f64>, Col<f64>, Vec<String>) {
    let table = datasets::load(name).unwrap().unwrap();
    let target = datasets::find(name).unwrap().target;
    let features: Vec<String> = table
        .columns
        .iter()
        .filter(|c| c.as_str() != target)
        .cloned()
        .collect();
    let refs: Vec<&str> = features.iter().map(String::as_str).collect();
    let x = table.select(&refs).unwrap();
    let t = table.column_index(target).unwrap();
    let y = Col::from_fn(table.nrows(), |i| table.data[(i, t)]);
    (x, y, features)
}

fn relative_error(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

const DIABETES_INTERCEPT: f64 = -334.567138518787;
const DIABETES_COEFFICIENTS: [f64; 10] = [
    -0.0363612242236254,
    -22.8596480904984,
    5.60296209192371,
    1.11680799331819,
    -1.08999633406324,
    0.746450455514226,
    0.372004715089153,
    6.53383193599034,
    68.4831249647883,
    0.280116989321504,
];
const DIABETES_R2: f64 = 0.51774842222035;
const DIABETES_MSE: f64 = 2859.69634758675;

#[test]
fn diabetes_matches_the_reference_with_every_closed_form_solver() {
    let (x, y, names) = bundled("diabetes");
    for solver in [Solver::Normal, Solver::Qr, Solver::Svd, Solver::Auto] {
        for standardize in [false, true] {
            let model = LinearRegression {
                solver,
                standardize,
                ..Default::default()
            };
            let fit = model.fit(x.as_ref(), y.as_ref(), &names).unwrap();
            let label = format!("{solver} standardize={standardize}");
            assert!(
                relative_error(fit.intercept, DIABETES_INTERCEPT) < 1e-8,
                "{label}"
            );
            for (got, want) in fit.coefficients.iter().zip(DIABETES_COEFFICIENTS) {
                assert!(
                    relative_error(*got, want) < 1e-8,
                    "{label}: {got} vs {want}"
                );
            }
            let scores = fit.score(x.as_ref(), y.as_ref());
            assert!(relative_error(scores.r2, DIABETES_R2) < 1e-8, "{label}");
            assert!(relative_error(scores.mse, DIABETES_MSE) < 1e-8, "{label}");
            assert_eq!(fit.rank, 10, "{label}");
            assert!(fit.warnings.is_empty(), "{label}: {:?}", fit.warnings);
            assert_eq!(fit.features, names);
        }
    }
}

#[test]
fn auto_explains_its_choice_on_diabetes() {
    let (x, y, names) = bundled("diabetes");
    let fit = LinearRegression::default()
        .fit(x.as_ref(), y.as_ref(), &names)
        .unwrap();
    // Centred and column-scaled, diabetes is well conditioned: Cholesky keeps > 10 digits.
    assert_eq!(fit.solver_used, Solver::Normal);
    assert!(
        fit.condition_number > 1.0 && fit.condition_number < 100.0,
        "{}",
        fit.condition_number
    );
    assert!(fit.why.contains("digits"), "{}", fit.why);
}

const LONGLEY_CERTIFIED: [f64; 7] = [
    -3482258.63459582,
    15.0618722713733,
    -0.0358191792925910,
    -2.02022980381683,
    -1.03322686717359,
    -0.0511041056535807,
    1829.15146461355,
];
const LONGLEY_R2: f64 = 0.995479004577296;

/// Every closed-form solver, `normal` included, keeps ten significant digits on
/// Longley. The reference's warning that the normal equations lose half the digits is
/// about `[1 X]` (cond ≈ 4.9e9, so cond(XᵀX) ≈ 2.4e19); the library centres the
/// columns (which removes the intercept's collinearity with `year`) and scales them
/// to unit norm, leaving cond ≈ 1.1e2, where Cholesky keeps about 12 digits.
#[test]
fn longley_keeps_ten_digits_with_every_closed_form_solver() {
    let (x, y, names) = bundled("longley");
    for solver in [Solver::Normal, Solver::Qr, Solver::Svd, Solver::Auto] {
        let fit = LinearRegression {
            solver,
            ..Default::default()
        }
        .fit(x.as_ref(), y.as_ref(), &names)
        .unwrap();
        let got = std::iter::once(fit.intercept).chain(fit.coefficients.iter().copied());
        for (k, (g, want)) in got.zip(LONGLEY_CERTIFIED).enumerate() {
            assert!(
                relative_error(g, want) < 1e-10,
                "{solver} b{k}: {g} vs {want}"
            );
        }
        let r2 = fit.score(x.as_ref(), y.as_ref()).r2;
        assert!(relative_error(r2, LONGLEY_R2) < 1e-10, "{solver}");
        assert_eq!(fit.rank, 6);
        assert!(fit.condition_number > 50.0 && fit.condition_number < 500.0);
        // Longley is the classic ill-conditioned case: auto keeps the stable path.
        if solver == Solver::Auto {
            assert_eq!(fit.solver_used, Solver::Qr, "{}", fit.why);
        }
    }
}

/// A polynomial design `t, t², …, t⁷` on `[0, 1]` stays ill conditioned after centring
/// (cond ≈ 1e5 or more): the normal equations would keep only a few digits, so `auto`
/// must choose pivoted QR, which recovers the exact coefficients of a noise-free target.
#[test]
fn auto_avoids_the_normal_equations_when_they_would_lose_digits() {
    let n = 60;
    let degree = 7;
    let t = |i: usize| i as f64 / (n - 1) as f64;
    let x = Mat::from_fn(n, degree, |i, j| t(i).powi(j as i32 + 1));
    let truth: Vec<f64> = (0..degree)
        .map(|j| (j as f64 + 1.0) * if j % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let y = Col::from_fn(n, |i| {
        0.5 + (0..degree).map(|j| truth[j] * x[(i, j)]).sum::<f64>()
    });
    let auto = LinearRegression::default()
        .fit(x.as_ref(), y.as_ref(), &[])
        .unwrap();
    assert_eq!(auto.solver_used, Solver::Qr, "{}", auto.why);
    assert!(auto.condition_number > 1e4, "{}", auto.condition_number);
    assert!(auto.why.contains("digits"), "{}", auto.why);
    for (got, want) in auto.coefficients.iter().zip(&truth) {
        assert!(relative_error(*got, *want) < 1e-8, "{got} vs {want}");
    }
    let normal = LinearRegression {
        solver: Solver::Normal,
        ..Default::default()
    }
    .fit(x.as_ref(), y.as_ref(), &[])
    .unwrap();
    assert!(
        normal
            .warnings
            .iter()
            .any(|w| w.contains("significant digits")),
        "{:?}",
        normal.warnings
    );
}

/// `y = 1 + 2 t` with the column `t` given twice: every `(b₁, b₂)` with `b₁ + b₂ = 2`
/// fits exactly, and the one of minimum norm is `(1, 1)`.
#[test]
fn a_duplicated_column_gives_the_minimum_norm_solution_and_a_warning() {
    let t = [0.0, 1.0, 2.0, 3.0, 5.0];
    let x = Mat::from_fn(5, 2, |i, _| t[i]);
    let y = Col::from_fn(5, |i| 1.0 + 2.0 * t[i]);
    let names = vec!["t".to_owned(), "t_again".to_owned()];
    for solver in [Solver::Auto, Solver::Normal, Solver::Qr, Solver::Svd] {
        let fit = LinearRegression {
            solver,
            ..Default::default()
        }
        .fit(x.as_ref(), y.as_ref(), &names)
        .unwrap();
        assert_eq!(fit.solver_used, Solver::Svd, "{solver}");
        assert_eq!(fit.rank, 1, "{solver}");
        assert!(
            (fit.intercept - 1.0).abs() < 1e-12,
            "{solver}: {}",
            fit.intercept
        );
        for b in &fit.coefficients {
            assert!((b - 1.0).abs() < 1e-12, "{solver}: {:?}", fit.coefficients);
        }
        assert!(
            fit.warnings
                .iter()
                .any(|w| w.contains("'t_again' duplicates column 't'")),
            "{solver}: {:?}",
            fit.warnings
        );
    }
}

/// A column that is a multiple of another is named too (here `u = 2 t`): the minimum-norm
/// solution of `b_t t + b_u (2t) = 2 t` is `(b_t, b_u) = (2, 4)/5`.
#[test]
fn a_proportional_column_is_named_and_the_solution_is_minimum_norm() {
    let t = [0.0, 1.0, 2.0, 3.0, 5.0];
    let x = Mat::from_fn(5, 2, |i, j| t[i] * (j + 1) as f64);
    let y = Col::from_fn(5, |i| 1.0 + 2.0 * t[i]);
    let names = vec!["t".to_owned(), "u".to_owned()];
    let fit = LinearRegression::default()
        .fit(x.as_ref(), y.as_ref(), &names)
        .unwrap();
    assert!(
        (fit.coefficients[0] - 0.4).abs() < 1e-12,
        "{:?}",
        fit.coefficients
    );
    assert!(
        (fit.coefficients[1] - 0.8).abs() < 1e-12,
        "{:?}",
        fit.coefficients
    );
    assert!(
        fit.warnings
            .iter()
            .any(|w| w.contains("linear combination")),
        "{:?}",
        fit.warnings
    );
}

/// Two equations, three unknowns, no intercept: `x₁ = 1`, `x₂ + x₃ = 2`; the minimum-norm
/// solution is `Xᵀ(XXᵀ)⁻¹y = (1, 1, 1)`.
#[test]
fn fewer_rows_than_features_gives_the_minimum_norm_solution_and_a_warning() {
    let x = Mat::from_fn(2, 3, |i, j| match (i, j) {
        (0, 0) | (1, 1) | (1, 2) => 1.0,
        _ => 0.0,
    });
    let y = Col::from_fn(2, |i| [1.0, 2.0][i]);
    let fit = LinearRegression {
        intercept: false,
        ..Default::default()
    }
    .fit(x.as_ref(), y.as_ref(), &[])
    .unwrap();
    assert_eq!(fit.solver_used, Solver::Svd);
    assert_eq!(fit.rank, 2);
    for b in &fit.coefficients {
        assert!((b - 1.0).abs() < 1e-12, "{:?}", fit.coefficients);
    }
    assert!(fit
        .warnings
        .iter()
        .any(|w| w.contains("fewer samples than features")));
}

#[test]
fn a_constant_column_is_named_and_gets_coefficient_zero() {
    let (x, y, mut names) = bundled("diabetes");
    let wider = Mat::from_fn(x.nrows(), 11, |i, j| if j < 10 { x[(i, j)] } else { 7.0 });
    names.push("seven".to_owned());
    let fit = LinearRegression::default()
        .fit(wider.as_ref(), y.as_ref(), &names)
        .unwrap();
    assert_eq!(fit.coefficients[10], 0.0);
    assert!(relative_error(fit.intercept, DIABETES_INTERCEPT) < 1e-8);
    assert!(
        fit.warnings
            .iter()
            .any(|w| w.contains("'seven' is constant")),
        "{:?}",
        fit.warnings
    );
}

/// Solves `(XcᵀXc + λI) b = Xcᵀyc` by Gaussian elimination with partial pivoting,
/// written out here so the test does not share code with the library.
fn ridge_by_hand(x: &Mat<f64>, y: &Col<f64>, lambda: f64, scale: &[f64]) -> (Vec<f64>, f64) {
    let (n, d) = (x.nrows(), x.ncols());
    let mean = |f: &dyn Fn(usize) -> f64| (0..n).map(f).sum::<f64>() / n as f64;
    let mu: Vec<f64> = (0..d).map(|j| mean(&|i| x[(i, j)])).collect();
    let ybar = mean(&|i| y[i]);
    let z = |i: usize, j: usize| (x[(i, j)] - mu[j]) / scale[j];
    let mut a = vec![vec![0.0; d + 1]; d];
    for (r, row) in a.iter_mut().enumerate() {
        for (c, entry) in row.iter_mut().enumerate() {
            *entry = if c < d {
                (0..n).map(|i| z(i, r) * z(i, c)).sum::<f64>() + if r == c { lambda } else { 0.0 }
            } else {
                (0..n).map(|i| z(i, r) * (y[i] - ybar)).sum()
            };
        }
    }
    for col in 0..d {
        let pivot = (col..d)
            .max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))
            .unwrap();
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        for row in a.iter_mut().skip(col + 1) {
            let f = row[col] / pivot_row[col];
            for (entry, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                *entry -= f * p;
            }
        }
    }
    let mut beta = vec![0.0; d];
    for r in (0..d).rev() {
        let rest: f64 = (r + 1..d).map(|c| a[r][c] * beta[c]).sum();
        beta[r] = (a[r][d] - rest) / a[r][r];
    }
    let b: Vec<f64> = (0..d).map(|j| beta[j] / scale[j]).collect();
    let intercept = ybar - (0..d).map(|j| mu[j] * b[j]).sum::<f64>();
    (b, intercept)
}

#[test]
fn ridge_matches_the_closed_form_in_original_and_standardised_units() {
    let (x, y, names) = bundled("diabetes");
    let n = x.nrows() as f64;
    let std: Vec<f64> = (0..x.ncols())
        .map(|j| {
            let m = (0..x.nrows()).map(|i| x[(i, j)]).sum::<f64>() / n;
            ((0..x.nrows()).map(|i| (x[(i, j)] - m).powi(2)).sum::<f64>() / n).sqrt()
        })
        .collect();
    let ones = vec![1.0; x.ncols()];
    for (standardize, lambda) in [(false, 0.5), (false, 1e3), (true, 10.0), (true, 1e4)] {
        let scale = if standardize { &std } else { &ones };
        let (want, want_intercept) = ridge_by_hand(&x, &y, lambda, scale);
        for solver in [Solver::Auto, Solver::Normal, Solver::Qr, Solver::Svd] {
            let fit = LinearRegression {
                solver,
                standardize,
                ridge: lambda,
                ..Default::default()
            }
            .fit(x.as_ref(), y.as_ref(), &names)
            .unwrap();
            let label = format!("{solver} standardize={standardize} λ={lambda}");
            assert!(
                relative_error(fit.intercept, want_intercept) < 1e-9,
                "{label}"
            );
            for (got, want) in fit.coefficients.iter().zip(&want) {
                assert!(
                    relative_error(*got, *want) < 1e-8,
                    "{label}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn iterative_solvers_reach_the_closed_form_r2_on_standardised_diabetes() {
    let (x, y, names) = bundled("diabetes");
    for solver in [Solver::Gd, Solver::Sgd, Solver::MiniBatch] {
        let fit = LinearRegression {
            solver,
            standardize: true,
            ..Default::default()
        }
        .fit(x.as_ref(), y.as_ref(), &names)
        .unwrap();
        let r2 = fit.score(x.as_ref(), y.as_ref()).r2;
        assert!((r2 - DIABETES_R2).abs() < 1e-3, "{solver}: R² = {r2}");
        assert_eq!(fit.solver_used, solver);
        assert!(fit.iterations.unwrap() > 0);
    }
}

#[test]
fn iterative_ridge_matches_the_closed_form() {
    let (x, y, names) = bundled("diabetes");
    let closed = LinearRegression {
        ridge: 100.0,
        ..Default::default()
    }
    .fit(x.as_ref(), y.as_ref(), &names)
    .unwrap();
    let gd = LinearRegression {
        ridge: 100.0,
        solver: Solver::Gd,
        ..Default::default()
    }
    .fit(x.as_ref(), y.as_ref(), &names)
    .unwrap();
    for (a, b) in gd.coefficients.iter().zip(&closed.coefficients) {
        assert!(relative_error(*a, *b) < 1e-4, "{a} vs {b}");
    }
}

#[test]
fn the_split_is_seeded_and_the_test_score_is_sensible() {
    let (x, y, names) = bundled("diabetes");
    let (train, test) = train_test_split(x.nrows(), 0.2, 7);
    assert_eq!(test.len(), 88);
    assert_eq!(train.len() + test.len(), x.nrows());
    assert_eq!(
        train_test_split(x.nrows(), 0.2, 7),
        (train.clone(), test.clone())
    );
    assert_ne!(train_test_split(x.nrows(), 0.2, 8).1, test);
    let xt = matdiff_fit::linreg::select_rows(x.as_ref(), &train);
    let yt = matdiff_fit::linreg::select_entries(y.as_ref(), &train);
    let fit = LinearRegression::default()
        .fit(xt.as_ref(), yt.as_ref(), &names)
        .unwrap();
    let xs = matdiff_fit::linreg::select_rows(x.as_ref(), &test);
    let ys = matdiff_fit::linreg::select_entries(y.as_ref(), &test);
    let held_out = r2(ys.as_ref(), fit.predict(xs.as_ref()).as_ref());
    assert!(held_out > 0.3 && held_out < 0.7, "{held_out}");
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let x = Mat::from_fn(3, 1, |i, _| i as f64);
    let short = Col::from_fn(2, |i| i as f64);
    let nan = Col::from_fn(3, |i| if i == 1 { f64::NAN } else { 1.0 });
    let fine = Col::from_fn(3, |i| i as f64);
    let model = LinearRegression::default();
    let message = |r: Result<_, matdiff_fit::linreg::LinregError>| r.unwrap_err().to_string();
    assert!(message(model.fit(x.as_ref(), short.as_ref(), &[])).contains("3 rows but y has 2"));
    assert!(message(model.fit(x.as_ref(), nan.as_ref(), &[])).contains("row 2"));
    let negative = LinearRegression {
        ridge: -1.0,
        ..Default::default()
    };
    assert!(message(negative.fit(x.as_ref(), fine.as_ref(), &[])).contains("ridge"));
    assert!("newton".parse::<Solver>().is_err());
    assert_eq!("minibatch".parse::<Solver>().unwrap(), Solver::MiniBatch);
}

/// Every solver copes when no feature varies: the fit is the mean of the target.
#[test]
fn a_non_finite_value_is_named_by_its_first_row_with_every_solver() {
    // (NaN or ∞ at (row, column; None = y), the error) — the first row wins, y first
    // within a row. Without an intercept the check happens in the first pass that reads
    // the data (the Gram matrix for the normal equations), with one before the others.
    // A bad value: its row, its column (None: y) and the value.
    type Bad = (usize, Option<usize>, f64);
    let cases: [(&[Bad], &str); 4] = [
        (&[(4, None, f64::NAN)], "y has a non-finite value at row 5"),
        (
            &[(6, Some(1), f64::INFINITY)],
            "column 'b' of X has a non-finite value at row 7",
        ),
        (
            &[(6, None, f64::NAN), (3, Some(2), f64::NEG_INFINITY)],
            "column 'c' of X has a non-finite value at row 4",
        ),
        (
            &[(3, Some(0), f64::NAN), (3, None, f64::INFINITY)],
            "y has a non-finite value at row 4",
        ),
    ];
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    for (bad, expected) in cases {
        let mut x = Mat::from_fn(12, 3, |i, j| {
            ((i * 7 + j * 5) % 11) as f64 + (i * j) as f64 * 0.1
        });
        let mut y = Col::from_fn(12, |i| i as f64 * 0.5 - 1.0);
        for &(row, column, value) in bad {
            match column {
                Some(j) => x[(row, j)] = value,
                None => y[row] = value,
            }
        }
        for solver in [Solver::Auto].into_iter().chain(Solver::ALL) {
            for intercept in [true, false] {
                let model = LinearRegression {
                    solver,
                    intercept,
                    ..Default::default()
                };
                let error = model.fit(x.as_ref(), y.as_ref(), &names).unwrap_err();
                assert_eq!(
                    error.to_string(),
                    format!("{expected} — remove or impute it"),
                    "{solver}, intercept = {intercept}"
                );
            }
        }
    }
}

#[test]
fn with_many_columns_auto_estimates_the_condition_number_and_still_avoids_bad_cases() {
    // 300 columns: auto's decision starts from a power-iteration estimate.
    let (n, d) = (3000, 300);
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let x = Mat::from_fn(n, d, |_, _| rng.random_range(-1.0..1.0));
    let y = Col::from_fn(n, |i| {
        x[(i, 0)] - 2.0 * x[(i, 7)] + rng.random_range(-0.1..0.1)
    });
    let fit = |x: &Mat<f64>, solver| {
        LinearRegression {
            solver,
            ..Default::default()
        }
        .fit(x.as_ref(), y.as_ref(), &[])
        .unwrap()
    };
    let (auto, svd) = (fit(&x, Solver::Auto), fit(&x, Solver::Svd));
    assert_eq!(auto.solver_used, Solver::Normal);
    // From below, and close: the decision has a factor of two in κ to spare.
    let ratio = auto.condition_number / svd.condition_number;
    assert!(
        (0.9..=1.0 + 1e-9).contains(&ratio),
        "estimate / exact = {ratio}"
    );
    for (a, b) in auto.coefficients.iter().zip(&svd.coefficients) {
        assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // A nearly dependent column makes the estimate useless: auto goes to QR.
    let mut nearly = x.clone();
    for i in 0..n {
        nearly[(i, d - 1)] = nearly[(i, 3)] + 1e-7 * rng.random_range(-1.0..1.0);
    }
    let auto = fit(&nearly, Solver::Auto);
    assert_eq!(auto.solver_used, Solver::Qr, "{}", auto.why);
}

#[test]
fn the_fit_is_bitwise_the_same_on_one_and_two_threads() {
    // Enough rows for the Gram matrix to be summed in several parts.
    let n = 50_003;
    let x = Mat::from_fn(n, 6, |i, j| {
        ((i * (j + 3)) % 101) as f64 / 7.0 + (j as f64 * i as f64).sin()
    });
    let y = Col::from_fn(n, |i| (i % 13) as f64 - x[(i, 2)] + 0.5 * x[(i, 4)]);
    for intercept in [true, false] {
        for solver in [Solver::Auto, Solver::Normal] {
            let model = LinearRegression {
                solver,
                intercept,
                ..Default::default()
            };
            let on = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| model.fit(x.as_ref(), y.as_ref(), &[]).unwrap())
            };
            let (one, two) = (on(1), on(2));
            assert_eq!(one.solver_used, Solver::Normal);
            assert_eq!(
                one.coefficients, two.coefficients,
                "{solver}, intercept = {intercept}"
            );
            assert_eq!(one.intercept.to_bits(), two.intercept.to_bits());
            assert_eq!(
                one.condition_number.to_bits(),
                two.condition_number.to_bits()
            );
        }
    }
}

#[test]
fn constant_features_give_the_mean_with_every_solver() {
    let x = Mat::from_fn(4, 2, |_, j| j as f64 + 3.0);
    let y = Col::from_fn(4, |i| i as f64);
    for solver in [Solver::Auto, Solver::Normal, Solver::Qr, Solver::Svd]
        .into_iter()
        .chain([Solver::Gd, Solver::Sgd, Solver::MiniBatch])
    {
        let fit = LinearRegression {
            solver,
            ..Default::default()
        }
        .fit(x.as_ref(), y.as_ref(), &[])
        .unwrap();
        assert_eq!(fit.intercept, 1.5, "{solver}");
        assert_eq!(fit.coefficients, [0.0, 0.0], "{solver}");
        assert_eq!(fit.rank, 0, "{solver}");
        assert_eq!(fit.warnings.len(), 2, "{solver}: {:?}", fit.warnings);
    }
}

/// Gradient descent from zero on a duplicated column stays in the row space and says so.
#[test]
fn iterative_solvers_warn_about_rank_deficiency() {
    let t = [0.0, 1.0, 2.0, 3.0, 5.0];
    let x = Mat::from_fn(5, 2, |i, _| t[i]);
    let y = Col::from_fn(5, |i| 1.0 + 2.0 * t[i]);
    let fit = LinearRegression {
        solver: Solver::Gd,
        ..Default::default()
    }
    .fit(x.as_ref(), y.as_ref(), &[])
    .unwrap();
    assert!(
        (fit.coefficients[0] - 1.0).abs() < 1e-6,
        "{:?}",
        fit.coefficients
    );
    assert!(
        (fit.coefficients[1] - 1.0).abs() < 1e-6,
        "{:?}",
        fit.coefficients
    );
    assert!(
        fit.warnings.iter().any(|w| w.contains("rank deficient")),
        "{:?}",
        fit.warnings
    );
}
