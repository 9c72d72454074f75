//! Values of the variables (and of their differentials) and the sizes they bind.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use faer::{Mat, MatRef};
use matdiff_core::{Dim, Graph, Id, Kind, Node, Shape, Sym, Variable};

use crate::stored::Stored;

/// Why inputs could not be read or do not fit the declarations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The text is not valid JSON.
    #[error("inputs are not valid JSON: {0}")]
    Json(String),
    /// The top level is not an object of named values.
    #[error("inputs must be a JSON object mapping variable names to values")]
    NotAnObject,
    /// A name that is neither a variable nor the differential `dX` of one.
    #[error("unknown variable `{name}` in the inputs — the variables are {known}")]
    UnknownName { name: String, known: String },
    /// An entry that is not a number.
    #[error("`{name}`{position} is not a number")]
    NotANumber { name: String, position: String },
    /// Rows of different lengths.
    #[error("`{name}` has ragged rows: row {row} has {found} entries, row 0 has {expected}")]
    Ragged {
        name: String,
        row: usize,
        expected: usize,
        found: usize,
    },
    /// An empty list.
    #[error("`{name}` is empty — give at least one entry")]
    Empty { name: String },
    /// A value whose shape does not fit the declaration.
    #[error("`{name}` is declared {declared} but was given {given}")]
    ShapeMismatch {
        name: String,
        declared: String,
        given: String,
    },
    /// Two variables give one dimension different sizes.
    #[error("dimension `{dim}` is {first_size} from `{first}` but {second_size} from `{second}`")]
    DimensionConflict {
        dim: String,
        first: String,
        first_size: usize,
        second: String,
        second_size: usize,
    },
    /// A variable the expression needs has no value.
    #[error("no value for `{name}` — add it to the inputs")]
    Missing { name: String },
    /// A dimension no input binds.
    #[error("dimension `{dim}` is not bound — give a variable that has it, or fix its size")]
    UnboundDimension { dim: String },
    /// A symmetric or spd variable given a non-symmetric matrix.
    #[error("`{name}` is declared {kind} but [{row}][{col}] differs from [{col}][{row}]")]
    NotSymmetric {
        name: String,
        kind: &'static str,
        row: usize,
        col: usize,
    },
}

/// The values a plan reads, however they are held: owned ([`Inputs`]) or borrowed
/// from the caller's arrays and read in place. Scalars are 1 × 1, column vectors
/// n × 1, row vectors 1 × n.
pub trait Values {
    /// The value of the variable `sym`.
    fn value(&self, sym: Sym) -> Option<MatRef<'_, f64>>;

    /// The value of the differential `d sym` (the direction in a differential form).
    fn differential_value(&self, sym: Sym) -> Option<MatRef<'_, f64>>;

    /// Whether the matrix `sym` is stored row by row (a block of its rows is then
    /// contiguous, which guides the plan's choice of passes).
    fn stored_by_rows(&self, _sym: Sym) -> bool {
        false
    }

    /// Checks that every variable the expressions `roots` use has a value (and every
    /// differential `dX` they contain); the first missing one, in declaration order.
    fn check_complete(&self, graph: &Graph, roots: &[Id]) -> Result<(), InputError> {
        let used = graph.reachable(roots);
        for var in graph.variables() {
            for (differential, node) in [
                (false, Node::Var(var.name)),
                (true, Node::Differential(var.name)),
            ] {
                let present = if differential {
                    self.differential_value(var.name).is_some()
                } else {
                    self.value(var.name).is_some()
                };
                if !present
                    && graph
                        .find(&node)
                        .is_some_and(|id| used.binary_search(&id).is_ok())
                {
                    let name = graph.name(var.name);
                    return Err(InputError::Missing {
                        name: if differential {
                            format!("d{name}")
                        } else {
                            name.to_string()
                        },
                    });
                }
            }
        }
        Ok(())
    }
}

impl Values for Inputs {
    fn value(&self, sym: Sym) -> Option<MatRef<'_, f64>> {
        self.view(sym)
    }

    fn differential_value(&self, sym: Sym) -> Option<MatRef<'_, f64>> {
        self.differentials.get(&sym).map(|m| m.as_ref())
    }

    fn stored_by_rows(&self, sym: Sym) -> bool {
        self.by_rows.contains_key(&sym)
    }
}

/// Values of variables and of differentials `dX`, by symbol, owned. Scalars are
/// 1 × 1, column vectors n × 1, row vectors 1 × n.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inputs {
    values: BTreeMap<Sym, Mat<f64>>,
    /// Matrices stored row by row (owned, or mapped from a C-order `.npy` file).
    by_rows: BTreeMap<Sym, Stored>,
    /// Matrices stored column by column and shared, not copied: mapped from a
    /// Fortran-order `.npy` file, or lent by their owner.
    by_columns: BTreeMap<Sym, Stored>,
    differentials: BTreeMap<Sym, Mat<f64>>,
}

impl Inputs {
    /// No values.
    pub fn new() -> Inputs {
        Inputs::default()
    }

    /// Sets the value of the variable `sym`.
    pub fn set(&mut self, sym: Sym, value: Mat<f64>) {
        self.by_rows.remove(&sym);
        self.by_columns.remove(&sym);
        self.values.insert(sym, value);
    }

    /// Sets the matrix variable `sym` to a matrix as stored, without copying it: by
    /// rows as [`Inputs::set_stored_by_rows`], by columns read in place like an owned
    /// matrix (but not seen by [`Inputs::get`]). A single column is copied.
    pub fn set_stored(&mut self, sym: Sym, stored: Stored) {
        if stored.ncols() == 1 || stored.rows_slice().is_some() {
            return self.set_stored_by_rows(sym, stored);
        }
        self.values.remove(&sym);
        self.by_rows.remove(&sym);
        self.by_columns.insert(sym, stored);
    }

    /// Sets the matrix variable `sym` from its transpose (`d × N` for an `N × d`
    /// matrix): the matrix stored row by row, as NumPy stores a C-order array. Plans
    /// read it in place, a block of rows from one contiguous stretch of memory;
    /// [`Inputs::get`] does not see it, [`Inputs::view`] does. A single column is stored
    /// as usual.
    pub fn set_by_rows(&mut self, sym: Sym, transposed: Mat<f64>) {
        self.set_stored_by_rows(sym, Stored::rows_of(transposed.transpose()));
    }

    /// Sets the matrix variable `sym` to a matrix stored row by row (see
    /// [`Inputs::set_by_rows`]), without copying it; a matrix stored by columns is
    /// copied row by row.
    pub fn set_stored_by_rows(&mut self, sym: Sym, stored: Stored) {
        self.values.remove(&sym);
        self.by_rows.remove(&sym);
        self.by_columns.remove(&sym);
        if stored.ncols() == 1 {
            self.values.insert(sym, stored.into_mat());
        } else if stored.rows_slice().is_some() {
            self.by_rows.insert(sym, stored);
        } else {
            self.by_rows.insert(sym, Stored::rows_of(stored.view()));
        }
    }

    /// The value of the variable `sym`, however it is stored.
    pub fn view(&self, sym: Sym) -> Option<MatRef<'_, f64>> {
        match self.values.get(&sym) {
            Some(m) => Some(m.as_ref()),
            None => self
                .by_rows
                .get(&sym)
                .or_else(|| self.by_columns.get(&sym))
                .map(Stored::view),
        }
    }

    /// The matrix variable `sym` when it is stored row by row.
    pub fn stored_by_rows(&self, sym: Sym) -> Option<&Stored> {
        self.by_rows.get(&sym)
    }

    /// Sets the value of the differential `d sym` (the direction in a differential form).
    pub fn set_differential(&mut self, sym: Sym, value: Mat<f64>) {
        self.differentials.insert(sym, value);
    }

    /// The value of a variable.
    pub fn get(&self, sym: Sym) -> Option<&Mat<f64>> {
        self.values.get(&sym)
    }

    /// The value of a differential.
    pub fn differential(&self, sym: Sym) -> Option<&Mat<f64>> {
        self.differentials.get(&sym)
    }

    /// The mutable value of a variable.
    pub fn get_mut(&mut self, sym: Sym) -> Option<&mut Mat<f64>> {
        self.values.get_mut(&sym)
    }

    /// Checks that every variable the expressions `roots` use has a value (and every
    /// differential `dX` they contain); the first missing one, in declaration order.
    pub fn check_complete(&self, graph: &Graph, roots: &[Id]) -> Result<(), InputError> {
        Values::check_complete(self, graph, roots)
    }

    /// Sets a variable by name (it must be a variable of `graph`).
    pub fn set_named(
        &mut self,
        graph: &Graph,
        name: &str,
        value: Mat<f64>,
    ) -> Result<(), InputError> {
        let var = graph
            .variable_named(name)
            .ok_or_else(|| unknown(graph, name))?;
        let value = conform(graph, var, name, value)?;
        self.values.insert(var.name, value);
        Ok(())
    }

    /// Reads the JSON encoding of values: an object mapping variable names (or
    /// `dX` for the differential of `X`) to a number, a flat list (a column vector, or
    /// a row vector for a row-shaped variable) or a list of rows (a matrix).
    pub fn from_json(text: &str, graph: &Graph) -> Result<Inputs, InputError> {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| InputError::Json(e.to_string()))?;
        let object = json.as_object().ok_or(InputError::NotAnObject)?;
        let mut inputs = Inputs::new();
        for (name, value) in object {
            let matrix = parse_value(name, value)?;
            if let Some(var) = graph.variable_named(name) {
                let m = conform(graph, var, name, matrix)?;
                inputs.values.insert(var.name, m);
            } else if let Some(var) = name.strip_prefix('d').and_then(|v| graph.variable_named(v)) {
                let m = conform(graph, var, name, matrix)?;
                inputs.differentials.insert(var.name, m);
            } else {
                return Err(unknown(graph, name));
            }
        }
        Ok(inputs)
    }
}

fn unknown(graph: &Graph, name: &str) -> InputError {
    let known: Vec<String> = graph
        .variables()
        .iter()
        .map(|v| format!("`{}`", graph.name(v.name)))
        .collect();
    InputError::UnknownName {
        name: name.to_string(),
        known: if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        },
    }
}

/// A JSON value as a matrix: a number is 1 × 1, a flat list n × 1, a list of rows r × c.
fn parse_value(name: &str, value: &serde_json::Value) -> Result<Mat<f64>, InputError> {
    let not_a_number = |position: String| InputError::NotANumber {
        name: name.to_string(),
        position,
    };
    match value {
        serde_json::Value::Number(n) => {
            let v = n.as_f64().ok_or_else(|| not_a_number(String::new()))?;
            Ok(Mat::from_fn(1, 1, |_, _| v))
        }
        serde_json::Value::Array(items) if items.is_empty() => Err(InputError::Empty {
            name: name.to_string(),
        }),
        serde_json::Value::Array(items) if items[0].is_array() => {
            let mut rows: Vec<Vec<f64>> = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let row = item
                    .as_array()
                    .ok_or_else(|| not_a_number(format!("[{i}]")))?;
                let row: Vec<f64> = row
                    .iter()
                    .enumerate()
                    .map(|(j, x)| {
                        x.as_f64()
                            .ok_or_else(|| not_a_number(format!("[{i}][{j}]")))
                    })
                    .collect::<Result<_, _>>()?;
                if let Some(first) = rows.first() {
                    if first.len() != row.len() {
                        return Err(InputError::Ragged {
                            name: name.to_string(),
                            row: i,
                            expected: first.len(),
                            found: row.len(),
                        });
                    }
                }
                rows.push(row);
            }
            if rows[0].is_empty() {
                return Err(InputError::Empty {
                    name: name.to_string(),
                });
            }
            Ok(Mat::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j]))
        }
        serde_json::Value::Array(items) => {
            let column: Vec<f64> = items
                .iter()
                .enumerate()
                .map(|(i, x)| x.as_f64().ok_or_else(|| not_a_number(format!("[{i}]"))))
                .collect::<Result<_, _>>()?;
            Ok(Mat::from_fn(column.len(), 1, |i, _| column[i]))
        }
        _ => Err(not_a_number(String::new())),
    }
}

/// Checks that a value of `rows × cols` fits the declaration of `name`, without the
/// value (a column given for a row-shaped variable counts as the row). Symmetry is
/// not checked: that needs the entries.
pub fn check_shape(graph: &Graph, name: &str, rows: usize, cols: usize) -> Result<(), InputError> {
    let var = graph
        .variable_named(name)
        .ok_or_else(|| unknown(graph, name))?;
    let (rows, cols) = if var.shape.is_row() && cols == 1 && rows != 1 {
        (cols, rows)
    } else {
        (rows, cols)
    };
    if shape_fits(var, rows, cols) {
        Ok(())
    } else {
        Err(InputError::ShapeMismatch {
            name: name.to_string(),
            declared: declared_shape(graph, var),
            given: format!("{rows} × {cols}"),
        })
    }
}

/// Whether `rows × cols` has the declared sizes, and is square where declared so.
fn shape_fits(var: &Variable, rows: usize, cols: usize) -> bool {
    let fits = |d: Dim, n: usize| match d {
        Dim::Size(k) => k as usize == n,
        Dim::Named(_) => true,
    };
    fits(var.shape.rows, rows)
        && fits(var.shape.cols, cols)
        && (!var.shape.is_square() || rows == cols)
}

/// Fits a given matrix to a declared variable: a flat list becomes a row for a
/// row-shaped variable; a symmetric kind must be given a symmetric matrix.
fn conform(graph: &Graph, var: &Variable, name: &str, m: Mat<f64>) -> Result<Mat<f64>, InputError> {
    let transposed = conformed(graph, var, name, m.as_ref())?.nrows() != m.nrows();
    Ok(if transposed {
        m.transpose().to_owned()
    } else {
        m
    })
}

/// Checks a borrowed value against the declaration of the variable `name` and
/// returns it as the variable reads it (a column given for a row-shaped variable is
/// seen as the row), without copying it; a symmetric kind must be given a symmetric
/// matrix.
pub fn conform_view<'a>(
    graph: &Graph,
    name: &str,
    m: MatRef<'a, f64>,
) -> Result<MatRef<'a, f64>, InputError> {
    let var = graph
        .variable_named(name)
        .ok_or_else(|| unknown(graph, name))?;
    conformed(graph, var, name, m)
}

fn conformed<'a>(
    graph: &Graph,
    var: &Variable,
    name: &str,
    m: MatRef<'a, f64>,
) -> Result<MatRef<'a, f64>, InputError> {
    let m = if var.shape.is_row() && m.ncols() == 1 && m.nrows() != 1 {
        m.transpose()
    } else {
        m
    };
    if !shape_fits(var, m.nrows(), m.ncols()) {
        return Err(mismatch(graph, var, name, m));
    }
    if var.kind.is_symmetric() {
        let scale = crate::value::max_abs(m).max(f64::MIN_POSITIVE);
        for j in 0..m.ncols() {
            for i in 0..j {
                if (m[(i, j)] - m[(j, i)]).abs() > 1e-10 * scale {
                    return Err(InputError::NotSymmetric {
                        name: name.to_string(),
                        kind: var.kind.keyword(),
                        row: i,
                        col: j,
                    });
                }
            }
        }
    }
    Ok(m)
}

fn mismatch(graph: &Graph, var: &Variable, name: &str, m: MatRef<'_, f64>) -> InputError {
    InputError::ShapeMismatch {
        name: name.to_string(),
        declared: declared_shape(graph, var),
        given: format!("{} × {}", m.nrows(), m.ncols()),
    }
}

/// The text of a dimension: its size or its name.
pub fn dim_text(graph: &Graph, d: Dim) -> String {
    match d {
        Dim::Size(k) => k.to_string(),
        Dim::Named(s) => graph.name(s).to_string(),
    }
}

/// A declaration as written: `scalar`, `vector(d)`, `matrix(N, d)`, `spd(n)`, …
pub fn declared_shape(graph: &Graph, var: &Variable) -> String {
    let (r, c) = (
        dim_text(graph, var.shape.rows),
        dim_text(graph, var.shape.cols),
    );
    match var.kind {
        Kind::Scalar if var.shape.is_scalar() => "scalar".to_string(),
        Kind::Vector if var.shape.cols == Dim::ONE => format!("vector({r})"),
        Kind::Symmetric | Kind::Spd if var.shape.is_square() => {
            format!("{}({r})", var.kind.keyword())
        }
        Kind::Matrix => format!("matrix({r}, {c})"),
        _ => format!("{r} × {c}"),
    }
}

/// Sizes of named dimensions, bound from the inputs' shapes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    sizes: BTreeMap<Sym, usize>,
}

impl Sizes {
    /// No sizes bound.
    pub fn new() -> Sizes {
        Sizes::default()
    }

    /// Binds dimension `dim` to `size`.
    pub fn insert(&mut self, dim: Sym, size: usize) {
        self.sizes.insert(dim, size);
    }

    /// Unbinds a dimension.
    pub fn remove(&mut self, dim: Sym) {
        self.sizes.remove(&dim);
    }

    /// The size of a named dimension.
    pub fn get(&self, dim: Sym) -> Option<usize> {
        self.sizes.get(&dim).copied()
    }

    /// The size of a dimension, fixed or bound.
    pub fn dim(&self, d: Dim) -> Option<usize> {
        match d {
            Dim::Size(k) => Some(k as usize),
            Dim::Named(s) => self.get(s),
        }
    }

    /// The rows and columns of a shape, or the first unbound dimension.
    pub fn shape(&self, graph: &Graph, shape: Shape) -> Result<(usize, usize), InputError> {
        let get = |d: Dim| {
            self.dim(d).ok_or_else(|| InputError::UnboundDimension {
                dim: dim_text(graph, d),
            })
        };
        Ok((get(shape.rows)?, get(shape.cols)?))
    }

    /// Sizes every product dimension of the graph (`m*p`, from `kron` and `vec`) whose
    /// factors are bound. A product already bound by an input must agree: `Err` holds
    /// the product, its size from the input and its size from the factors.
    pub fn fill_products(&mut self, graph: &Graph) -> Result<(), (Sym, usize, usize)> {
        for (sym, product) in graph.dim_products() {
            let factors: Option<Vec<usize>> = product.names.iter().map(|&f| self.get(f)).collect();
            let Some(factors) = factors else { continue };
            let n = factors.iter().product::<usize>() * product.size as usize;
            match self.get(*sym) {
                Some(k) if k != n => return Err((*sym, k, n)),
                _ => self.insert(*sym, n),
            }
        }
        Ok(())
    }

    /// The bound dimensions, in symbol order.
    pub fn iter(&self) -> impl Iterator<Item = (Sym, usize)> + '_ {
        self.sizes.iter().map(|(&s, &n)| (s, n))
    }

    /// Binds every dimension from the shapes of the given variables (and checks the
    /// differentials against them). Variables without a value are skipped here; a plan
    /// reports them when it needs them.
    pub fn bind<V: Values + ?Sized>(graph: &Graph, inputs: &V) -> Result<Sizes, InputError> {
        Sizes::bind_with(graph, inputs, Sizes::new())
    }

    /// Like [`Sizes::bind`], starting from sizes already fixed (e.g. from `--dims`).
    pub fn bind_with<V: Values + ?Sized>(
        graph: &Graph,
        inputs: &V,
        fixed: Sizes,
    ) -> Result<Sizes, InputError> {
        let mut sizes = fixed;
        // Which variable bound each dimension, for error messages.
        let mut bound_by: BTreeMap<Sym, Sym> = BTreeMap::new();
        for var in graph.variables() {
            let Some(m) = inputs.value(var.name) else {
                continue;
            };
            let name = graph.name(var.name);
            for (d, n) in [(var.shape.rows, m.nrows()), (var.shape.cols, m.ncols())] {
                match d {
                    Dim::Size(k) if k as usize != n => return Err(mismatch(graph, var, name, m)),
                    Dim::Size(_) => {}
                    Dim::Named(s) => match sizes.get(s) {
                        None => {
                            sizes.insert(s, n);
                            bound_by.insert(s, var.name);
                        }
                        Some(k) if k == n => {}
                        Some(k) => {
                            return Err(match bound_by.get(&s) {
                                Some(&first) if first != var.name => {
                                    InputError::DimensionConflict {
                                        dim: graph.name(s).to_string(),
                                        first: graph.name(first).to_string(),
                                        first_size: k,
                                        second: name.to_string(),
                                        second_size: n,
                                    }
                                }
                                _ => mismatch(graph, var, name, m),
                            })
                        }
                    },
                }
            }
        }
        if let Err((dim, given, product)) = sizes.fill_products(graph) {
            let first = bound_by
                .get(&dim)
                .map(|&v| graph.name(v).to_string())
                .unwrap_or_else(|| "the inputs".to_string());
            return Err(InputError::DimensionConflict {
                dim: graph.name(dim).to_string(),
                first,
                first_size: given,
                second: "the product of its factors".to_string(),
                second_size: product,
            });
        }
        for var in graph.variables() {
            if let Some(m) = inputs.differential_value(var.name) {
                sizes.check(graph, var, &format!("d{}", graph.name(var.name)), m)?;
            }
        }
        Ok(sizes)
    }

    /// Checks that `m` has the shape of `var` under these sizes.
    pub fn check(
        &self,
        graph: &Graph,
        var: &Variable,
        name: &str,
        m: MatRef<'_, f64>,
    ) -> Result<(), InputError> {
        let (r, c) = self.shape(graph, var.shape)?;
        if (r, c) != (m.nrows(), m.ncols()) {
            return Err(mismatch(graph, var, name, m));
        }
        Ok(())
    }

    /// The sizes as `name = size`, in symbol order.
    pub fn describe(&self, graph: &Graph) -> String {
        let mut out = String::new();
        for (i, (s, n)) in self.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{} = {n}", graph.name(s));
        }
        out
    }
}
