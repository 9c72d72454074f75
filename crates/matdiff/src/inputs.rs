//! [`Inputs`]: the values of a function's variables, by name, borrowed from the
//! caller's faer matrices and slices.

use faer::{ColRef, Mat, MatRef};
use matdiff_core::Graph;

use crate::Error;

/// One value, as given.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Entry<'a> {
    /// A matrix (a vector is one column).
    Matrix(MatRef<'a, f64>),
    /// A scalar.
    Scalar(f64),
    /// A matrix stored row by row, as its `cols × rows` transpose.
    ByRows(MatRef<'a, f64>),
    /// The direction `dX` of a differential form.
    Direction(MatRef<'a, f64>),
}

impl Entry<'_> {
    /// Rows and columns of the value it sets (the transpose's for [`Entry::ByRows`]).
    pub(crate) fn dims(&self) -> (usize, usize) {
        match self {
            Entry::Matrix(m) | Entry::Direction(m) => (m.nrows(), m.ncols()),
            Entry::Scalar(_) => (1, 1),
            Entry::ByRows(t) => (t.ncols(), t.nrows()),
        }
    }
}

/// Values of variables by name, borrowed for `'a`: faer matrices and columns, slices
/// (column vectors), scalars, and matrices stored row by row as NumPy stores them.
///
/// ```
/// use matdiff::{faer, Inputs};
///
/// let a = faer::mat![[2.0, 1.0], [0.0, 3.0]];
/// let x = [1.0, -1.0];
/// let rows = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // a 3 × 2 matrix, row by row
/// let inputs = Inputs::new()
///     .matrix("A", a.as_ref())
///     .vector("x", &x)
///     .scalar("lambda", 0.5)
///     .by_rows("X", &rows, 3, 2);
/// assert_eq!(inputs.names(), ["A", "x", "lambda", "X"]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Inputs<'a> {
    pub(crate) entries: Vec<(String, Entry<'a>)>,
}

impl<'a> Inputs<'a> {
    /// No values.
    ///
    /// ```
    /// assert!(matdiff::Inputs::new().names().is_empty());
    /// ```
    pub fn new() -> Inputs<'a> {
        Inputs::default()
    }

    fn with(mut self, name: &str, entry: Entry<'a>) -> Inputs<'a> {
        self.entries.retain(|(n, _)| n != name);
        self.entries.push((name.to_owned(), entry));
        self
    }

    /// A matrix (or a vector as one column, a row vector as one row).
    ///
    /// ```
    /// let a = matdiff::faer::Mat::<f64>::identity(3, 3);
    /// let inputs = matdiff::Inputs::new().matrix("A", a.as_ref());
    /// # assert_eq!(inputs.names(), ["A"]);
    /// ```
    pub fn matrix(self, name: &str, value: MatRef<'a, f64>) -> Inputs<'a> {
        self.with(name, Entry::Matrix(value))
    }

    /// A column vector from a slice.
    ///
    /// ```
    /// let inputs = matdiff::Inputs::new().vector("x", &[1.0, 2.0]);
    /// # assert_eq!(inputs.names(), ["x"]);
    /// ```
    pub fn vector(self, name: &str, value: &'a [f64]) -> Inputs<'a> {
        let column = MatRef::from_column_major_slice(value, value.len(), 1);
        self.with(name, Entry::Matrix(column))
    }

    /// A column vector from a faer column.
    ///
    /// ```
    /// let y = matdiff::faer::Col::<f64>::zeros(4);
    /// let inputs = matdiff::Inputs::new().column("y", y.as_ref());
    /// # assert_eq!(inputs.names(), ["y"]);
    /// ```
    pub fn column(self, name: &str, value: ColRef<'a, f64>) -> Inputs<'a> {
        self.with(name, Entry::Matrix(value.as_mat()))
    }

    /// A scalar.
    ///
    /// ```
    /// let inputs = matdiff::Inputs::new().scalar("lambda", 0.1);
    /// # assert_eq!(inputs.names(), ["lambda"]);
    /// ```
    pub fn scalar(self, name: &str, value: f64) -> Inputs<'a> {
        self.with(name, Entry::Scalar(value))
    }

    /// A `rows × cols` matrix stored row by row in `data` (C order, as NumPy stores
    /// it). Evaluation reads it in place of a copy by columns, block of rows by block.
    ///
    /// # Panics
    ///
    /// If `data` does not hold `rows * cols` numbers.
    ///
    /// ```
    /// let x = [1.0, 2.0, 3.0, 4.0];
    /// let inputs = matdiff::Inputs::new().by_rows("X", &x, 2, 2);
    /// # assert_eq!(inputs.names(), ["X"]);
    /// ```
    pub fn by_rows(self, name: &str, data: &'a [f64], rows: usize, cols: usize) -> Inputs<'a> {
        assert_eq!(data.len(), rows * cols, "`{name}` has rows × cols numbers");
        // Row-major `rows × cols` is column-major `cols × rows`: the transpose.
        let transposed = MatRef::from_column_major_slice(data, cols, rows);
        self.with(name, Entry::ByRows(transposed))
    }

    /// The direction `dX` of the variable `X` in a differential form, to evaluate
    /// a [`Derivative`](crate::Derivative) that is linear in `dX`.
    ///
    /// ```
    /// let d = matdiff::faer::Mat::<f64>::identity(2, 2);
    /// let inputs = matdiff::Inputs::new().direction("X", d.as_ref());
    /// # assert_eq!(inputs.names(), ["dX"]);
    /// ```
    pub fn direction(self, name: &str, value: MatRef<'a, f64>) -> Inputs<'a> {
        self.with(&format!("d{name}"), Entry::Direction(value))
    }

    /// The names given, in order (a direction as `dX`).
    ///
    /// ```
    /// let inputs = matdiff::Inputs::new().scalar("a", 1.0).scalar("b", 2.0);
    /// assert_eq!(inputs.names(), ["a", "b"]);
    /// ```
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The values bound to the variables of `graph`.
    pub(crate) fn bind(&self, graph: &Graph) -> Result<matdiff_num::Inputs, Error> {
        let mut inputs = matdiff_num::Inputs::new();
        for (name, entry) in &self.entries {
            set(&mut inputs, graph, name, entry)?;
        }
        Ok(inputs)
    }
}

/// Sets one value in `inputs`, conformed to its declaration.
pub(crate) fn set(
    inputs: &mut matdiff_num::Inputs,
    graph: &Graph,
    name: &str,
    entry: &Entry<'_>,
) -> Result<(), Error> {
    match entry {
        Entry::Matrix(m) => inputs.set_named(graph, name, m.to_owned())?,
        Entry::Scalar(v) => inputs.set_named(graph, name, Mat::from_fn(1, 1, |_, _| *v))?,
        Entry::ByRows(t) => {
            let var = variable(graph, name)?;
            matdiff_num::inputs::check_shape(graph, name, t.ncols(), t.nrows())?;
            inputs.set_by_rows(var, t.to_owned());
        }
        Entry::Direction(m) => {
            let var = variable(graph, &name[1..])?;
            inputs.set_differential(var, m.to_owned());
        }
    }
    Ok(())
}

fn variable(graph: &Graph, name: &str) -> Result<matdiff_core::Sym, Error> {
    graph
        .variable_named(name)
        .map(|v| v.name)
        .ok_or_else(|| unknown_variable(graph, name))
}

/// The error for a name that is not a variable of `graph`.
pub(crate) fn unknown_variable(graph: &Graph, name: &str) -> Error {
    Error::UnknownVariable {
        name: name.to_owned(),
        known: graph
            .variables()
            .iter()
            .map(|v| graph.name(v.name).to_owned())
            .collect(),
        is_dimension: graph.dims().iter().any(|&d| graph.name(d) == name),
    }
}
