//! [`Inputs`]: the values of a function's variables, by name, borrowed from the
//! caller's faer matrices and slices.

use faer::{ColRef, MatRef};
use matdiff_core::{Graph, Sym};

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

    /// The values as the engine reads them, already checked with [`Inputs::bind`].
    pub(crate) fn bound<'i>(&'i self, graph: &'i Graph) -> Bound<'i, 'a> {
        Bound {
            graph,
            inputs: self,
        }
    }

    /// The values checked against the declarations of `graph`, as the engine reads
    /// them: in place, with no copy, and with no allocation unless a value is wrong.
    pub(crate) fn bind<'i>(&'i self, graph: &'i Graph) -> Result<Bound<'i, 'a>, Error> {
        for (name, entry) in &self.entries {
            check(graph, name, entry)?;
        }
        Ok(self.bound(graph))
    }
}

/// Checks one value against its declaration.
fn check(graph: &Graph, name: &str, entry: &Entry<'_>) -> Result<(), Error> {
    match entry {
        Entry::Matrix(m) => {
            matdiff_num::inputs::conform_view(graph, name, *m)?;
        }
        Entry::Scalar(_) => matdiff_num::inputs::check_shape(graph, name, 1, 1)?,
        Entry::ByRows(t) => {
            variable(graph, name)?;
            matdiff_num::inputs::check_shape(graph, name, t.ncols(), t.nrows())?;
        }
        Entry::Direction(_) => {
            variable(graph, &name[1..])?;
        }
    }
    Ok(())
}

/// [`Inputs`] checked against a function's declarations: the values of its
/// variables, borrowed where the caller keeps them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bound<'i, 'a> {
    graph: &'i Graph,
    inputs: &'i Inputs<'a>,
}

impl Bound<'_, '_> {
    /// The value given for the variable `sym` (its direction `dX` with `differential`).
    fn entry(&self, sym: Sym, differential: bool) -> Option<&Entry<'_>> {
        let name = self.graph.name(sym);
        self.inputs.entries.iter().rev().find_map(|(n, e)| {
            let found = match e {
                Entry::Direction(_) => differential && n.strip_prefix('d') == Some(name),
                _ => !differential && n == name,
            };
            found.then_some(e)
        })
    }

    fn is_row(&self, sym: Sym) -> bool {
        self.graph
            .variables()
            .iter()
            .any(|v| v.name == sym && v.shape.is_row())
    }
}

impl matdiff_num::Values for Bound<'_, '_> {
    fn value(&self, sym: Sym) -> Option<MatRef<'_, f64>> {
        Some(match self.entry(sym, false)? {
            // A column given for a row-shaped variable is read as the row.
            Entry::Matrix(m) if m.ncols() == 1 && m.nrows() != 1 && self.is_row(sym) => {
                m.transpose()
            }
            Entry::Matrix(m) => *m,
            Entry::Scalar(v) => MatRef::from_column_major_slice(std::slice::from_ref(v), 1, 1),
            Entry::ByRows(t) => t.transpose(),
            Entry::Direction(_) => return None,
        })
    }

    fn differential_value(&self, sym: Sym) -> Option<MatRef<'_, f64>> {
        match self.entry(sym, true)? {
            Entry::Direction(m) => Some(*m),
            _ => None,
        }
    }

    fn stored_by_rows(&self, sym: Sym) -> bool {
        matches!(self.entry(sym, false), Some(Entry::ByRows(_)))
    }
}

fn variable(graph: &Graph, name: &str) -> Result<Sym, Error> {
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
