//! `matdiff linreg`: linear regression on a CSV file, `.npy` arrays or a bundled data
//! set, with any solver or all of them side by side.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use faer::{Col, ColRef, MatRef};
use matdiff_fit::datasets;
use matdiff_fit::linreg::{
    select_entries, select_rows, train_test_split, Fit, IterativeOptions, LinearRegression,
    LinregError, Scores, Solver,
};
use matdiff_num::data::{load_csv_with, load_matrix_stored, parse_csv, DataError, Table};
use matdiff_num::Stored;
use serde_json::{json, Value};

use crate::input::load_matrix;
use crate::report::Failure;

/// Arguments of `matdiff linreg`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// CSV file with a header row, or the name of a bundled data set (diabetes,
    /// longley, spector) when no such file exists.
    pub data: Option<String>,
    /// The column to predict (default for a bundled data set: its usual target).
    #[arg(long)]
    pub target: Option<String>,
    /// Comma-separated feature columns (default: every column but the target).
    #[arg(long, value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// Features as a `.npy` or `.csv` matrix, instead of DATA (with --y).
    #[arg(long, requires = "y")]
    pub x: Option<PathBuf>,
    /// Target as a `.npy` vector or a one-column `.csv`, instead of DATA (with --x).
    #[arg(long, requires = "x")]
    pub y: Option<PathBuf>,
    /// auto, normal, qr, svd, gd, sgd, minibatch, or all to compare them.
    #[arg(long, default_value = "auto")]
    pub solver: String,
    /// Fit without an intercept.
    #[arg(long)]
    pub no_intercept: bool,
    /// Fit on standardised features (coefficients are still reported in original units).
    #[arg(long)]
    pub standardize: bool,
    /// Ridge penalty λ ≥ 0 on the coefficients (the intercept is not penalised).
    #[arg(long, default_value_t = 0.0)]
    pub ridge: f64,
    /// Hold out this fraction of the rows (seeded random split) and score on it.
    #[arg(long, default_value_t = 0.0)]
    pub test_fraction: f64,
    /// Seed of the split and of the stochastic solvers.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Epoch limit of the iterative solvers.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Initial step size of the iterative solvers (default: from the Lipschitz bound).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Mini-batch size.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Features, target and where they came from.
struct Dataset {
    /// As stored: a C-order `.npy` file is read in place.
    x: Stored,
    y: Col<f64>,
    features: Vec<String>,
    source: String,
}

/// Runs `matdiff linreg`.
pub fn run(args: Args) -> Result<()> {
    let data = load(&args)?;
    let model = model(&args)?;
    if !(0.0..1.0).contains(&args.test_fraction) {
        return Err(bad(format!(
            "--test-fraction {} is out of range — give a fraction in [0, 1)",
            args.test_fraction
        )));
    }
    // Without a split the fit reads the loaded data in place: no copy of X.
    let split = (args.test_fraction > 0.0).then(|| {
        let (train, test) = train_test_split(data.x.nrows(), args.test_fraction, args.seed);
        let pick = |rows: &[usize]| {
            (
                select_rows(data.x.view(), rows),
                select_entries(data.y.as_ref(), rows),
            )
        };
        (pick(&train), pick(&test))
    });
    let (train, test) = match &split {
        Some((train, test)) => (
            (train.0.as_ref(), train.1.as_ref()),
            Some((test.0.as_ref(), test.1.as_ref())),
        ),
        None => ((data.x.view(), data.y.as_ref()), None),
    };
    if args.solver == "all" {
        return compare(&args, &data, &model, train, test);
    }
    let solver: Solver = args
        .solver
        .parse()
        .map_err(|e: LinregError| bad(e.to_string()))?;
    let model = LinearRegression { solver, ..model };
    let fit = model
        .fit(train.0, train.1, &data.features)
        .map_err(fit_failure)?;
    let train_scores = fit.score(train.0, train.1);
    let test_scores = test.map(|(x, y)| fit.score(x, y));
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&fit_json(
                &fit,
                &train_scores,
                test_scores.as_ref(),
                train.0.nrows(),
                test.map_or(0, |t| t.0.nrows()),
            ))?
        );
    } else {
        print!(
            "{}",
            render(
                &data,
                &fit,
                &train_scores,
                test_scores.as_ref(),
                train.0.nrows(),
                test.map_or(0, |t| t.0.nrows())
            )
        );
        for warning in &fit.warnings {
            eprintln!("warning: {warning}");
        }
    }
    Ok(())
}

fn bad(message: impl Into<String>) -> anyhow::Error {
    Failure::BadInput(message.into()).into()
}

fn data_error(error: DataError) -> anyhow::Error {
    bad(error.to_string())
}

/// Bad data and options are exit 2; a solver that diverges or fails is exit 1.
fn fit_failure(error: LinregError) -> anyhow::Error {
    match error {
        LinregError::InvalidOption { option, reason } => {
            let flag = match option {
                "batch" => "--batch",
                "learning rate" => "--lr",
                "epochs" => "--epochs",
                "ridge" => "--ridge",
                other => other,
            };
            bad(format!("invalid {flag}: {reason}"))
        }
        LinregError::Iterative { .. } | LinregError::Numerical(_) => {
            Failure::Failed(error.to_string()).into()
        }
        _ => bad(error.to_string()),
    }
}

fn model(args: &Args) -> Result<LinearRegression> {
    if !(args.ridge.is_finite() && args.ridge >= 0.0) {
        return Err(bad(format!(
            "--ridge {} is invalid — give a penalty λ ≥ 0",
            args.ridge
        )));
    }
    Ok(LinearRegression {
        intercept: !args.no_intercept,
        standardize: args.standardize,
        ridge: args.ridge,
        solver: Solver::Auto,
        iterative: IterativeOptions {
            learning_rate: args.lr,
            max_epochs: args.epochs,
            batch: args.batch,
            seed: args.seed,
            ..IterativeOptions::default()
        },
    })
}

fn load(args: &Args) -> Result<Dataset> {
    match (&args.data, &args.x, &args.y) {
        (Some(_), Some(_), _) => Err(bad(
            "give either DATA with --target or --x with --y, not both",
        )),
        (None, Some(x), Some(y)) => load_arrays(x, y),
        (Some(data), None, _) => load_table(args, data),
        _ => Err(bad(
            "no data — give a CSV file (or a bundled data set: diabetes, longley, spector) and --target, or --x X.npy --y y.npy",
        )),
    }
}

fn load_arrays(x_path: &Path, y_path: &Path) -> Result<Dataset> {
    let x = load_matrix_stored(x_path, crate::input::csv_header()).map_err(data_error)?;
    let y = load_matrix(y_path).map_err(data_error)?;
    let y = match (y.nrows(), y.ncols()) {
        (_, 1) => Col::from_fn(y.nrows(), |i| y[(i, 0)]),
        (1, n) => Col::from_fn(n, |i| y[(0, i)]),
        (m, n) => {
            return Err(bad(format!(
                "{}: the target must be a vector, found a {m}×{n} matrix",
                y_path.display()
            )))
        }
    };
    if y.nrows() != x.nrows() {
        return Err(bad(format!(
            "{} has {} rows but {} has {} — give one target value per row",
            x_path.display(),
            x.nrows(),
            y_path.display(),
            y.nrows()
        )));
    }
    let features = (1..=x.ncols()).map(|j| format!("x{j}")).collect();
    Ok(Dataset {
        x,
        y,
        features,
        source: format!("{} and {}", x_path.display(), y_path.display()),
    })
}

fn load_table(args: &Args, data: &str) -> Result<Dataset> {
    let path = Path::new(data);
    let (table, default_target): (Table, Option<&str>) = if path.exists() {
        if path.extension().and_then(|e| e.to_str()) == Some("npy") {
            return Err(bad(format!(
                "{data}: a .npy file has no column names — use --x X.npy --y y.npy"
            )));
        }
        (
            load_csv_with(path, crate::input::csv_header()).map_err(data_error)?,
            None,
        )
    } else if let Some(bundled) = datasets::find(data) {
        (
            parse_csv(bundled.name, bundled.csv).map_err(data_error)?,
            Some(bundled.target),
        )
    } else {
        return Err(bad(format!(
            "{data}: no such file, and no bundled data set of that name (bundled: {})",
            datasets::names().join(", ")
        )));
    };
    let target = match (&args.target, default_target) {
        (Some(t), _) => t.as_str(),
        (None, Some(t)) => t,
        (None, None) => {
            return Err(bad(format!(
                "{data}: say which column to predict with --target (columns: {})",
                table.columns.join(", ")
            )))
        }
    };
    let target_index = table.column_index(target).map_err(data_error)?;
    let features: Vec<String> = match &args.features {
        Some(list) => list.iter().map(|f| f.trim().to_owned()).collect(),
        None => table
            .columns
            .iter()
            .filter(|c| c.as_str() != target)
            .cloned()
            .collect(),
    };
    if features.is_empty() {
        return Err(bad(format!(
            "{data}: no feature columns besides '{target}' — give --features"
        )));
    }
    if features.iter().any(|f| f == target) {
        return Err(bad(format!(
            "'{target}' is the target and cannot also be a feature"
        )));
    }
    let names: Vec<&str> = features.iter().map(String::as_str).collect();
    let x = Stored::from(table.select(&names).map_err(data_error)?);
    let y = Col::from_fn(table.nrows(), |i| table.data[(i, target_index)]);
    Ok(Dataset {
        x,
        y,
        features,
        source: format!("{} (target '{target}')", table.path),
    })
}

/// A finite number as JSON, `null` otherwise (JSON has no infinity).
fn number(value: f64) -> Value {
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

fn scores_json(scores: &Scores) -> Value {
    json!({"r2": number(scores.r2), "mse": number(scores.mse), "rmse": number(scores.rmse)})
}

fn fit_json(
    fit: &Fit,
    train: &Scores,
    test: Option<&Scores>,
    n_train: usize,
    n_test: usize,
) -> Value {
    let mut object = json!({
        "solver": fit.solver_used.name(),
        "why": fit.why,
        "intercept": number(fit.intercept),
        "coefficients": fit.coefficients.iter().map(|&b| number(b)).collect::<Vec<_>>(),
        "features": fit.features,
        "r2": number(train.r2),
        "mse": number(train.mse),
        "rmse": number(train.rmse),
        "rank": fit.rank,
        "condition_number": number(fit.condition_number),
        "iterations": fit.iterations,
        "epochs": fit.epochs,
        "seconds": number(fit.seconds),
        "warnings": fit.warnings,
        "n_train": n_train,
    });
    if let (Some(test), Value::Object(map)) = (test, &mut object) {
        map.insert("test".to_owned(), scores_json(test));
        map.insert("n_test".to_owned(), json!(n_test));
    }
    object
}

fn render(
    data: &Dataset,
    fit: &Fit,
    train: &Scores,
    test: Option<&Scores>,
    n_train: usize,
    n_test: usize,
) -> String {
    let mut out = String::new();
    let width = fit
        .features
        .iter()
        .map(|f| f.chars().count())
        .chain([9])
        .max()
        .unwrap_or(9);
    let _ = writeln!(out, "data: {}", data.source);
    let _ = writeln!(out, "solver: {} — {}", fit.solver_used, fit.why);
    let _ = writeln!(out);
    if fit.intercept != 0.0 || !fit.features.is_empty() {
        let _ = writeln!(out, "  {:<width$}  {}", "intercept", fit.intercept);
    }
    for (name, b) in fit.features.iter().zip(&fit.coefficients) {
        let _ = writeln!(out, "  {name:<width$}  {b}");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "train ({n_train} rows): R² {:.6}  MSE {:.6}  RMSE {:.6}",
        train.r2, train.mse, train.rmse
    );
    if let Some(test) = test {
        let _ = writeln!(
            out,
            "test  ({n_test} rows): R² {:.6}  MSE {:.6}  RMSE {:.6}",
            test.r2, test.mse, test.rmse
        );
    }
    let _ = writeln!(
        out,
        "rank {} of {}, condition number {:.3e}",
        fit.rank,
        fit.features.len(),
        fit.condition_number
    );
    if let (Some(iterations), Some(epochs)) = (fit.iterations, fit.epochs) {
        let _ = writeln!(out, "iterations {iterations}, epochs {epochs}");
    }
    let _ = writeln!(out, "time {:.4} s", fit.seconds);
    out
}

/// One line of the `--solver all` table.
struct Row {
    solver: Solver,
    outcome: Result<RowScores, String>,
}

struct RowScores {
    fit: Fit,
    distance: f64,
    train: Scores,
    test: Option<Scores>,
}

fn compare(
    args: &Args,
    data: &Dataset,
    model: &LinearRegression,
    train: (MatRef<'_, f64>, ColRef<'_, f64>),
    test: Option<(MatRef<'_, f64>, ColRef<'_, f64>)>,
) -> Result<()> {
    let fit_with = |solver: Solver| {
        LinearRegression {
            solver,
            ..model.clone()
        }
        .fit(train.0, train.1, &data.features)
    };
    let reference = fit_with(Solver::Auto).map_err(fit_failure)?;
    let reference_norm = norm(&reference.coefficients);
    let rows: Vec<Row> = Solver::ALL
        .iter()
        .map(|&solver| Row {
            solver,
            outcome: fit_with(solver)
                .map(|fit| {
                    let difference: Vec<f64> = fit
                        .coefficients
                        .iter()
                        .zip(&reference.coefficients)
                        .map(|(a, b)| a - b)
                        .collect();
                    // Relative to the reference, or absolute when its coefficients
                    // are all zero (a constant target).
                    let scale = if reference_norm > 0.0 {
                        reference_norm
                    } else {
                        1.0
                    };
                    let distance = norm(&difference) / scale;
                    RowScores {
                        train: fit.score(train.0, train.1),
                        test: test.map(|(x, y)| fit.score(x, y)),
                        distance,
                        fit,
                    }
                })
                .map_err(|e| e.to_string()),
        })
        .collect();
    if args.json {
        let results: Vec<Value> = rows
            .iter()
            .map(|row| match &row.outcome {
                Ok(s) => json!({
                    "solver": row.solver.name(),
                    "distance": number(s.distance),
                    "train_mse": number(s.train.mse),
                    "test_mse": s.test.as_ref().map(|t| number(t.mse)),
                    "r2": number(s.train.r2),
                    "iterations": s.fit.iterations,
                    "epochs": s.fit.epochs,
                    "seconds": number(s.fit.seconds),
                    "warnings": s.fit.warnings,
                }),
                Err(message) => json!({"solver": row.solver.name(), "error": message}),
            })
            .collect();
        let object = json!({
            "reference": reference.solver_used.name(),
            "features": data.features,
            "results": results,
        });
        println!("{}", serde_json::to_string_pretty(&object)?);
    } else {
        print!("{}", render_table(data, &reference, &rows, test.is_some()));
    }
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| r.outcome.is_err())
        .map(|r| r.solver.name())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Failed(format!("{} failed — see the table", failed.join(", "))).into())
    }
}

fn norm(values: &[f64]) -> f64 {
    values.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn render_table(data: &Dataset, reference: &Fit, rows: &[Row], has_test: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "data: {}", data.source);
    let _ = writeln!(
        out,
        "distance: ‖b − b*‖/‖b*‖ to the closed form b* (auto → {}, cond ≈ {:.2e})",
        reference.solver_used, reference.condition_number
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<10} {:>10} {:>14} {:>14} {:>10} {:>16} {:>10}",
        "solver", "distance", "train MSE", "test MSE", "R²", "iter / epochs", "time (s)"
    );
    for row in rows {
        match &row.outcome {
            Ok(s) => {
                let test = match (&s.test, has_test) {
                    (Some(t), _) => format!("{:.6}", t.mse),
                    (None, _) => "-".to_owned(),
                };
                let steps = match (s.fit.iterations, s.fit.epochs) {
                    (Some(i), Some(e)) => format!("{i} / {e}"),
                    _ => "-".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "{:<10} {:>10.2e} {:>14.6} {:>14} {:>10.6} {:>16} {:>10.4}",
                    row.solver.name(),
                    s.distance,
                    s.train.mse,
                    test,
                    s.train.r2,
                    steps,
                    s.fit.seconds
                );
            }
            Err(message) => {
                let _ = writeln!(out, "{:<10} failed: {message}", row.solver.name());
            }
        }
    }
    for row in rows {
        if let Ok(s) = &row.outcome {
            for warning in &s.fit.warnings {
                let _ = writeln!(out, "note ({}): {warning}", row.solver.name());
            }
        }
    }
    out
}
