//! `matdiff predict`: a model saved by `linreg --save` or `minimize --save`, applied
//! to new rows.
//!
//! Output: CSV on stdout (or `--out FILE`), one line per row: `prediction` for a
//! linear model (`X*w + b`), `probability,prediction` for a logistic one
//! (`sigmoid(X*w + b)` and the class), and for a minimised expression the value of
//! `--expr` (a column per entry of a row). With `--json`, one object:
//! `{"kind", "predictions", "probabilities"?}`.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use faer::Mat;
use matdiff::model::{Kind, Model};
use serde_json::json;

use crate::report::Failure;

/// Arguments of `matdiff predict`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
New rows: a CSV file with a header row gives the model's features by name, in any order,
among other columns (which are ignored); a CSV without one (--no-header) or a .npy matrix
must have exactly the model's columns, in order. Missing columns or a wrong width: exit 2.

A linear model predicts X*w + b; a logistic one (linreg --model logistic) the probability
sigmoid(X*w + b) of the class 1 and the class; a minimised expression the value of --expr,
an expression of its fitted variable and of X, the new rows: --expr \"sigmoid(X*w)\".")]
pub struct Args {
    /// The model, a JSON file written by `linreg --save` or `minimize --save`.
    pub model: PathBuf,
    /// The new rows: CSV or .npy.
    #[arg(long, value_name = "FILE.csv|npy")]
    pub x: PathBuf,
    /// For a minimised expression: what to evaluate at the fitted variable, e.g. X*w.
    #[arg(long, value_name = "EXPR", allow_hyphen_values = true)]
    pub expr: Option<String>,
    /// Write the predictions as CSV to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE.csv")]
    pub out: Option<PathBuf>,
    /// Print one JSON object instead of CSV.
    #[arg(long)]
    pub json: bool,
}

/// Runs `matdiff predict`.
pub fn run(args: Args) -> Result<()> {
    let model = Model::load(&args.model).map_err(failure)?;
    // Whether --expr fits the model is decided before any rows are read.
    match (model.kind, &args.expr) {
        (Kind::Minimized, None) => {
            let variable = model.variable.as_deref().unwrap_or("w");
            return Err(Failure::BadInput(format!(
                "{}: a minimised expression predicts through an expression of `{variable}` — give one with --expr, e.g. --expr \"X*{variable}\" (the loss was {})",
                args.model.display(),
                model.loss.expression
            ))
            .into());
        }
        (Kind::Linear | Kind::Logistic, Some(_)) => {
            return Err(Failure::BadInput(format!(
                "{}: --expr applies to a minimised expression's model; this {} model predicts X*w + b itself",
                args.model.display(),
                if model.kind == Kind::Logistic { "logistic" } else { "linear" }
            ))
            .into());
        }
        _ => {}
    }
    let header = crate::input::csv_header() == matdiff::data::CsvHeader::FirstRow;
    let x = model.read_rows(&args.x, header).map_err(rows_failure)?;
    let (names, columns) = match (model.kind, &args.expr) {
        (Kind::Minimized, Some(expr)) => {
            let input = model.input().map_err(rows_failure)?.name.clone();
            let value = model
                .evaluate(expr, &[(input.as_str(), x.as_ref())])
                .map_err(rows_failure)?;
            let names = (1..=value.ncols())
                .map(|j| match value.ncols() {
                    1 => "prediction".to_owned(),
                    _ => format!("prediction{j}"),
                })
                .collect();
            (names, columns_of(&value))
        }
        (Kind::Logistic, _) => (
            vec!["probability".to_owned(), "prediction".to_owned()],
            vec![
                model.predict_proba(x.as_ref()).map_err(rows_failure)?,
                model.predict(x.as_ref()).map_err(rows_failure)?,
            ],
        ),
        _ => (
            vec!["prediction".to_owned()],
            vec![model.predict(x.as_ref()).map_err(rows_failure)?],
        ),
    };
    write(&args, &model, names, columns)
}

/// The columns of a value, each as a list.
fn columns_of(value: &Mat<f64>) -> Vec<Vec<f64>> {
    (0..value.ncols())
        .map(|j| value.col(j).iter().copied().collect())
        .collect()
}

/// Prints (or writes to `--out`) the predictions, as CSV or JSON.
fn write(args: &Args, model: &Model, names: Vec<String>, columns: Vec<Vec<f64>>) -> Result<()> {
    let text = if args.json {
        let kind = serde_json::to_value(model.kind)?;
        let mut object = json!({ "kind": kind });
        for (name, values) in names.iter().zip(&columns) {
            let key = match name.as_str() {
                "probability" => "probabilities".to_owned(),
                "prediction" => "predictions".to_owned(),
                other => other.to_owned(),
            };
            object[key] = json!(values);
        }
        format!("{}\n", serde_json::to_string_pretty(&object)?)
    } else {
        let mut text = names.join(",");
        text.push('\n');
        let rows = columns.first().map_or(0, Vec::len);
        for i in 0..rows {
            let cells: Vec<String> = columns.iter().map(|c| c[i].to_string()).collect();
            let _ = writeln!(text, "{}", cells.join(","));
        }
        text
    };
    match &args.out {
        Some(path) => std::fs::write(path, text).map_err(|e| {
            Failure::BadInput(format!("cannot write `{}`: {e}", path.display())).into()
        }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// An error while applying a model: nothing is being fitted, so rows outside the
/// model's domain (`log` of a negative entry) are bad input, exit 2, as a point
/// outside the domain is for `eval`.
fn rows_failure(error: matdiff::Error) -> anyhow::Error {
    match error {
        matdiff::Error::Domain(message) => Failure::BadInput(message).into(),
        other => failure(other),
    }
}

/// A library error as the command line reports it: a fit that failed is exit 1, a
/// located error is printed with its carets, anything else is bad input (exit 2).
pub(crate) fn failure(error: matdiff::Error) -> anyhow::Error {
    match error {
        matdiff::Error::Divergence(message) | matdiff::Error::Domain(message) => {
            Failure::Failed(message).into()
        }
        error @ (matdiff::Error::Syntax(_) | matdiff::Error::Shape(_)) => {
            error.eprint();
            Failure::Reported(2).into()
        }
        other => Failure::BadInput(other.to_string()).into(),
    }
}
