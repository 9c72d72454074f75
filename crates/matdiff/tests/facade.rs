//! The library's front door: the seminar's program as written, checked number by
//! number against independent computations (finite differences, a hand-written
//! descent loop, the known R² of the diabetes data), and a second program that uses
//! the same names in other combinations.

mod common;

/// The program of the library's specification, verbatim.
mod program {
    use matdiff::{Function, Inputs, Method, Minimize, Solver};

    pub fn main() -> Result<(), matdiff::Error> {
        let f = Function::parse("x'*A*x + b'*x", "A: matrix(n,n)")?;
        let g = f.gradient("x")?; // a Derivative
        println!("{g}"); // text form: b + (A + A')*x
        for step in g.steps() {
            println!("{} ({})", step.expr, step.rule);
        }
        println!("{}", g.latex());
        let a = matdiff::faer::mat![[2.0, 1.0], [0.0, 3.0]];
        let inputs = Inputs::new()
            .matrix("A", a.as_ref())
            .vector("x", &[1.0, -1.0])
            .vector("b", &[0.5, 0.5]);
        let (value, grad) = f.value_and_gradient("x", &inputs)?; // (f64, faer::Mat<f64>)
        let h = f.hessian("x")?; // A + A'
        let hv = h.evaluate(&inputs)?; // faer::Mat<f64>

        let loss = Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
        let (x, y) = matdiff::datasets::diabetes(); // faer::Mat<f64>, Vec<f64>
        let fit = Minimize::new(&loss, "w")
            .data("X", x.as_ref())
            .data("y", &y)
            .method(Method::Gd)
            .lr(0.5)
            .tol_grad(1e-8)
            .max_iter(10_000)
            .run()?;
        println!("{} {} {:?}", fit.loss, fit.iterations, fit.stop_reason);
        let ols = matdiff::linreg::fit(x.as_ref(), &y, Solver::Auto)?; // coefficients, intercept, r2, condition, rank, solver, warnings
        println!("{:?}", ols.r2);
        let _ = (value, grad, hv);
        Ok(())
    }
}

use matdiff::faer::Mat;
use matdiff::{DerivativeKind, Error, Function, Inputs, Method, Minimize, Solver, StopReason};

#[test]
fn the_specified_program_runs() {
    program::main().expect("the program runs without error");
}

/// The quadratic form's numbers: value, gradient and Hessian by hand, the gradient
/// also by central differences of the value.
#[test]
fn the_quadratic_forms_derivatives_match_hand_and_finite_differences() {
    let f = Function::parse("x'*A*x + b'*x", "A: matrix(n,n)").unwrap();
    let g = f.gradient("x").unwrap();
    assert_eq!(g.kind(), DerivativeKind::Gradient);
    assert_eq!(g.to_string(), "b + (A + A')*x");
    let steps = g.steps();
    assert_eq!(
        steps.first().map(|s| s.expr.as_str()),
        Some("d(x'*A*x + b'*x)")
    );
    assert!(steps.len() >= 3, "{steps:?}");
    assert_eq!(g.latex(), "b + \\left(A + A^{\\top}\\right) x");

    let a = matdiff::faer::mat![[2.0, 1.0], [0.0, 3.0]];
    let b = [0.5, 0.5];
    let x = [1.0, -1.0];
    let inputs = Inputs::new()
        .matrix("A", a.as_ref())
        .vector("x", &x)
        .vector("b", &b);
    let (value, grad) = f.value_and_gradient("x", &inputs).unwrap();
    // x'Ax = [1, -1]·[1, -3] = 4, b'x = 0.
    assert_eq!(value, 4.0);
    // b + (A + A')x = [0.5, 0.5] + [[4, 1], [1, 6]]·[1, -1].
    assert_eq!((grad[(0, 0)], grad[(1, 0)]), (3.5, -4.5));
    let h = 1e-6;
    for i in 0..2 {
        let mut up = x;
        let mut down = x;
        up[i] += h;
        down[i] -= h;
        let at = |p: &[f64; 2]| {
            let inputs = Inputs::new()
                .matrix("A", a.as_ref())
                .vector("x", p)
                .vector("b", &b);
            f.value(&inputs).unwrap()[(0, 0)]
        };
        let fd = (at(&up) - at(&down)) / (2.0 * h);
        assert!(
            (fd - grad[(i, 0)]).abs() < 1e-8,
            "∂f/∂x{i}: {fd} vs {}",
            grad[(i, 0)]
        );
    }
    let hessian = f.hessian("x").unwrap();
    assert_eq!(hessian.to_string(), "A + A'");
    let hv = hessian.evaluate(&inputs).unwrap();
    let expected = [[4.0, 1.0], [1.0, 6.0]];
    for (i, row) in expected.iter().enumerate() {
        for (j, &e) in row.iter().enumerate() {
            assert_eq!(hv[(i, j)], e, "H[{i}][{j}]");
        }
    }
    assert!(f.check("x").unwrap().passed);
    assert!(hessian.check().unwrap().passed);
}

/// Gradient descent of the specified program against the same descent written out
/// by hand, `w ← w − η·2/N·Xᵀ(Xw − y)`, and the known R² of least squares with an
/// intercept on the diabetes data.
#[test]
fn the_diabetes_fit_matches_a_hand_written_descent_and_the_known_r2() {
    let loss = Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)").unwrap();
    let (x, y) = matdiff::datasets::diabetes();
    let fit = Minimize::new(&loss, "w")
        .data("X", x.as_ref())
        .data("y", &y)
        .method(Method::Gd)
        .lr(0.5)
        .tol_grad(1e-8)
        .max_iter(10_000)
        .run()
        .unwrap();
    let (n, d) = (x.nrows(), x.ncols());
    let residual = |w: &[f64]| -> Vec<f64> {
        (0..n)
            .map(|i| (0..d).map(|j| x[(i, j)] * w[j]).sum::<f64>() - y[i])
            .collect()
    };
    let gradient = |r: &[f64]| -> Vec<f64> {
        (0..d)
            .map(|j| 2.0 / n as f64 * (0..n).map(|i| x[(i, j)] * r[i]).sum::<f64>())
            .collect()
    };
    let mut w = vec![0.0; d];
    let mut iterations = 0;
    for _ in 0..10_000 {
        let g = gradient(&residual(&w));
        if g.iter().map(|v| v * v).sum::<f64>().sqrt() < 1e-8 {
            break;
        }
        for j in 0..d {
            w[j] -= 0.5 * g[j];
        }
        iterations += 1;
    }
    let r = residual(&w);
    let hand_loss = r.iter().map(|v| v * v).sum::<f64>() / n as f64;
    assert_eq!(fit.iterations, iterations);
    assert_eq!(fit.stop_reason, StopReason::MaxIterations);
    assert!(
        (fit.loss - hand_loss).abs() < 1e-9 * hand_loss,
        "{} vs {hand_loss}",
        fit.loss
    );
    for (j, &hand) in w.iter().enumerate() {
        assert!(
            (fit.solution[(j, 0)] - hand).abs() < 1e-6 * (1.0 + hand.abs()),
            "w[{j}]: {} vs {hand}",
            fit.solution[(j, 0)]
        );
    }
    let g = gradient(&residual(
        &(0..d).map(|j| fit.solution[(j, 0)]).collect::<Vec<_>>(),
    ));
    let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!((fit.grad_norm - norm).abs() < 1e-9 * (1.0 + norm));

    let ols = matdiff::linreg::fit(x.as_ref(), &y, Solver::Auto).unwrap();
    // R² of ordinary least squares with an intercept on the raw diabetes data, the
    // reference result of data/README.md (scaling the columns does not change it).
    assert!((ols.r2 - 0.517_748_422_220_35).abs() < 1e-12, "{}", ols.r2);
    assert_eq!(ols.rank, 10);
    assert_eq!(ols.coefficients.len(), 10);
}

/// The same names in other combinations: a logistic loss compiled and reused, its
/// Hessian checked, Adam on mini-batches with an observer, data stored by rows, and
/// errors classified and rendered.
#[test]
fn a_second_program_uses_the_same_names_in_other_combinations() -> Result<(), Error> {
    let loss = Function::parse(
        "1/N*sum(log(1 + exp(-y .* (X*w)))) + lambda*norm2(w)^2",
        "X: matrix(N,d); y: vector(N); lambda: scalar",
    )?;
    let names: Vec<String> = loss.variables().into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["X", "y", "lambda", "w"]);
    assert!(loss.check("w")?.passed);
    assert!(loss.derivative("w", 2)?.check()?.passed);

    // Six samples in two features, stored by rows, and labels ±1.
    let rows = [
        1.0, 0.5, -1.0, 0.2, 0.3, -0.8, -0.5, -1.0, 2.0, 0.1, -0.2, 0.4,
    ];
    let labels = [1.0, -1.0, 1.0, -1.0, 1.0, -1.0];
    let mut compiled = loss.compile("w")?;
    let mut w = [0.0, 0.0];
    let mut first = None;
    for _ in 0..500 {
        let inputs = Inputs::new()
            .by_rows("X", &rows, 6, 2)
            .vector("y", &labels)
            .scalar("lambda", 0.01)
            .vector("w", &w);
        let (value, g) = compiled.value_and_gradient(&inputs)?;
        first.get_or_insert(value);
        let step = [0.5 * g[(0, 0)], 0.5 * g[(1, 0)]];
        w[0] -= step[0];
        w[1] -= step[1];
    }
    let x = Mat::from_fn(6, 2, |i, j| rows[2 * i + j]);
    let fit = Minimize::new(&loss, "w")
        .data("X", x.as_ref())
        .data("y", &labels)
        .data("lambda", 0.01)
        .method(Method::Gd)
        .lr(0.5)
        .tol_grad(1e-12)
        .max_iter(100_000)
        .run()?;
    for (j, &hand) in w.iter().enumerate() {
        assert!((fit.solution[(j, 0)] - hand).abs() < 1e-3, "w[{j}]");
    }
    assert!(fit.loss < first.unwrap());

    let mut epochs = 0;
    let adam = Minimize::new(&loss, "w")
        .data("X", x.as_ref())
        .data("y", &labels)
        .data("lambda", 0.01)
        .method(Method::Adam)
        .batch(2)
        .lr(0.05)
        .epochs(50)
        .seed(3)
        .observer(|record| {
            if record.scope == matdiff::Scope::Epoch {
                epochs += 1;
            }
        })
        .run()?;
    assert_eq!(adam.epochs, 50);
    assert!(adam.loss < first.unwrap());
    assert!(epochs >= 50);

    let error = Function::parse("X*w", "X: matrix(N, d); w: vector(N)").unwrap_err();
    assert!(matches!(error, Error::Shape(_)), "{error:?}");
    assert!(error.render().contains("<decls>"), "{}", error.render());
    let error = loss.gradient("v").unwrap_err();
    assert!(matches!(error, Error::UnknownVariable { .. }));
    assert_eq!(
        error.to_string(),
        "unknown variable `v` — the variables are `X`, `y`, `lambda`, `w`"
    );
    let error = Function::parse("log(x)", "")?
        .value(&Inputs::new().vector("x", &[-1.0]))
        .unwrap_err();
    assert!(matches!(error, Error::Domain(_)), "{error:?}");
    let diverged = Minimize::new(&loss, "w")
        .data("X", x.as_ref())
        .data("y", &labels)
        .data("lambda", 1e3)
        .lr(10.0)
        .max_iter(1000)
        .run()
        .unwrap_err();
    assert!(matches!(diverged, Error::Divergence(_)), "{diverged:?}");
    Ok(())
}

/// A streamed fit and an in-memory fit of the same loss with the same seed start
/// from the same random point.
#[test]
fn streamed_and_in_memory_fits_start_from_the_same_point() {
    let dir = common::scratch("facade");
    let (x_path, y_path) = (dir.join("X.csv"), dir.join("y.csv"));
    let rows: Vec<[f64; 3]> = (0..40)
        .map(|i| {
            let t = i as f64 / 10.0;
            [t, (3.0 * t).sin(), 1.0 - t]
        })
        .collect();
    let mut x_csv = String::from("a,b,c\n");
    let mut y_csv = String::from("y\n");
    for r in &rows {
        x_csv.push_str(&format!("{},{},{}\n", r[0], r[1], r[2]));
        y_csv.push_str(&format!("{}\n", 2.0 * r[0] - r[1]));
    }
    std::fs::write(&x_path, x_csv).unwrap();
    std::fs::write(&y_path, y_csv).unwrap();

    let loss = Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)").unwrap();
    let run = |stream: bool| {
        Minimize::new(&loss, "w")
            .data_file("X", &x_path)
            .data_file("y", &y_path)
            .stream(stream)
            .random_start()
            .seed(11)
            .method(Method::Sgd)
            .lr(0.01)
            .epochs(1)
            .run()
            .unwrap()
    };
    let (memory, streamed) = (run(false), run(true));
    assert_eq!(memory.start.nrows(), 3);
    assert!(memory.start.col(0).iter().any(|&v| v != 0.0));
    assert_eq!(memory.start, streamed.start);
    std::fs::remove_dir_all(&dir).ok();
}

/// Every report is data: the derivation, the check, the fit and the regression
/// serialise to the JSON the command line prints.
#[test]
fn reports_serialise_to_one_schema() {
    let f = Function::parse("x'*x", "").unwrap();
    let report = serde_json::to_value(f.gradient("x").unwrap().report()).unwrap();
    assert_eq!(report["kind"], "gradient");
    assert_eq!(report["result"], "2*x");
    assert_eq!(report["shape"], serde_json::json!(["n", 1]));
    let check = serde_json::to_value(f.check("x").unwrap()).unwrap();
    assert_eq!(check["passed"], true);
    let (x, y) = matdiff::datasets::diabetes();
    let ols =
        serde_json::to_value(matdiff::linreg::fit(x.as_ref(), &y, Solver::Qr).unwrap()).unwrap();
    assert_eq!(ols["solver"], "qr");
    assert_eq!(ols["coefficients"].as_array().map(Vec::len), Some(10));
}

/// A compiled gradient gives the right numbers at every call (new inputs are copied
/// into the first call's buffers) and writes them into the same buffer each time.
#[test]
fn compiled_reuses_its_buffers_and_sees_new_inputs() {
    let f = Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)").unwrap();
    let mut compiled = f.compile("w").unwrap();
    let x = matdiff::faer::mat![[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]];
    let y = [1.0, -2.0, 4.0];
    let mut buffers = Vec::new();
    for w in [[0.0, 0.0], [1.0, 2.0], [-3.0, 0.5], [1.0, 2.0]] {
        let inputs = Inputs::new()
            .matrix("X", x.as_ref())
            .vector("y", &y)
            .vector("w", &w);
        let (value, g) = compiled.value_and_gradient(&inputs).unwrap();
        let r: Vec<f64> = (0..3)
            .map(|i| x[(i, 0)] * w[0] + x[(i, 1)] * w[1] - y[i])
            .collect();
        let loss = r.iter().map(|v| v * v).sum::<f64>() / 3.0;
        assert!((value - loss).abs() < 1e-12, "{w:?}: {value} vs {loss}");
        for j in 0..2 {
            let hand = 2.0 / 3.0 * (0..3).map(|i| x[(i, j)] * r[i]).sum::<f64>();
            assert!((g[(j, 0)] - hand).abs() < 1e-12, "{w:?}: ∂/∂w{j}");
        }
        buffers.push(g.as_ptr() as usize);
    }
    assert!(buffers.windows(2).all(|p| p[0] == p[1]), "{buffers:?}");
}

/// A matrix stored by rows is checked against its declaration like any other: a
/// 2 × 3 value for a square matrix is refused, naming the variable and both shapes.
#[test]
fn values_stored_by_rows_are_checked_against_the_declaration() {
    let f = Function::parse("tr(A)", "A: matrix(n,n)").unwrap();
    let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let error = f
        .value(&Inputs::new().by_rows("A", &data, 2, 3))
        .unwrap_err();
    assert!(matches!(error, matdiff::Error::Shape(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains('A') && message.contains("2 × 3"),
        "{message}"
    );
    let square = [1.0, 2.0, 3.0, 4.0];
    let value = f.value(&Inputs::new().by_rows("A", &square, 2, 2)).unwrap();
    assert_eq!(value[(0, 0)], 5.0);
}
