//! Generates the Rust code of every case in `cases.rs` and of every gradient,
//! Jacobian and Hessian of the differentiation table
//! (`matdiff-num/tests/data/derivatives.txt`) into `OUT_DIR`, with the generator of
//! matdiff-core, plus `modules.rs`: one module per case with a `run` wrapper, and the
//! table of cases that `src/lib.rs` includes. Likewise the closed-form solution of
//! every row of the table of quadratic losses (`matdiff-num/tests/data/solutions.txt`).

use std::fmt::Write as _;
use std::path::PathBuf;

include!("cases.rs");

const TABLE: &str = "../matdiff-num/tests/data/derivatives.txt";
const SOLUTIONS: &str = "../matdiff-num/tests/data/solutions.txt";

/// A case: module name, expression, declarations, variable, order.
type Case = (String, String, String, String, u8);

/// The rows of a table file (`|`-separated cells, `#` comments, blank lines skipped),
/// each with its line number.
fn rows(path: &str) -> Vec<(usize, Vec<String>)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the table {path}: {e}"));
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| (n, line.split('|').map(|c| c.trim().to_string()).collect()))
        .collect()
}

fn table() -> Vec<Case> {
    rows(TABLE)
        .into_iter()
        .map(|(line, cols)| {
            let order = cols[3]
                .parse()
                .unwrap_or_else(|_| panic!("{TABLE}:{line}: bad order"));
            (
                format!("table_line_{line}"),
                cols[0].clone(),
                cols[1].clone(),
                cols[2].clone(),
                order,
            )
        })
        .collect()
}

fn main() {
    println!("cargo::rerun-if-changed=cases.rs");
    println!("cargo::rerun-if-changed={TABLE}");
    println!("cargo::rerun-if-changed={SOLUTIONS}");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut cases: Vec<Case> = CASES
        .iter()
        .map(|(m, e, d, w, o)| {
            (
                m.to_string(),
                e.to_string(),
                d.to_string(),
                w.to_string(),
                *o,
            )
        })
        .collect();
    cases.extend(table());
    let mut modules = String::new();
    let mut entries = String::new();
    for (module, expr, decls, wrt, order) in &cases {
        let mut f = matdiff_core::parse_function(expr, decls)
            .unwrap_or_else(|e| panic!("`{expr}` does not parse: {e:?}"));
        let d = matdiff_core::derive(&mut f, wrt, *order)
            .unwrap_or_else(|e| panic!("`{expr}` cannot be derived: {e}"));
        if !matches!(
            matdiff_core::codegen::output_of(&f, &d),
            Ok(o) if o != matdiff_core::codegen::Output::Differential
        ) {
            // A linear map in dX: the Rust generator refuses it (the CLI tests check
            // that; the NumPy generator takes dX as an argument).
            continue;
        }
        let code = matdiff_core::codegen::rust(&f, &d)
            .unwrap_or_else(|e| panic!("no code for `{expr}`: {e}"));
        std::fs::write(out.join(format!("{module}.rs")), code)
            .unwrap_or_else(|e| panic!("cannot write the code of `{expr}`: {e}"));
        let args: Vec<String> = f
            .graph
            .variables()
            .iter()
            .enumerate()
            .map(|(k, v)| {
                if v.shape.is_scalar() {
                    format!("args[{k}][(0, 0)]")
                } else {
                    format!("args[{k}].as_ref()")
                }
            })
            .collect();
        let _ = write!(
            modules,
            "/// The generated code of `{}` with respect to `{wrt}`, order {order}.\n\
             pub mod {module} {{\n\
             \x20   #![allow(clippy::all, non_snake_case, dead_code, unused_imports)]\n\
             \x20   include!(concat!(env!(\"OUT_DIR\"), \"/{module}.rs\"));\n\n\
             \x20   /// Calls `f_and_grad` with the variables in order (scalars as 1 × 1).\n\
             \x20   pub fn run(args: &[faer::Mat<f64>]) -> (faer::Mat<f64>, faer::Mat<f64>) {{\n\
             \x20       let (value, derivative) = f_and_grad({});\n\
             \x20       (crate::IntoMat::into_mat(value), crate::IntoMat::into_mat(derivative))\n\
             \x20   }}\n\
             }}\n\n",
            expr.replace('`', "'"),
            args.join(", ")
        );
        let _ = writeln!(
            entries,
            "    Generated {{ module: {module:?}, expr: {expr:?}, decls: {decls:?}, wrt: {wrt:?}, order: {order}, run: {module}::run }},"
        );
    }
    let solutions = solutions(&out, &mut modules);
    let text = format!(
        "{modules}/// Every generated case.\npub const GENERATED: &[Generated] = &[\n{entries}];\n\n\
         /// Every generated solution.\npub const SOLUTIONS: &[GeneratedSolution] = &[\n{solutions}];\n"
    );
    std::fs::write(out.join("modules.rs"), text)
        .unwrap_or_else(|e| panic!("cannot write modules.rs: {e}"));
}

/// Generates `pub fn solution` for every row of the table of quadratic losses into
/// `OUT_DIR`, appends its module to `modules`, and returns the table's entries.
fn solutions(out: &std::path::Path, modules: &mut String) -> String {
    let mut entries = String::new();
    for (line, cols) in rows(SOLUTIONS) {
        let (expr, decls, wrt) = (cols[0].as_str(), cols[1].as_str(), cols[2].as_str());
        let module = format!("solution_line_{line}");
        let mut f = matdiff_core::parse_function(expr, decls)
            .unwrap_or_else(|e| panic!("`{expr}` does not parse: {e:?}"));
        let solution = matdiff_core::solve(&mut f, wrt)
            .unwrap_or_else(|e| panic!("`{expr}` is not solved: {e}"));
        let code = matdiff_core::codegen::rust_solution(&f, solution.wrt, solution.point)
            .unwrap_or_else(|e| panic!("no code for the solution of `{expr}`: {e}"));
        std::fs::write(out.join(format!("{module}.rs")), code)
            .unwrap_or_else(|e| panic!("cannot write the solution of `{expr}`: {e}"));
        let g = &f.graph;
        let reachable = g.reachable(&[solution.point]);
        let parameters: Vec<&str> = g
            .variables()
            .iter()
            .filter(|v| {
                reachable
                    .iter()
                    .any(|&n| matches!(g.node(n), matdiff_core::Node::Var(s) if s == v.name))
            })
            .map(|v| g.name(v.name))
            .collect();
        let args: Vec<String> = parameters
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let v = g
                    .variables()
                    .iter()
                    .find(|v| g.name(v.name) == *name)
                    .expect("a variable");
                if v.shape.is_scalar() {
                    format!("args[{k}][(0, 0)]")
                } else {
                    format!("args[{k}].as_ref()")
                }
            })
            .collect();
        let _ = write!(
            modules,
            "/// The generated solution of `{}` for `{wrt}`.\n\
             pub mod {module} {{\n\
             \x20   #![allow(clippy::all, non_snake_case, dead_code, unused_imports)]\n\
             \x20   include!(concat!(env!(\"OUT_DIR\"), \"/{module}.rs\"));\n\n\
             \x20   /// Calls `solution` with its parameters in order (scalars as 1 × 1).\n\
             \x20   pub fn run(args: &[faer::Mat<f64>]) -> faer::Mat<f64> {{\n\
             \x20       crate::IntoMat::into_mat(solution({}))\n\
             \x20   }}\n\
             }}\n\n",
            expr.replace('`', "'"),
            args.join(", ")
        );
        let _ = writeln!(
            entries,
            "    GeneratedSolution {{ module: {module:?}, expr: {expr:?}, decls: {decls:?}, wrt: {wrt:?}, parameters: &{parameters:?}, run: {module}::run }},"
        );
    }
    entries
}
