//! Fitted models as data: what `matdiff linreg --save` and `matdiff minimize --save`
//! write, and what `matdiff predict` reads back and applies to new rows.
//!
//! A [`Model`] is one JSON object: the kind of model, the coefficients (or the
//! minimised variable's value), the intercept, the feature names, the
//! standardisation the fit used, the loss as an expression with its declarations,
//! the shape of the data it was fitted on, and the version of matdiff that wrote it.
//!
//! ```
//! use matdiff::model::Model;
//!
//! let (x, y) = matdiff::datasets::diabetes();
//! let ols = matdiff::linreg::fit(x.as_ref(), &y, matdiff::Solver::Auto)?;
//! let model = Model::linear(&ols, x.as_ref(), false);
//! let text = model.to_json();
//! let back = Model::from_json(&text)?;
//! assert_eq!(back, model);
//! let predicted = back.predict(x.as_ref())?;
//! assert!((predicted[0] - (ols.intercept + (0..10).map(|j| x[(0, j)] * ols.coefficients[j]).sum::<f64>())).abs() < 1e-9);
//! # Ok::<(), matdiff::Error>(())
//! ```

use std::path::Path;

use faer::{Mat, MatRef};
use serde::{Deserialize, Serialize};

use crate::{Error, Function, Inputs, Source};

/// The version of matdiff, as models record it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The loss of a linear regression as [`Model`]s record it: the mean squared error
/// of `X*w + b` (plus `lambda*norm2(w)^2` with a ridge penalty).
pub const LINEAR_LOSS: &str = "1/N*norm2(X*w + b - y)^2";
/// The loss of a ridge regression as [`Model`]s record it.
pub const RIDGE_LOSS: &str = "1/N*norm2(X*w + b - y)^2 + lambda*norm2(w)^2";
/// The loss of logistic regression (labels 0 and 1) as [`Model`]s record it: minus
/// the log-likelihood, `Σ softplus(xᵢᵀw + b) − yᵢ(xᵢᵀw + b)`.
pub const LOGISTIC_LOSS: &str = "sum(softplus(X*w + b)) - y'*(X*w + b)";
/// The declarations of [`LINEAR_LOSS`], [`RIDGE_LOSS`] and [`LOGISTIC_LOSS`].
pub const LINEAR_DECLARATIONS: [&str; 5] = [
    "X: matrix(N, d)",
    "w: vector(d)",
    "b: scalar",
    "y: vector(N)",
    "lambda: scalar",
];

/// What a model predicts, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Linear regression: `X*w + b`.
    Linear,
    /// Logistic regression: the probability `sigmoid(X*w + b)` of the class 1, and
    /// the class (1 where that probability is at least 1/2).
    Logistic,
    /// A minimised expression: its fitted variable, applied through an expression of
    /// it ([`Model::evaluate`]).
    Minimized,
}

/// How the features were standardised for the fit. The coefficients of a linear or
/// logistic model are always in the features' original units; this records what
/// the fit itself ran on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardization {
    /// Whether the fit ran on standardised features.
    pub applied: bool,
    /// The mean of every feature column on the data fitted.
    pub mean: Vec<f64>,
    /// The standard deviation (over N) of every feature column there.
    pub scale: Vec<f64>,
}

/// The loss a model minimised, as an expression and its declarations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Loss {
    /// The expression, as text that parses back.
    pub expression: String,
    /// One declaration per variable (`X: matrix(N, d)`), enough to parse the
    /// expression and expressions of the fitted variable ([`Model::evaluate`]).
    pub declarations: Vec<String>,
}

/// The shape of one data variable the model was fitted on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataShape {
    /// The variable (`X`, `y`).
    pub name: String,
    /// Its rows.
    pub rows: usize,
    /// Its columns.
    pub cols: usize,
}

/// A fitted model: see the [module](self) documentation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The version of matdiff that wrote the model.
    pub matdiff_version: String,
    /// What the model predicts.
    pub kind: Kind,
    /// The column predicted (linear and logistic models fitted on a table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The feature names, one per coefficient (or per column of the minimised
    /// expression's data matrix, when it came from a table).
    #[serde(default)]
    pub features: Vec<String>,
    /// `b`.
    #[serde(default)]
    pub intercept: f64,
    /// `w`, one per feature, in the features' original units.
    #[serde(default)]
    pub coefficients: Vec<f64>,
    /// The standardisation of the fit (linear and logistic models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standardization: Option<Standardization>,
    /// The loss minimised.
    pub loss: Loss,
    /// The fitted variable of a minimised expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// Its value, a list of rows (a vector is one column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution: Option<Vec<Vec<f64>>>,
    /// The data the model was fitted on, by variable.
    pub data: Vec<DataShape>,
}

impl Model {
    /// The model of a linear regression fitted on `x` (for its shape and its
    /// standardisation); `standardized` says whether the fit ran on standardised
    /// features.
    ///
    /// ```
    /// let x = matdiff::faer::mat![[1.0], [2.0], [3.0]];
    /// let fit = matdiff::linreg::fit(x.as_ref(), &[3.0, 5.0, 7.0], matdiff::Solver::Qr)?;
    /// let model = matdiff::model::Model::linear(&fit, x.as_ref(), false);
    /// assert_eq!(model.data[0].cols, 1);
    /// assert!((model.predict(x.as_ref())?[2] - 7.0).abs() < 1e-12);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn linear(
        fit: &crate::linreg::Regression,
        x: MatRef<'_, f64>,
        standardized: bool,
    ) -> Model {
        Model::linear_parts(
            Kind::Linear,
            &fit.features,
            fit.intercept,
            &fit.coefficients,
            x,
            standardized,
            LINEAR_LOSS,
        )
    }

    /// The model of a linear or logistic fit from its parts: the coefficients in
    /// original units, the data matrix `x` it was fitted on (for the shape and the
    /// column statistics), whether the fit ran on standardised features, and the loss.
    ///
    /// ```
    /// use matdiff::model::{Kind, Model, LINEAR_LOSS};
    ///
    /// let x = matdiff::faer::mat![[1.0, 0.0], [0.0, 1.0]];
    /// let names = ["a".to_string(), "b".to_string()];
    /// let model = Model::linear_parts(Kind::Linear, &names, 1.0, &[2.0, 3.0], x.as_ref(), false, LINEAR_LOSS);
    /// assert_eq!(model.predict(x.as_ref())?, [3.0, 4.0]);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn linear_parts(
        kind: Kind,
        features: &[String],
        intercept: f64,
        coefficients: &[f64],
        x: MatRef<'_, f64>,
        standardized: bool,
        loss: &str,
    ) -> Model {
        let n = x.nrows().max(1) as f64;
        let mean: Vec<f64> = (0..x.ncols())
            .map(|j| x.col(j).iter().sum::<f64>() / n)
            .collect();
        let scale = (0..x.ncols())
            .map(|j| (x.col(j).iter().map(|v| (v - mean[j]).powi(2)).sum::<f64>() / n).sqrt())
            .collect();
        let features = if features.len() == coefficients.len() {
            features.to_vec()
        } else {
            (1..=coefficients.len()).map(|j| format!("x{j}")).collect()
        };
        Model {
            matdiff_version: VERSION.to_owned(),
            kind,
            target: None,
            features,
            intercept,
            coefficients: coefficients.to_vec(),
            standardization: Some(Standardization {
                applied: standardized,
                mean,
                scale,
            }),
            loss: Loss {
                expression: loss.to_owned(),
                declarations: LINEAR_DECLARATIONS.iter().map(|d| d.to_string()).collect(),
            },
            variable: None,
            solution: None,
            data: vec![
                DataShape {
                    name: "X".to_owned(),
                    rows: x.nrows(),
                    cols: x.ncols(),
                },
                DataShape {
                    name: "y".to_owned(),
                    rows: x.nrows(),
                    cols: 1,
                },
            ],
        }
    }

    /// The model of a minimised expression: the loss, its fitted variable and value,
    /// and the shapes of the data it was fitted on.
    ///
    /// ```
    /// let loss = matdiff::Function::parse("1/N*norm2(X*w - y)^2", "X: matrix(N,d)")?;
    /// let x = matdiff::faer::mat![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
    /// let fit = matdiff::Minimize::new(&loss, "w").data("X", x.as_ref()).data("y", &[1.0, 2.0, 3.0])
    ///     .lr(0.5).tol_grad(1e-10).run()?;
    /// let model = matdiff::model::Model::minimized(&loss, "w", fit.solution.as_ref(), &[("X", 3, 2), ("y", 3, 1)]);
    /// let predicted = model.evaluate("X*w", &[("X", x.as_ref())])?;
    /// assert!((predicted[(2, 0)] - 3.0).abs() < 1e-8);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn minimized(
        loss: &Function,
        variable: &str,
        solution: MatRef<'_, f64>,
        data: &[(&str, usize, usize)],
    ) -> Model {
        Model {
            matdiff_version: VERSION.to_owned(),
            kind: Kind::Minimized,
            target: None,
            features: Vec::new(),
            intercept: 0.0,
            coefficients: Vec::new(),
            standardization: None,
            loss: Loss {
                expression: loss.to_string(),
                declarations: loss
                    .variables()
                    .into_iter()
                    .map(|v| v.declaration)
                    .collect(),
            },
            variable: Some(variable.to_owned()),
            solution: Some(
                (0..solution.nrows())
                    .map(|i| (0..solution.ncols()).map(|j| solution[(i, j)]).collect())
                    .collect(),
            ),
            data: data
                .iter()
                .map(|&(name, rows, cols)| DataShape {
                    name: name.to_owned(),
                    rows,
                    cols,
                })
                .collect(),
        }
    }

    /// The model as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // A model holds only strings, numbers and lists: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// A model from its JSON text, as [`Model::to_json`] writes it.
    ///
    /// ```
    /// let error = matdiff::model::Model::from_json("{\"kind\": \"linear\"}").unwrap_err();
    /// assert!(error.to_string().starts_with("not a matdiff model: missing field"));
    /// ```
    pub fn from_json(text: &str) -> Result<Model, Error> {
        let model: Model = serde_json::from_str(text)
            .map_err(|e| Error::Invalid(format!("not a matdiff model: {e}")))?;
        model.validate()?;
        Ok(model)
    }

    /// Reads a model from a JSON file.
    pub fn load(path: &Path) -> Result<Model, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Io(format!("{}: cannot read the model: {e}", path.display())))?;
        Model::from_json(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    }

    /// Writes the model as JSON to a file.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        std::fs::write(path, self.to_json())
            .map_err(|e| Error::Io(format!("{}: cannot write the model: {e}", path.display())))
    }

    /// A model read from a file must agree with itself: as many coefficients as
    /// features, a value for a minimised variable.
    fn validate(&self) -> Result<(), Error> {
        match self.kind {
            Kind::Linear | Kind::Logistic if self.features.len() != self.coefficients.len() => {
                Err(Error::Invalid(format!(
                    "not a matdiff model: {} features but {} coefficients",
                    self.features.len(),
                    self.coefficients.len()
                )))
            }
            Kind::Minimized if self.variable.is_none() || self.solution.is_none() => {
                Err(Error::Invalid(
                    "not a matdiff model: a minimised model needs `variable` and `solution`".into(),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The data variable that new rows are for: `X` for a linear or logistic model;
    /// for a minimised expression, its data variable `X`, else its one data matrix
    /// with more than one column.
    ///
    /// ```
    /// let x = matdiff::faer::mat![[1.0], [2.0]];
    /// let fit = matdiff::linreg::fit(x.as_ref(), &[1.0, 2.0], matdiff::Solver::Qr)?;
    /// assert_eq!(matdiff::model::Model::linear(&fit, x.as_ref(), false).input()?.name, "X");
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn input(&self) -> Result<&DataShape, Error> {
        if let Some(x) = self.data.iter().find(|d| d.name == "X") {
            return Ok(x);
        }
        let matrices: Vec<&DataShape> = self.data.iter().filter(|d| d.cols > 1).collect();
        match matrices[..] {
            [one] => Ok(one),
            _ => Err(Error::Invalid(format!(
                "the model's data are {} — none is called X, so it is not clear which new rows are for",
                self.data
                    .iter()
                    .map(|d| format!("{} ({}×{})", d.name, d.rows, d.cols))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The number of columns new rows must have.
    fn width(&self) -> Result<usize, Error> {
        match self.kind {
            Kind::Linear | Kind::Logistic => Ok(self.coefficients.len()),
            Kind::Minimized => Ok(self.input()?.cols),
        }
    }

    /// Reads new rows for the model from a CSV or `.npy` file. A CSV with a header
    /// row gives the model's features by name (other columns are ignored and need
    /// not be numeric; missing ones are named in the error); a CSV without one, or a
    /// `.npy` file, must have exactly as many columns as the model has features.
    pub fn read_rows(&self, path: &Path, csv_header: bool) -> Result<Mat<f64>, Error> {
        use matdiff_num::data::{self, CsvHeader, DataError};
        let is_csv = !path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
        if is_csv && csv_header && !self.features.is_empty() {
            let names: Vec<&str> = self.features.iter().map(String::as_str).collect();
            return match data::load_csv_columns(path, CsvHeader::FirstRow, &names) {
                Ok(table) => Ok(table.data),
                Err(DataError::MissingColumn {
                    file, available, ..
                }) => {
                    let missing: Vec<String> = self
                        .features
                        .iter()
                        .filter(|f| !available.contains(f))
                        .map(|f| format!("'{f}'"))
                        .collect();
                    Err(Error::shape(format!(
                        "{file}: no column {} — the model was fitted on {} (the file has {})",
                        missing.join(", "),
                        self.features.join(", "),
                        available.join(", ")
                    )))
                }
                Err(other) => Err(other.into()),
            };
        }
        let header = if csv_header {
            CsvHeader::FirstRow
        } else {
            CsvHeader::Absent
        };
        let x = data::load_matrix_with(path, header)?;
        self.check_width(&path.display().to_string(), x.ncols())?;
        Ok(x)
    }

    /// New rows of the wrong width are an error naming both widths.
    fn check_width(&self, source: &str, cols: usize) -> Result<(), Error> {
        let width = self.width()?;
        if cols == width {
            return Ok(());
        }
        let names = if self.features.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.features.join(", "))
        };
        Err(Error::shape(format!(
            "{source} has {cols} column{}, but the model was fitted on {width}{names}",
            if cols == 1 { "" } else { "s" }
        )))
    }

    /// `X*w + b` on the rows of `x`.
    fn scores(&self, x: MatRef<'_, f64>) -> Result<Vec<f64>, Error> {
        if !matches!(self.kind, Kind::Linear | Kind::Logistic) {
            return Err(Error::Invalid(
                "a minimised expression predicts through an expression of its variable — use Model::evaluate (matdiff predict --expr)".into(),
            ));
        }
        self.check_width("the new rows", x.ncols())?;
        Ok((0..x.nrows())
            .map(|i| {
                self.intercept
                    + (0..x.ncols())
                        .map(|j| x[(i, j)] * self.coefficients[j])
                        .sum::<f64>()
            })
            .collect())
    }

    /// The prediction for each row of `x`: `X*w + b` for a linear model, the class
    /// (0 or 1) for a logistic one.
    pub fn predict(&self, x: MatRef<'_, f64>) -> Result<Vec<f64>, Error> {
        let scores = self.scores(x)?;
        Ok(match self.kind {
            Kind::Logistic => scores
                .into_iter()
                .map(|s| if s >= 0.0 { 1.0 } else { 0.0 })
                .collect(),
            _ => scores,
        })
    }

    /// The probability of the class 1 for each row of `x`, `sigmoid(X*w + b)`
    /// (logistic models).
    ///
    /// ```
    /// use matdiff::model::{Kind, Model, LOGISTIC_LOSS};
    ///
    /// let x = matdiff::faer::mat![[0.0], [1.0]];
    /// let model = Model::linear_parts(Kind::Logistic, &["a".into()], 0.0, &[2.0], x.as_ref(), false, LOGISTIC_LOSS);
    /// let p = model.predict_proba(x.as_ref())?;
    /// assert_eq!(p[0], 0.5);
    /// assert!((p[1] - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-15);
    /// assert_eq!(model.predict(x.as_ref())?, [1.0, 1.0]);
    /// # Ok::<(), matdiff::Error>(())
    /// ```
    pub fn predict_proba(&self, x: MatRef<'_, f64>) -> Result<Vec<f64>, Error> {
        if self.kind != Kind::Logistic {
            return Err(Error::Invalid(
                "probabilities come from a logistic model (matdiff linreg --model logistic)".into(),
            ));
        }
        Ok(self.scores(x)?.into_iter().map(sigmoid).collect())
    }

    /// The value of `expr`, an expression of the fitted variable of a minimised
    /// model, with the model's declarations, its variable at the fitted value and the
    /// `data` given by name (`sigmoid(X*w)` with `X` the new rows).
    pub fn evaluate(
        &self,
        expr: &str,
        data: &[(&str, MatRef<'_, f64>)],
    ) -> Result<Mat<f64>, Error> {
        let (Some(variable), Some(solution)) = (&self.variable, &self.solution) else {
            return Err(Error::Invalid(
                "an expression is evaluated at a minimised model's variable — this model predicts X*w + b itself".into(),
            ));
        };
        for (name, value) in data {
            if let Some(shape) = self.data.iter().find(|d| d.name == *name) {
                self.check_width_of(shape, value.ncols())?;
            }
        }
        let declarations = self.loss.declarations.join("; ");
        let function = Function::parse_sources(&[
            Source::expression("<expr>", expr),
            Source::declarations("<model>", &declarations),
        ])?;
        let rows = solution.len();
        let cols = solution.first().map_or(0, Vec::len);
        let value = Mat::from_fn(rows, cols, |i, j| solution[i][j]);
        let mut inputs = Inputs::new().matrix(variable, value.as_ref());
        for (name, x) in data {
            inputs = inputs.matrix(name, *x);
        }
        function.value(&inputs)
    }

    fn check_width_of(&self, shape: &DataShape, cols: usize) -> Result<(), Error> {
        if shape.cols == cols {
            return Ok(());
        }
        Err(Error::shape(format!(
            "`{}` has {cols} column{}, but the model was fitted on {} (its data were {}×{})",
            shape.name,
            if cols == 1 { "" } else { "s" },
            shape.cols,
            shape.rows,
            shape.cols
        )))
    }
}

/// `1/(1 + e^(−s))`, without overflow for large `|s|`.
fn sigmoid(s: f64) -> f64 {
    if s >= 0.0 {
        1.0 / (1.0 + (-s).exp())
    } else {
        let e = s.exp();
        e / (1.0 + e)
    }
}
