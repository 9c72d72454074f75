//! A loss of one's own: a matrix factorisation `‖A − U Vᵀ‖²_F + λ(‖U‖² + ‖V‖²)`,
//! its gradients by the rules with the derivation, code generated for NumPy, and a
//! compiled gradient reused in a hand-written alternating descent. Run with
//! `cargo run -p matdiff --example custom_loss`.

use matdiff::faer::Mat;
use matdiff::{Error, Function, Inputs};

fn main() -> Result<(), Error> {
    let loss = Function::parse(
        "norm2(A - U*V')^2 + lambda*(norm2(U)^2 + norm2(V)^2)",
        "A: matrix(m,n); U: matrix(m,k); V: matrix(n,k); lambda: scalar",
    )?;
    for v in loss.variables() {
        println!("{}", v.declaration);
    }
    let gradient = loss.gradient("U")?;
    println!("{}", gradient.pretty_derivation());
    println!("{}", gradient.latex_derivation());
    assert!(loss.check("U")?.passed && loss.check("V")?.passed);
    let numpy = gradient.to_numpy()?;
    println!("{} lines of NumPy", numpy.lines().count());

    // A rank-2 matrix, recovered by alternating gradient steps on U and V.
    let (m, n, k) = (6, 5, 2);
    let a = Mat::from_fn(m, n, |i, j| {
        (i as f64 + 1.0) * (j as f64 - 2.0) / 5.0 + (i as f64).sin() * (j as f64).cos()
    });
    let mut u = Mat::from_fn(m, k, |i, j| 0.1 * ((i + 2 * j) as f64).sin());
    let mut v = Mat::from_fn(n, k, |i, j| 0.1 * ((2 * i + j) as f64).cos());
    let mut grad_u = loss.compile("U")?;
    let mut grad_v = loss.compile("V")?;
    let lambda = 1e-3;
    let mut last = f64::INFINITY;
    for step in 0..2000 {
        let inputs = Inputs::new()
            .matrix("A", a.as_ref())
            .matrix("U", u.as_ref())
            .matrix("V", v.as_ref())
            .scalar("lambda", lambda);
        let (value, g) = grad_u.value_and_gradient(&inputs)?;
        u = Mat::from_fn(m, k, |i, j| u[(i, j)] - 0.01 * g[(i, j)]);
        let inputs = Inputs::new()
            .matrix("A", a.as_ref())
            .matrix("U", u.as_ref())
            .matrix("V", v.as_ref())
            .scalar("lambda", lambda);
        let (_, g) = grad_v.value_and_gradient(&inputs)?;
        v = Mat::from_fn(n, k, |i, j| v[(i, j)] - 0.01 * g[(i, j)]);
        if step % 500 == 0 {
            println!("step {step}: loss {value:.6}");
        }
        last = value;
    }
    println!("final loss {last:.6}");
    assert!(last < 0.05, "the rank-2 factorisation fits");
    Ok(())
}
