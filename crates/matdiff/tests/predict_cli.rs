//! `linreg --save`, `minimize --save` and `predict` end to end: a saved fit applied to
//! the data again reproduces an independent computation of `X*w + b` (from the
//! published reference coefficients) or of `sigmoid(X*w + b)`; bad new rows are exit 2.

mod common;

use std::path::{Path, PathBuf};

use common::{matdiff, matdiff_in, scratch};
use serde_json::Value;

/// The repository's `data/` folder.
fn data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(file)
}

/// A CSV file's header and rows, read independently of matdiff.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("the CSV file");
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines
        .next()
        .expect("a header")
        .split(',')
        .map(|c| c.trim().to_owned())
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(|c| c.trim().to_owned()).collect())
        .collect();
    (header, rows)
}

/// `b + Σ xⱼ wⱼ` for every row of a CSV file, with the coefficients by column name.
fn linear_scores(path: &Path, intercept: f64, coefficients: &[(&str, f64)]) -> Vec<f64> {
    let (header, rows) = read_csv(path);
    rows.iter()
        .map(|row| {
            intercept
                + coefficients
                    .iter()
                    .map(|(name, w)| {
                        let j = header.iter().position(|c| c == name).expect("the column");
                        row[j].parse::<f64>().unwrap() * w
                    })
                    .sum::<f64>()
        })
        .collect()
}

fn sigmoid(s: f64) -> f64 {
    1.0 / (1.0 + (-s).exp())
}

/// The columns of `predict`'s CSV output, by name.
fn prediction_columns(csv: &str) -> Vec<(String, Vec<f64>)> {
    let mut lines = csv.lines();
    let names: Vec<String> = lines
        .next()
        .expect("a header")
        .split(',')
        .map(str::to_owned)
        .collect();
    let mut columns: Vec<(String, Vec<f64>)> = names.into_iter().map(|n| (n, Vec::new())).collect();
    for line in lines {
        for (cell, (_, column)) in line.split(',').zip(columns.iter_mut()) {
            column.push(cell.parse().expect("a number"));
        }
    }
    columns
}

fn model_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the model file"))
        .expect("the model is JSON")
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}: row {}: {g} against {w}",
            i + 1
        );
    }
}

/// A published least-squares fit of a bundled data set.
struct Reference {
    name: &'static str,
    target: &'static str,
    intercept: f64,
    coefficients: &'static [(&'static str, f64)],
    /// How close (relative) predictions from the saved fit come to those of the
    /// reference.
    tol: f64,
}

/// Least squares on the bundled data, saved and applied to the data file: the
/// predictions match `b + X w` with the published coefficients, and exactly the saved
/// ones.
#[rustfmt::skip]
const LINEAR: &[Reference] = &[
    Reference { name: "diabetes", target: "target", intercept: -334.567138518787, coefficients: &[
        ("age", -0.0363612242236254), ("sex", -22.8596480904984), ("bmi", 5.60296209192371),
        ("bp", 1.11680799331819), ("s1", -1.08999633406324), ("s2", 0.746450455514226),
        ("s3", 0.372004715089153), ("s4", 6.53383193599034), ("s5", 68.4831249647883),
        ("s6", 0.280116989321504)], tol: 1e-9 },
    Reference { name: "longley", target: "totemp", intercept: -3482258.63459582, coefficients: &[
        ("gnpdefl", 15.0618722713733), ("gnp", -0.0358191792925910), ("unemp", -2.02022980381683),
        ("armed", -1.03322686717359), ("pop", -0.0511041056535807), ("year", 1829.15146461355)], tol: 1e-7 },
];

#[test]
fn a_saved_linear_fit_predicts_x_w_plus_b() {
    let dir = scratch("predict-linear");
    for &Reference {
        name,
        target,
        intercept,
        coefficients,
        tol,
    } in LINEAR
    {
        let model = dir.join(format!("{name}.json"));
        let (code, _, stderr) = matdiff(&[
            "linreg",
            name,
            "--solver",
            "qr",
            "--save",
            model.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{name}: {stderr}");
        let json = model_json(&model);
        assert_eq!(json["kind"], "linear", "{json}");
        assert_eq!(json["target"], target);
        assert_eq!(json["matdiff_version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(json["loss"]["expression"], "1/N*norm2(X*w + b - y)^2");
        assert_eq!(json["data"][0]["cols"], coefficients.len());
        assert_eq!(json["standardization"]["applied"], false);

        let file = data(&format!("{name}.csv"));
        let (code, stdout, stderr) = matdiff(&[
            "predict",
            model.to_str().unwrap(),
            "--x",
            file.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{name}: {stderr}");
        let columns = prediction_columns(&stdout);
        assert_eq!(columns.len(), 1);
        assert_eq!(columns[0].0, "prediction");
        let reference = linear_scores(&file, intercept, coefficients);
        assert_close(&columns[0].1, &reference, tol, name);

        // Exactly X*w + b with the coefficients saved.
        let features: Vec<String> = json["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_owned())
            .collect();
        let saved: Vec<(&str, f64)> = features
            .iter()
            .zip(json["coefficients"].as_array().unwrap())
            .map(|(f, w)| (f.as_str(), w.as_f64().unwrap()))
            .collect();
        let exact = linear_scores(&file, json["intercept"].as_f64().unwrap(), &saved);
        assert_close(&columns[0].1, &exact, 1e-12, name);
    }
}

/// statsmodels' Logit on Spector & Mazzeo (1980).
const SPECTOR_INTERCEPT: f64 = -13.021347;
const SPECTOR: [(&str, f64); 3] = [("gpa", 2.826113), ("tuce", 0.095158), ("psi", 2.378688)];

#[test]
fn logistic_regression_on_spector_matches_the_reference_and_predicts_probabilities() {
    let dir = scratch("predict-logistic");
    let model = dir.join("spector.json");
    let (code, stdout, stderr) = matdiff(&[
        "linreg",
        "spector",
        "--model",
        "logistic",
        "--json",
        "--save",
        model.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let fit: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        (fit["intercept"].as_f64().unwrap() - SPECTOR_INTERCEPT).abs() < 1e-5,
        "{fit}"
    );
    for (k, (_, w)) in SPECTOR.iter().enumerate() {
        assert!(
            (fit["coefficients"][k].as_f64().unwrap() - w).abs() < 1e-5,
            "{fit}"
        );
    }
    assert!((fit["log_likelihood"].as_f64().unwrap() + 12.889634).abs() < 1e-6);
    assert_eq!(fit["hessian"], "X'*diag(sigmoid(X*w) .* sigmoid(-X*w))*X");
    assert_eq!(model_json(&model)["kind"], "logistic");

    let file = data("spector.csv");
    let (code, stdout, stderr) = matdiff(&[
        "predict",
        model.to_str().unwrap(),
        "--x",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let columns = prediction_columns(&stdout);
    assert_eq!(
        (columns[0].0.as_str(), columns[1].0.as_str()),
        ("probability", "prediction")
    );
    let reference: Vec<f64> = linear_scores(&file, SPECTOR_INTERCEPT, &SPECTOR)
        .into_iter()
        .map(sigmoid)
        .collect();
    assert_close(&columns[0].1, &reference, 1e-5, "probability");
    let classes: Vec<f64> = columns[0]
        .1
        .iter()
        .map(|&p| if p >= 0.5 { 1.0 } else { 0.0 })
        .collect();
    assert_eq!(columns[1].1, classes);
}

#[test]
fn a_minimised_expression_predicts_through_an_expression_of_its_variable() {
    let dir = scratch("predict-minimized");
    let tests_data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let model = dir.join("logistic.json");
    let (code, _, stderr) = matdiff_in(
        &tests_data,
        &[
            "minimize",
            "sum(log(1 + exp(-y .* (X*w))))",
            "--wrt",
            "w",
            "--data",
            "X=spector_X.csv",
            "--data",
            "y=spector_y.csv",
            "--method",
            "gd",
            "--line-search",
            "--tol-grad",
            "1e-6",
            "--max-iter",
            "1000000",
            "--quiet",
            "--save",
            model.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let json = model_json(&model);
    assert_eq!(json["kind"], "minimized");
    assert_eq!(json["variable"], "w");
    assert_eq!(
        json["data"][0],
        serde_json::json!({"name": "X", "rows": 32, "cols": 4})
    );
    let w: Vec<f64> = json["solution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0].as_f64().unwrap())
        .collect();

    let x = tests_data.join("spector_X.csv");
    let out = dir.join("p.csv");
    let (code, _, stderr) = matdiff(&[
        "predict",
        model.to_str().unwrap(),
        "--x",
        x.to_str().unwrap(),
        "--expr",
        "sigmoid(X*w)",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let columns = prediction_columns(&std::fs::read_to_string(&out).unwrap());
    let names = [
        ("const", w[0]),
        ("gpa", w[1]),
        ("tuce", w[2]),
        ("psi", w[3]),
    ];
    let exact: Vec<f64> = linear_scores(&x, 0.0, &names)
        .into_iter()
        .map(sigmoid)
        .collect();
    assert_close(&columns[0].1, &exact, 1e-12, "sigmoid(X*w)");
    let reference: Vec<f64> = linear_scores(&data("spector.csv"), SPECTOR_INTERCEPT, &SPECTOR)
        .into_iter()
        .map(sigmoid)
        .collect();
    assert_close(&columns[0].1, &reference, 1e-4, "against the reference");
}

/// New rows that do not fit the model: exit 2 with a message naming what is wrong.
/// (model, file contents or data file, extra arguments, words the message must hold)
#[rustfmt::skip]
const MISFITS: &[(&str, &str, &[&str], &[&str])] = &[
    ("diabetes", "age,sex,bp\n1,2,3\n", &[], &["no column 'bmi', 's1'", "age, sex, bmi"]),
    ("diabetes", "1,2,3\n4,5,6\n", &["--no-header"], &["has 3 columns, but the model was fitted on 10"]),
    ("diabetes", "age,sex\n1,2\n", &["--expr", "X*w"], &["--expr applies to a minimised"]),
    ("spector", "gpa,tuce\n1,2\n", &[], &["no column 'psi'"]),
    ("minimized", "a,b,c\n1,2,3\n", &["--expr", "X*w"], &["has 3 columns, but the model was fitted on 4"]),
    ("minimized", "a,b,c,d\n1,2,3,4\n", &[], &["give one with --expr"]),
    ("minimized", "a,b,c,d\n1,2,3,4\n", &["--expr", "X*v"], &["v"]),
    ("minimized", "a,b,c,d\n1,2,3,4\n", &["--expr", "log(X*w - 1000)"], &["log of a non-positive entry"]),
];

#[test]
fn new_rows_that_do_not_fit_the_model_are_bad_input() {
    let dir = scratch("predict-misfits");
    let tests_data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let save = |args: &[&str], name: &str| {
        let path = dir.join(format!("{name}.json"));
        let mut all = args.to_vec();
        all.extend(["--save", path.to_str().unwrap()]);
        let (code, _, stderr) = matdiff_in(&tests_data, &all);
        assert_eq!(code, 0, "{stderr}");
    };
    save(&["linreg", "diabetes"], "diabetes");
    save(&["linreg", "spector", "--model", "logistic"], "spector");
    save(
        &[
            "minimize",
            "sum(log(1 + exp(-y .* (X*w))))",
            "--wrt",
            "w",
            "--data",
            "X=spector_X.csv",
            "--data",
            "y=spector_y.csv",
            "--max-iter",
            "5",
            "--quiet",
        ],
        "minimized",
    );
    for (k, (model, rows, extra, words)) in MISFITS.iter().enumerate() {
        let file = dir.join(format!("rows-{k}.csv"));
        std::fs::write(&file, rows).unwrap();
        let model = dir.join(format!("{model}.json"));
        let mut args = vec![
            "predict",
            model.to_str().unwrap(),
            "--x",
            file.to_str().unwrap(),
        ];
        args.extend(extra.iter().copied());
        if extra.contains(&"--no-header") {
            args.retain(|a| *a != "--no-header");
            args.insert(0, "--no-header");
        }
        let (code, stdout, stderr) = matdiff(&args);
        assert_eq!(code, 2, "case {k}: {stdout}{stderr}");
        for word in *words {
            assert!(stderr.contains(word), "case {k}: `{word}` not in {stderr}");
        }
    }
}

#[test]
fn features_need_not_share_the_file_with_numeric_columns_only() {
    let dir = scratch("predict-features");
    let file = dir.join("labelled.csv");
    // y = 1 + 2a − b exactly; `name` holds text and `note` is empty in a row.
    std::fs::write(
        &file,
        "name,a,b,note,y\nann,1,0,x,3\nbob,0,1,,0\ncid,2,1,y,4\ndee,1,3,z,0\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let (code, stdout, stderr) = matdiff(&[
        "linreg",
        path,
        "--target",
        "y",
        "--features",
        "a,b",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let fit: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        (fit["intercept"].as_f64().unwrap() - 1.0).abs() < 1e-12,
        "{fit}"
    );
    assert!(
        (fit["coefficients"][0].as_f64().unwrap() - 2.0).abs() < 1e-12,
        "{fit}"
    );
    assert!(
        (fit["coefficients"][1].as_f64().unwrap() + 1.0).abs() < 1e-12,
        "{fit}"
    );
    // Without --features every other column is a feature, and `name` is not a number.
    let (code, _, stderr) = matdiff(&["linreg", path, "--target", "y"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("name") && stderr.contains("ann"),
        "{stderr}"
    );
    // The saved model reads its features from the same file, by name.
    let model = dir.join("m.json");
    let (code, _, stderr) = matdiff(&[
        "linreg",
        path,
        "--target",
        "y",
        "--features",
        "b,a",
        "--save",
        model.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = matdiff(&["predict", model.to_str().unwrap(), "--x", path]);
    assert_eq!(code, 0, "{stderr}");
    let predicted = &prediction_columns(&stdout)[0].1;
    assert_close(predicted, &[3.0, 0.0, 4.0, 0.0], 1e-12, "labelled");
}

#[test]
fn logistic_regression_refuses_labels_other_than_zero_and_one() {
    let tests_data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let (code, _, stderr) = matdiff_in(
        &tests_data,
        &[
            "linreg",
            "--x",
            "spector_X.csv",
            "--y",
            "spector_y.csv",
            "--model",
            "logistic",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("labels 0 and 1, and row 1 has -1"),
        "{stderr}"
    );
}
