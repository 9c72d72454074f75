//! Every operator and function against values computed by NumPy
//! (tests/fixtures/make_fixtures.py), through a plan and through the reference
//! evaluator, with the compositions that overflow as written (`log(1 + exp(800*p))`)
//! evaluated in their stable forms.

mod common;

use common::{function, json_matrix, relative_error};
use matdiff_core::stable::stabilize;
use matdiff_num::reference;
use matdiff_num::{Inputs, Plan, Sizes};

const FIXTURE: &str = include_str!("fixtures/operators.json");

#[test]
fn operators_agree_with_numpy() {
    let fixture: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
    let decls = fixture["decls"].as_str().unwrap();
    let inputs_text = fixture["inputs"].to_string();
    let mut failures = Vec::new();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() > 50, "the fixture lost its cases");
    for case in cases {
        let expr = case["expr"].as_str().unwrap();
        let expected = json_matrix(&case["value"]);
        let mut f = function(expr, decls);
        // Plans compute the stable form of what is written (`log(1 + exp(z))` as
        // `softplus(z)`), as `eval` and the optimisers do.
        f.root = stabilize(&mut f.graph, f.root);
        let inputs = Inputs::from_json(&inputs_text, &f.graph).unwrap();
        let sizes = Sizes::bind(&f.graph, &inputs).unwrap();
        let planned = Plan::compile(&f.graph, &[f.root], &sizes).and_then(|mut p| p.run(&inputs));
        match planned {
            Ok(values) => {
                let err = relative_error(&values[0], &expected);
                if err > 1e-12 {
                    failures.push(format!("plan: `{expr}` off by {err:e}: {:?}", values[0]));
                }
                // The JSON encoding round-trips the value's shape.
                let json = values[0].to_json();
                if relative_error(&values[0], &json_matrix(&json)) != 0.0 {
                    failures.push(format!("json: `{expr}` encodes as {json}"));
                }
            }
            Err(e) => failures.push(format!("plan: `{expr}` failed: {}", e.describe(&f.graph))),
        }
        // The naive evaluator is not max-shifted everywhere; skip the extreme cases.
        if !expr.contains("800") && !expr.contains("1000") {
            match reference::evaluate(&f.graph, f.root, &inputs, &sizes) {
                Ok(v) => {
                    let err = relative_error(&v, &expected);
                    if err > 1e-10 {
                        failures.push(format!("reference: `{expr}` off by {err:e}"));
                    }
                }
                Err(e) => failures.push(format!("reference: `{expr}` failed: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
