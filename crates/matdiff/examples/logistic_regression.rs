//! Logistic regression written as a loss, its gradient derived and checked, then
//! fitted by Adam on mini-batches. Run with
//! `cargo run -p matdiff --example logistic_regression`.

use matdiff::faer::Mat;
use matdiff::{Function, Method, Minimize};

fn main() -> Result<(), matdiff::Error> {
    // Labels ±1; the loss is the mean logistic loss plus a small ridge penalty.
    let loss = Function::parse(
        "1/N*sum(log(1 + exp(-y .* (X*w)))) + lambda*norm2(w)^2",
        "X: matrix(N,d); y: vector(N); lambda: scalar",
    )?;
    let gradient = loss.gradient("w")?;
    println!("∇L = {}", gradient.pretty());
    let check = loss.check("w")?;
    println!(
        "finite differences: relative errors {:?} ({})",
        check.errors,
        if check.passed { "passed" } else { "FAILED" }
    );
    assert!(check.passed);

    // Two noisy clouds of points, one per class, with a column of ones.
    let n = 200;
    let x = Mat::from_fn(n, 3, |i, j| {
        let class = if i % 2 == 0 { 1.0 } else { -1.0 };
        let noise = ((i * 7 + j * 13) % 17) as f64 / 17.0 - 0.5;
        match j {
            0 => 1.0,
            1 => class + noise,
            _ => 0.5 * class - noise,
        }
    });
    let y: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();

    let mut epochs = Vec::new();
    let fit = Minimize::new(&loss, "w")
        .data("X", x.as_ref())
        .data("y", &y)
        .data("lambda", 1e-3)
        .method(Method::Adam)
        .batch(16)
        .lr(0.05)
        .epochs(100)
        .seed(1)
        .observer(|record| {
            if record.scope == matdiff::Scope::Epoch {
                epochs.push(record.loss);
            }
        })
        .run()?;
    println!(
        "Adam: loss {:.4} → {:.4} in {} epochs, w = [{:.3}, {:.3}, {:.3}]",
        epochs.first().copied().unwrap_or(f64::NAN),
        fit.loss,
        fit.epochs,
        fit.solution[(0, 0)],
        fit.solution[(1, 0)],
        fit.solution[(2, 0)]
    );
    let correct = (0..n)
        .filter(|&i| {
            let score: f64 = (0..3).map(|j| x[(i, j)] * fit.solution[(j, 0)]).sum();
            score * y[i] > 0.0
        })
        .count();
    println!("accuracy on the training data: {correct}/{n}");
    assert!(correct as f64 > 0.9 * n as f64);
    Ok(())
}
