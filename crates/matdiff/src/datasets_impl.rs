//! Data sets bundled with the library, so examples need no files.

use faer::Mat;

/// The diabetes data of Efron, Hastie, Johnstone and Tibshirani (2004), as
/// scikit-learn's `load_diabetes()` returns it: the ten features of 442 patients
/// (age, sex, bmi, bp, s1–s6), each column centred and scaled to unit Euclidean norm,
/// and the disease progression after one year, unscaled.
///
/// ```
/// let (x, y) = matdiff::datasets::diabetes();
/// assert_eq!((x.nrows(), x.ncols(), y.len()), (442, 10, 442));
/// let norm: f64 = x.col(2).iter().map(|v| v * v).sum();
/// assert!((norm - 1.0).abs() < 1e-12);
/// ```
pub fn diabetes() -> (Mat<f64>, Vec<f64>) {
    let (raw, y) = diabetes_raw();
    let n = raw.nrows();
    let mut x = raw;
    for j in 0..x.ncols() {
        let mean = x.col(j).iter().sum::<f64>() / n as f64;
        let norm = x
            .col(j)
            .iter()
            .map(|v| (v - mean) * (v - mean))
            .sum::<f64>()
            .sqrt();
        for i in 0..n {
            x[(i, j)] = (x[(i, j)] - mean) / norm;
        }
    }
    (x, y)
}

/// The diabetes data in their original units (as `data/diabetes.csv` holds them):
/// the ten features and the target.
///
/// ```
/// let (x, y) = matdiff::datasets::diabetes_raw();
/// assert_eq!((x[(0, 0)], y[0]), (59.0, 151.0));
/// ```
pub fn diabetes_raw() -> (Mat<f64>, Vec<f64>) {
    let table = matdiff_fit::datasets::load("diabetes")
        .expect("the diabetes data are bundled")
        .expect("the bundled diabetes data parse");
    let target = table
        .column_index("target")
        .expect("the diabetes data have a target column");
    let features: Vec<&str> = table
        .columns
        .iter()
        .map(String::as_str)
        .filter(|&c| c != "target")
        .collect();
    let x = table.select(&features).expect("the columns exist");
    let y = (0..table.nrows())
        .map(|i| table.data[(i, target)])
        .collect();
    (x, y)
}

/// The names of the bundled data sets (`diabetes`, `longley`, `spector`), each also
/// readable by `matdiff linreg NAME`.
///
/// ```
/// assert!(matdiff::datasets::names().contains(&"diabetes"));
/// ```
pub fn names() -> Vec<&'static str> {
    matdiff_fit::datasets::names()
}

/// The columns called `names` of the bundled data set `name`, in that order.
///
/// ```
/// let x = matdiff::datasets::columns("longley", &["gnp", "year"])?;
/// assert_eq!((x.nrows(), x.ncols(), x[(0, 1)]), (16, 2, 1947.0));
/// let error = matdiff::datasets::columns("longley", &["gdp"]).unwrap_err();
/// assert!(error.to_string().contains("gdp"));
/// # Ok::<(), matdiff::Error>(())
/// ```
pub fn columns(name: &str, names: &[&str]) -> Result<Mat<f64>, crate::Error> {
    let table = matdiff_fit::datasets::load(name).ok_or_else(|| {
        crate::Error::Invalid(format!(
            "no bundled data set `{name}` (bundled: {})",
            matdiff_fit::datasets::names().join(", ")
        ))
    })??;
    Ok(table.select(names)?)
}
