//! The gradient checker: derivatives from the engine pass, wrong ones fail.

mod common;

use common::function;
use matdiff_core::{derive, Derivative, DerivativeKind, Function, Node};
use matdiff_num::check::{full_fd, full_rank_sizes, gradient_fd, step_for};
use matdiff_num::{check_derivative, default_sizes, random_inputs, CheckOptions, Plan};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn options() -> CheckOptions {
    CheckOptions {
        trials: 4,
        seed: 7,
        ..CheckOptions::default()
    }
}

#[test]
fn derivatives_from_the_engine_pass() {
    let cases: &[(&str, &str, &str, u8)] = &[
        (
            "1/N * norm2(X*w - y)^2",
            "X: matrix(N, d); w: vector(d); y: vector(N)",
            "w",
            1,
        ),
        (
            "1/N * norm2(X*w - y)^2",
            "X: matrix(N, d); w: vector(d); y: vector(N)",
            "X",
            1,
        ),
        (
            "1/N * norm2(X*w - y)^2",
            "X: matrix(N, d); w: vector(d); y: vector(N)",
            "w",
            2,
        ),
        ("x'*A*x", "A: matrix(n, n); x: vector(n)", "x", 1),
        ("x'*A*x", "A: matrix(n, n); x: vector(n)", "A", 1),
        ("x'*S*x", "S: symmetric(n); x: vector(n)", "S", 1),
        ("logdet(P)", "P: spd(n)", "P", 1),
        ("logsumexp(A*x)", "A: matrix(m, n); x: vector(n)", "x", 1),
        ("logsumexp(A*x)", "A: matrix(m, n); x: vector(n)", "x", 2),
        ("softmax(x)", "x: vector(n)", "x", 1),
        ("A*x", "A: matrix(m, n); x: vector(n)", "x", 1),
        ("inv(X)", "X: matrix(n, n)", "X", 1),
        (
            "sum(log(sigmoid(y .* (X*w))))",
            "X: matrix(N, d); w: vector(d); y: vector(N)",
            "w",
            1,
        ),
        ("tr(X'*A*X)", "X: matrix(n, k); A: matrix(n, n)", "X", 1),
        ("tr(X'*A*X)", "X: matrix(n, k); A: matrix(n, n)", "X", 2),
        // MatrixCalculus.org's functions: arcsin and arccos get entries inside
        // their domain, also where the derivative puts them under a power.
        ("sum(arcsin(x))", "x: vector(n)", "x", 1),
        ("sum(arccos(x))", "x: vector(n)", "x", 2),
        (
            "sum(arctan(x) + sinh(x) + cosh(x) + log1p(x))",
            "x: vector(n)",
            "x",
            2,
        ),
        ("trace(X'*X)", "X: matrix(n, k)", "X", 1),
        ("logsumexp(X)", "X: matrix(n, k)", "X", 2),
        (
            "sum(softmax(X) .* A)",
            "X: matrix(n, k); A: matrix(n, k)",
            "X",
            1,
        ),
        // x'*A*x is negative on some draws: those are drawn again.
        ("log(x'*A*x)", "A: matrix(n, n); x: vector(n)", "x", 1),
        // The gradient multiplies a row by a column that is also computed on its own:
        // the plan must not take that scalar for a matrix factor of the chain.
        (
            "sqrt(1 + (((b'*x)*(x .* b))/3)'*(((b'*x)*(x .* b))/3))",
            "b: vector(n); x: vector(n)",
            "x",
            1,
        ),
    ];
    let mut failures = Vec::new();
    for (expr, decls, wrt, order) in cases {
        let mut f = function(expr, decls);
        let d = match derive(&mut f, wrt, *order) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("`{expr}` d/d{wrt} order {order}: {e}"));
                continue;
            }
        };
        match check_derivative(&f, &d, &options()) {
            Ok(report) if report.passed => {}
            Ok(report) => failures.push(format!(
                "`{expr}` d/d{wrt} order {order} = `{}` fails: {:?}",
                matdiff_core::print::text(&f.graph, d.expr),
                report.errors
            )),
            Err(e) => failures.push(format!("`{expr}` d/d{wrt}: {}", e.describe(&f.graph))),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `f` with a hand-written gradient `g` (an expression over the same declarations).
fn with_gradient(
    expr: &str,
    gradient: &str,
    decls: &str,
    wrt: &str,
    kind: DerivativeKind,
) -> (Function, Derivative) {
    // The derivative must live in f's graph: parse it on its own and copy it over.
    let f = function(expr, decls);
    let g = function(gradient, decls);
    let mut graph = f.graph.clone();
    let root = copy(&g.graph, g.root, &mut graph);
    let wrt = graph.variable_named(wrt).unwrap().name;
    let d = Derivative {
        kind,
        wrt,
        expr: root,
        gradient: None,
        steps: Vec::new(),
    };
    (
        Function {
            graph,
            root: f.root,
        },
        d,
    )
}

/// Copies the expression `id` of `from` into `to` (same variable names).
fn copy(
    from: &matdiff_core::Graph,
    id: matdiff_core::Id,
    to: &mut matdiff_core::Graph,
) -> matdiff_core::Id {
    let map_sym =
        |s: matdiff_core::Sym, to: &mut matdiff_core::Graph| to.symbols.intern(from.name(s));
    let map_dim = |d: matdiff_core::Dim, to: &mut matdiff_core::Graph| match d {
        matdiff_core::Dim::Named(s) => matdiff_core::Dim::Named(map_sym(s, to)),
        d => d,
    };
    let node = match from.node(id) {
        Node::Var(s) => Node::Var(map_sym(s, to)),
        Node::Differential(s) => Node::Differential(map_sym(s, to)),
        Node::DimValue(s) => Node::DimValue(map_sym(s, to)),
        Node::Eye(d) => Node::Eye(map_dim(d, to)),
        Node::Ones(d) => Node::Ones(map_dim(d, to)),
        Node::Zeros(s) => Node::Zeros(matdiff_core::Shape::new(
            map_dim(s.rows, to),
            map_dim(s.cols, to),
        )),
        Node::Const(r) => Node::Const(r),
        Node::Add(a, b) => Node::Add(copy(from, a, to), copy(from, b, to)),
        Node::Neg(a) => Node::Neg(copy(from, a, to)),
        Node::Mul(a, b) => Node::Mul(copy(from, a, to), copy(from, b, to)),
        Node::Div(a, b) => Node::Div(copy(from, a, to), copy(from, b, to)),
        Node::Pow(a, b) => Node::Pow(copy(from, a, to), copy(from, b, to)),
        Node::ElemMul(a, b) => Node::ElemMul(copy(from, a, to), copy(from, b, to)),
        Node::ElemDiv(a, b) => Node::ElemDiv(copy(from, a, to), copy(from, b, to)),
        Node::ElemPow(a, b) => Node::ElemPow(copy(from, a, to), copy(from, b, to)),
        Node::Transpose(a) => Node::Transpose(copy(from, a, to)),
        Node::Inner(a, b) => Node::Inner(copy(from, a, to), copy(from, b, to)),
        Node::Kron(a, b) => Node::Kron(copy(from, a, to), copy(from, b, to)),
        Node::Apply(func, a) => Node::Apply(func, copy(from, a, to)),
        Node::DifferentialOf(a) => Node::DifferentialOf(copy(from, a, to)),
    };
    to.add(node)
}

#[test]
fn hand_written_derivatives_are_judged() {
    use DerivativeKind::*;
    // (f, derivative, declarations, wrt, kind, should pass)
    let cases: &[(&str, &str, &str, &str, DerivativeKind, bool)] = &[
        (
            "x'*A*x",
            "(A + A')*x",
            "A: matrix(n, n); x: vector(n)",
            "x",
            Gradient,
            true,
        ),
        (
            "x'*A*x",
            "2*A*x",
            "A: matrix(n, n); x: vector(n)",
            "x",
            Gradient,
            false,
        ),
        (
            "a'*X*b",
            "a*b'",
            "X: matrix(m, n); a: vector(m); b: vector(n)",
            "X",
            Gradient,
            true,
        ),
        (
            "a'*X*b",
            "b*a'",
            "X: matrix(m, n); a: vector(m); b: vector(n)",
            "X",
            Gradient,
            false,
        ),
        (
            "tr(A*X)",
            "A'",
            "X: matrix(n, n); A: matrix(n, n)",
            "X",
            Gradient,
            true,
        ),
        (
            "tr(A*X)",
            "A",
            "X: matrix(n, n); A: matrix(n, n)",
            "X",
            Gradient,
            false,
        ),
        (
            "A*x",
            "A",
            "A: matrix(m, n); x: vector(n)",
            "x",
            Jacobian,
            true,
        ),
        (
            "tanh(x)",
            "diag(1 - tanh(x).^2)",
            "x: vector(n)",
            "x",
            Jacobian,
            true,
        ),
        (
            "tanh(x)",
            "diag(1 - tanh(x))",
            "x: vector(n)",
            "x",
            Jacobian,
            false,
        ),
        ("norm2(x)^2", "2*x", "x: vector(n)", "x", Gradient, true),
        ("norm2(x)^2", "x", "x: vector(n)", "x", Gradient, false),
        // A zero differential of a matrix-valued function is compared as a value.
        (
            "A",
            "A - A",
            "A: matrix(n, n); a: scalar",
            "a",
            Differential,
            true,
        ),
        (
            "a*A",
            "A - A",
            "A: matrix(n, n); a: scalar",
            "a",
            Differential,
            false,
        ),
    ];
    let mut failures = Vec::new();
    for (expr, gradient, decls, wrt, kind, pass) in cases {
        let (f, d) = with_gradient(expr, gradient, decls, wrt, *kind);
        match check_derivative(&f, &d, &options()) {
            Ok(report) if report.passed != *pass => failures.push(format!(
                "`{expr}` with `{gradient}`: passed = {}, errors {:?}",
                report.passed, report.errors
            )),
            Ok(_) => {}
            Err(e) => failures.push(format!(
                "`{expr}` with `{gradient}`: {}",
                e.describe(&f.graph)
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Zero derivatives of rectangular or matrix-valued functions, and functions whose
/// `inv`/`det`/`logdet` arguments are singular at the wrong sizes: the engine's
/// results pass, and every trial's error and floor are finite.
#[test]
fn zero_derivatives_and_rank_limited_arguments_pass() {
    let cases: &[(&str, &str, &str, u8)] = &[
        ("tr(A*X)", "X: matrix(m, n); A: matrix(n, m)", "X", 2),
        (
            "a'*X*b",
            "X: matrix(m, n); a: vector(m); b: vector(n)",
            "X",
            2,
        ),
        ("sum(X)", "X: matrix(m, n)", "X", 2),
        ("norm1(X)", "X: matrix(m, n)", "X", 2),
        ("A", "A: matrix(m, n); a: scalar", "a", 1),
        ("A", "A: matrix(n, n); x: vector(n)", "x", 1),
        ("A + 0*a", "A: matrix(m, n); a: scalar", "a", 1),
        ("logdet(X'*A*X)", "X: matrix(m, n); A: spd(m)", "X", 1),
        ("logdet(X'*A*X)", "X: matrix(m, n); A: spd(m)", "X", 2),
        ("det(X*X')", "X: matrix(m, n)", "X", 1),
        ("tr(inv(X'*X))", "X: matrix(m, n)", "X", 1),
    ];
    let mut failures = Vec::new();
    for (expr, decls, wrt, order) in cases {
        let mut f = function(expr, decls);
        let d = derive(&mut f, wrt, *order).unwrap();
        match check_derivative(&f, &d, &options()) {
            Ok(report)
                if report.passed
                    && report
                        .errors
                        .iter()
                        .chain(&report.floors)
                        .all(|e| e.is_finite()) => {}
            Ok(report) => failures.push(format!(
                "`{expr}` d/d{wrt} order {order} = `{}` at {}: errors {:?}, floors {:?}",
                matdiff_core::print::text(&f.graph, d.expr),
                report.sizes.describe(&f.graph),
                report.errors,
                report.floors
            )),
            Err(e) => failures.push(format!("`{expr}` d/d{wrt}: {}", e.describe(&f.graph))),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The free sizes are permuted so that `X'*A*X` (n × n from an m × n `X`) has full
/// rank; fixed sizes are kept, and functions without such arguments keep the defaults.
#[test]
fn sizes_give_inverted_arguments_full_rank() {
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, usize)], &'a str);
    let cases: &[Case] = &[
        (
            "logdet(X'*A*X)",
            "X: matrix(m, n); A: spd(m)",
            &[],
            "m = 3, n = 2",
        ),
        ("det(X*X')", "X: matrix(m, n)", &[], "m = 2, n = 3"),
        ("inv(X'*X)", "X: matrix(m, n)", &[("m", 5)], "m = 5, n = 2"),
        (
            "tr(A*X)",
            "X: matrix(m, n); A: matrix(n, m)",
            &[],
            "m = 2, n = 3",
        ),
    ];
    for (expr, decls, fixed, expected) in cases {
        let f = function(expr, decls);
        let fixed: Vec<(String, usize)> = fixed.iter().map(|(n, k)| (n.to_string(), *k)).collect();
        let sizes = full_rank_sizes(&f.graph, &[f.root], &fixed);
        assert_eq!(sizes.describe(&f.graph), *expected, "{expr}");
    }
}

/// A function of size 1e12 has a rounding floor far above the tolerance: a correct
/// gradient passes there, with the raw error and the floor both reported.
#[test]
fn errors_below_the_rounding_floor_pass() {
    let mut f = function("1e12 + x'*x", "x: vector(n)");
    let d = derive(&mut f, "x", 1).unwrap();
    let report = check_derivative(&f, &d, &options()).unwrap();
    assert!(report.passed, "{report:?}");
    assert!(report.floors.iter().all(|fl| *fl > 1e-6), "{report:?}");
    assert!(report.errors.iter().any(|e| *e > 1e-6), "{report:?}");
    assert!(
        report
            .errors
            .iter()
            .zip(&report.floors)
            .all(|(e, fl)| e <= fl),
        "{report:?}"
    );
}

#[test]
fn hessian_of_a_matrix_variable_is_checked_through_the_gradient() {
    let mut f = function("tr(X'*A*X)", "X: matrix(n, k); A: matrix(n, n)");
    let d = derive(&mut f, "X", 2).unwrap();
    assert_eq!(d.kind, DerivativeKind::Hessian);
    let report = check_derivative(&f, &d, &options()).unwrap();
    assert!(report.passed, "{:?}", report.errors);
    assert_eq!(report.errors.len(), 4);
}

#[test]
fn default_sizes_are_small_and_distinct() {
    let f = function(
        "norm2(X*w - y)^2",
        "X: matrix(N, d); w: vector(d); y: vector(N)",
    );
    let sizes = default_sizes(&f.graph, &[]);
    assert_eq!(sizes.describe(&f.graph), "N = 2, d = 3");
    let fixed = default_sizes(&f.graph, &[("N".to_string(), 3)]);
    assert_eq!(fixed.describe(&f.graph), "N = 3, d = 2");
}

#[test]
fn random_inputs_honour_kinds_and_domains() {
    let f = function(
        "logdet(P) + x'*S*x + sum(log(p)) + det(A)",
        "P: spd(n); S: symmetric(n); p: vector(n); A: matrix(n, n); x: vector(n)",
    );
    let sizes = default_sizes(&f.graph, &[]);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..20 {
        let inputs = random_inputs(&f.graph, &sizes, &[f.root], &mut rng).unwrap();
        let get = |name: &str| {
            inputs
                .get(f.graph.variable_named(name).unwrap().name)
                .unwrap()
                .clone()
        };
        let (p_mat, s, p) = (get("P"), get("S"), get("p"));
        for i in 0..s.nrows() {
            for j in 0..s.ncols() {
                assert_eq!(s[(i, j)], s[(j, i)]);
                assert_eq!(p_mat[(i, j)], p_mat[(j, i)]);
            }
            assert!(p[(i, 0)] > 0.0);
        }
        assert!(p_mat.as_ref().llt(faer::Side::Lower).is_ok());
        let mut plan = Plan::compile(&f.graph, &[f.root], &sizes).unwrap();
        assert!(plan.run(&inputs).unwrap()[0].is_finite());
    }
}

#[test]
fn finite_difference_helpers_match_known_gradients() {
    let f = function("x'*A*x", "A: matrix(n, n); x: vector(n)");
    let sizes = default_sizes(&f.graph, &[]);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let inputs = random_inputs(&f.graph, &sizes, &[f.root], &mut rng).unwrap();
    let x = f.graph.variable_named("x").unwrap().name;
    let a = inputs
        .get(f.graph.variable_named("A").unwrap().name)
        .unwrap()
        .clone();
    let xv = inputs.get(x).unwrap().clone();
    let mut plan = Plan::compile(&f.graph, &[f.root], &sizes).unwrap();
    let h = step_for(&xv);
    let g = gradient_fd(&mut plan, &inputs, x, h).unwrap();
    let j = full_fd(&mut plan, &inputs, x, h).unwrap();
    for i in 0..xv.nrows() {
        let exact: f64 = (0..xv.nrows())
            .map(|k| (a[(i, k)] + a[(k, i)]) * xv[(k, 0)])
            .sum();
        assert!((g[(i, 0)] - exact).abs() < 1e-8, "{} vs {exact}", g[(i, 0)]);
        assert_eq!(j[(0, i)], g[(i, 0)]);
    }
}
