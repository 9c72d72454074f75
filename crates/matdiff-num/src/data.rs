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
    /// The first row, read as the header, holds only numbers: most likely the file
    /// has no header row, and its first data row would be lost as column names.
    #[error("{file}:{line}: the first row ({row}) holds only numbers, so it looks like data, not a header row of column names — nothing was read; add a header row naming the columns, or pass --no-header to read every row as data (columns col1, col2, …)")]
    NumericHeader {
        /// The file.
        file: String,
        /// The line of the first row.
        line: usize,
        /// The row's cells, comma-separated.
        row: String,
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
    /// A file larger than can be read into memory, or one that never ends.
    #[error("{file}: the file is larger than {limit} bytes, the most that can be read into memory here — read it in blocks, or raise --max-memory")]
    TooLarge {
        /// The file.
        file: String,
        /// The limit, in bytes.
        limit: u64,
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
            | DataError::NumericHeader { file, .. }
            | DataError::NoRows { file, .. }
            | DataError::EmptyColumnName { file, .. }
            | DataError::DuplicateColumn { file, .. }
            | DataError::Ragged { file, .. }
            | DataError::NonNumeric { file, .. }
            | DataError::NotFinite { file, .. }
            | DataError::Malformed { file, .. }
            | DataError::MissingColumn { file, .. }
            | DataError::Npy { file, .. }
            | DataError::TooLarge { file, .. }
            | DataError::UnsupportedFormat { file } => file,
        }
    }

    /// The 1-based line the error is about, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            DataError::NoRows { line, .. }
            | DataError::NumericHeader { line, .. }
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

/// Whether a CSV file's first row names the columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CsvHeader {
    /// The first row names the columns; a first row of numbers only is refused as
    /// a likely missing header (it would otherwise be lost as names).
    #[default]
    FirstRow,
    /// There is no header row: every row is data, and the columns are named `col1`,
    /// `col2`, … in file order.
    Absent,
}

/// Reads a CSV file with a header row into a [`Table`].
pub fn load_csv(path: impl AsRef<Path>) -> Result<Table, DataError> {
    load_csv_with(path, CsvHeader::FirstRow)
}

/// Reads a CSV file into a [`Table`], its first row a header or not as `header` says.
///
/// A regular file is read up to its length; anything else (a pipe, a device) up to
/// the memory budget ([`crate::memory::budget_bytes`]).
pub fn load_csv_with(path: impl AsRef<Path>, header: CsvHeader) -> Result<Table, DataError> {
    load_csv_selecting(path, header, None)
}

/// Reads the columns called `names` of a CSV file into a [`Table`] holding those
/// columns only, in that order. Only their cells are parsed: a column not asked for
/// may hold text (an identifier, a label) without making the file unreadable. A name
/// the header lacks is [`DataError::MissingColumn`].
pub fn load_csv_columns(
    path: impl AsRef<Path>,
    header: CsvHeader,
    names: &[&str],
) -> Result<Table, DataError> {
    load_csv_selecting(path, header, Some(names))
}

/// Parses the columns called `names` of CSV text, as [`load_csv_columns`] reads a file.
pub fn parse_csv_columns(
    name: &str,
    text: &str,
    header: CsvHeader,
    names: &[&str],
) -> Result<Table, DataError> {
    parse_csv_bytes(name, text.as_bytes(), header, Some(names))
}

fn load_csv_selecting(
    path: impl AsRef<Path>,
    header: CsvHeader,
    names: Option<&[&str]>,
) -> Result<Table, DataError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let io = |e: std::io::Error| DataError::Io {
        file: name.clone(),
        message: e.to_string(),
    };
    let handle = std::fs::File::open(path).map_err(io)?;
    let metadata = handle.metadata().map_err(io)?;
    let limit = if metadata.is_file() {
        metadata.len()
    } else {
        crate::memory::budget_bytes()
    };
    let bytes = read_bounded(&name, handle, limit)?;
    parse_csv_bytes(&name, &bytes, header, names)
}

/// Parses CSV text with a header row into a [`Table`]; `name` is used in errors.
pub fn parse_csv(name: &str, text: &str) -> Result<Table, DataError> {
    parse_csv_bytes(name, text.as_bytes(), CsvHeader::FirstRow, None)
}

/// Parses the bytes of a CSV file into a [`Table`] (invalid UTF-8 is reported with
/// its line), its first row a header or not as `header` says.
pub fn parse_csv_data(name: &str, bytes: &[u8], header: CsvHeader) -> Result<Table, DataError> {
    parse_csv_bytes(name, bytes, header, None)
}

/// Parses CSV text into a [`Table`], its first row a header or not as `header` says.
pub fn parse_csv_with(name: &str, text: &str, header: CsvHeader) -> Result<Table, DataError> {
    parse_csv_bytes(name, text.as_bytes(), header, None)
}

/// Parses CSV bytes; with `selected`, only the cells of those columns (in that order).
fn parse_csv_bytes(
    name: &str,
    bytes: &[u8],
    header: CsvHeader,
    selected: Option<&[&str]>,
) -> Result<Table, DataError> {
    let file = name.to_owned();
    // Spreadsheets often start UTF-8 files with a byte-order mark; it is not part of
    // the first column's name.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv_reader(bytes);
    let mut records = reader.records();
    let malformed = malformed(name);

    let first = match records.next() {
        None => return Err(DataError::Empty { file: file.clone() }),
        Some(record) => record.map_err(&malformed)?,
    };
    let header_line = line_of(&first);
    if first.iter().all(str::is_empty) {
        return Err(DataError::Empty { file: file.clone() });
    }
    let all_columns = columns_of(&file, header_line, &first, header)?;
    // The positions in the file of the columns kept, in the order kept.
    let kept: Option<Vec<usize>> = match selected {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|name| {
                    all_columns.iter().position(|c| c == name).ok_or_else(|| {
                        DataError::MissingColumn {
                            file: file.clone(),
                            name: (*name).to_owned(),
                            available: all_columns.clone(),
                        }
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
    };

    let columns: Vec<String> = match &kept {
        None => all_columns.clone(),
        Some(kept) => kept.iter().map(|&j| all_columns[j].clone()).collect(),
    };
    let width = columns.len();
    let mut values = Vec::new();
    let mut rows = 0usize;
    let mut row = |record: &csv::StringRecord| {
        parse_selected_row(&file, &all_columns, kept.as_deref(), record, |v| {
            values.push(v)
        })
    };
    if header == CsvHeader::Absent && row(&first)? {
        rows += 1;
    }
    let mut last_line = header_line;
    for record in records {
        let record = record.map_err(&malformed)?;
        last_line = line_of(&record);
        if row(&record)? {
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

/// The column names: the header row's, checked, or `col1`, `col2`, … without one.
fn columns_of(
    file: &str,
    line: usize,
    first: &csv::StringRecord,
    header: CsvHeader,
) -> Result<Vec<String>, DataError> {
    match header {
        CsvHeader::Absent => Ok((1..=first.len()).map(|j| format!("col{j}")).collect()),
        CsvHeader::FirstRow => {
            if first.iter().all(|cell| cell.parse::<f64>().is_ok()) {
                return Err(DataError::NumericHeader {
                    file: file.to_owned(),
                    line,
                    row: first.iter().collect::<Vec<_>>().join(","),
                });
            }
            header_names(file, line, first)
        }
    }
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
    push: impl FnMut(f64),
) -> Result<bool, DataError> {
    parse_selected_row(file, columns, None, record, push)
}

/// [`parse_row`] for the `kept` columns only (all of them for `None`), in that order:
/// the other cells are not parsed.
fn parse_selected_row(
    file: &str,
    columns: &[String],
    kept: Option<&[usize]>,
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
    match kept {
        None => {
            for (j, cell) in record.iter().enumerate() {
                push(parse_cell(file, line, j, &columns[j], cell)?);
            }
        }
        Some(kept) => {
            for &j in kept {
                push(parse_cell(file, line, j, &columns[j], &record[j])?);
            }
        }
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

/// The largest `.npy` header accepted, in bytes. NumPy writes a few hundred bytes for
/// the plain arrays read here; a larger claim marks a damaged file, refused before
/// anything is allocated for it.
pub const NPY_MAX_HEADER_BYTES: usize = 1 << 16;

/// What a `.npy` file's header says about the values after it, checked against the
/// file's length: the one place where a `.npy` file's sizes are checked, for loading it
/// whole, reading it by blocks, or mapping it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpyLayout {
    /// Rows: the length of a 1-D array, the first dimension of a 2-D one.
    pub rows: usize,
    /// Columns: 1 for a 1-D array.
    pub cols: usize,
    /// Whether the values are stored column by column (Fortran order).
    pub fortran: bool,
    /// The element type.
    pub kind: NpyKind,
    /// The byte offset where the values start (just after the header).
    pub data_start: u64,
}

impl NpyLayout {
    /// The number of values, `rows · cols`.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Whether the array holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The length in bytes of the values.
    pub fn data_bytes(&self) -> u64 {
        (self.len() * self.kind.size()) as u64
    }
}

/// The element types a `.npy` file may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpyKind {
    ty: NpyType,
    big_endian: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NpyType {
    F64,
    F32,
    I64,
    I32,
}

impl NpyKind {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self.ty {
            NpyType::F64 | NpyType::I64 => 8,
            NpyType::F32 | NpyType::I32 => 4,
        }
    }

    /// Decodes one element from its [`size`](Self::size) bytes.
    pub fn decode(self, b: &[u8]) -> f64 {
        let b4 = || -> [u8; 4] { b.try_into().expect("4 bytes") };
        let b8 = || -> [u8; 8] { b.try_into().expect("8 bytes") };
        match (self.ty, self.big_endian) {
            (NpyType::F64, false) => f64::from_le_bytes(b8()),
            (NpyType::F64, true) => f64::from_be_bytes(b8()),
            (NpyType::F32, false) => f64::from(f32::from_le_bytes(b4())),
            (NpyType::F32, true) => f64::from(f32::from_be_bytes(b4())),
            (NpyType::I64, false) => i64::from_le_bytes(b8()) as f64,
            (NpyType::I64, true) => i64::from_be_bytes(b8()) as f64,
            (NpyType::I32, false) => f64::from(i32::from_le_bytes(b4())),
            (NpyType::I32, true) => f64::from(i32::from_be_bytes(b4())),
        }
    }
}

/// Reads and checks the header of a `.npy` file of `length` bytes from `source`
/// (positioned at the file's start), leaving `source` just after the header.
///
/// Refused: a header longer than [`NPY_MAX_HEADER_BYTES`] or than the file, a shape
/// whose size overflows, a rank other than 1 or 2, an unsupported dtype, and a file
/// whose length is not exactly the header plus the values it announces (a truncated
/// file, or trailing bytes).
pub fn npy_layout(
    file: &str,
    mut source: impl std::io::Read,
    length: u64,
) -> Result<NpyLayout, DataError> {
    let npy_error = |message: String| DataError::Npy {
        file: file.to_owned(),
        message,
    };
    let invalid = |why: &str| npy_error(format!("not a valid .npy file ({why})"));
    // Magic, version, and the header's length in 2 (version 1) or 4 bytes.
    let mut prelude = [0u8; 12];
    let mut fill = |buffer: &mut [u8]| -> Result<(), DataError> {
        source.read_exact(buffer).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                npy_error(format!(
                    "the file is {length} bytes, too short for the header it announces — the file is truncated"
                ))
            } else {
                npy_error(format!("cannot read the header ({e})"))
            }
        })
    };
    fill(&mut prelude[..10])?;
    if &prelude[..6] != b"\x93NUMPY" {
        return Err(invalid("it does not start with the .npy magic bytes"));
    }
    let (prelude_len, header_len) = match prelude[6] {
        1 => (10, u64::from(u16::from_le_bytes([prelude[8], prelude[9]]))),
        2 | 3 => {
            fill(&mut prelude[10..12])?;
            let len = u32::from_le_bytes(prelude[8..12].try_into().expect("4 bytes"));
            (12, u64::from(len))
        }
        v => return Err(invalid(&format!("unknown format version {v}"))),
    };
    if header_len > NPY_MAX_HEADER_BYTES as u64 {
        return Err(npy_error(format!(
            "the header claims {header_len} bytes, more than the {NPY_MAX_HEADER_BYTES} a .npy header may have — the file is damaged"
        )));
    }
    let data_start = prelude_len + header_len;
    if data_start > length {
        return Err(npy_error(format!(
            "the file is {length} bytes, but its header alone claims {data_start} — the file is truncated"
        )));
    }
    let mut header = prelude[..prelude_len as usize].to_vec();
    header.resize(data_start as usize, 0);
    fill(&mut header[prelude_len as usize..])?;
    check_shape_size(&header[prelude_len as usize..]).map_err(&npy_error)?;
    let npy = npyz::NpyFile::new(&header[..])
        .map_err(|e| npy_error(format!("not a valid .npy file ({e})")))?;
    let shape = npy.shape().to_vec();
    let dims: Vec<usize> = shape
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| npy_error(format!("the shape {shape:?} is too large for this machine")))?;
    let (rows, cols) = match dims.as_slice() {
        [n] => (*n, 1),
        [m, n] => (*m, *n),
        _ => {
            return Err(npy_error(format!(
                "array has {} dimensions — only 1-D (a vector) and 2-D (a matrix) are supported",
                shape.len()
            )))
        }
    };
    let dtype = npy.dtype();
    let kind = match &dtype {
        npyz::DType::Plain(ts) => {
            let ty = match (ts.type_char(), ts.size_field()) {
                (npyz::TypeChar::Float, 8) => Some(NpyType::F64),
                (npyz::TypeChar::Float, 4) => Some(NpyType::F32),
                (npyz::TypeChar::Int, 8) => Some(NpyType::I64),
                (npyz::TypeChar::Int, 4) => Some(NpyType::I32),
                _ => None,
            };
            ty.map(|ty| NpyKind {
                ty,
                big_endian: ts.endianness() == npyz::Endianness::Big,
            })
        }
        _ => None,
    };
    let Some(kind) = kind else {
        return Err(npy_error(format!(
            "unsupported dtype {} — save the array as float64, float32, int64 or int32",
            DTypeText(&dtype)
        )));
    };
    let expected = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(kind.size()))
        .and_then(|n| u64::try_from(n).ok())
        .and_then(|n| n.checked_add(data_start))
        .ok_or_else(|| {
            npy_error(format!(
                "the shape {shape:?} announces more bytes than any file can hold"
            ))
        })?;
    if length != expected {
        let values = format!(
            "a {data_start}-byte header and {rows} × {cols} values of {} bytes",
            kind.size()
        );
        return Err(npy_error(if length < expected {
            format!(
                "the file is {length} bytes, but its header promises {expected} ({values}) — the file is truncated"
            )
        } else {
            format!(
                "the file is {length} bytes, but its header promises {expected} ({values}) — {} trailing bytes; the file is damaged or not what its header says",
                length - expected
            )
        }));
    }
    Ok(NpyLayout {
        rows,
        cols,
        fortran: npy.order() == npyz::Order::Fortran,
        kind,
        data_start,
    })
}

/// Refuses a header whose `'shape'` tuple multiplies out past `u64` (the product of its
/// non-zero dimensions), before the header is handed to a reader that would overflow.
fn check_shape_size(header: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(header);
    let Some(at) = text.find("shape") else {
        return Ok(());
    };
    let rest = &text[at..];
    let (Some(open), Some(close)) = (rest.find('('), rest.find(')')) else {
        return Ok(());
    };
    if close < open {
        return Ok(());
    }
    let mut size: u64 = 1;
    for dim in rest[open + 1..close].split(',') {
        let dim = dim.trim().trim_end_matches('L');
        if dim.is_empty() {
            continue;
        }
        let Ok(dim) = dim.parse::<u64>() else {
            continue;
        };
        if dim == 0 {
            continue;
        }
        size = size.checked_mul(dim).ok_or_else(|| {
            format!(
                "the shape ({}) has more elements than 2^64 — the file is damaged",
                rest[open + 1..close].trim()
            )
        })?;
    }
    Ok(())
}

/// Reads a NumPy `.npy` file of `f64`, `f32`, `i64` or `i32` values: a 1-D array
/// becomes an `n × 1` column, a 2-D array (C or Fortran order) a matrix.
///
/// The header is checked against the file's length (see [`npy_layout`]) before the
/// values are read.
pub fn load_npy(path: impl AsRef<Path>) -> Result<Mat<f64>, DataError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let io = |e: std::io::Error| DataError::Io {
        file: name.clone(),
        message: e.to_string(),
    };
    let handle = std::fs::File::open(path).map_err(io)?;
    let metadata = handle.metadata().map_err(io)?;
    let bytes = if metadata.is_file() {
        npy_layout(&name, std::io::BufReader::new(&handle), metadata.len())?;
        read_bounded(
            &name,
            std::fs::File::open(path).map_err(io)?,
            metadata.len(),
        )?
    } else {
        read_bounded(&name, handle, crate::memory::budget_bytes())?
    };
    parse_npy(&name, &bytes)
}

/// Parses the bytes of a `.npy` file (see [`load_npy`]); `name` is used in errors.
pub fn parse_npy(name: &str, bytes: &[u8]) -> Result<Mat<f64>, DataError> {
    let layout = npy_layout(name, bytes, bytes.len() as u64)?;
    let (nrows, ncols) = (layout.rows, layout.cols);
    let size = layout.kind.size();
    let values: Vec<f64> = bytes[layout.data_start as usize..]
        .chunks_exact(size)
        .map(|b| layout.kind.decode(b))
        .collect();
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        let (i, j) = if layout.fortran {
            (k % nrows.max(1), k / nrows.max(1))
        } else {
            (k / ncols.max(1), k % ncols.max(1))
        };
        return Err(DataError::Npy {
            file: name.to_owned(),
            message: format!(
                "element ({i}, {j}) is {} — only finite numbers are allowed",
                values[k]
            ),
        });
    }
    Ok(if layout.fortran {
        Mat::from_fn(nrows, ncols, |i, j| values[j * nrows + i])
    } else {
        // Row-major values are the columns of the transpose.
        kernels::transposed(MatRef::from_column_major_slice(&values, ncols, nrows))
    })
}

/// Reads all of `source`, refusing it once it passes `limit` bytes (an endless or
/// growing file), so that a read never runs until memory is exhausted.
fn read_bounded(file: &str, source: impl std::io::Read, limit: u64) -> Result<Vec<u8>, DataError> {
    use std::io::Read;
    let mut bytes = Vec::new();
    source
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| DataError::Io {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
    if bytes.len() as u64 > limit {
        return Err(DataError::TooLarge {
            file: file.to_owned(),
            limit,
        });
    }
    Ok(bytes)
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
    load_matrix_with(path, CsvHeader::FirstRow)
}

/// [`load_matrix`], with a CSV file's first row a header or not as `header` says.
pub fn load_matrix_with(path: impl AsRef<Path>, header: CsvHeader) -> Result<Mat<f64>, DataError> {
    let path = path.as_ref();
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") => load_csv_with(path, header).map(|t| t.data),
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
        RowReader::open_with(path, block_rows, CsvHeader::FirstRow)
    }

    /// [`RowReader::open`], with a CSV file's first row a header or not as `header`
    /// says. Only a regular file can be read in blocks (a pipe or a device cannot be
    /// re-read).
    pub fn open_with(
        path: impl AsRef<Path>,
        block_rows: usize,
        header: CsvHeader,
    ) -> Result<RowReader, DataError> {
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
        let open = || -> Result<(std::fs::File, u64), DataError> {
            let handle = std::fs::File::open(path).map_err(io)?;
            let metadata = handle.metadata().map_err(io)?;
            if !metadata.is_file() {
                return Err(DataError::Io {
                    file: file.clone(),
                    message: "not a regular file, so it cannot be read in blocks — save the data to a file first".to_owned(),
                });
            }
            Ok((handle, metadata.len()))
        };
        match extension.as_deref() {
            Some("npy") => {
                let (handle, length) = open()?;
                open_npy(file.clone(), handle, length, block_rows)
            }
            Some("csv") => {
                let (handle, _) = open()?;
                open_csv(file.clone(), handle, block_rows, header)
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
    let mut reader = std::io::BufReader::new(handle);
    let layout = npy_layout(&file, &mut reader, length)?;
    if layout.fortran && layout.cols > 1 {
        return Err(DataError::Npy {
            file,
            message: "the array is in Fortran order, which cannot be read row by row — save it in C order (np.ascontiguousarray)".to_owned(),
        });
    }
    Ok(RowReader {
        file,
        rows: layout.rows,
        cols: layout.cols,
        block_rows,
        source: Source::Npy {
            reader,
            data_start: layout.data_start,
            kind: layout.kind,
            bytes: Vec::new(),
        },
    })
}

fn open_csv(
    file: String,
    handle: std::fs::File,
    block_rows: usize,
    header: CsvHeader,
) -> Result<RowReader, DataError> {
    let mut reader = csv_reader(std::io::BufReader::new(handle));
    let malformed = malformed(&file);
    let mut record = csv::StringRecord::new();
    let start = reader.position().clone();
    if !reader.read_record(&mut record).map_err(&malformed)? || record.iter().all(str::is_empty) {
        return Err(DataError::Empty { file: file.clone() });
    }
    let header_line = line_of(&record);
    let columns = columns_of(&file, header_line, &record, header)?;
    let width = columns.len();
    if header == CsvHeader::Absent {
        // The first row is data: read it again in the pass below.
        reader.seek(start).map_err(&malformed)?;
    }
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
