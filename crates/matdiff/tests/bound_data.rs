//! Data are read where the caller keeps them: a compiled gradient copies no input,
//! and once warm it allocates nothing at all, whether the data are bound once
//! ([`Compiled::bind`]) or passed at every call. Allocations are counted on this
//! thread (the sizes here are below those that run on the thread pool).

use matdiff::faer::{ColRef, Mat, MatRef};
use matdiff::{Compiled, Function, Inputs};

/// Rows and columns of `X`: 1.6 MB, far more than the compiled gradient's own buffers.
const N: usize = 5_000;
const D: usize = 40;

/// `X` stored by rows (as NumPy's C order) and by columns (Fortran order), `y`, `w`.
struct Data {
    rows: Vec<f64>,
    columns: Mat<f64>,
    y: Vec<f64>,
    w: Vec<f64>,
}

fn data() -> Data {
    let x = |i: usize, j: usize| ((i * 7 + j * 13) % 17) as f64 / 17.0 - 0.5;
    Data {
        rows: (0..N * D).map(|k| x(k / D, k % D)).collect(),
        columns: Mat::from_fn(N, D, x),
        y: (0..N).map(|i| (i % 5) as f64 - 2.0).collect(),
        w: (0..D).map(|j| 0.1 * j as f64 - 0.3).collect(),
    }
}

/// `1/N‖Xw − y‖²` and `2/N Xᵀ(Xw − y)` by loops, to compare with.
fn expected(x: MatRef<'_, f64>, y: &[f64], w: &[f64]) -> (f64, Vec<f64>) {
    let n = x.nrows() as f64;
    let residual: Vec<f64> = (0..x.nrows())
        .map(|i| (0..x.ncols()).map(|j| x[(i, j)] * w[j]).sum::<f64>() - y[i])
        .collect();
    let value = residual.iter().map(|r| r * r).sum::<f64>() / n;
    let gradient = (0..x.ncols())
        .map(|j| 2.0 / n * (0..x.nrows()).map(|i| x[(i, j)] * residual[i]).sum::<f64>())
        .collect();
    (value, gradient)
}

fn assert_close(what: &str, (value, gradient): (f64, MatRef<'_, f64>), want: &(f64, Vec<f64>)) {
    assert!(
        (value - want.0).abs() <= 1e-12 * want.0.abs().max(1.0),
        "{what}: value {value} ≠ {}",
        want.0
    );
    for (j, g) in want.1.iter().enumerate() {
        assert!(
            (gradient[(j, 0)] - g).abs() <= 1e-12 * g.abs().max(1.0),
            "{what}: ∂{j} {} ≠ {g}",
            gradient[(j, 0)]
        );
    }
}

fn compiled() -> Compiled {
    let f = Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)").unwrap();
    f.compile("w").unwrap()
}

/// The two ways `X` is stored, as inputs without `w`.
fn storages(d: &Data) -> [(&'static str, Inputs<'_>); 2] {
    [
        (
            "by rows",
            Inputs::new().by_rows("X", &d.rows, N, D).vector("y", &d.y),
        ),
        (
            "by columns",
            Inputs::new()
                .matrix("X", d.columns.as_ref())
                .vector("y", &d.y),
        ),
    ]
}

#[test]
fn bound_data_are_read_in_place_and_warm_calls_allocate_nothing() {
    let d = data();
    let want = expected(d.columns.as_ref(), &d.y, &d.w);
    let x_bytes = (N * D * 8) as u64;
    for (storage, inputs) in storages(&d) {
        let mut compiled = compiled();
        let mut fg = compiled.bind(inputs).unwrap();
        let w = ColRef::from_slice(&d.w);
        // The first call compiles the plan: its buffers are vectors of N or d
        // entries, never a copy of X.
        let first = allocation_counter::measure(|| {
            assert_close(storage, fg.value_and_gradient(w.as_mat()).unwrap(), &want);
        });
        assert!(
            first.bytes_max < x_bytes / 4,
            "{storage}: the first call held {} bytes, X has {x_bytes}",
            first.bytes_max
        );
        let warm = allocation_counter::measure(|| {
            for _ in 0..3 {
                assert_close(storage, fg.value_and_gradient(w.as_mat()).unwrap(), &want);
            }
        });
        assert_eq!(
            warm.count_total, 0,
            "{storage}: warm calls allocated {warm:?}"
        );
    }
}

#[test]
fn inputs_given_at_every_call_are_not_copied_either() {
    let d = data();
    let want = expected(d.columns.as_ref(), &d.y, &d.w);
    for (storage, inputs) in storages(&d) {
        let mut compiled = compiled();
        let inputs = inputs.vector("w", &d.w);
        assert_close(
            storage,
            compiled.value_and_gradient(&inputs).unwrap(),
            &want,
        );
        let warm = allocation_counter::measure(|| {
            for _ in 0..3 {
                assert_close(
                    storage,
                    compiled.value_and_gradient(&inputs).unwrap(),
                    &want,
                );
            }
        });
        assert_eq!(
            warm.count_total, 0,
            "{storage}: warm calls allocated {warm:?}"
        );
    }
}

#[test]
fn a_new_variable_of_a_new_shape_recompiles_and_errors_are_values() {
    let d = data();
    let mut compiled = compiled();
    let mut fg = compiled
        .bind(Inputs::new().by_rows("X", &d.rows, N, D).vector("y", &d.y))
        .unwrap();
    let short = [1.0, 2.0];
    let error = fg
        .value_and_gradient(ColRef::from_slice(&short).as_mat())
        .unwrap_err();
    assert!(
        error.to_string().contains("`X`") || error.to_string().contains("`w`"),
        "{error}"
    );
    // The right shape works after the wrong one.
    let want = expected(d.columns.as_ref(), &d.y, &d.w);
    assert_close(
        "after an error",
        fg.value_and_gradient(ColRef::from_slice(&d.w).as_mat())
            .unwrap(),
        &want,
    );
}

#[test]
fn binding_the_variable_as_data_or_an_unknown_name_is_refused() {
    let d = data();
    let cases: [(&str, Inputs<'_>, &str); 3] = [
        (
            "w as data",
            Inputs::new().vector("w", &d.w),
            "`w` is the variable of the gradient",
        ),
        (
            "unknown",
            Inputs::new().vector("z", &d.y),
            "unknown variable `z`",
        ),
        (
            "wrong shape",
            Inputs::new().by_rows("y", &d.rows, N, D),
            "`y`",
        ),
    ];
    for (what, inputs, message) in cases {
        let mut compiled = compiled();
        let error = compiled.bind(inputs).unwrap_err().to_string();
        assert!(error.contains(message), "{what}: {error}");
    }
}
