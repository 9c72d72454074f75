//! The typed fuzzer: random shape-correct expressions over the whole function set,
//! each taken through `derive` (orders 1 and 2), the finite-difference check,
//! evaluation and print → parse. It asserts no panic and no wrong result: every
//! derivative agrees with finite differences wherever the function can be evaluated,
//! and the printed form evaluates to the same numbers as the original.
//!
//! 3,000 cases from fixed seeds, so a failure is reproducible: the message gives the
//! expression, which then belongs in a table test.

use faer::Mat;
use matdiff_core::{derive, parse_function, print, DerivativeKind, DiffError, Function};
use matdiff_num::{check_derivative, default_sizes, CheckOptions, EvalError, Inputs, Plan};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CASES: u64 = 3000;
const DECLS: &str =
    "a: scalar; b: scalar; x: vector(n); y: vector(n); A: matrix(n, n); C: matrix(n, n)";

/// The shape of a generated expression.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    S,
    V,
    M,
}

/// Elementwise functions, each with a wrapper that keeps its argument in the domain
/// and away from poles, so that most cases can be evaluated and checked.
const ELEMENTWISE: &[(&str, &str)] = &[
    ("exp", "exp(tanh({}))"),
    ("log", "log(1 + {}.^2)"),
    ("sin", "sin({})"),
    ("cos", "cos({})"),
    ("tan", "tan(tanh({}))"),
    ("tanh", "tanh({})"),
    ("sqrt", "sqrt(1 + {}.^2)"),
    ("abs", "abs({})"),
    ("sigmoid", "sigmoid({})"),
    ("softplus", "softplus({})"),
    ("relu", "relu({})"),
    ("sign", "sign({})"),
    ("step", "step({})"),
];

struct Gen {
    rng: ChaCha8Rng,
}

impl Gen {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    fn constant(&mut self) -> String {
        let v = self.rng.random_range(1..=9) as f64 / 4.0;
        format!("{v}")
    }

    fn elementwise(&mut self, inner: String) -> String {
        let (_, wrap) = ELEMENTWISE[self.rng.random_range(0..ELEMENTWISE.len())];
        wrap.replace("{}", &format!("({inner})"))
    }

    fn expr(&mut self, ty: Ty, depth: u32) -> String {
        if depth == 0 || self.rng.random_range(0..4) == 0 {
            return match ty {
                Ty::S => match self.rng.random_range(0..3) {
                    0 => self.constant(),
                    _ => self.pick(&["a", "b"]).to_owned(),
                },
                Ty::V => self.pick(&["x", "y"]).to_owned(),
                Ty::M => self.pick(&["A", "C"]).to_owned(),
            };
        }
        let d = depth - 1;
        match ty {
            Ty::S => match self.rng.random_range(0..16) {
                0 => format!("{} + {}", self.expr(Ty::S, d), self.expr(Ty::S, d)),
                1 => format!("{} - {}", self.expr(Ty::S, d), self.expr(Ty::S, d)),
                2 => format!("({})*({})", self.expr(Ty::S, d), self.expr(Ty::S, d)),
                3 => format!(
                    "({})/(2 + ({})^2)",
                    self.expr(Ty::S, d),
                    self.expr(Ty::S, d)
                ),
                4 => format!("({})'*({})", self.expr(Ty::V, d), self.expr(Ty::V, d)),
                5 => format!("sum({})", self.expr(Ty::V, d)),
                6 => format!("norm2({})", self.expr(Ty::V, d)),
                7 => format!("norm2({})^2", self.expr(Ty::M, d)),
                8 => format!("tr({})", self.expr(Ty::M, d)),
                9 => format!("logsumexp({})", self.expr(Ty::V, d)),
                10 => format!("dot({}, {})", self.expr(Ty::V, d), self.expr(Ty::V, d)),
                11 => {
                    let inner = self.expr(Ty::S, d);
                    self.elementwise(inner)
                }
                12 => format!(
                    "({})'*({})*({})",
                    self.expr(Ty::V, d),
                    self.expr(Ty::M, d),
                    self.expr(Ty::V, d)
                ),
                13 => format!("logdet(({0})*({0})' + 4*eye(n))", self.expr(Ty::M, d)),
                14 => format!("det(({}) + 3*eye(n))", self.pick(&["A", "C"])),
                _ => format!("({})^2", self.expr(Ty::S, d)),
            },
            Ty::V => match self.rng.random_range(0..10) {
                0 => format!("{} + {}", self.expr(Ty::V, d), self.expr(Ty::V, d)),
                1 => format!("{} - {}", self.expr(Ty::V, d), self.expr(Ty::V, d)),
                2 => format!("({})*({})", self.expr(Ty::S, d), self.expr(Ty::V, d)),
                3 => format!("({})*({})", self.expr(Ty::M, d), self.expr(Ty::V, d)),
                4 => format!("({}).*({})", self.expr(Ty::V, d), self.expr(Ty::V, d)),
                5 => {
                    let inner = self.expr(Ty::V, d);
                    self.elementwise(inner)
                }
                6 => format!("softmax({})", self.expr(Ty::V, d)),
                7 => format!("diag({})", self.expr(Ty::M, d)),
                8 => format!("({})'*({})", self.expr(Ty::M, d), self.expr(Ty::V, d)),
                _ => format!(
                    "({})/(1 + ({})^2)",
                    self.expr(Ty::V, d),
                    self.expr(Ty::S, d)
                ),
            },
            Ty::M => match self.rng.random_range(0..10) {
                0 => format!("{} + {}", self.expr(Ty::M, d), self.expr(Ty::M, d)),
                1 => format!("({})*({})", self.expr(Ty::M, d), self.expr(Ty::M, d)),
                2 => format!("({})*({})", self.expr(Ty::S, d), self.expr(Ty::M, d)),
                3 => format!("({})'", self.expr(Ty::M, d)),
                4 => format!("({})*({})'", self.expr(Ty::V, d), self.expr(Ty::V, d)),
                5 => {
                    let inner = self.expr(Ty::M, d);
                    self.elementwise(inner)
                }
                6 => format!("({}).*({})", self.expr(Ty::M, d), self.expr(Ty::M, d)),
                7 => format!("diag({})", self.expr(Ty::V, d)),
                8 => format!("inv(({}) + 4*eye(n))", self.pick(&["A", "C"])),
                _ => format!("({}) - ({})", self.expr(Ty::M, d), self.expr(Ty::M, d)),
            },
        }
    }
}

/// The same inputs for any graph with these declarations: entries of moderate size,
/// by name, with `n = 3`.
fn inputs(f: &Function) -> Inputs {
    let n = 3;
    let mut inputs = Inputs::new();
    for v in f.graph.variables() {
        let name = f.graph.name(v.name).to_owned();
        let seed = name.bytes().map(f64::from).sum::<f64>();
        let (rows, cols) = match name.as_str() {
            "a" | "b" => (1, 1),
            "x" | "y" => (n, 1),
            _ => (n, n),
        };
        let value = Mat::from_fn(rows, cols, |i, j| {
            0.9 * (seed * 0.37 + 1.3 * i as f64 + 0.7 * j as f64).sin()
        });
        inputs.set_named(&f.graph, &name, value).unwrap();
    }
    inputs
}

fn value(f: &Function) -> Result<Vec<f64>, EvalError> {
    let inputs = inputs(f);
    let sizes = default_sizes(&f.graph, &[("n".to_owned(), 3)]);
    let mut plan = Plan::compile(&f.graph, &[f.root], &sizes)?;
    let out = plan.run(&inputs)?;
    Ok(match &out[0] {
        matdiff_num::Value::Scalar(v) => vec![*v],
        matdiff_num::Value::Matrix(m) => (0..m.ncols())
            .flat_map(|j| (0..m.nrows()).map(move |i| (i, j)))
            .map(|(i, j)| m[(i, j)])
            .collect(),
    })
}

/// The largest entry of `id`'s value at the fixed inputs, if it can be evaluated.
fn largest_entry(f: &Function, id: matdiff_core::Id) -> Option<f64> {
    let g = Function {
        graph: f.graph.clone(),
        root: id,
    };
    value(&g)
        .ok()
        .map(|v| v.iter().fold(0.0f64, |m, x| m.max(x.abs())))
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs())))
}

#[derive(Default, Debug)]
struct Tally {
    checked: usize,
    hessians: usize,
    not_evaluable: usize,
    refused: usize,
    zero: usize,
}

/// One case: what went wrong, if anything.
fn run_case(expr: &str, pick: usize, tally: &mut Tally) -> Result<(), String> {
    let mut f = parse_function(expr, DECLS).map_err(|d| format!("does not parse: {d:?}"))?;
    // print → parse gives the same numbers.
    let printed = print::text(&f.graph, f.root);
    let reparsed = parse_function(&printed, DECLS)
        .map_err(|d| format!("printed form `{printed}` does not parse: {d:?}"))?;
    let original = value(&f);
    match (&original, value(&reparsed)) {
        (Ok(a), Ok(b)) if !close(a, &b) => {
            return Err(format!(
                "printed form `{printed}` evaluates to {b:?}, not {a:?}"
            ))
        }
        (Ok(_), Err(e)) => return Err(format!("printed form `{printed}` fails: {e}")),
        _ => {}
    }
    // Differentiate by one of the variables that occur.
    let reachable = f.graph.reachable(&[f.root]);
    let occurring: Vec<&str> = ["a", "b", "x", "y", "A", "C"]
        .into_iter()
        .filter(|name| {
            f.graph.variable_named(name).is_some_and(|v| {
                reachable
                    .iter()
                    .any(|&n| f.graph.node(n) == matdiff_core::Node::Var(v.name))
            })
        })
        .collect();
    if occurring.is_empty() {
        return Ok(());
    }
    let wrt = occurring[pick % occurring.len()];
    let scalar = f.graph.shape(f.root).is_scalar();
    for order in [1u8, 2] {
        if order == 2 && (!scalar || matches!(wrt, "A" | "C")) {
            continue;
        }
        let d = match derive(&mut f, wrt, order) {
            Ok(d) => d,
            // A documented refusal (a Jacobian through a matrix that depends on the
            // variable, a Hessian of a non-scalar, a power with a variable exponent): not
            // a wrong result.
            Err(DiffError::Unsupported(_) | DiffError::Power { .. }) => {
                tally.refused += 1;
                continue;
            }
            Err(e) => return Err(format!("--wrt {wrt} order {order}: derive fails: {e}")),
        };
        if d.kind == DerivativeKind::Hessian {
            tally.hessians += 1;
        }
        // A derivative that is zero to rounding (`x - x`, `sum(softmax(z))`) makes the
        // check's relative error meaningless: compared with finite-difference noise
        // it reports a false FAIL, or cannot run for a matrix-valued function. Those
        // are the checker's cases, counted here, not checked.
        if largest_entry(&f, d.expr).is_some_and(|m| m <= 1e-12) {
            tally.zero += 1;
            continue;
        }
        // A Hessian is checked by differencing gradients, whose rounding shows in its
        // small entries: a looser tolerance, still far below a wrong term's error.
        let options = CheckOptions {
            trials: 2,
            seed: 7,
            tol: if order == 1 { 1e-4 } else { 2e-2 },
            fixed: vec![("n".to_owned(), 3)],
        };
        match check_derivative(&f, &d, &options) {
            Ok(report) if report.passed => tally.checked += 1,
            Ok(report) => {
                return Err(format!(
                    "--wrt {wrt} order {order}: `{}` fails the check (errors {:?})",
                    print::text(&f.graph, d.expr),
                    report.errors
                ))
            }
            // Outside the domain at a random point, or not finite: nothing to compare.
            Err(EvalError::Domain { .. } | EvalError::NonFinite { .. }) => tally.not_evaluable += 1,
            Err(e) => {
                return Err(format!(
                    "--wrt {wrt} order {order}: the check cannot run: {e}"
                ))
            }
        }
    }
    Ok(())
}

#[test]
fn random_typed_expressions_derive_check_evaluate_and_round_trip() {
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for case in 0..CASES {
        let mut gen = Gen {
            rng: ChaCha8Rng::seed_from_u64(case),
        };
        let ty = [Ty::S, Ty::S, Ty::V, Ty::M][gen.rng.random_range(0..4)];
        let depth = gen.rng.random_range(1..=5);
        let expr = gen.expr(ty, depth);
        let pick = gen.rng.random_range(0..6);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_case(&expr, pick, &mut tally)
        }));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(problem)) => failures.push(format!("case {case}: `{expr}`: {problem}")),
            Err(_) => failures.push(format!(
                "case {case}: `{expr}` (variable choice {pick}): panicked"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {CASES} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The generator reaches the checks, not only the parser.
    assert!(tally.checked > CASES as usize / 2, "{tally:?}");
    assert!(tally.hessians > CASES as usize / 10, "{tally:?}");
}
