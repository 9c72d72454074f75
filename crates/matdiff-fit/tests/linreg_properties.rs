//! Properties of the closed-form solvers on random problems: they satisfy the normal
//! equations, agree with one another, are unchanged by standardisation, and split the
//! weight of a duplicated column evenly (the minimum-norm solution).

use faer::{Col, Mat};
use matdiff_fit::linreg::{LinearRegression, Solver};
use proptest::prelude::*;

/// A random problem: `rows × cols` features in [-10, 10] plus a target.
fn problem() -> impl Strategy<Value = (Mat<f64>, Col<f64>)> {
    (1usize..5).prop_flat_map(|cols| {
        (cols + 3..cols + 30).prop_flat_map(move |rows| {
            (
                prop::collection::vec(-10.0f64..10.0, rows * cols),
                prop::collection::vec(-100.0f64..100.0, rows),
            )
                .prop_map(move |(x, y)| {
                    (
                        Mat::from_fn(rows, cols, |i, j| x[i * cols + j]),
                        Col::from_fn(rows, |i| y[i]),
                    )
                })
        })
    })
}

fn fit(solver: Solver, standardize: bool, x: &Mat<f64>, y: &Col<f64>) -> (f64, Vec<f64>, usize) {
    let fit = LinearRegression {
        solver,
        standardize,
        ..Default::default()
    }
    .fit(x.as_ref(), y.as_ref(), &[])
    .unwrap();
    (fit.intercept, fit.coefficients, fit.rank)
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn solvers_satisfy_the_normal_equations_and_agree((x, y) in problem()) {
        let (b0, b, rank) = fit(Solver::Svd, false, &x, &y);
        let (n, d) = (x.nrows(), x.ncols());
        // Residual orthogonal to the ones column and to every feature.
        let r: Vec<f64> = (0..n)
            .map(|i| y[i] - b0 - (0..d).map(|j| x[(i, j)] * b[j]).sum::<f64>())
            .collect();
        let scale = norm(&r).max(1.0) * 10.0 * (n as f64).sqrt();
        prop_assert!(r.iter().sum::<f64>().abs() < 1e-9 * scale);
        for j in 0..d {
            let xr: f64 = (0..n).map(|i| x[(i, j)] * r[i]).sum();
            prop_assert!(xr.abs() < 1e-9 * scale, "column {}: {}", j, xr);
        }
        if rank == d {
            for solver in [Solver::Auto, Solver::Normal, Solver::Qr] {
                for standardize in [false, true] {
                    let (c0, c, _) = fit(solver, standardize, &x, &y);
                    let diff: Vec<f64> = c.iter().zip(&b).map(|(p, q)| p - q).collect();
                    prop_assert!(norm(&diff) <= 1e-7 * norm(&b).max(1.0), "{} {:?} vs {:?}", solver, c, b);
                    prop_assert!((c0 - b0).abs() <= 1e-7 * b0.abs().max(100.0));
                }
            }
        }
    }

    #[test]
    fn a_duplicated_column_shares_its_weight_evenly((x, y) in problem()) {
        let (n, d) = (x.nrows(), x.ncols());
        let wider = Mat::from_fn(n, d + 1, |i, j| x[(i, j.min(d - 1))]);
        let (_, b, _) = fit(Solver::Svd, false, &x, &y);
        let (_, c, rank) = fit(Solver::Auto, false, &wider, &y);
        prop_assert!(rank <= d);
        prop_assert!((c[d - 1] - c[d]).abs() <= 1e-7 * norm(&c).max(1.0), "{:?}", c);
        // Together the two copies carry the original coefficient.
        prop_assert!((c[d - 1] + c[d] - b[d - 1]).abs() <= 1e-6 * norm(&b).max(1.0));
    }
}
