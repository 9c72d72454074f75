//! A matrix of data as it is stored: by rows (as a C-order `.npy` file or a CSV file
//! holds it) or by columns (a Fortran-order `.npy` file, faer's own matrices), its
//! values owned or mapped in place from a file.
//!
//! The rest of the code reads a [`Stored`] through [`Stored::view`], a faer view with
//! the strides of the storage, or asks for the rows as one slice
//! ([`Stored::rows_slice`]) where it runs over samples row by row. Cloning shares the
//! values. A caller that owns its values elsewhere (a NumPy array) lends them with
//! [`Stored::shared`], without a copy.

use std::fmt;
use std::sync::Arc;

use faer::{Mat, MatRef};

use crate::mapped::MappedFile;

/// Whether a matrix's values run along its rows or its columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Row by row: entry `(i, j)` is value `i·cols + j` (C order, NumPy's default).
    Rows,
    /// Column by column: entry `(i, j)` is value `j·rows + i` (Fortran order).
    Columns,
}

/// A data matrix, owned or mapped from a file; see the module documentation.
#[derive(Clone)]
pub struct Stored {
    values: Arc<Values>,
    rows: usize,
    cols: usize,
}

enum Values {
    /// Values in memory, in `order`.
    Owned { values: Vec<f64>, order: Order },
    /// `len` native-endian `f64`s of a mapped file, from byte `start` (a multiple of 8).
    Mapped {
        file: MappedFile,
        start: usize,
        len: usize,
        order: Order,
    },
    /// A faer matrix, by columns.
    Matrix(Mat<f64>),
    /// Values owned by someone else, kept alive by `owner`, in `order`.
    Shared {
        owner: Box<dyn SharedValues>,
        order: Order,
    },
}

/// Values owned outside matdiff (a NumPy array's buffer) and lent to a [`Stored`] for
/// as long as it lives: the owner keeps them alive and unchanged.
pub trait SharedValues: Send + Sync + 'static {
    /// The values, in the order the [`Stored`] is made with.
    fn values(&self) -> &[f64];
}

impl Values {
    fn slice(&self) -> Option<&[f64]> {
        match self {
            Values::Owned { values, .. } => Some(values),
            Values::Mapped {
                file, start, len, ..
            } => Some(bytemuck::cast_slice(
                &file.bytes()[*start..*start + len * 8],
            )),
            Values::Matrix(_) => None,
            Values::Shared { owner, .. } => Some(owner.values()),
        }
    }

    fn order(&self) -> Order {
        match self {
            Values::Owned { order, .. }
            | Values::Mapped { order, .. }
            | Values::Shared { order, .. } => *order,
            Values::Matrix(_) => Order::Columns,
        }
    }
}

impl fmt::Debug for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match &*self.values {
            Values::Owned { .. } => "owned",
            Values::Mapped { .. } => "mapped",
            Values::Matrix(_) => "matrix",
            Values::Shared { .. } => "shared",
        };
        write!(
            f,
            "Stored({} × {}, by {}, {how})",
            self.rows,
            self.cols,
            match self.order() {
                Order::Rows => "rows",
                Order::Columns => "columns",
            }
        )
    }
}

impl PartialEq for Stored {
    fn eq(&self, other: &Stored) -> bool {
        self.view() == other.view()
    }
}

impl From<Mat<f64>> for Stored {
    fn from(m: Mat<f64>) -> Stored {
        Stored {
            rows: m.nrows(),
            cols: m.ncols(),
            values: Arc::new(Values::Matrix(m)),
        }
    }
}

impl Stored {
    /// `rows × cols` values held in memory in `order`.
    ///
    /// # Panics
    /// When `values` does not hold `rows · cols` values.
    pub fn owned(rows: usize, cols: usize, values: Vec<f64>, order: Order) -> Stored {
        assert_eq!(values.len(), rows * cols, "rows × cols values");
        Stored {
            values: Arc::new(Values::Owned { values, order }),
            rows,
            cols,
        }
    }

    /// `rows × cols` values in `order` that `owner` keeps (read in place, not copied);
    /// `None` when it does not hold `rows · cols` values.
    pub fn shared(
        rows: usize,
        cols: usize,
        owner: impl SharedValues,
        order: Order,
    ) -> Option<Stored> {
        if rows.checked_mul(cols)? != owner.values().len() {
            return None;
        }
        Some(Stored {
            values: Arc::new(Values::Shared {
                owner: Box::new(owner),
                order,
            }),
            rows,
            cols,
        })
    }

    /// `rows × cols` native-endian `f64`s of a mapped file from byte `start`, in
    /// `order`; `None` when they are not aligned to 8 bytes or run past the file.
    pub(crate) fn mapped(
        file: MappedFile,
        start: usize,
        rows: usize,
        cols: usize,
        order: Order,
    ) -> Option<Stored> {
        let len = rows.checked_mul(cols)?;
        let end = len.checked_mul(8)?.checked_add(start)?;
        let bytes = file.bytes().get(start..end)?;
        bytemuck::try_cast_slice::<u8, f64>(bytes).ok()?;
        Some(Stored {
            values: Arc::new(Values::Mapped {
                file,
                start,
                len,
                order,
            }),
            rows,
            cols,
        })
    }

    /// The matrix `m` copied row by row.
    pub fn rows_of(m: MatRef<'_, f64>) -> Stored {
        let (rows, cols) = (m.nrows(), m.ncols());
        let t = m.transpose();
        let mut values = Vec::with_capacity(rows * cols);
        match t.try_as_col_major() {
            // `m` stored by rows with padding: each row is one contiguous slice.
            Some(t) => (0..rows).for_each(|i| values.extend_from_slice(t.col(i).as_slice())),
            None => {
                // Blocks of rows, so that the column-wise reads stay in cache.
                const BLOCK: usize = 64;
                values.resize(rows * cols, 0.0);
                for start in (0..rows).step_by(BLOCK) {
                    let end = (start + BLOCK).min(rows);
                    for j in 0..cols {
                        for i in start..end {
                            values[i * cols + j] = m[(i, j)];
                        }
                    }
                }
            }
        }
        Stored::owned(rows, cols, values, Order::Rows)
    }

    /// The number of rows.
    pub fn nrows(&self) -> usize {
        self.rows
    }

    /// The number of columns.
    pub fn ncols(&self) -> usize {
        self.cols
    }

    /// How the values are laid out.
    pub fn order(&self) -> Order {
        self.values.order()
    }

    /// Whether the values are read in place from a mapped file.
    pub fn is_mapped(&self) -> bool {
        matches!(&*self.values, Values::Mapped { .. })
    }

    /// The values in their order, unless the matrix is a faer matrix.
    pub(crate) fn values(&self) -> Option<&[f64]> {
        self.values.slice()
    }

    /// The matrix, with the strides of its storage.
    pub fn view(&self) -> MatRef<'_, f64> {
        match (&*self.values, self.values.slice()) {
            (Values::Matrix(m), _) => m.as_ref(),
            (values, Some(slice)) => match values.order() {
                Order::Rows => MatRef::from_row_major_slice(slice, self.rows, self.cols),
                Order::Columns => MatRef::from_column_major_slice(slice, self.rows, self.cols),
            },
            (_, None) => unreachable!("only a faer matrix has no slice"),
        }
    }

    /// The values row by row, `rows · cols` of them, when they are stored so.
    pub fn rows_slice(&self) -> Option<&[f64]> {
        match self.order() {
            Order::Rows => self.values.slice(),
            Order::Columns => None,
        }
    }

    /// The matrix as an owned faer matrix (a copy).
    pub fn to_mat(&self) -> Mat<f64> {
        match &*self.values {
            Values::Matrix(m) => m.clone(),
            _ => self.view().to_owned(),
        }
    }

    /// The matrix as an owned faer matrix: moved out when it is one and not shared,
    /// else copied.
    pub fn into_mat(self) -> Mat<f64> {
        match Arc::try_unwrap(self.values) {
            Ok(Values::Matrix(m)) => m,
            Ok(values) => Stored {
                values: Arc::new(values),
                rows: self.rows,
                cols: self.cols,
            }
            .to_mat(),
            Err(values) => Stored {
                values,
                rows: self.rows,
                cols: self.cols,
            }
            .to_mat(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_storage_views_the_same_matrix() {
        let m = Mat::from_fn(5, 3, |i, j| (10 * i + j) as f64);
        let by_rows: Vec<f64> = (0..5)
            .flat_map(|i| (0..3).map(move |j| (10 * i + j) as f64))
            .collect();
        let by_columns: Vec<f64> = (0..3)
            .flat_map(|j| (0..5).map(move |i| (10 * i + j) as f64))
            .collect();
        let stores = [
            Stored::from(m.clone()),
            Stored::owned(5, 3, by_rows.clone(), Order::Rows),
            Stored::owned(5, 3, by_columns, Order::Columns),
            Stored::rows_of(m.as_ref()),
            Stored::rows_of(m.transpose().to_owned().transpose()),
        ];
        for stored in &stores {
            assert_eq!(stored.view(), m.as_ref(), "{stored:?}");
            assert_eq!(stored.to_mat(), m, "{stored:?}");
            assert_eq!(stored.clone().into_mat(), m, "{stored:?}");
        }
        assert_eq!(stores[1].rows_slice(), Some(&by_rows[..]));
        assert_eq!(stores[3].rows_slice(), Some(&by_rows[..]));
        assert_eq!(stores[0].rows_slice(), None);
        assert_eq!(stores[2].rows_slice(), None);
    }
}
