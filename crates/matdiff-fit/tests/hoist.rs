//! Loop-invariant hoisting: a hoisted problem evaluates the same loss and gradient on
//! the full data as the plain one, hoists what the flop counts say pays, and leaves
//! batches alone.

use faer::Mat;
use matdiff_core::parse_function;
use matdiff_fit::optim::{Batch, Objective};
use matdiff_fit::problem::Problem;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seeded data for the variables `X: n×d`, `y: n`, `t: n` (0/1 labels), `A: d×d`.
fn data(n: usize, d: usize, seed: u64) -> Vec<(&'static str, Mat<f64>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut m = |r: usize, c: usize| Mat::from_fn(r, c, |_, _| rng.random_range(-1.0..1.0));
    let x = m(n, d);
    let y = m(n, 1);
    let a = m(d, d);
    let t = Mat::from_fn(n, 1, |i, _| if y[(i, 0)] > 0.0 { 1.0 } else { 0.0 });
    vec![("X", x), ("y", y), ("A", a), ("t", t)]
}

fn problem(expr: &str, decls: &str, n: usize, d: usize) -> Problem {
    let function = parse_function(expr, decls).unwrap_or_else(|e| panic!("`{expr}`: {e:?}"));
    let names: Vec<String> = function
        .graph
        .variables()
        .iter()
        .map(|v| function.graph.name(v.name).to_owned())
        .collect();
    let data = data(n, d, 3)
        .into_iter()
        .filter(|(name, _)| names.iter().any(|v| v == name))
        .map(|(name, m)| (name.to_owned(), m))
        .collect();
    Problem::new(function, "w", data, None).unwrap_or_else(|e| panic!("`{expr}`: {e}"))
}

fn evaluate(p: &mut Problem, w: &[f64], batch: Batch<'_>) -> (f64, Vec<f64>) {
    let mut g = vec![0.0; p.dim()];
    let loss = p.loss_and_gradient(w, batch, &mut g).unwrap();
    (loss, g)
}

fn close(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= 1e-9 * scale.max(1.0)
}

const DECLS: &str =
    "X: matrix(N, d); w: vector(d); y: vector(N); t: vector(N); A: matrix(d, d); lambda: scalar";

#[test]
fn hoisted_and_plain_evaluations_agree() {
    // (loss, hoisted values expected (texts, in order), n, d)
    let table: &[(&str, &[&str], usize, usize)] = &[
        (
            "1/N*norm2(X*w - y)^2",
            &["X'*X (5 × 5)", "X'*y (5 × 1)", "(y'*y) (1 × 1)"],
            200,
            5,
        ),
        (
            "norm2(X*w - y)^2 + 0.5*norm2(w)^2",
            &["X'*X (6 × 6)"],
            150,
            6,
        ),
        ("sum((X*w - y).^2)/N", &["X'*X (4 × 4)"], 100, 4),
        ("1/N*norm2(X*w - y)^2", &[], 4, 30),
        ("norm2(A*w)^2 + <X*w, y>", &["A'*A (4 × 4)"], 80, 4),
        ("sum(softplus(X*w)) - t'*X*w", &["X'*t (3 × 1)"], 90, 3),
    ];
    for &(expr, expected, n, d) in table {
        let mut plain = problem(expr, DECLS, n, d);
        let mut hoisted = problem(expr, DECLS, n, d);
        let h = hoisted.hoist().unwrap();
        for want in expected {
            assert!(
                h.values.iter().any(|v| v.contains(want)),
                "`{expr}`: expected {want} among the hoisted {:?}",
                h.values
            );
        }
        if expected.is_empty() {
            assert!(h.values.is_empty(), "`{expr}` hoisted {:?}", h.values);
            assert_eq!(h.flops_after, h.flops_before);
        } else {
            assert!(h.flops_after < h.flops_before, "`{expr}`: {h:?}");
        }
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for _ in 0..3 {
            let w: Vec<f64> = (0..d).map(|_| rng.random_range(-2.0..2.0)).collect();
            let (l0, g0) = evaluate(&mut plain, &w, Batch::All);
            let (l1, g1) = evaluate(&mut hoisted, &w, Batch::All);
            assert!(close(l0, l1, l0.abs()), "`{expr}`: loss {l0} vs {l1}");
            let scale = g0.iter().fold(0.0f64, |m, g| m.max(g.abs()));
            for (a, b) in g0.iter().zip(&g1) {
                assert!(close(*a, *b, scale), "`{expr}`: gradient {g0:?} vs {g1:?}");
            }
            // Batches use the plain plan on the gathered rows.
            let rows = [0, 2, 3];
            let (b0, _) = evaluate(&mut plain, &w, Batch::Rows(&rows));
            let (b1, _) = evaluate(&mut hoisted, &w, Batch::Rows(&rows));
            assert_eq!(b0.to_bits(), b1.to_bits(), "`{expr}`: batch loss");
        }
    }
}

#[test]
fn hoisting_twice_gives_the_first_answer() {
    let mut p = problem("1/N*norm2(X*w - y)^2", DECLS, 50, 3);
    let first = p.hoist().unwrap();
    assert!(!first.values.is_empty());
    assert_eq!(p.hoist().unwrap(), first);
    // The texts of the loss and gradient are the user's, not the rewritten ones.
    assert_eq!(p.gradient_text(), "2/N*X'*(X*w - y)");
}

#[test]
fn hoisting_for_few_evaluations_weighs_the_one_off_cost() {
    // N = 40, d = 30: X'*X costs N d² once (weighted down for running at matrix-product
    // speed, still more than the 2 N d of one plain evaluation) and saves about 2 N d
    // per evaluation.
    let few = problem("1/N*norm2(X*w - y)^2", DECLS, 40, 30).hoist_for(Some(1));
    assert!(few.unwrap().values.is_empty());
    let many = problem("1/N*norm2(X*w - y)^2", DECLS, 40, 30).hoist_for(Some(1000));
    assert!(!many.unwrap().values.is_empty());
}
