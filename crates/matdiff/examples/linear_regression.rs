//! Linear regression on the diabetes data three ways: the closed form, gradient
//! descent on the loss written in matrix notation, and the same loss's gradient
//! derived by the rules. Run with `cargo run -p matdiff --example linear_regression`.

use matdiff::{Function, Method, Minimize, Solver};

fn main() -> Result<(), matdiff::Error> {
    let (x, y) = matdiff::datasets::diabetes();

    // The closed form, with an intercept: the solver is chosen by the conditioning.
    let ols = matdiff::linreg::fit(x.as_ref(), &y, Solver::Auto)?;
    println!(
        "closed form ({}): R² = {:.6}, cond = {:.3e}, rank = {}",
        ols.solver, ols.r2, ols.condition, ols.rank
    );

    // The same model as a loss in matrix notation: the intercept is a scalar `b`.
    let loss = Function::parse(
        "1/N*norm2(X*w + b*ones(N) - y)^2",
        "X: matrix(N,d); b: scalar",
    )?;
    let gradient = loss.gradient("w")?;
    println!("∇_w L = {}", gradient.pretty());

    // Gradient descent on `w` with the intercept fixed at the mean of `y` (the
    // columns are centred, so that is its optimum).
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let fit = Minimize::new(&loss, "w")
        .data("X", x.as_ref())
        .data("y", &y)
        .data("b", mean)
        .method(Method::Gd)
        .lr(0.5)
        .line_search(true)
        .tol_grad(1e-6)
        .max_iter(50_000)
        .run()?;
    let mse = ols.mse;
    println!(
        "gradient descent: loss = {:.4} after {} iterations ({}); closed-form MSE = {mse:.4}",
        fit.loss, fit.iterations, fit.stop_description
    );
    assert!(
        (fit.loss - mse).abs() < 1e-3 * mse,
        "descent reaches the closed form"
    );
    Ok(())
}
