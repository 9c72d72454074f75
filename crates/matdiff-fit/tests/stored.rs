//! Data read as stored give the same results, bit for bit, as the same data given as
//! faer matrices: a C-order `.npy` file mapped into memory (the samples by rows, read
//! in place), a Fortran-order one (by columns) and a CSV file (by rows), for the
//! optimiser's full-batch, SGD and mini-batch runs and for every linear-regression
//! solver.

use std::path::PathBuf;

use faer::{Col, Mat};
use matdiff_core::parse_function;
use matdiff_fit::linreg::{LinearRegression, Solver};
use matdiff_fit::optim::{minimize, Method, NoObserver, Options, StopRules};
use matdiff_fit::problem::Problem;
use matdiff_num::data::{load_matrix_stored, CsvHeader};
use matdiff_num::{Order, Stored};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: usize = 2_000;
const D: usize = 11;

/// `X` (N × D, columns on different scales) and `y = X w + noise`, seeded.
fn data() -> (Mat<f64>, Mat<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = Mat::from_fn(N, D, |_, j| {
        (j as f64 + 1.0) * rng.random_range(-1.0..1.0) + j as f64
    });
    let y = Mat::from_fn(N, 1, |i, _| {
        (0..D).map(|j| x[(i, j)] * (j as f64 - 4.5)).sum::<f64>() + rng.random_range(-0.1..0.1)
    });
    (x, y)
}

/// A version-1 `.npy` file of `x` in the given order.
fn write_npy(name: &str, x: &Mat<f64>, fortran: bool) -> PathBuf {
    let (rows, cols) = (x.nrows(), x.ncols());
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': {}, 'shape': ({rows}, {cols}), }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    let value = |i: usize, j: usize| x[(i, j)].to_le_bytes();
    if fortran {
        (0..cols).for_each(|j| (0..rows).for_each(|i| bytes.extend(value(i, j))));
    } else {
        (0..rows).for_each(|i| (0..cols).for_each(|j| bytes.extend(value(i, j))));
    }
    let path = temp(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A CSV file of `x` with a header row; `{:?}` writes each value so that it parses
/// back to the same bits.
fn write_csv(name: &str, x: &Mat<f64>) -> PathBuf {
    let mut text: String = (1..=x.ncols()).map(|j| format!("x{j},")).collect();
    text.pop();
    text.push('\n');
    for i in 0..x.nrows() {
        let row: Vec<String> = (0..x.ncols()).map(|j| format!("{:?}", x[(i, j)])).collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    let path = temp(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("matdiff-stored-{}-{name}", std::process::id()))
}

/// The data as a faer matrix and as read back from every kind of file.
fn stored_versions(test: &str, x: &Mat<f64>) -> Vec<(&'static str, Stored)> {
    let files = [
        (
            "C-order .npy",
            write_npy(&format!("{test}-c.npy"), x, false),
            true,
            Order::Rows,
        ),
        (
            "Fortran-order .npy",
            write_npy(&format!("{test}-f.npy"), x, true),
            true,
            Order::Columns,
        ),
        (
            "CSV",
            write_csv(&format!("{test}-x.csv"), x),
            false,
            Order::Rows,
        ),
    ];
    let mut versions = vec![("faer matrix", Stored::from(x.clone()))];
    for (label, path, mapped, order) in files {
        let stored = load_matrix_stored(&path, CsvHeader::FirstRow).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            stored.is_mapped(),
            mapped && cfg!(target_endian = "little"),
            "{label}"
        );
        assert_eq!(stored.order(), order, "{label}");
        assert_eq!(stored.view(), x.as_ref(), "{label}");
        versions.push((label, stored));
    }
    versions
}

fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn every_method_gives_the_same_bits_on_data_read_as_stored() {
    let (x, y) = data();
    let versions = stored_versions("methods", &x);
    let methods = [
        ("gd", Method::Gd, 5e-4),
        ("sgd", Method::Sgd, 2e-4),
        ("mini-batch", Method::MiniBatch { batch: 32 }, 2e-4),
    ];
    for (name, method, lr) in methods {
        let options = Options {
            method,
            lr,
            stop: StopRules {
                tol_grad: None,
                max_epochs: Some(3),
                ..StopRules::default()
            },
            seed: 3,
            ..Options::default()
        };
        let mut results = Vec::new();
        for (label, stored) in &versions {
            let function = parse_function("1/N*norm2(X*w - y)^2", "X: matrix(N, d)").unwrap();
            let data = vec![
                ("X".to_owned(), stored.clone()),
                ("y".to_owned(), Stored::from(y.clone())),
            ];
            let mut problem = Problem::with_stored(function, "w", data, None).unwrap();
            problem.prepare_rows();
            let w0 = problem.zeros();
            let outcome = minimize(&mut problem, &w0, &options, &mut NoObserver).unwrap();
            results.push((label, bits(&outcome.w), outcome.loss.to_bits()));
        }
        for (label, w, loss) in &results[1..] {
            assert_eq!(w, &results[0].1, "{name}: {label}");
            assert_eq!(loss, &results[0].2, "{name}: {label}");
        }
    }
}

#[test]
fn every_linreg_solver_gives_the_same_bits_on_data_read_as_stored() {
    let (x, y) = data();
    let y = Col::from_fn(N, |i| y[(i, 0)]);
    let names: Vec<String> = (1..=D).map(|j| format!("x{j}")).collect();
    let versions = stored_versions("linreg", &x);
    for solver in [Solver::Normal, Solver::Qr, Solver::Svd, Solver::Auto] {
        for (intercept, standardize) in [(true, false), (true, true), (false, false), (false, true)]
        {
            let model = LinearRegression {
                solver,
                intercept,
                standardize,
                ..Default::default()
            };
            let label = format!("{solver} intercept={intercept} standardize={standardize}");
            let fits: Vec<_> = versions
                .iter()
                .map(|(_, stored)| model.fit(stored.view(), y.as_ref(), &names).unwrap())
                .collect();
            for ((version, _), fit) in versions.iter().zip(&fits).skip(1) {
                assert_eq!(
                    bits(&fit.coefficients),
                    bits(&fits[0].coefficients),
                    "{label}: {version}"
                );
                assert_eq!(
                    fit.intercept.to_bits(),
                    fits[0].intercept.to_bits(),
                    "{label}: {version}"
                );
            }
        }
    }
}
