//! Loading numeric data: CSV with a header row and NumPy `.npy` files.
//!
//! Every error names the file, and where it makes sense the line and column, so the
//! user can go straight to the bad cell. Nothing is ever skipped silently: a
//! non-numeric cell, a NaN or an infinity, a ragged row or an empty file is an error.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use faer::Mat;
use rayon::prelude::*;
use thiserror::Error;

use crate::mapped::MappedFile;
use crate::stored::{Order, Stored};

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
/// A regular file is mapped into memory and parsed in parallel (see [`parse_csv_data`]);
/// anything else (a pipe, a device) is read up to the memory budget
/// ([`crate::memory::budget_bytes`]) first.
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
    let (columns, rows, values) = csv_values(name, text.as_bytes(), header, Some(names), &|_| {})?;
    Ok(table(name.to_owned(), columns, rows, &values))
}

fn load_csv_selecting(
    path: impl AsRef<Path>,
    header: CsvHeader,
    names: Option<&[&str]>,
) -> Result<Table, DataError> {
    let path = path.as_ref();
    let (columns, rows, values) = read_csv(path, header, names)?;
    Ok(table(path.display().to_string(), columns, rows, &values))
}

/// The column names, the number of rows and the values row by row of a CSV file
/// (of the columns `selected`, when given).
fn read_csv(
    path: &Path,
    header: CsvHeader,
    selected: Option<&[&str]>,
) -> Result<(Vec<String>, usize, Vec<f64>), DataError> {
    let names = selected;
    let name = path.display().to_string();
    let io = |e: std::io::Error| DataError::Io {
        file: name.clone(),
        message: e.to_string(),
    };
    let handle = std::fs::File::open(path).map_err(io)?;
    let metadata = handle.metadata().map_err(io)?;
    if metadata.is_file() && metadata.len() > 0 {
        let file = MappedFile::open_once(&handle).map_err(io)?;
        csv_values(&name, file.bytes(), header, names, &|parsed| {
            file.release(parsed)
        })
    } else {
        let limit = if metadata.is_file() {
            metadata.len()
        } else {
            crate::memory::budget_bytes()
        };
        let bytes = read_bounded(&name, handle, limit)?;
        csv_values(&name, &bytes, header, names, &|_| {})
    }
}

/// Parses CSV text with a header row into a [`Table`]; `name` is used in errors.
pub fn parse_csv(name: &str, text: &str) -> Result<Table, DataError> {
    parse_csv_data(name, text.as_bytes(), CsvHeader::FirstRow)
}

/// Parses the bytes of a CSV file into a [`Table`] (invalid UTF-8 is reported with
/// its line), its first row a header or not as `header` says.
///
/// The rows are split at newlines into pieces that are parsed in parallel. A file
/// the parallel reader does not take as it is (a quoted cell, a line ended by a lone
/// carriage return) and a file with an error are read again by the plain reader,
/// which gives the same values, and the same errors with their lines and columns.
pub fn parse_csv_data(name: &str, bytes: &[u8], header: CsvHeader) -> Result<Table, DataError> {
    let (columns, rows, values) = csv_values(name, bytes, header, None, &|_| {})?;
    Ok(table(name.to_owned(), columns, rows, &values))
}

/// Parses CSV text into a [`Table`], its first row a header or not as `header` says.
pub fn parse_csv_with(name: &str, text: &str, header: CsvHeader) -> Result<Table, DataError> {
    parse_csv_data(name, text.as_bytes(), header)
}

fn table(path: String, columns: Vec<String>, rows: usize, values: &[f64]) -> Table {
    let width = columns.len();
    Table {
        path,
        data: Mat::from_fn(rows, width, |i, j| values[i * width + j]),
        columns,
    }
}

/// The column names, the number of rows and the values row by row of CSV bytes (of
/// the columns `selected`, when given): in parallel where that reads the file as the
/// plain reader does, else (and for a selection of columns) by the plain reader.
/// `parsed` is told of each stretch of bytes the parallel reader has parsed.
fn csv_values(
    name: &str,
    bytes: &[u8],
    header: CsvHeader,
    selected: Option<&[&str]>,
    parsed: &(dyn Fn(&[u8]) + Sync),
) -> Result<(Vec<String>, usize, Vec<f64>), DataError> {
    // Spreadsheets often start UTF-8 files with a byte-order mark; it is not part of
    // the first column's name.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if selected.is_some() {
        return csv_values_serial(name, bytes, header, selected);
    }
    let mut reader = csv_reader(bytes);
    let mut first = csv::StringRecord::new();
    if !reader.read_record(&mut first).map_err(malformed(name))? || first.iter().all(str::is_empty)
    {
        return Err(DataError::Empty {
            file: name.to_owned(),
        });
    }
    let columns = columns_of(name, line_of(&first), &first, header)?;
    let body = match header {
        CsvHeader::FirstRow => bytes.get(reader.position().byte() as usize..),
        CsvHeader::Absent => Some(bytes),
    };
    if let Some(values) = body.and_then(|body| parallel::values(body, columns.len(), parsed)) {
        if !values.is_empty() {
            let rows = values.len() / columns.len();
            return Ok((columns, rows, values));
        }
    }
    csv_values_serial(name, bytes, header, None)
}

/// [`csv_values`] by the plain reader, one record after the other.
fn csv_values_serial(
    name: &str,
    bytes: &[u8],
    header: CsvHeader,
    selected: Option<&[&str]>,
) -> Result<(Vec<String>, usize, Vec<f64>), DataError> {
    let file = name.to_owned();
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
            file,
            line: last_line + 1,
        });
    }
    Ok((columns, rows, values))
}

/// The parallel CSV reader: the rows after the header, cut at newlines into pieces,
/// each parsed on its own thread.
///
/// It takes only what the plain reader reads the same way: unquoted cells of numbers
/// separated by commas, surrounding spaces and tabs trimmed, lines ended by `\n` or
/// `\r\n`, blank lines skipped. Anything else, and any error, makes it give up
/// (`None`), and the caller reads the file with the plain reader, which reports errors
/// with their lines. Numbers are parsed correctly rounded, as Rust's own parser does,
/// so the values are the same bits.
mod parallel {
    use rayon::prelude::*;

    /// Bytes per piece; pieces end at the first newline past the mark.
    const PIECE_BYTES: usize = 1 << 20;

    /// The values of the rows of `body`, `width` a row, row by row; `None` when the
    /// plain reader must read it. `done` is told of each piece once it is parsed.
    pub(super) fn values(
        body: &[u8],
        width: usize,
        done: &(dyn Fn(&[u8]) + Sync),
    ) -> Option<Vec<f64>> {
        values_in_pieces(body, width, PIECE_BYTES, done)
    }

    /// [`values`], in pieces of about `piece_bytes`.
    pub(super) fn values_in_pieces(
        body: &[u8],
        width: usize,
        piece_bytes: usize,
        done: &(dyn Fn(&[u8]) + Sync),
    ) -> Option<Vec<f64>> {
        let pieces = split(body, piece_bytes.max(1));
        let parsed: Vec<Option<Vec<f64>>> = pieces
            .par_iter()
            .map(|piece| {
                let values = parse_piece(piece, width);
                done(piece);
                values
            })
            .collect();
        let total = parsed
            .iter()
            .map(|p| p.as_ref().map(Vec::len))
            .sum::<Option<usize>>()?;
        // Pieces are moved into one buffer and freed one by one, so that the values
        // are held about once.
        let mut values = Vec::with_capacity(total);
        for piece in parsed.into_iter().flatten() {
            values.extend_from_slice(&piece);
        }
        Some(values)
    }

    /// `body` cut just after the first newline past every `piece_bytes`.
    fn split(body: &[u8], piece_bytes: usize) -> Vec<&[u8]> {
        let mut pieces = Vec::with_capacity(body.len() / piece_bytes + 1);
        let mut rest = body;
        while rest.len() > piece_bytes {
            let cut = match rest[piece_bytes..].iter().position(|&b| b == b'\n') {
                Some(k) => piece_bytes + k + 1,
                None => rest.len(),
            };
            let (piece, tail) = rest.split_at(cut);
            pieces.push(piece);
            rest = tail;
        }
        if !rest.is_empty() {
            pieces.push(rest);
        }
        pieces
    }

    fn parse_piece(piece: &[u8], width: usize) -> Option<Vec<f64>> {
        let mut values = Vec::with_capacity(piece.len() / 8);
        for line in piece.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.contains(&b'\r') {
                return None;
            }
            if line.iter().all(|&b| b == b' ' || b == b'\t') {
                continue;
            }
            let mut fields = 0;
            for cell in line.split(|&b| b == b',') {
                fields += 1;
                let cell = cell.trim_ascii();
                let (value, used) = fast_float2::parse_partial::<f64, _>(cell).ok()?;
                if used != cell.len() || !value.is_finite() || fields > width {
                    return None;
                }
                values.push(value);
            }
            if fields != width {
                return None;
            }
        }
        Some(values)
    }
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
    Bool,
}

impl NpyKind {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self.ty {
            NpyType::F64 | NpyType::I64 => 8,
            NpyType::F32 | NpyType::I32 => 4,
            NpyType::Bool => 1,
        }
    }

    /// Whether the values are `f64`s in this machine's byte order, usable in place.
    fn is_native_f64(self) -> bool {
        self.ty == NpyType::F64 && self.big_endian == cfg!(target_endian = "big")
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
            (NpyType::Bool, _) => f64::from(u8::from(b[0] != 0)),
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
    check_header_nesting(&header[prelude_len as usize..]).map_err(&npy_error)?;
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
                (npyz::TypeChar::Bool, 1) => Some(NpyType::Bool),
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
            "unsupported dtype {} — save the array as float64, float32, int64, int32 or bool",
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

/// The deepest nesting of brackets a header of a supported array has: the dictionary
/// and the shape tuple inside it.
const MAX_HEADER_NESTING: usize = 2;

/// Refuses a header nested deeper than a supported array's (`{'descr': '<f8',
/// 'fortran_order': False, 'shape': (3, 4), }`) before the header's literal parser
/// sees it: that parser takes time exponential in the depth of nested brackets.
fn check_header_nesting(header: &[u8]) -> Result<(), String> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    for &b in header {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(b),
            (None, b'{' | b'(' | b'[') => {
                depth += 1;
                if depth > MAX_HEADER_NESTING {
                    return Err(format!(
                        "the header nests brackets deeper than {MAX_HEADER_NESTING} — an array \
                         saved by numpy.save has a flat dictionary with a shape tuple; a \
                         structured dtype is not supported, and otherwise the file is damaged"
                    ));
                }
            }
            (None, b'}' | b')' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
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

/// Reads a NumPy `.npy` file of `f64`, `f32`, `i64`, `i32` or `bool` values: a 1-D
/// array becomes an `n × 1` column, a 2-D array (C or Fortran order) a matrix.
///
/// The header is checked against the file's length (see [`npy_layout`]) before the
/// values are read. The values come back as a faer matrix, a copy; [`load_npy_stored`]
/// reads them in place.
pub fn load_npy(path: impl AsRef<Path>) -> Result<Mat<f64>, DataError> {
    load_npy_stored(path).map(Stored::into_mat)
}

/// Reads a `.npy` file (see [`load_npy`]) as it is stored. A regular file is mapped
/// into memory: `float64` values in this machine's byte order are used in place (a
/// C-order file is the matrix by rows, a Fortran-order one by columns), after one
/// parallel pass that checks that they are finite; other types are converted in one
/// parallel pass into a matrix of the file's order. A pipe or a device is read up to
/// the memory budget ([`crate::memory::budget_bytes`]) and converted.
pub fn load_npy_stored(path: impl AsRef<Path>) -> Result<Stored, DataError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let io = |e: std::io::Error| DataError::Io {
        file: name.clone(),
        message: e.to_string(),
    };
    let handle = std::fs::File::open(path).map_err(io)?;
    let metadata = handle.metadata().map_err(io)?;
    if !metadata.is_file() {
        let bytes = read_bounded(&name, handle, crate::memory::budget_bytes())?;
        return npy_stored(&name, &bytes);
    }
    let layout = npy_layout(&name, std::io::BufReader::new(&handle), metadata.len())?;
    let order = if layout.fortran {
        Order::Columns
    } else {
        Order::Rows
    };
    let start = layout.data_start as usize;
    if layout.is_empty() {
        return Ok(Stored::owned(layout.rows, layout.cols, Vec::new(), order));
    }
    let file = MappedFile::open(&handle).map_err(io)?;
    // The map starts on a page, so values from an offset that is a multiple of 8 (64
    // in files NumPy writes) are aligned.
    if layout.kind.is_native_f64() && start % 8 == 0 {
        if let Some(stored) = Stored::mapped(file, start, layout.rows, layout.cols, order) {
            check_finite(&name, &layout, stored.values().unwrap_or(&[]))?;
            return Ok(stored);
        }
        let file = MappedFile::open(&handle).map_err(io)?;
        let values = decode_npy(&name, &layout, &file.bytes()[start..])?;
        return Ok(Stored::owned(layout.rows, layout.cols, values, order));
    }
    let values = decode_npy(&name, &layout, &file.bytes()[start..])?;
    Ok(Stored::owned(layout.rows, layout.cols, values, order))
}

/// The header of a `.npy` file (a regular file), checked against the file's length:
/// its shape and type, without reading any value.
pub fn npy_header(path: impl AsRef<Path>) -> Result<NpyLayout, DataError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let (_, layout) = open_npy_file(&name, path)?;
    Ok(layout)
}

/// The rows `rows` of a `.npy` file (a regular file, C order unless it is a vector),
/// by rows, without reading the other rows: only the bytes of those rows are mapped
/// into memory. `float64` values in this machine's byte order are used in place,
/// other types are converted; every value must be finite (an error names the row in
/// the whole file). A range past the file's rows is refused.
pub fn load_npy_rows(path: impl AsRef<Path>, rows: Range<usize>) -> Result<Stored, DataError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let (handle, layout) = open_npy_file(&name, path)?;
    let npy_error = |message: String| DataError::Npy {
        file: name.clone(),
        message,
    };
    if layout.fortran && layout.cols > 1 {
        return Err(npy_error(
            "the array is in Fortran order, which cannot be read row by row — save it in C order (np.ascontiguousarray)".to_owned(),
        ));
    }
    if rows.start > rows.end || rows.end > layout.rows {
        return Err(npy_error(format!(
            "rows {}..{} asked for, but the array has {} rows",
            rows.start, rows.end, layout.rows
        )));
    }
    let count = rows.len();
    if count == 0 || layout.cols == 0 {
        return Ok(Stored::owned(count, layout.cols, Vec::new(), Order::Rows));
    }
    let row_bytes = layout.cols * layout.kind.size();
    let offset = layout.data_start + (rows.start * row_bytes) as u64;
    let file =
        MappedFile::open_range(&handle, offset, count * row_bytes).map_err(|e| DataError::Io {
            file: name.clone(),
            message: e.to_string(),
        })?;
    // The piece is checked as an array of its own; errors then name its rows.
    let piece = NpyLayout {
        rows: count,
        cols: layout.cols,
        fortran: false,
        data_start: 0,
        ..layout
    };
    let named = |error: DataError| match error {
        DataError::Npy { file, message } => DataError::Npy {
            file,
            message: shift_element(&message, rows.start),
        },
        other => other,
    };
    if layout.kind.is_native_f64() && offset % 8 == 0 {
        if let Some(stored) = Stored::mapped(file, 0, count, layout.cols, Order::Rows) {
            check_finite(&name, &piece, stored.values().unwrap_or(&[])).map_err(named)?;
            return Ok(stored);
        }
        return Err(npy_error("the mapped rows are not aligned".to_owned()));
    }
    let values = decode_npy(&name, &piece, file.bytes()).map_err(named)?;
    Ok(Stored::owned(count, layout.cols, values, Order::Rows))
}

/// Opens a regular `.npy` file and checks its header.
fn open_npy_file(name: &str, path: &Path) -> Result<(std::fs::File, NpyLayout), DataError> {
    let io = |e: std::io::Error| DataError::Io {
        file: name.to_owned(),
        message: e.to_string(),
    };
    let handle = std::fs::File::open(path).map_err(io)?;
    let metadata = handle.metadata().map_err(io)?;
    if !metadata.is_file() {
        return Err(DataError::Io {
            file: name.to_owned(),
            message: "not a regular file, so its rows cannot be read apart — save the data to a file first".to_owned(),
        });
    }
    let layout = npy_layout(name, std::io::BufReader::new(&handle), metadata.len())?;
    Ok((handle, layout))
}

/// The message of [`check_finite`] for a piece of rows starting at row `first`, with
/// the element's row counted in the whole file.
fn shift_element(message: &str, first: usize) -> String {
    let shifted = message
        .strip_prefix("element (")
        .and_then(|rest| rest.split_once(", "))
        .and_then(|(row, rest)| Some((row.parse::<usize>().ok()? + first, rest)));
    match shifted {
        Some((row, rest)) => format!("element ({row}, {rest}"),
        None => message.to_owned(),
    }
}

/// Parses the bytes of a `.npy` file (see [`load_npy`]); `name` is used in errors.
pub fn parse_npy(name: &str, bytes: &[u8]) -> Result<Mat<f64>, DataError> {
    npy_stored(name, bytes).map(Stored::into_mat)
}

/// The bytes of a whole `.npy` file, checked and converted into a matrix of the file's
/// order.
fn npy_stored(name: &str, bytes: &[u8]) -> Result<Stored, DataError> {
    let layout = npy_layout(name, bytes, bytes.len() as u64)?;
    let values = decode_npy(name, &layout, &bytes[layout.data_start as usize..])?;
    let order = if layout.fortran {
        Order::Columns
    } else {
        Order::Rows
    };
    Ok(Stored::owned(layout.rows, layout.cols, values, order))
}

/// Values per piece of the parallel passes over `.npy` values.
const NPY_PIECE: usize = 1 << 16;

/// Converts the values of a `.npy` file (`bytes`, just past the header, as long as
/// `layout` says) to `f64`, in file order, in parallel pieces; then checks them.
fn decode_npy(name: &str, layout: &NpyLayout, bytes: &[u8]) -> Result<Vec<f64>, DataError> {
    fn convert<const N: usize>(
        bytes: &[u8],
        values: &mut [f64],
        decode: impl Fn([u8; N]) -> f64 + Sync,
    ) {
        values
            .par_chunks_mut(NPY_PIECE)
            .zip(bytes.par_chunks(NPY_PIECE * N))
            .for_each(|(out, bytes)| {
                for (v, b) in out.iter_mut().zip(bytes.chunks_exact(N)) {
                    *v = decode(b.try_into().expect("N bytes"));
                }
            });
    }
    let mut values = vec![0.0; layout.len()];
    let bytes = &bytes[..layout.data_bytes() as usize];
    let out = &mut values[..];
    match (layout.kind.ty, layout.kind.big_endian) {
        (NpyType::F64, false) => convert(bytes, out, f64::from_le_bytes),
        (NpyType::F64, true) => convert(bytes, out, f64::from_be_bytes),
        (NpyType::F32, false) => convert(bytes, out, |b| f64::from(f32::from_le_bytes(b))),
        (NpyType::F32, true) => convert(bytes, out, |b| f64::from(f32::from_be_bytes(b))),
        (NpyType::I64, false) => convert(bytes, out, |b| i64::from_le_bytes(b) as f64),
        (NpyType::I64, true) => convert(bytes, out, |b| i64::from_be_bytes(b) as f64),
        (NpyType::I32, false) => convert(bytes, out, |b| f64::from(i32::from_le_bytes(b))),
        (NpyType::I32, true) => convert(bytes, out, |b| f64::from(i32::from_be_bytes(b))),
        (NpyType::Bool, _) => convert(bytes, out, |b: [u8; 1]| f64::from(u8::from(b[0] != 0))),
    }
    check_finite(name, layout, &values)?;
    Ok(values)
}

/// Refuses the first value (in file order) that is NaN or infinite, naming its element.
fn check_finite(name: &str, layout: &NpyLayout, values: &[f64]) -> Result<(), DataError> {
    let first = values
        .par_chunks(NPY_PIECE)
        .enumerate()
        .find_map_first(|(piece, chunk)| {
            chunk
                .iter()
                .position(|v| !v.is_finite())
                .map(|k| piece * NPY_PIECE + k)
        });
    let Some(k) = first else {
        return Ok(());
    };
    let (nrows, ncols) = (layout.rows, layout.cols);
    let (i, j) = if layout.fortran {
        (k % nrows.max(1), k / nrows.max(1))
    } else {
        (k / ncols.max(1), k % ncols.max(1))
    };
    Err(DataError::Npy {
        file: name.to_owned(),
        message: format!(
            "element ({i}, {j}) is {} — only finite numbers are allowed",
            values[k]
        ),
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

/// Reads a matrix from a `.csv` or a `.npy` file as [`load_matrix_with`] does, as it
/// is stored: a CSV file's values by rows, a `.npy` file's as [`load_npy_stored`]
/// reads them (in place where it can).
pub fn load_matrix_stored(path: impl AsRef<Path>, header: CsvHeader) -> Result<Stored, DataError> {
    let path = path.as_ref();
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") => {
            let (columns, rows, values) = read_csv(path, header, None)?;
            Ok(Stored::owned(rows, columns.len(), values, Order::Rows))
        }
        Some("npy") => load_npy_stored(path),
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
    /// The file's row that is row 0 here ([`RowReader::window`]).
    first: usize,
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

    /// The reader of the rows `rows` of the file alone, numbered from 0 and cut into
    /// blocks from `rows.start` on: one process's share of a `.npy` file, the others
    /// never read. A CSV file's rows lie at positions known block by block, so only a
    /// `.npy` file can be windowed.
    pub fn window(mut self, rows: Range<usize>) -> Result<RowReader, DataError> {
        if rows.end > self.rows || rows.start > rows.end {
            return Err(DataError::Io {
                file: self.file,
                message: format!(
                    "rows {}..{} asked for, the file has {}",
                    rows.start, rows.end, self.rows
                ),
            });
        }
        if let Source::Csv { .. } = self.source {
            return Err(DataError::Io {
                file: self.file,
                message:
                    "a window of a CSV file's rows cannot be read in blocks — convert it to .npy"
                        .to_owned(),
            });
        }
        self.first += rows.start;
        self.rows = rows.len();
        Ok(self)
    }

    /// Reads block `block` (rows `block·block_rows ..`, fewer in the last block) into
    /// `out`, row-major, replacing its contents; returns the number of rows read.
    pub fn read_block(&mut self, block: usize, out: &mut Vec<f64>) -> Result<usize, DataError> {
        let first = block * self.block_rows;
        let count = self.block_rows.min(self.rows.saturating_sub(first));
        // The file's row of this block's first.
        let first = self.first + first;
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
        first: 0,
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
        first: 0,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain reader's values of a body of rows under a header of `width` names.
    fn serial(body: &str, width: usize) -> Result<Vec<f64>, DataError> {
        let header: Vec<String> = (1..=width).map(|j| format!("c{j}")).collect();
        let text = format!("{}\n{body}", header.join(","));
        csv_values_serial("t.csv", text.as_bytes(), CsvHeader::FirstRow, None).map(|(_, _, v)| v)
    }

    /// Every way of cutting a body into pieces gives the plain reader's values, or
    /// hands the body to it; the bodies marked `true` the parallel reader must take.
    #[test]
    fn pieces_cut_anywhere_read_as_the_plain_reader_reads() {
        let cases: &[(&str, usize, bool)] = &[
            ("1,2\n3,4\n", 2, true),
            ("1,2\n3,4", 2, true),
            ("1,2\r\n3,4\r\n", 2, true),
            ("1,2\r\n\r\n3,4\r\n", 2, true),
            (" 1 ,\t2\n\n   \n3,4\n", 2, true),
            ("1e3,-.5\n+7,5.\n", 2, true),
            ("0.1,0.2,0.30000000000000004\n", 3, true),
            (
                "2.2250738585072014e-308,1.7976931348623157e308,4.9e-324\n",
                3,
                true,
            ),
            ("7\n8\n9\n", 1, true),
            ("\"1\",2\n3,4\n", 2, false),
            ("1,2\r3,4\n", 2, false),
            ("1,2\n3\n", 2, false),
            ("1,2\n3,4,5\n", 2, false),
            ("1,x\n", 2, false),
            ("1,nan\n", 2, false),
            ("1,inf\n", 2, false),
            ("1,1e400\n", 2, false),
            ("1,\n", 2, false),
            ("1,0x10\n", 2, false),
            ("1,2\n\"3\n\",4\n", 2, false),
        ];
        for &(body, width, parallel_reads) in cases {
            let plain = serial(body, width);
            for piece in 1..=body.len() + 1 {
                let values = parallel::values_in_pieces(body.as_bytes(), width, piece, &|_| {});
                match (&values, &plain) {
                    (Some(v), Ok(p)) => assert_eq!(v, p, "{body:?} in pieces of {piece}"),
                    (Some(v), Err(e)) => panic!("{body:?}: parallel {v:?}, plain {e}"),
                    (None, _) => assert!(!parallel_reads, "{body:?} in pieces of {piece}"),
                }
            }
        }
    }
}
