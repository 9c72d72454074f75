//! `matdiff linreg`: linear regression on a CSV file, `.npy` arrays or a bundled data
//! set, with any solver or all of them side by side.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use faer::{Col, ColRef, MatRef};
use matdiff::data::{
    load_csv_columns, load_csv_with, load_matrix_stored, parse_csv, parse_csv_columns, CsvHeader,
    DataError, Stored, Table,
};
use matdiff::datasets;
use matdiff::linreg::{
    select_entries, select_rows, train_test_split, Fit, IterativeOptions, LinearRegression,
    LinregError, Scores, Solver,
};
use serde_json::{json, Value};

use crate::input::load_matrix;
use crate::report::{number, Failure};

mod distributed;

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
    /// The model: least squares, or logistic regression of labels 0 and 1 (Newton's
    /// method on the derived gradient and Hessian of minus the log-likelihood).
    #[arg(long, value_enum, default_value_t = ModelArg::Linear)]
    pub model: ModelArg,
    /// Write the fitted model as JSON, for `matdiff predict`.
    #[arg(long, value_name = "FILE.json")]
    pub save: Option<PathBuf>,
    /// Fit across the MPI ranks of `mpirun -n K matdiff linreg --x X.npy --y y.npy
    /// --distributed`: each rank maps only its rows (or reads `X.{rank}.npy`), and
    /// the closed form is combined in rank order (docs/distributed.md). Needs a build
    /// with `--features mpi`.
    #[arg(long)]
    pub distributed: bool,
}

/// The models `linreg` fits.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ModelArg {
    /// Least squares: y ≈ b + X*w.
    #[default]
    Linear,
    /// Logistic regression: P(y = 1) = sigmoid(b + X*w), labels 0 and 1.
    Logistic,
}

/// Features, target and where they came from.
struct Dataset {
    /// As stored: a C-order `.npy` file is read in place.
    x: Stored,
    y: Col<f64>,
    features: Vec<String>,
    source: String,
    /// The target column's name, when the data came from a table.
    target: Option<String>,
}

/// Runs `matdiff linreg`.
pub fn run(args: Args) -> Result<()> {
    if args.distributed {
        return distributed::run(&args, model(&args)?);
    }
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
    if args.model == ModelArg::Logistic {
        return logistic(&args, &data, train, test);
    }
    if args.solver == "all" {
        if args.save.is_some() {
            return Err(bad("--save writes one fit — give one --solver, not all"));
        }
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
    if let Some(path) = &args.save {
        let loss = if args.ridge > 0.0 {
            matdiff::model::RIDGE_LOSS
        } else {
            matdiff::model::LINEAR_LOSS
        };
        let mut saved = matdiff::model::Model::linear_parts(
            matdiff::model::Kind::Linear,
            &fit.features,
            fit.intercept,
            &fit.coefficients,
            train.0,
            args.standardize,
            loss,
        );
        saved.target = data.target.clone();
        saved
            .save(path)
            .map_err(crate::commands::predict::failure)?;
    }
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
                &data.source,
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
            bad(format!("invalid {}: {reason}", crate::report::flag(option)))
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
        target: None,
    })
}

fn load_table(args: &Args, data: &str) -> Result<Dataset> {
    let path = Path::new(data);
    // With --features only the features and the target are read: other columns may
    // hold text (an identifier, a label).
    let bundled = (!path.exists()).then(|| datasets::find(data)).flatten();
    let selected: Option<Vec<&str>> = match (
        &args.features,
        args.target.as_deref().or(bundled.map(|b| b.target)),
    ) {
        (Some(features), Some(target)) => {
            Some(features.iter().map(|f| f.trim()).chain([target]).collect())
        }
        _ => None,
    };
    let (table, default_target): (Table, Option<&str>) = if path.exists() {
        if path.extension().and_then(|e| e.to_str()) == Some("npy") {
            return Err(bad(format!(
                "{data}: a .npy file has no column names — use --x X.npy --y y.npy"
            )));
        }
        let header = crate::input::csv_header();
        let table = match &selected {
            Some(names) => load_csv_columns(path, header, names),
            None => load_csv_with(path, header),
        };
        (table.map_err(data_error)?, None)
    } else if let Some(bundled) = bundled {
        let table = match &selected {
            Some(names) => parse_csv_columns(bundled.name, bundled.csv, CsvHeader::FirstRow, names),
            None => parse_csv(bundled.name, bundled.csv),
        };
        (table.map_err(data_error)?, Some(bundled.target))
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
        target: Some(target.to_owned()),
    })
}

/// `linreg --model logistic`: logistic regression by Newton's method through the
/// library, its coefficients, log-likelihood and accuracy, and the saved model.
fn logistic(
    args: &Args,
    data: &Dataset,
    train: (MatRef<'_, f64>, ColRef<'_, f64>),
    test: Option<(MatRef<'_, f64>, ColRef<'_, f64>)>,
) -> Result<()> {
    let linear_only = [
        (args.solver != "auto", "--solver"),
        (args.ridge != 0.0, "--ridge"),
        (args.standardize, "--standardize"),
        (args.epochs.is_some(), "--epochs"),
        (args.lr.is_some(), "--lr"),
    ];
    if let Some((_, flag)) = linear_only.iter().find(|(given, _)| *given) {
        return Err(bad(format!(
            "{flag} applies to --model linear; logistic regression is fitted by Newton's method"
        )));
    }
    let labels = |y: ColRef<'_, f64>| y.iter().copied().collect::<Vec<f64>>();
    let fit = matdiff::logistic::fit(train.0, &labels(train.1), !args.no_intercept)
        .map_err(crate::commands::predict::failure)?;
    let mut model = matdiff::model::Model::linear_parts(
        matdiff::model::Kind::Logistic,
        &data.features,
        fit.intercept,
        &fit.coefficients,
        train.0,
        false,
        matdiff::model::LOGISTIC_LOSS,
    );
    model.target = data.target.clone();
    let test_accuracy = match test {
        Some((x, y)) => {
            let predicted = model
                .predict(x)
                .map_err(crate::commands::predict::failure)?;
            let correct = predicted
                .iter()
                .zip(y.iter())
                .filter(|(p, y)| p == y)
                .count();
            Some(correct as f64 / x.nrows().max(1) as f64)
        }
        None => None,
    };
    if let Some(path) = &args.save {
        model
            .save(path)
            .map_err(crate::commands::predict::failure)?;
    }
    if args.json {
        let mut object = json!({
            "model": "logistic",
            "method": "newton",
            "intercept": number(fit.intercept),
            "coefficients": fit.coefficients.iter().map(|&b| number(b)).collect::<Vec<_>>(),
            "features": data.features,
            "log_likelihood": number(fit.log_likelihood),
            "accuracy": number(fit.accuracy),
            "iterations": fit.iterations,
            "grad_norm": number(fit.grad_norm),
            "gradient": fit.gradient,
            "hessian": fit.hessian,
            "n_train": train.0.nrows(),
        });
        if let (Some(accuracy), Value::Object(map)) = (test_accuracy, &mut object) {
            map.insert("test".to_owned(), json!({ "accuracy": number(accuracy) }));
            map.insert("n_test".to_owned(), json!(test.map_or(0, |t| t.0.nrows())));
        }
        println!("{}", serde_json::to_string_pretty(&object)?);
        return Ok(());
    }
    let mut out = String::new();
    let width = name_width(&data.features);
    let _ = writeln!(out, "data: {}", data.source);
    let _ = writeln!(
        out,
        "model: logistic regression, P(y = 1) = sigmoid(b + X·w), by Newton's method in {} steps",
        fit.iterations
    );
    let _ = writeln!(out, "  gradient {}", fit.gradient);
    let _ = writeln!(out, "  Hessian  {}", fit.hessian);
    let _ = writeln!(out);
    if !args.no_intercept {
        let _ = writeln!(out, "  {:<width$}  {}", "intercept", fit.intercept);
    }
    for (name, b) in data.features.iter().zip(&fit.coefficients) {
        let _ = writeln!(out, "  {name:<width$}  {b}");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "train ({} rows): log-likelihood {:.6}  accuracy {:.4}",
        train.0.nrows(),
        fit.log_likelihood,
        fit.accuracy
    );
    if let (Some(accuracy), Some((x, _))) = (test_accuracy, test) {
        let _ = writeln!(out, "test  ({} rows): accuracy {accuracy:.4}", x.nrows());
    }
    let _ = writeln!(out, "gradient norm at the fit {:.2e}", fit.grad_norm);
    print!("{out}");
    Ok(())
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
    source: &str,
    fit: &Fit,
    train: &Scores,
    test: Option<&Scores>,
    n_train: usize,
    n_test: usize,
) -> String {
    let mut out = String::new();
    let width = name_width(&fit.features);
    let _ = writeln!(out, "data: {source}");
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
        "rank {} of {}, condition number {:.3e} (after centring and column scaling)",
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
        "distance: ‖b − b*‖/‖b*‖ to the closed form b* (auto → {}, cond ≈ {:.2e} after centring and column scaling)",
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

/// The width of the column of names in a table of coefficients: the longest feature
/// name, and at least `intercept`'s.
fn name_width(features: &[String]) -> usize {
    features
        .iter()
        .map(|f| f.chars().count())
        .chain(["intercept".len()])
        .max()
        .unwrap_or(0)
}
