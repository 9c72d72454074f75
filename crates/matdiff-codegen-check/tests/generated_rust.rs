//! Every generated function runs and agrees with the evaluation plan of matdiff-num
//! (value and derivative, to 1e-10 relative) on random inputs honouring the
//! declarations.

use faer::{Mat, MatRef};
use matdiff_codegen_check as check;
use matdiff_core::{derive, parse_function};
use matdiff_num::{default_sizes, random_inputs, Inputs, Plan, Value};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// An argument of a generated function, read from the inputs.
trait Arg<'a> {
    fn arg(m: &'a Mat<f64>) -> Self;
}

impl<'a> Arg<'a> for MatRef<'a, f64> {
    fn arg(m: &'a Mat<f64>) -> Self {
        m.as_ref()
    }
}

impl<'a> Arg<'a> for f64 {
    fn arg(m: &'a Mat<f64>) -> Self {
        m[(0, 0)]
    }
}

/// A result of a generated function as a plan value.
trait Out {
    fn value(self) -> Value;
}

impl Out for f64 {
    fn value(self) -> Value {
        Value::Scalar(self)
    }
}

impl Out for Mat<f64> {
    fn value(self) -> Value {
        Value::Matrix(self)
    }
}

/// One case on one random instance: the inputs by variable name, and the plan's value
/// and derivative.
struct Instance {
    names: Vec<String>,
    inputs: Vec<Mat<f64>>,
    expected: Vec<Value>,
}

impl Instance {
    fn get(&self, name: &str) -> &Mat<f64> {
        let k = self
            .names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no input `{name}`"));
        &self.inputs[k]
    }
}

fn instance(module: &str, seed: u64) -> Instance {
    let &(_, expr, decls, wrt, order) = check::cases()
        .iter()
        .find(|c| c.0 == module)
        .unwrap_or_else(|| panic!("no case `{module}`"));
    let mut f = parse_function(expr, decls).expect("the case parses");
    let d = derive(&mut f, wrt, order).expect("the case is derived");
    let graph = &f.graph;
    let sizes = default_sizes(graph, &[]);
    let roots = [f.root, d.expr];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let inputs: Inputs = random_inputs(graph, &sizes, &roots, &mut rng).expect("random inputs");
    let mut plan = Plan::compile(graph, &roots, &sizes).expect("the plan compiles");
    let expected = plan.run(&inputs).expect("the plan runs");
    let names = graph
        .variables()
        .iter()
        .map(|v| graph.name(v.name).to_string())
        .collect();
    let values = graph
        .variables()
        .iter()
        .map(|v| {
            inputs
                .get(v.name)
                .expect("every variable has a value")
                .clone()
        })
        .collect();
    Instance {
        names,
        inputs: values,
        expected,
    }
}

/// The largest difference relative to the larger entry (at least 1).
fn relative(a: &Value, b: &Value) -> f64 {
    if a.dims() != b.dims() {
        return f64::INFINITY;
    }
    a.max_abs_diff(b) / a.max_abs().max(b.max_abs()).max(1.0)
}

/// Calls the generated `f_and_grad` of `module` with its variables in order and
/// compares with the plan on three random instances; returns the failures.
macro_rules! run_case {
    ($failures:ident, $ran:ident, $module:ident, [$($var:ident),*]) => {
        for seed in 0..3 {
            let inst = instance(stringify!($module), seed);
            let order: Vec<&str> = vec![$(stringify!($var)),*];
            if inst.names != order {
                $failures.push(format!(
                    "{}: variables are {:?}, the test passes {:?}",
                    stringify!($module), inst.names, order
                ));
                break;
            }
            let (value, derivative) =
                check::$module::f_and_grad($(Arg::arg(inst.get(stringify!($var)))),*);
            for (what, got, want) in [
                ("value", value.value(), &inst.expected[0]),
                ("derivative", derivative.value(), &inst.expected[1]),
            ] {
                let err = relative(&got, want);
                if err.is_nan() || err > 1e-10 {
                    $failures.push(format!(
                        "{} (seed {seed}): {what} differs by {err:e}: {got:?} vs {want:?}",
                        stringify!($module)
                    ));
                }
            }
        }
        $ran += 1;
    };
}

#[test]
fn generated_rust_agrees_with_the_plan() {
    let mut failures: Vec<String> = Vec::new();
    let mut ran = 0;
    run_case!(failures, ran, least_squares, [X, w, y]);
    run_case!(failures, ran, least_squares_hessian, [X, w, y]);
    run_case!(failures, ran, ridge, [X, w, y, lambda]);
    run_case!(failures, ran, logistic, [X, y, w]);
    run_case!(failures, ran, det, [X]);
    run_case!(failures, ran, inv_quadratic, [a, X, b]);
    run_case!(failures, ran, gaussian, [S, x, m]);
    run_case!(failures, ran, mahalanobis, [P, x]);
    run_case!(failures, ran, softmax_jacobian, [x]);
    run_case!(failures, ran, sigmoid_jacobian, [x]);
    run_case!(failures, ran, logsumexp_hessian, [x]);
    run_case!(failures, ran, exp_hessian, [X, w]);
    run_case!(failures, ran, two_layer, [W2, W1, x, y]);
    run_case!(failures, ran, cube_trace, [X]);
    run_case!(failures, ran, scalar_variable, [lambda, w]);
    run_case!(failures, ran, softplus, [X, w]);
    // Every generated module was run.
    assert_eq!(ran, check::MODULES.len(), "a generated module is not run");
    assert_eq!(check::MODULES.len(), check::cases().len());
    assert!(failures.is_empty(), "{failures:#?}");
}
