//! `matdiff derive --format numpy`: for every gradient, Jacobian and Hessian of the
//! differentiation table the generated module runs under NumPy, agrees with
//! `matdiff eval` to 1e-10 and passes its own gradient check; run as a script its
//! `__main__` check passes; derivatives that are
//! linear maps are refused with exit code 2.

mod common;

use common::matdiff;

use std::path::{Path, PathBuf};
use std::process::Command;

use matdiff_core::codegen::{self, numpy::python_name};
use matdiff_core::{derive, parse_function};
use matdiff_num::{default_sizes, random_inputs, Value};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

/// Runs `python3 ARGS` in `dir`: (exit code, stdout, stderr). Fails clearly when
/// Python or NumPy is missing: these tests are never skipped.
fn python(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("python3")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("python3 is not installed — install it (and numpy: pip install numpy) to run these tests");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn require_numpy(dir: &Path) {
    let (code, _, err) = python(dir, &["-c", "import numpy"]);
    assert_eq!(
        code, 0,
        "numpy is not installed for python3 — install it with `pip install numpy`: {err}"
    );
}

fn scratch(tag: &str) -> PathBuf {
    common::scratch(&format!("codegen-{tag}"))
}

struct Case {
    line: usize,
    expr: String,
    decls: String,
    wrt: String,
    order: u8,
}

/// The rows of a table (`|`-separated cells; `#` comments and blank lines skipped),
/// each with its line number.
fn rows(text: &str) -> Vec<(usize, Vec<String>)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| (n, line.split('|').map(|c| c.trim().to_string()).collect()))
        .collect()
}

fn cases() -> Vec<Case> {
    rows(include_str!("../../matdiff-num/tests/data/derivatives.txt"))
        .into_iter()
        .map(|(line, cols)| Case {
            line,
            expr: cols[0].clone(),
            decls: cols[1].clone(),
            wrt: cols[2].clone(),
            order: cols[3].parse().expect("an order"),
        })
        .collect()
}

/// Loads each module of the manifest, calls `f_and_grad(**inputs)` and writes the
/// value and derivative as JSON.
const RUNNER: &str = r#"
import importlib.util, json, sys
import numpy as np

results = {}
for name in json.load(open("manifest.json")):
    spec = importlib.util.spec_from_file_location(name, name + ".py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    inputs = {k: np.array(v, dtype=float) if isinstance(v, list) else v
              for k, v in json.load(open(name + ".json")).items()}
    try:
        value, derivative = module.f_and_grad(**inputs)
        results[name] = {"value": np.asarray(value).tolist(),
                         "derivative": np.asarray(derivative).tolist()}
        # The module's own check on its own random data, as `python3 module.py` runs it.
        data = module.random_inputs(np.random.default_rng(0))
        results[name]["check"] = bool(module.check_gradient(module.f_and_grad, data, module.WRT))
    except Exception as e:
        results[name] = {"error": repr(e)}
json.dump(results, open("results.json", "w"))
"#;

/// Flattens a JSON number or nested list into its numbers and its shape.
fn flatten(v: &serde_json::Value) -> (Vec<f64>, Vec<usize>) {
    match v {
        serde_json::Value::Array(items) => {
            let mut numbers = Vec::new();
            let mut inner = Vec::new();
            for item in items {
                let (n, s) = flatten(item);
                numbers.extend(n);
                inner = s;
            }
            let mut shape = vec![items.len()];
            shape.extend(inner);
            (numbers, shape)
        }
        other => (vec![other.as_f64().unwrap_or(f64::NAN)], Vec::new()),
    }
}

/// The largest difference relative to the larger entry (at least 1); infinite when
/// the shapes differ.
fn relative(a: &serde_json::Value, b: &serde_json::Value) -> f64 {
    let ((x, sx), (y, sy)) = (flatten(a), flatten(b));
    if sx != sy {
        return f64::INFINITY;
    }
    let scale = x.iter().chain(&y).fold(1.0_f64, |m, v| m.max(v.abs()));
    x.iter()
        .zip(&y)
        .fold(0.0_f64, |m, (p, q)| m.max((p - q).abs()))
        / scale
}

#[test]
fn every_table_row_runs_under_numpy_and_agrees_with_eval() {
    let dir = scratch("table");
    require_numpy(&dir);
    let mut manifest = Vec::new();
    let mut expected = Vec::new();
    let mut failures = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    let mut differentials: Vec<String> = Vec::new();
    let total = cases().len();
    for case in cases() {
        let here = format!("line {}: `{}` wrt {}", case.line, case.expr, case.wrt);
        let order = case.order.to_string();
        let args = [
            "derive",
            case.expr.as_str(),
            "--let",
            case.decls.as_str(),
            "--wrt",
            case.wrt.as_str(),
            "--order",
            order.as_str(),
            "--format",
            "numpy",
        ];
        let mut f = parse_function(&case.expr, &case.decls).expect("the table parses");
        let d = derive(&mut f, &case.wrt, case.order).expect("the table derives");
        let (code, module, err) = matdiff(&args);
        if let Err(e) = codegen::output_of(&f, &d) {
            // A linear map (differential form, second differential): refused clearly.
            refused.push(format!(
                "{} wrt {} order {}",
                case.expr, case.wrt, case.order
            ));
            if code != 2 || !err.contains("not an array of numbers") {
                failures.push(format!(
                    "{here}: expected exit 2 for {e}, got {code}: {err}"
                ));
            }
            continue;
        }
        if code != 0 {
            failures.push(format!("{here}: derive --format numpy failed: {err}"));
            continue;
        }
        let name = format!("case_{}", case.line);
        std::fs::write(dir.join(format!("{name}.py")), module).expect("module written");
        if codegen::output_of(&f, &d) == Ok(codegen::Output::Differential) {
            // A differential form takes dX as an argument; `eval` has no array to
            // compare with, so the module's own check against differences decides.
            differentials.push(format!(
                "{} wrt {} order {}",
                case.expr, case.wrt, case.order
            ));
            let (code, out, err) = python(&dir, &[&format!("{name}.py")]);
            if code != 0 || !out.contains("passed") {
                failures.push(format!(
                    "{here}: the differential's own check failed: {out}{err}"
                ));
            }
            continue;
        }
        // Random inputs honouring the declarations, as `matdiff check` draws them.
        let graph = &f.graph;
        let sizes = default_sizes(graph, &[]);
        let mut rng = ChaCha8Rng::seed_from_u64(case.line as u64);
        let inputs =
            random_inputs(graph, &sizes, &[f.root, d.expr], &mut rng).expect("random inputs");
        let mut by_eval = serde_json::Map::new();
        let mut by_python = serde_json::Map::new();
        for v in graph.variables() {
            let m = inputs
                .get(v.name)
                .expect("every variable has a value")
                .clone();
            let value = if v.shape.is_scalar() {
                Value::Scalar(m[(0, 0)])
            } else {
                Value::Matrix(m)
            };
            by_eval.insert(graph.name(v.name).to_string(), value.to_json());
            by_python.insert(python_name(graph.name(v.name)), value.to_json());
        }
        let at = dir.join(format!("{name}.eval.json"));
        std::fs::write(&at, serde_json::Value::Object(by_eval).to_string()).expect("inputs");
        std::fs::write(
            dir.join(format!("{name}.json")),
            serde_json::Value::Object(by_python).to_string(),
        )
        .expect("inputs");
        let at = at.to_string_lossy().into_owned();
        // `--` before the expression: `eval` reads `-y'*…` as an option otherwise.
        let (code, out, err) = matdiff(&[
            "eval",
            "--let",
            &case.decls,
            "--at",
            &at,
            "--wrt",
            &case.wrt,
            "--order",
            &order,
            "--",
            &case.expr,
        ]);
        if code != 0 {
            failures.push(format!("{here}: matdiff eval failed: {err}"));
            continue;
        }
        let eval: serde_json::Value = serde_json::from_str(&out).expect("eval prints JSON");
        let field = match d.kind {
            matdiff_core::DerivativeKind::Jacobian => "jacobian",
            matdiff_core::DerivativeKind::Hessian => "hessian",
            _ => "gradient",
        };
        manifest.push(name.clone());
        expected.push((here, name, eval["value"].clone(), eval[field].clone()));
    }
    std::fs::write(dir.join("manifest.json"), json!(manifest).to_string()).expect("manifest");
    std::fs::write(dir.join("runner.py"), RUNNER).expect("runner");
    let (code, _, err) = python(&dir, &["runner.py"]);
    assert_eq!(code, 0, "the runner failed: {err}");
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results");
    let results: serde_json::Value = serde_json::from_str(&text).expect("results are JSON");
    for (here, name, value, derivative) in &expected {
        let r = &results[name.as_str()];
        if let Some(e) = r.get("error") {
            failures.push(format!("{here}: the module raised {e}"));
            continue;
        }
        if r["check"] != json!(true) {
            failures.push(format!("{here}: the module's own gradient check fails"));
        }
        for (what, want) in [("value", value), ("derivative", derivative)] {
            let err = relative(&r[what], want);
            if err.is_nan() || err > 1e-10 {
                failures.push(format!(
                    "{here}: {what} differs by {err:e}: {} vs eval {want}",
                    r[what]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Every row is compared with eval, checked as a differential form, or, as a
    // second differential (a linear map of dX with no generated form), refused.
    assert_eq!(expected.len() + differentials.len() + refused.len(), total);
    refused.sort();
    assert_eq!(
        refused,
        [
            "det(X) wrt X order 2",
            "logsumexp(A*X) wrt X order 2",
            "logsumexp(W*X) wrt W order 2",
            "logsumexp(X) wrt X order 2",
            "sum(logsumexp_cols(Z)) wrt Z order 2",
            "tr(X'*A*X) wrt X order 2",
            "tr(inv(X)) wrt X order 2"
        ]
    );
    differentials.sort();
    assert_eq!(
        differentials,
        [
            "X*X wrt X order 1",
            "inv(X) wrt X order 1",
            "inv(X)*a wrt X order 1",
            "x*x' wrt x order 1",
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs a generated module as a script: its `__main__` block checks the derivative on
/// random data and exits 0 with a passing report.
fn main_check_passes(tag: &str, expr: &str, decls: &str, wrt: &str, order: &str) {
    let dir = scratch(tag);
    require_numpy(&dir);
    let (code, module, err) = matdiff(&[
        "derive", expr, "--let", decls, "--wrt", wrt, "--order", order, "--format", "numpy",
    ]);
    assert_eq!(code, 0, "{expr}: {err}");
    std::fs::write(dir.join("module.py"), module).expect("module written");
    let (code, out, err) = python(&dir, &["module.py"]);
    assert_eq!(code, 0, "{expr}: the check failed: {out}{err}");
    assert!(out.contains("passed"), "{expr}: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_logistic_regression_module_prints_a_passing_gradient_check() {
    // The issue's done-when command.
    main_check_passes(
        "lr",
        "sum(log(1 + exp(-y .* (X*w))))",
        "X: matrix(N,d)",
        "w",
        "1",
    );
}

#[test]
fn generated_modules_pass_their_own_check() {
    for (k, (expr, decls, wrt, order)) in [
        ("det(X)", "", "X", "1"),
        ("softmax(x)", "", "x", "1"),
        ("1/N*norm2(X*w - y)^2", "X: matrix(N,d)", "w", "2"),
        ("logdet(S) + (x - m)'*inv(S)*(x - m)", "S: spd(n)", "S", "1"),
        ("lambda*norm2(w)^2", "", "lambda", "1"),
        (
            "-y'*log(softmax(W*x))",
            "W: matrix(k,d); y: vector(k)",
            "W",
            "1",
        ),
        (
            "sum(arctan(x) + sinh(x) + cosh(x) + log1p(x .* x))",
            "",
            "x",
            "1",
        ),
        ("sum(asin(tanh(x)) + arccos(sigmoid(x)))", "", "x", "1"),
        ("trace(X'*A*X)", "", "X", "1"),
        ("logsumexp(W*X)", "W: matrix(k,m); X: matrix(m,n)", "W", "1"),
    ]
    .into_iter()
    .enumerate()
    {
        main_check_passes(&format!("main{k}"), expr, decls, wrt, order);
    }
}

#[test]
fn a_wrong_gradient_fails_the_modules_check() {
    // The check can fail: with the gradient doubled the module exits 1.
    let dir = scratch("wrong");
    require_numpy(&dir);
    let (code, module, err) = matdiff(&["derive", "norm2(x)^2", "--wrt", "x", "--format", "numpy"]);
    assert_eq!(code, 0, "{err}");
    let wrong = module.replace(
        "return float(value), gradient",
        "return float(value), 2 * gradient",
    );
    assert_ne!(
        wrong, module,
        "the return line is where the test expects it"
    );
    std::fs::write(dir.join("module.py"), wrong).expect("module written");
    let (code, out, _) = python(&dir, &["module.py"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn linear_maps_in_rust_and_second_differentials_are_refused_with_exit_code_2() {
    for (args, what) in [
        (
            &["inv(X)", "--wrt", "X", "--format", "rust"][..],
            "differential form",
        ),
        (
            &["det(X)", "--wrt", "X", "--order", "2", "--format", "numpy"][..],
            "second differential",
        ),
    ] {
        let (code, out, err) = matdiff(&[&["derive"][..], args].concat());
        assert_eq!(code, 2, "{out}");
        assert!(
            err.contains(&format!("{what}, not an array of numbers")),
            "{err}"
        );
    }
}

#[test]
fn the_logistic_module_stays_finite_where_exp_overflows() {
    // z = -y .* (X*w) = (1000, 1000): exp(z) overflows, softplus(z) does not.
    let dir = scratch("stable");
    require_numpy(&dir);
    let (code, module, err) = matdiff(&[
        "derive",
        "sum(log(1 + exp(-y .* (X*w))))",
        "--let",
        "X: matrix(N,d)",
        "--wrt",
        "w",
        "--format",
        "numpy",
    ]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(dir.join("module.py"), module).expect("module written");
    let script = "import numpy as np, module\n\
        X = np.array([[1000.0, 0.0], [-1000.0, 1.0]])\n\
        v, g = module.f_and_grad(X, np.array([-1.0, 1.0]), np.array([1.0, 0.0]))\n\
        print(v, g[0], g[1])";
    let (code, out, err) = python(&dir, &["-W", "error", "-c", script]);
    assert_eq!(code, 0, "{out}{err}");
    let got: Vec<f64> = out.split_whitespace().map(|t| t.parse().unwrap()).collect();
    assert_eq!(got, [2000.0, 2000.0, -1.0], "value and gradient");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The rows of the closed-form table: expression, declarations, variable.
fn solution_cases() -> Vec<(usize, String, String, String)> {
    rows(include_str!("../../matdiff-num/tests/data/solutions.txt"))
        .into_iter()
        .map(|(line, cols)| (line, cols[0].clone(), cols[1].clone(), cols[2].clone()))
        .collect()
}

#[test]
fn every_solution_module_zeroes_its_gradient_when_run() {
    let dir = scratch("solutions");
    require_numpy(&dir);
    let mut failures = Vec::new();
    for (line, expr, decls, wrt) in solution_cases() {
        let args = [
            "solve", &expr, "--let", &decls, "--wrt", &wrt, "--format", "numpy",
        ];
        let (code, module, err) = matdiff(&args);
        if code != 0 {
            failures.push(format!("line {line}: `{expr}`: exit {code}: {err}"));
            continue;
        }
        let file = format!("solution_{line}.py");
        std::fs::write(dir.join(&file), module).expect("module written");
        let (code, out, err) = python(&dir, &[&file]);
        if code != 0 || !out.contains("passed") {
            failures.push(format!("line {line}: `{expr}`: exit {code}: {out}{err}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_generated_solution_agrees_with_solve_on_the_same_inputs() {
    let dir = scratch("solution-numbers");
    require_numpy(&dir);
    let inputs = json!({
        "X": [[1.0, 2.0], [3.0, -1.0], [0.5, 4.0], [2.0, 2.0]],
        "y": [1.0, -2.0, 0.5, 3.0],
        "lambda": 0.3,
    });
    std::fs::write(dir.join("inputs.json"), inputs.to_string()).expect("inputs written");
    let loss = [
        "norm2(X*w - y)^2 + lambda*norm2(w)^2",
        "--let",
        "X: matrix(N,d)",
        "--wrt",
        "w",
    ];
    let (code, module, err) = matdiff(&[&["solve"][..], &loss, &["--format", "numpy"]].concat());
    assert_eq!(code, 0, "{err}");
    std::fs::write(dir.join("module.py"), module).expect("module written");
    let at = dir.join("inputs.json");
    let at = at.to_str().expect("a UTF-8 path");
    let (code, report, err) =
        matdiff(&[&["solve"][..], &loss, &["--format", "json", "--at", at]].concat());
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&report).expect("JSON");
    let script = "import json, module\n\
        inputs = json.load(open('inputs.json'))\n\
        inputs['lambda_'] = inputs.pop('lambda')\n\
        print(json.dumps(module.solution(**inputs).tolist()))";
    let (code, out, err) = python(&dir, &["-c", script]);
    assert_eq!(code, 0, "{out}{err}");
    let generated: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let err = relative(&generated, &report["numbers"]["solution"]);
    assert!(err < 1e-12, "{generated} vs {}", report["numbers"]);
    let _ = std::fs::remove_dir_all(&dir);
}
