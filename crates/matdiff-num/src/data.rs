//! Loading numeric data: CSV with a header row and NumPy `.npy` files.
//!
//! Every error names the file, and where it makes sense the line and column, so the
//! user can go straight to the bad cell. Nothing is ever skipped silently: a
//! non-numeric cell, a NaN or an infinity, a ragged row or an empty file is an error.

use std::fmt;
use std::path::Path;

use faer::{Mat, MatRef};
use thiserror::Error;

use crate::kernels;

/// A table of numbers read from a CSV file: named columns over the rows.
#[derive(Debug, Clone)]
pub struct Table {
    /// The file (or name) the table came from, as shown in error messages.
    pub path: String,
    /// The column names from the header row, in file order.
    pub columns: Vec<String>,
    /// The values, one row per data line and one column per header name.
    pub data: Mat<f64>,
}

/// A failure to load data, naming the file and, where it applies, line and column.
///
/// Lines and columns are 1-based, as in an editor; line 1 is the header row of a CSV.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("{file}: cannot read the file: {message}")]
    Io {
        /// The file.
        file: String,
        /// What the operating system said.
        message: String,
    },
    /// The file holds no bytes (or only blank lines).
    #[error("{file}: the file is empty — a CSV needs a header row and at least one data row")]
    Empty {
        /// The file.
        file: String,
    },
    /// The file has a header row but no data rows.
    #[error("{file}:{line}: header only, no data rows — add at least one row of numbers")]
    NoRows {
        /// The file.
        file: String,
        /// The line after the header.
        line: usize,
    },
    /// A header cell is blank.
    #[error("{file}:{line}:{column}: empty column name — give every column a name")]
    EmptyColumnName {
        /// The file.
        file: String,
        /// The header line.
        line: usize,
        /// The column (1-based).
        column: usize,
    },
    /// Two header cells carry the same name.
    #[error("{file}:{line}:{column}: duplicate column name '{name}' (first at column {first}) — rename one of them")]
    DuplicateColumn {
        /// The file.
        file: String,
        /// The header line.
        line: usize,
        /// The column of the repeat (1-based).
        column: usize,
        /// The column where the name first appears (1-based).
        first: usize,
        /// The repeated name.
        name: String,
    },
    /// A row has a different number of fields from the header.
    #[error("{file}:{line}: ragged row: expected {expected} fields, found {found} — every row needs one value per column")]
    Ragged {
        /// The file.
        file: String,
        /// The line of the row.
        line: usize,
        /// The number of header columns.
        expected: usize,
        /// The number of fields on this line.
        found: usize,
    },
    /// A cell is not a number.
    #[error("{file}:{line}:{column}: non-numeric cell \"{cell}\" in column '{name}' — only numbers are allowed")]
    NonNumeric {
        /// The file.
        file: String,
        /// The line of the cell.
        line: usize,
        /// The column of the cell (1-based).
        column: usize,
        /// The column's name.
        name: String,
        /// The cell's text.
        cell: String,
    },
    /// A cell is NaN or infinite (or overflows to infinity).
    #[error("{file}:{line}:{column}: cell \"{cell}\" in column '{name}' is not a finite number — remove or impute it")]
    NotFinite {
        /// The file.
        file: String,
        /// The line of the cell.
        line: usize,
        /// The column of the cell (1-based).
        column: usize,
        /// The column's name.
        name: String,
        /// The cell's text.
        cell: String,
    },
    /// The CSV itself is malformed (for instance invalid UTF-8 or an unclosed quote).
    #[error("{file}:{line}: malformed CSV: {message}")]
    Malformed {
        /// The file.
        file: String,
        /// The line where reading failed.
        line: usize,
        /// What the CSV reader said.
        message: String,
    },
    /// A named column is not in the table.
    #[error("{file}: no column '{name}' — available columns: {}", available.join(", "))]
    MissingColumn {
        /// The file.
        file: String,
        /// The name asked for.
        name: String,
        /// The columns the file does have.
        available: Vec<String>,
    },
    /// A `.npy` file that cannot be used: bad header, unsupported dtype or rank, or
    /// non-finite values.
    #[error("{file}: {message}")]
    Npy {
        /// The file.
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file whose extension names no supported format.
    #[error("{file}: unsupported file type — use a .csv (with a header row) or a .npy file")]
    UnsupportedFormat {
        /// The file.
        file: String,
    },
}

impl DataError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            DataError::Io { file, .. }
            | DataError::Empty { file }
            | DataError::NoRows { file, .. }
            | DataError::EmptyColumnName { file, .. }
            | DataError::DuplicateColumn { file, .. }
            | DataError::Ragged { file, .. }
            | DataError::NonNumeric { file, .. }
            | DataError::NotFinite { file, .. }
            | DataError::Malformed { file, .. }
            | DataError::MissingColumn { file, .. }
            | DataError::Npy { file, .. }
            | DataError::UnsupportedFormat { file } => file,
        }
    }

    /// The 1-based line the error is about, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            DataError::NoRows { line, .. }
            | DataError::EmptyColumnName { line, .. }
            | DataError::DuplicateColumn { line, .. }
            | DataError::Ragged { line, .. }
            | DataError::NonNumeric { line, .. }
            | DataError::NotFinite { line, .. }
            | DataError::Malformed { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// The 1-based column the error is about, when there is one.
    pub fn column(&self) -> Option<usize> {
        match self {
            DataError::EmptyColumnName { column, .. }
            | DataError::DuplicateColumn { column, .. }
            | DataError::NonNumeric { column, .. }
            | DataError::NotFinite { column, .. } => Some(*column),
            _ => None,
        }
    }
}

impl Table {
    /// The number of data rows.
    pub fn nrows(&self) -> usize {
        self.data.nrows()
    }

    /// The position of the column called `name`, or an error listing the columns there are.
    pub fn column_index(&self, name: &str) -> Result<usize, DataError> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| DataError::MissingColumn {
                file: self.path.clone(),
                name: name.to_owned(),
                available: self.columns.clone(),
            })
    }

    /// The columns called `names`, in that order, as an `nrows × names.len()` matrix.
    pub fn select(&self, names: &[&str]) -> Result<Mat<f64>, DataError> {
        let indices = names
            .iter()
            .map(|name| self.column_index(name))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Mat::from_fn(self.nrows(), indices.len(), |i, j| {
            self.data[(i, indices[j])]
        }))
    }
}

/// Reads a CSV file with a header row into a [`Table`].
pub fn load_csv(path: impl AsRef<Path>) -> Result<Table, DataError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| DataError::Io {
        file: name.clone(),
        message: e.to_string(),
    })?;
    parse_csv_bytes(&name, &bytes)
}

/// Parses CSV text with a header row into a [`Table`]; `name` is used in errors.
pub fn parse_csv(name: &str, text: &str) -> Result<Table, DataError> {
    parse_csv_bytes(name, text.as_bytes())
}

fn parse_csv_bytes(name: &str, bytes: &[u8]) -> Result<Table, DataError> {
    let file = name.to_owned();
    // Spreadsheets often start UTF-8 files with a byte-order mark; it is not part of
    // the first column's name.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv_reader(bytes);
    let mut records = reader.records();
    let malformed = malformed(name);

    let header = match records.next() {
        None => return Err(DataError::Empty { file: file.clone() }),
        Some(record) => record.map_err(&malformed)?,
    };
    let header_line = line_of(&header);
    if header.iter().all(str::is_empty) {
        return Err(DataError::Empty { file: file.clone() });
    }
    let columns = header_names(&file, header_line, &header)?;

    let width = columns.len();
    let mut values = Vec::new();
    let mut rows = 0usize;
    let mut last_line = header_line;
    for record in records {
        let record = record.map_err(&malformed)?;
        last_line = line_of(&record);
        if parse_row(&file, &columns, &record, |v| values.push(v))? {
            rows += 1;
        }
    }
    if rows == 0 {
        return Err(DataError::NoRows {
            file: file.clone(),
            line: last_line + 1,
        });
    }
    let data = Mat::from_fn(rows, width, |i, j| values[i * width + j]);
    Ok(Table {
        path: file,
        columns,
        data,
    })
}

/// The CSV reader of every data file: the header is read as a record, rows of the
/// wrong length are reported by [`parse_row`], cells are trimmed.
fn csv_reader<R: std::io::Read>(source: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(source)
}

/// A CSV syntax error of `file`, at its line.
fn malformed(file: &str) -> impl Fn(csv::Error) -> DataError + '_ {
    move |e: csv::Error| DataError::Malformed {
        file: file.to_owned(),
        line: e.position().map_or(1, |p| p.line() as usize),
        message: e.to_string(),
    }
}

/// Checks a data record against the header's `columns` and hands its values to
/// `push`, in order; `Ok(false)` for a line holding nothing at all (e.g. a trailing
/// blank line of spaces), which is not a row.
fn parse_row(
    file: &str,
    columns: &[String],
    record: &csv::StringRecord,
    mut push: impl FnMut(f64),
) -> Result<bool, DataError> {
    if record.len() == 1 && record[0].is_empty() {
        return Ok(false);
    }
    let line = line_of(record);
    if record.len() != columns.len() {
        return Err(DataError::Ragged {
            file: file.to_owned(),
            line,
            expected: columns.len(),
            found: record.len(),
        });
    }
    for (j, cell) in record.iter().enumerate() {
        push(parse_cell(file, line, j, &columns[j], cell)?);
    }
    Ok(true)
}

fn line_of(record: &csv::StringRecord) -> usize {
    record.position().map_or(1, |p| p.line() as usize)
}

fn header_names(
    file: &str,
    line: usize,
    header: &csv::StringRecord,
) -> Result<Vec<String>, DataError> {
    let mut columns: Vec<String> = Vec::with_capacity(header.len());
    for (j, cell) in header.iter().enumerate() {
        if cell.is_empty() {
            return Err(DataError::EmptyColumnName {
                file: file.to_owned(),
                line,
                column: j + 1,
            });
        }
        if let Some(first) = columns.iter().position(|c| c == cell) {
            return Err(DataError::DuplicateColumn {
                file: file.to_owned(),
                line,
                column: j + 1,
                first: first + 1,
                name: cell.to_owned(),
            });
        }
        columns.push(cell.to_owned());
    }
    Ok(columns)
}

fn parse_cell(file: &str, line: usize, j: usize, name: &str, cell: &str) -> Result<f64, DataError> {
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(DataError::NotFinite {
            file: file.to_owned(),
            line,
            column: j + 1,
            name: name.to_owned(),
            cell: cell.to_owned(),
        }),
        Err(_) => Err(DataError::NonNumeric {
            file: file.to_owned(),
            line,
            column: j + 1,
            name: name.to_owned(),
            cell: cell.to_owned(),
        }),
    }
}

/// Reads a NumPy `.npy` file of `f64`, `f32`, `i64` or `i32` values: a 1-D array
/// becomes an `n × 1` column, a 2-D array (C or Fortran order) a matrix.
pub fn load_npy(path: impl AsRef<Path>) -> Result<Mat<f64>, DataError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| DataError::Io {
        file: name.clone(),
        message: e.to_string(),
    })?;
    parse_npy(&name, &bytes)
}

/// Parses the bytes of a `.npy` file (see [`load_npy`]); `name` is used in errors.
pub fn parse_npy(name: &str, bytes: &[u8]) -> Result<Mat<f64>, DataError> {
    let npy_error = |message: String| DataError::Npy {
        file: name.to_owned(),
        message,
    };
    let npy =
        npyz::NpyFile::new(bytes).map_err(|e| npy_error(format!("not a valid .npy file ({e})")))?;
    let shape = npy.shape().to_vec();
    let order = npy.order();
    let (nrows, ncols) = match shape.as_slice() {
        [n] => (*n as usize, 1),
        [m, n] => (*m as usize, *n as usize),
        _ => {
            return Err(npy_error(format!(
                "array has {} dimensions — only 1-D (a vector) and 2-D (a matrix) are supported",
                shape.len()
            )))
        }
    };
    let dtype = npy.dtype();
    let kind = match &dtype {
        npyz::DType::Plain(ts) => Some((ts.type_char(), ts.size_field())),
        _ => None,
    };
    let read = |e: std::io::Error| npy_error(format!("cannot read the values ({e})"));
    let little =
        matches!(&dtype, npyz::DType::Plain(ts) if ts.endianness() == npyz::Endianness::Little);
    let values: Vec<f64> = match kind {
        // The common case, decoded in bulk: the data are the file's last `8 n` bytes.
        Some((npyz::TypeChar::Float, 8)) if little && bytes.len() >= 8 * nrows * ncols => bytes
            [bytes.len() - 8 * nrows * ncols..]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("chunks of 8 bytes")))
            .collect(),
        Some((npyz::TypeChar::Float, 8)) => npy.into_vec::<f64>().map_err(read)?,
        Some((npyz::TypeChar::Float, 4)) => npy
            .into_vec::<f32>()
            .map_err(read)?
            .into_iter()
            .map(f64::from)
            .collect(),
        Some((npyz::TypeChar::Int, 8)) => npy
            .into_vec::<i64>()
            .map_err(read)?
            .into_iter()
            .map(|v| v as f64)
            .collect(),
        Some((npyz::TypeChar::Int, 4)) => npy
            .into_vec::<i32>()
            .map_err(read)?
            .into_iter()
            .map(f64::from)
            .collect(),
        _ => {
            return Err(npy_error(format!(
                "unsupported dtype {} — save the array as float64, float32, int64 or int32",
                DTypeText(&dtype)
            )))
        }
    };
    if values.len() != nrows * ncols {
        return Err(npy_error(format!(
            "expected {} values for shape {shape:?}, found {}",
            nrows * ncols,
            values.len()
        )));
    }
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        let (i, j) = match order {
            npyz::Order::C => (k / ncols.max(1), k % ncols.max(1)),
            npyz::Order::Fortran => (k % nrows.max(1), k / nrows.max(1)),
        };
        return Err(npy_error(format!(
            "element ({i}, {j}) is {} — only finite numbers are allowed",
            values[k]
        )));
    }
    Ok(match order {
        // Row-major values are the columns of the transpose.
        npyz::Order::C => {
            kernels::transposed(MatRef::from_column_major_slice(&values, ncols, nrows))
        }
        npyz::Order::Fortran => Mat::from_fn(nrows, ncols, |i, j| values[j * nrows + i]),
    })
}

struct DTypeText<'a>(&'a npyz::DType);

impl fmt::Display for DTypeText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            npyz::DType::Plain(ts) => write!(f, "'{ts}'"),
            npyz::DType::Array(..) => f.write_str("(a sub-array)"),
            npyz::DType::Record(_) => f.write_str("(a structured record)"),
        }
    }
}

/// Reads a matrix from a `.csv` (header row; one column gives an `n × 1` vector) or a
/// `.npy` file, choosing by the file's extension.
pub fn load_matrix(path: impl AsRef<Path>) -> Result<Mat<f64>, DataError> {
    let path = path.as_ref();
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") => load_csv(path).map(|t| t.data),
        Some("npy") => load_npy(path),
        _ => Err(DataError::UnsupportedFormat {
            file: path.display().to_string(),
        }),
    }
}

/// A data file read a block of rows at a time, for data sets larger than memory: a
/// C-order `.npy` file (its header parsed once, then each block one sequential read)
/// or a CSV file with a header row (checked whole when opened, with the same errors
/// as [`load_csv`], then each block re-read from its recorded position).
///
/// Rows are numbered from 0 and come in blocks of the `block_rows` given to
/// [`RowReader::open`]; a block is read into a row-major buffer.
pub struct RowReader {
    file: String,
    rows: usize,
    cols: usize,
    block_rows: usize,
    source: Source,
}

enum Source {
    Npy {
        reader: std::io::BufReader<std::fs::File>,
        /// Where the values start.
        data_start: u64,
        kind: NpyKind,
        bytes: Vec<u8>,
    },
    Csv {
        reader: csv::Reader<std::io::BufReader<std::fs::File>>,
        columns: Vec<String>,
        /// Where each block's first row starts.
        blocks: Vec<csv::Position>,
        record: csv::StringRecord,
    },
}

/// The element types a streamed `.npy` file may hold, little-endian.
#[derive(Clone, Copy)]
enum NpyKind {
    F64,
    F32,
    I64,
    I32,
}

impl NpyKind {
    fn size(self) -> usize {
        match self {
            NpyKind::F64 | NpyKind::I64 => 8,
            NpyKind::F32 | NpyKind::I32 => 4,
        }
    }

    fn decode(self, b: &[u8]) -> f64 {
        match self {
            NpyKind::F64 => f64::from_le_bytes(b.try_into().expect("8 bytes")),
            NpyKind::F32 => f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes"))),
            NpyKind::I64 => i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64,
            NpyKind::I32 => f64::from(i32::from_le_bytes(b.try_into().expect("4 bytes"))),
        }
    }
}

impl fmt::Debug for RowReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RowReader({}: {} × {})", self.file, self.rows, self.cols)
    }
}

impl RowReader {
    /// Opens a `.csv` or `.npy` file for reading in blocks of `block_rows` rows
    /// (at least 1), checking what can be checked up front: the header, the shape,
    /// the file's length, and for a CSV every cell.
    pub fn open(path: impl AsRef<Path>, block_rows: usize) -> Result<RowReader, DataError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let block_rows = block_rows.max(1);
        let io = |e: std::io::Error| DataError::Io {
            file: file.clone(),
            message: e.to_string(),
        };
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("npy") => {
                let handle = std::fs::File::open(path).map_err(io)?;
                let length = handle.metadata().map_err(io)?.len();
                open_npy(file.clone(), handle, length, block_rows)
            }
            Some("csv") => {
                let handle = std::fs::File::open(path).map_err(io)?;
                open_csv(file.clone(), handle, block_rows)
            }
            _ => Err(DataError::UnsupportedFormat { file }),
        }
    }

    /// The file, as errors name it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The number of columns (1 for a 1-D `.npy` array or a one-column CSV).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Rows per block.
    pub fn block_rows(&self) -> usize {
        self.block_rows
    }

    /// The number of blocks, `⌈rows / block_rows⌉`.
    pub fn blocks(&self) -> usize {
        self.rows.div_ceil(self.block_rows)
    }

    /// Reads block `block` (rows `block·block_rows ..`, fewer in the last block) into
    /// `out`, row-major, replacing its contents; returns the number of rows read.
    pub fn read_block(&mut self, block: usize, out: &mut Vec<f64>) -> Result<usize, DataError> {
        let first = block * self.block_rows;
        let count = self.block_rows.min(self.rows.saturating_sub(first));
        out.clear();
        let (file, cols) = (&self.file, self.cols);
        match &mut self.source {
            Source::Npy {
                reader,
                data_start,
                kind,
                bytes,
            } => {
                use std::io::{Read, Seek, SeekFrom};
                let size = kind.size();
                let io = |e: std::io::Error| DataError::Io {
                    file: file.clone(),
                    message: e.to_string(),
                };
                let offset = *data_start + (first * cols * size) as u64;
                reader.seek(SeekFrom::Start(offset)).map_err(io)?;
                bytes.resize(count * cols * size, 0);
                reader.read_exact(bytes).map_err(io)?;
                out.extend(bytes.chunks_exact(size).map(|b| kind.decode(b)));
                if let Some(k) = out.iter().position(|v| !v.is_finite()) {
                    return Err(DataError::Npy {
                        file: file.clone(),
                        message: format!(
                            "element ({}, {}) is {} — only finite numbers are allowed",
                            first + k / cols,
                            k % cols,
                            out[k]
                        ),
                    });
                }
            }
            Source::Csv {
                reader,
                columns,
                blocks,
                record,
            } => {
                let malformed = malformed(file);
                let Some(start) = blocks.get(block) else {
                    return Ok(0);
                };
                reader.seek(start.clone()).map_err(&malformed)?;
                let mut read = 0;
                while read < count && reader.read_record(record).map_err(&malformed)? {
                    if parse_row(file, columns, record, |v| out.push(v))? {
                        read += 1;
                    }
                }
                // The file was checked when opened; fewer rows now means it changed.
                if read < count {
                    return Err(DataError::Io {
                        file: file.clone(),
                        message: format!(
                            "expected {count} rows from row {first}, found {read} — the file changed while it was read"
                        ),
                    });
                }
            }
        }
        Ok(count)
    }
}

fn open_npy(
    file: String,
    handle: std::fs::File,
    length: u64,
    block_rows: usize,
) -> Result<RowReader, DataError> {
    use std::io::Seek;
    let npy_error = |message: String| DataError::Npy {
        file: file.clone(),
        message,
    };
    let npy = npyz::NpyFile::new(std::io::BufReader::new(handle))
        .map_err(|e| npy_error(format!("not a valid .npy file ({e})")))?;
    let shape = npy.shape().to_vec();
    let (rows, cols) = match shape.as_slice() {
        [n] => (*n as usize, 1),
        [m, n] => (*m as usize, *n as usize),
        _ => {
            return Err(npy_error(format!(
                "array has {} dimensions — only 1-D (a vector) and 2-D (a matrix) are supported",
                shape.len()
            )))
        }
    };
    if npy.order() == npyz::Order::Fortran && cols > 1 {
        return Err(npy_error(
            "the array is in Fortran order, which cannot be read row by row — save it in C order (np.ascontiguousarray)".to_owned(),
        ));
    }
    let dtype = npy.dtype();
    let kind = match &dtype {
        npyz::DType::Plain(ts) if ts.endianness() != npyz::Endianness::Big => {
            match (ts.type_char(), ts.size_field()) {
                (npyz::TypeChar::Float, 8) => Some(NpyKind::F64),
                (npyz::TypeChar::Float, 4) => Some(NpyKind::F32),
                (npyz::TypeChar::Int, 8) => Some(NpyKind::I64),
                (npyz::TypeChar::Int, 4) => Some(NpyKind::I32),
                _ => None,
            }
        }
        _ => None,
    };
    let Some(kind) = kind else {
        return Err(npy_error(format!(
            "unsupported dtype {} for reading in blocks — save the array as little-endian float64, float32, int64 or int32",
            DTypeText(&dtype)
        )));
    };
    let mut reader = npy.into_inner();
    let data_start = reader
        .stream_position()
        .map_err(|e| npy_error(format!("cannot read the values ({e})")))?;
    let needed = data_start + (rows * cols * kind.size()) as u64;
    if length < needed {
        return Err(npy_error(format!(
            "the file is {length} bytes, but its header promises {needed} — the file is truncated"
        )));
    }
    Ok(RowReader {
        file,
        rows,
        cols,
        block_rows,
        source: Source::Npy {
            reader,
            data_start,
            kind,
            bytes: Vec::new(),
        },
    })
}

fn open_csv(
    file: String,
    handle: std::fs::File,
    block_rows: usize,
) -> Result<RowReader, DataError> {
    let mut reader = csv_reader(std::io::BufReader::new(handle));
    let malformed = malformed(&file);
    let mut record = csv::StringRecord::new();
    if !reader.read_record(&mut record).map_err(&malformed)? || record.iter().all(str::is_empty) {
        return Err(DataError::Empty { file: file.clone() });
    }
    let header_line = line_of(&record);
    let columns = header_names(&file, header_line, &record)?;
    let width = columns.len();
    // One pass checks every cell, counts the rows and records where blocks start.
    let mut blocks = Vec::new();
    let mut rows = 0usize;
    let mut last_line = header_line;
    loop {
        let position = reader.position().clone();
        if !reader.read_record(&mut record).map_err(&malformed)? {
            break;
        }
        last_line = line_of(&record);
        if !parse_row(&file, &columns, &record, |_| {})? {
            continue;
        }
        if rows % block_rows == 0 {
            blocks.push(position);
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(DataError::NoRows {
            file: file.clone(),
            line: last_line + 1,
        });
    }
    drop(malformed);
    Ok(RowReader {
        file,
        rows,
        cols: width,
        block_rows,
        source: Source::Csv {
            reader,
            columns,
            blocks,
            record,
        },
    })
}
