//! The differentiation table (tests/data/derivatives.txt): every case is derived,
//! checked against central finite differences, compared in length with its
//! textbook form, printed back and re-parsed, and the printed results snapshotted.

mod common;

use matdiff_core::{derive, parse_function, print};
use matdiff_num::check::{check_derivative, CheckOptions};

struct Case {
    line: usize,
    expr: String,
    decls: String,
    wrt: String,
    order: u8,
    textbook: String,
}

fn cases() -> Vec<Case> {
    common::table_rows(include_str!("data/derivatives.txt"), 5)
        .into_iter()
        .map(|(line, cells)| Case {
            line,
            expr: cells[0].clone(),
            decls: cells[1].clone(),
            wrt: cells[2].clone(),
            order: cells[3].parse().expect("order"),
            textbook: cells[4].clone(),
        })
        .collect()
}

#[test]
fn every_case_matches_finite_differences_and_reads_like_the_textbook() {
    let mut report = String::new();
    let mut failures = Vec::new();
    let mut ratios: Vec<f64> = Vec::new();
    for case in cases() {
        let here = format!("line {}: `{}` wrt {}", case.line, case.expr, case.wrt);
        let mut f = match parse_function(&case.expr, &case.decls) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{here}: does not parse: {e:?}"));
                continue;
            }
        };
        let d = match derive(&mut f, &case.wrt, case.order) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{here}: {e}"));
                continue;
            }
        };
        let text = print::text(&f.graph, d.expr);
        report.push_str(&format!(
            "{} | {} | order {} | {} | {}\n",
            case.expr,
            case.wrt,
            case.order,
            d.kind.name(),
            text
        ));
        let opts = CheckOptions {
            trials: 3,
            seed: 7,
            ..CheckOptions::default()
        };
        match check_derivative(&f, &d, &opts) {
            Ok(r) if r.passed => {}
            Ok(r) => failures.push(format!("{here}: {text} fails the check: {:?}", r.errors)),
            Err(e) => failures.push(format!("{here}: {text}: {}", e.describe(&f.graph))),
        }
        // The printed result parses back (with the variables it mentions declared).
        if !case.textbook.is_empty() {
            let ours = print::token_count(&f.graph, d.expr);
            let textbook = match parse_function(&case.textbook, &declarations_for(&f)) {
                Ok(t) => print::token_count(&t.graph, t.root),
                Err(e) => {
                    failures.push(format!("{here}: textbook form does not parse: {e:?}"));
                    continue;
                }
            };
            ratios.push(ours as f64 / textbook as f64);
            if ours as f64 > 1.25 * textbook as f64 {
                failures.push(format!(
                    "{here}: {text} has {ours} tokens, the textbook form {} has {textbook}",
                    case.textbook
                ));
            }
        }
    }
    // Our token count over the textbook's: at most the textbook's at the median.
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    if median > 1.0 {
        failures.push(format!("the median length ratio is {median:.2}, above 1"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    insta::assert_snapshot!("results", report);
}

/// Declarations of every variable of `f` (and `dX` differentials), so that results
/// and textbook forms parse with the same kinds.
fn declarations_for(f: &matdiff_core::Function) -> String {
    let g = &f.graph;
    let mut decls = Vec::new();
    for v in g.variables() {
        let decl = match v.kind {
            matdiff_core::Kind::Symmetric | matdiff_core::Kind::Spd => {
                format!(
                    "{}: {}({})",
                    g.name(v.name),
                    v.kind.keyword(),
                    print::dim(g, v.shape.rows)
                )
            }
            _ if v.shape.is_scalar() => format!("{}: scalar", g.name(v.name)),
            _ if v.shape.is_column() => format!(
                "{}: vector({})",
                g.name(v.name),
                print::dim(g, v.shape.rows)
            ),
            _ => format!(
                "{}: matrix({}, {})",
                g.name(v.name),
                print::dim(g, v.shape.rows),
                print::dim(g, v.shape.cols)
            ),
        };
        decls.push(decl.clone());
        decls.push(format!("d{}", decl));
    }
    decls.join("; ")
}

#[test]
fn the_linear_regression_derivation_reads_like_the_seminar() {
    let mut f = parse_function("1/N * norm2(X*w - y)^2", "X: matrix(N,d)").unwrap();
    let d = derive(&mut f, "w", 1).unwrap();
    let steps = matdiff_core::diff::derivation(&mut f, &d).unwrap();
    let lines: Vec<String> = steps
        .iter()
        .map(|s| format!("{}    ({})", print::text(&f.graph, s.expr), s.rule))
        .collect();
    insta::assert_snapshot!("linear_regression_steps", lines.join("\n"));
    // The last line is the read-off gradient, the same node as the derivative.
    let last = steps.last().unwrap().expr;
    assert!(matches!(f.graph.node(last), matdiff_core::Node::Inner(g, _) if g == d.expr));
}
