//! Loading CSV and `.npy` files: the values that come back and, for every class of bad
//! input, an error that names the file, line and column.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use matdiff_num::data::{
    load_csv, load_csv_columns, load_matrix, load_matrix_with, load_npy, parse_csv,
    parse_csv_columns, parse_csv_with, parse_npy, CsvHeader, DataError, RowReader,
};

/// Writes `bytes` to a fresh file with the given name suffix in the temp directory.
fn temp_file(suffix: &str, bytes: &[u8]) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "matdiff-data-{}-{unique}-{suffix}",
        std::process::id()
    ));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn csv_values_and_columns() {
    let path = temp_file("ok.csv", b"a, b ,c\n1,2.5,-3e2\n4,5,6\n");
    let table = load_csv(&path).unwrap();
    assert_eq!(table.columns, ["a", "b", "c"]);
    assert_eq!(table.data.nrows(), 2);
    assert_eq!(table.data.ncols(), 3);
    assert_eq!(table.data[(0, 1)], 2.5);
    assert_eq!(table.data[(0, 2)], -300.0);
    assert_eq!(table.data[(1, 0)], 4.0);
    let selected = table.select(&["c", "a"]).unwrap();
    assert_eq!(selected[(1, 0)], 6.0);
    assert_eq!(selected[(1, 1)], 4.0);
    assert_eq!(table.path, path.display().to_string());
}

#[test]
fn selected_columns_are_read_alone_and_in_the_order_asked() {
    // `name` holds text and `note` is empty in a row: neither is asked for.
    let text = "name,a,note,b\nann,1,x,2\nbob,3,,4\n";
    let path = temp_file("labelled.csv", text.as_bytes());
    let table = load_csv_columns(&path, CsvHeader::FirstRow, &["b", "a"]).unwrap();
    assert_eq!(table.columns, ["b", "a"]);
    assert_eq!(
        (table.data.ncols(), table.data[(0, 0)], table.data[(1, 1)]),
        (2, 2.0, 3.0)
    );
    // A column asked for is still checked cell by cell, and named with its place.
    let error = parse_csv_columns("t.csv", text, CsvHeader::FirstRow, &["a", "name"]).unwrap_err();
    assert_eq!((error.line(), error.column()), (Some(2), Some(1)));
    assert!(error.to_string().contains("ann"), "{error}");
    // A name the header lacks lists the columns there are; a short row is still ragged.
    let error = parse_csv_columns("t.csv", text, CsvHeader::FirstRow, &["c"]).unwrap_err();
    assert!(matches!(error, DataError::MissingColumn { ref name, .. } if name == "c"));
    let error = parse_csv_columns("t.csv", "a,b\n1\n", CsvHeader::FirstRow, &["a"]).unwrap_err();
    assert!(
        matches!(error, DataError::Ragged { line: 2, .. }),
        "{error}"
    );
    // Without a header the columns are col1, col2, … and every row is data.
    let table = parse_csv_columns("t.csv", "x,1\ny,2\n", CsvHeader::Absent, &["col2"]).unwrap();
    assert_eq!((table.data.nrows(), table.data[(1, 0)]), (2, 2.0));
}

#[test]
fn a_byte_order_mark_is_not_part_of_the_first_name() {
    let path = temp_file("bom.csv", b"\xEF\xBB\xBFa,b\n1,2\n");
    assert_eq!(load_csv(&path).unwrap().columns, ["a", "b"]);
}

#[test]
fn a_trailing_newline_and_crlf_are_fine() {
    let table = parse_csv("t.csv", "x,y\r\n1,2\r\n3,4\r\n\r\n").unwrap();
    assert_eq!(table.data.nrows(), 2);
    assert_eq!(table.data[(1, 1)], 4.0);
}

/// A bad-CSV case: a label, the CSV text, the expected line and column, and words the
/// message must contain.
type BadCsv = (
    &'static str,
    &'static str,
    Option<usize>,
    Option<usize>,
    &'static [&'static str],
);

/// One case per error class.
#[test]
fn csv_errors_name_file_line_and_column() {
    let cases: &[BadCsv] = &[
        (
            "non-numeric",
            "a,b\n1,2\n3,abc\n",
            Some(3),
            Some(2),
            &["non-numeric", "\"abc\"", "'b'"],
        ),
        (
            "nan",
            "a,b\n1,NaN\n",
            Some(2),
            Some(2),
            &["not a finite number", "\"NaN\""],
        ),
        (
            "inf",
            "a,b\n1,2\n-inf,3\n",
            Some(3),
            Some(1),
            &["\"-inf\"", "finite"],
        ),
        (
            "overflow",
            "a\n1e400\n",
            Some(2),
            Some(1),
            &["\"1e400\"", "finite"],
        ),
        (
            "ragged",
            "a,b,c\n1,2,3\n4,5\n",
            Some(3),
            None,
            &["ragged row", "expected 3 fields, found 2"],
        ),
        ("empty", "", None, None, &["empty"]),
        ("blank", "\n\n", None, None, &["empty"]),
        (
            "header only",
            "a,b\n",
            Some(2),
            None,
            &["header only", "no data rows"],
        ),
        (
            "duplicate",
            "a,b,a\n1,2,3\n",
            Some(1),
            Some(3),
            &["duplicate column name 'a'", "column 1"],
        ),
        (
            "empty name",
            "a,,c\n1,2,3\n",
            Some(1),
            Some(2),
            &["empty column name"],
        ),
    ];
    for (label, text, line, column, words) in cases {
        let path = temp_file("bad.csv", text.as_bytes());
        let error = load_csv(&path).expect_err(label);
        let message = error.to_string();
        let file = path.display().to_string();
        assert_eq!(error.file(), file, "{label}");
        assert!(message.starts_with(&file), "{label}: {message}");
        assert_eq!(error.line(), *line, "{label}: {message}");
        assert_eq!(error.column(), *column, "{label}: {message}");
        let location = match (line, column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}:"),
            (Some(l), None) => format!("{file}:{l}:"),
            _ => format!("{file}:"),
        };
        assert!(message.starts_with(&location), "{label}: {message}");
        for word in *words {
            assert!(message.contains(word), "{label}: {message} lacks {word}");
        }
    }
}

#[test]
fn missing_file_and_missing_column() {
    let missing = std::env::temp_dir().join("matdiff-no-such-file.csv");
    assert!(matches!(load_csv(&missing), Err(DataError::Io { .. })));
    let table = parse_csv("t.csv", "x,y\n1,2\n").unwrap();
    let error = table.column_index("z").unwrap_err();
    assert_eq!(
        error.to_string(),
        "t.csv: no column 'z' — available columns: x, y"
    );
}

/// Builds a version-1 `.npy` file by hand.
fn npy_bytes(descr: &str, fortran: bool, shape: &str, payload: &[u8]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

fn f64_payload(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn npy_dtypes_orders_and_ranks() {
    // The same 2×3 matrix [[1 2 3] [4 5 6]] in every supported layout.
    let c_order = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let f_order = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
    let as_f32 =
        |v: &[f64]| -> Vec<u8> { v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect() };
    let as_i64 =
        |v: &[f64]| -> Vec<u8> { v.iter().flat_map(|x| (*x as i64).to_le_bytes()).collect() };
    let as_i32 =
        |v: &[f64]| -> Vec<u8> { v.iter().flat_map(|x| (*x as i32).to_le_bytes()).collect() };
    let files = [
        npy_bytes("<f8", false, "(2, 3)", &f64_payload(&c_order)),
        npy_bytes("<f8", true, "(2, 3)", &f64_payload(&f_order)),
        npy_bytes("<f4", false, "(2, 3)", &as_f32(&c_order)),
        npy_bytes("<i8", true, "(2, 3)", &as_i64(&f_order)),
        npy_bytes("<i4", false, "(2, 3)", &as_i32(&c_order)),
    ];
    for bytes in files {
        let path = temp_file("m.npy", &bytes);
        let m = load_matrix(&path).unwrap();
        assert_eq!((m.nrows(), m.ncols()), (2, 3));
        for i in 0..2 {
            for j in 0..3 {
                assert_eq!(m[(i, j)], (3 * i + j + 1) as f64);
            }
        }
    }
    let vector = temp_file(
        "v.npy",
        &npy_bytes("<f8", false, "(3,)", &f64_payload(&[7.0, 8.0, 9.0])),
    );
    let v = load_npy(&vector).unwrap();
    assert_eq!((v.nrows(), v.ncols()), (3, 1));
    assert_eq!(v[(2, 0)], 9.0);
}

#[test]
fn npy_errors_name_the_file() {
    let cases: &[(&str, Vec<u8>, &str)] = &[
        (
            "3-d",
            npy_bytes("<f8", false, "(1, 1, 1)", &f64_payload(&[1.0])),
            "3 dimensions",
        ),
        (
            "complex",
            npy_bytes("<c16", false, "(1,)", &[0; 16]),
            "unsupported dtype",
        ),
        (
            "nan",
            npy_bytes("<f8", false, "(2,)", &f64_payload(&[1.0, f64::NAN])),
            "element (1, 0)",
        ),
        (
            "garbage",
            b"not numpy at all".to_vec(),
            "not a valid .npy file",
        ),
    ];
    for (label, bytes, words) in cases {
        let path = temp_file("bad.npy", bytes);
        let message = load_npy(&path).expect_err(label).to_string();
        assert!(
            message.starts_with(&path.display().to_string()),
            "{label}: {message}"
        );
        assert!(message.contains(words), "{label}: {message}");
    }
}

#[test]
fn load_matrix_reads_a_csv_column_as_a_vector() {
    let path = temp_file("y.csv", b"y\n1\n2\n3\n");
    let y = load_matrix(&path).unwrap();
    assert_eq!((y.nrows(), y.ncols()), (3, 1));
    let other = temp_file("m.txt", b"1 2 3");
    assert!(matches!(
        load_matrix(&other),
        Err(DataError::UnsupportedFormat { .. })
    ));
}

/// Every block of a file read by `RowReader`, joined, as row-major values.
fn read_all(path: &std::path::Path, block_rows: usize) -> Result<(usize, Vec<f64>), DataError> {
    let mut reader = matdiff_num::data::RowReader::open(path, block_rows)?;
    let mut all = Vec::new();
    let mut block = Vec::new();
    // Blocks in reverse order: each is read from its own position.
    for b in (0..reader.blocks()).rev() {
        let rows = reader.read_block(b, &mut block)?;
        assert_eq!(block.len(), rows * reader.cols());
        all.splice(0..0, block.iter().copied());
    }
    Ok((reader.cols(), all))
}

#[test]
fn row_reader_gives_the_loaded_values_block_by_block() {
    let values: Vec<f64> = (0..21).map(|k| f64::from(k) * 0.5 - 3.0).collect();
    let npy = temp_file(
        "rows.npy",
        &npy_bytes("<f8", false, "(7, 3)", &f64_payload(&values)),
    );
    let ints: Vec<u8> = (0..21i32).flat_map(|k| k.to_le_bytes()).collect();
    let npy_i32 = temp_file("rows-i32.npy", &npy_bytes("<i4", false, "(7, 3)", &ints));
    let mut text = String::from("a,b,c\n");
    for row in values.chunks(3) {
        text += &format!("{},{},{}\n\n", row[0], row[1], row[2]);
    }
    let csv = temp_file("rows.csv", text.as_bytes());
    for block_rows in [1, 2, 3, 7, 100] {
        for path in [&npy, &csv] {
            let (cols, all) = read_all(path, block_rows).unwrap();
            assert_eq!(cols, 3);
            assert_eq!(all, values, "{} in blocks of {block_rows}", path.display());
        }
        let (_, all) = read_all(&npy_i32, block_rows).unwrap();
        assert_eq!(all, (0..21).map(f64::from).collect::<Vec<_>>());
    }
}

#[test]
fn row_reader_errors_name_the_file_and_place() {
    let bad_csv = temp_file("bad-rows.csv", b"a,b\n1,2\n3,oops\n");
    let error = read_all(&bad_csv, 1).unwrap_err().to_string();
    assert!(
        error.ends_with(
            "bad-rows.csv:3:2: non-numeric cell \"oops\" in column 'b' — only numbers are allowed"
        ),
        "{error}"
    );
    let fortran = temp_file(
        "f.npy",
        &npy_bytes("<f8", true, "(2, 2)", &f64_payload(&[1.0; 4])),
    );
    let error = read_all(&fortran, 1).unwrap_err().to_string();
    assert!(error.contains("Fortran order"), "{error}");
    let nan = temp_file(
        "nan.npy",
        &npy_bytes(
            "<f8",
            false,
            "(2, 2)",
            &f64_payload(&[1.0, 2.0, f64::NAN, 4.0]),
        ),
    );
    let error = read_all(&nan, 1).unwrap_err().to_string();
    assert!(error.contains("element (1, 0) is NaN"), "{error}");
    let short = temp_file(
        "short.npy",
        &npy_bytes("<f8", false, "(3, 2)", &f64_payload(&[1.0; 4])),
    );
    let error = read_all(&short, 1).unwrap_err().to_string();
    assert!(error.contains("truncated"), "{error}");
    let empty = temp_file("empty.csv", b"");
    assert!(matches!(read_all(&empty, 1), Err(DataError::Empty { .. })));
    let header = temp_file("header.csv", b"a,b\n");
    assert!(matches!(
        read_all(&header, 1),
        Err(DataError::NoRows { .. })
    ));
    let json = temp_file("x.json", b"[1]");
    assert!(matches!(
        read_all(&json, 1),
        Err(DataError::UnsupportedFormat { .. })
    ));
}

/// Every way a `.npy` file's length can disagree with its header is refused, by the
/// loader and by the block reader alike, naming both byte counts; none is read as
/// shifted or garbage values.
#[test]
fn npy_files_must_be_exactly_as_long_as_their_header_says() {
    let values: Vec<f64> = (0..12).map(f64::from).collect();
    let whole = npy_bytes("<f8", false, "(4, 3)", &f64_payload(&values));
    let header_len = whole.len() - 96;
    let mut trailing = whole.clone();
    trailing.extend_from_slice(&[0u8; 5]);
    let mut one_more_value = whole.clone();
    one_more_value.extend_from_slice(&7.0f64.to_le_bytes());
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "13 bytes short",
            whole[..whole.len() - 13].to_vec(),
            format!(
                "the file is {} bytes, but its header promises {} (a {header_len}-byte header and 4 × 3 values of 8 bytes) — the file is truncated",
                whole.len() - 13,
                whole.len()
            ),
        ),
        (
            "values missing",
            whole[..header_len].to_vec(),
            "the file is truncated".to_owned(),
        ),
        (
            "5 trailing bytes",
            trailing,
            format!("{} trailing bytes", 5),
        ),
        (
            "a whole extra value",
            one_more_value,
            format!("{} trailing bytes", 8),
        ),
        (
            "header cut",
            whole[..40].to_vec(),
            "the file is truncated".to_owned(),
        ),
    ];
    for (label, bytes, words) in &cases {
        let path = temp_file("size.npy", bytes);
        let message = load_npy(&path).expect_err(label).to_string();
        assert!(message.contains(words.as_str()), "{label}: {message}");
        assert!(
            message.starts_with(&path.display().to_string()),
            "{label}: {message}"
        );
        let streamed = read_all(&path, 2).expect_err(label).to_string();
        assert!(streamed.contains(words.as_str()), "{label}: {streamed}");
        let parsed = parse_npy("mem.npy", bytes).expect_err(label).to_string();
        assert!(parsed.contains(words.as_str()), "{label}: {parsed}");
    }
    // The exact file still loads, with every value in place.
    let path = temp_file("exact.npy", &whole);
    let m = load_npy(&path).unwrap();
    assert_eq!(m[(3, 2)], 11.0);
    assert_eq!(m[(1, 0)], 3.0);
}

/// A header that would make the reader overflow or allocate is refused from the first
/// bytes: a shape past 2^64 elements, a claimed header longer than any `.npy` header
/// or than the file.
#[test]
fn npy_headers_are_checked_before_anything_is_allocated() {
    let mut huge_header = b"\x93NUMPY\x02\x00".to_vec();
    huge_header.extend_from_slice(&u32::MAX.to_le_bytes());
    huge_header.resize(100, b' ');
    let mut long_v1 = b"\x93NUMPY\x01\x00".to_vec();
    long_v1.extend_from_slice(&4000u16.to_le_bytes());
    long_v1.resize(100, b' ');
    let cases: &[(&str, Vec<u8>, &str)] = &[
        (
            "shape past 2^64",
            npy_bytes(
                "<f8",
                false,
                "(4294967296, 4294967297)",
                &f64_payload(&[1.0]),
            ),
            "more elements than 2^64",
        ),
        (
            "three huge dimensions with a zero",
            npy_bytes("<f8", false, "(0, 4294967296, 4294967296)", &[]),
            "more elements than 2^64",
        ),
        (
            "bytes past 2^64",
            npy_bytes("<f8", false, "(4294967296, 4294967295)", &[]),
            "more bytes than any file can hold",
        ),
        (
            "a 4 GiB header in 100 bytes",
            huge_header,
            "more than the 65536 a .npy header may have",
        ),
        (
            "a header longer than the file",
            long_v1,
            "its header alone claims 4010",
        ),
        (
            "unknown version",
            b"\x93NUMPY\x07\x00\x10\x00{}".to_vec(),
            "unknown format version 7",
        ),
    ];
    for (label, bytes, words) in cases {
        let path = temp_file("header.npy", bytes);
        let message = load_npy(&path).expect_err(label).to_string();
        assert!(message.contains(words), "{label}: {message}");
        let streamed = read_all(&path, 3).expect_err(label).to_string();
        assert!(streamed.contains(words), "{label}: {streamed}");
    }
}

#[test]
fn big_endian_npy_files_read_the_same_values() {
    let payload: Vec<u8> = [1.5f64, -2.0, 3.25]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let path = temp_file("be.npy", &npy_bytes(">f8", false, "(3,)", &payload));
    let m = load_npy(&path).unwrap();
    assert_eq!((m[(0, 0)], m[(1, 0)], m[(2, 0)]), (1.5, -2.0, 3.25));
    assert_eq!(read_all(&path, 2).unwrap().1, vec![1.5, -2.0, 3.25]);
}

/// A CSV whose first row is all numbers has most likely no header row: refused, not
/// read with its first data row lost as column names, unless the caller says there is
/// no header, when every row is data.
#[test]
fn a_csv_without_a_header_row_is_refused_or_read_whole() {
    let text = "1,2,3\n4,5,6\n";
    let error = parse_csv("h.csv", text).unwrap_err();
    assert_eq!(error.line(), Some(1));
    let message = error.to_string();
    assert!(
        message.starts_with("h.csv:1: the first row (1,2,3) holds only numbers"),
        "{message}"
    );
    assert!(message.contains("--no-header"), "{message}");
    for first in ["1e3,-2,.5", "nan,1", " 7 , 8 "] {
        assert!(
            matches!(
                parse_csv("n.csv", &format!("{first}\n1,2\n")),
                Err(DataError::NumericHeader { .. })
            ),
            "{first}"
        );
    }
    // One name among numbers is a header.
    assert!(parse_csv("m.csv", "x,2\n1,2\n").is_ok());

    let table = parse_csv_with("h.csv", text, CsvHeader::Absent).unwrap();
    assert_eq!(table.columns, ["col1", "col2", "col3"]);
    assert_eq!((table.data.nrows(), table.data[(0, 0)]), (2, 1.0));
    let path = temp_file("no-header.csv", text.as_bytes());
    assert!(matches!(
        load_matrix(&path),
        Err(DataError::NumericHeader { .. })
    ));
    assert!(matches!(
        RowReader::open(&path, 1),
        Err(DataError::NumericHeader { .. })
    ));
    let m = load_matrix_with(&path, CsvHeader::Absent).unwrap();
    assert_eq!((m.nrows(), m[(1, 2)]), (2, 6.0));
    let mut reader = RowReader::open_with(&path, 1, CsvHeader::Absent).unwrap();
    let mut block = Vec::new();
    assert_eq!(reader.rows(), 2);
    reader.read_block(0, &mut block).unwrap();
    assert_eq!(block, [1.0, 2.0, 3.0]);
    reader.read_block(1, &mut block).unwrap();
    assert_eq!(block, [4.0, 5.0, 6.0]);
}

/// A data file that never ends (a device, a pipe) is read only up to the memory budget,
/// and cannot be read in blocks at all.
#[test]
fn endless_data_files_stop_at_the_budget() {
    let dir = std::env::temp_dir().join(format!("matdiff-endless-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    matdiff_num::memory::set_budget_bytes(Some(1 << 20));
    for name in ["zero.csv", "zero.npy"] {
        let link = dir.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let error = load_matrix(&link).unwrap_err();
        assert!(
            matches!(error, DataError::TooLarge { limit: 1048576, .. }),
            "{name}: {error}"
        );
        let error = RowReader::open(&link, 4).unwrap_err().to_string();
        assert!(error.contains("not a regular file"), "{name}: {error}");
    }
    matdiff_num::memory::set_budget_bytes(None);
}

/// Every dtype and order through the mapped reader: the stored matrix keeps the file's
/// order, `float64` in this machine's byte order is read in place, and every other
/// type is converted into a matrix of its own.
#[test]
fn npy_files_are_stored_in_their_order_mapped_where_they_can_be() {
    let c_order = [1.0, 0.0, 3.0, 4.0, 5.0, 0.0];
    let f_order = [1.0, 4.0, 0.0, 5.0, 3.0, 0.0];
    let bytes_of = |v: &[f64], descr: &str| -> Vec<u8> {
        v.iter()
            .flat_map(|&x| match descr {
                "<f8" => x.to_le_bytes().to_vec(),
                ">f8" => x.to_be_bytes().to_vec(),
                "<f4" => (x as f32).to_le_bytes().to_vec(),
                ">f4" => (x as f32).to_be_bytes().to_vec(),
                "<i8" => (x as i64).to_le_bytes().to_vec(),
                "<i4" => (x as i32).to_le_bytes().to_vec(),
                ">i4" => (x as i32).to_be_bytes().to_vec(),
                "|b1" => vec![u8::from(x != 0.0)],
                _ => unreachable!(),
            })
            .collect()
    };
    let in_place = cfg!(target_endian = "little");
    for (descr, fortran, mapped) in [
        ("<f8", false, in_place),
        ("<f8", true, in_place),
        (">f8", false, !in_place),
        ("<f4", true, false),
        (">f4", false, false),
        ("<i8", false, false),
        ("<i4", true, false),
        (">i4", false, false),
        ("|b1", false, false),
        ("|b1", true, false),
    ] {
        let label = format!("{descr} fortran={fortran}");
        let values = if fortran { f_order } else { c_order };
        let values: Vec<f64> = if descr == "|b1" {
            values
                .iter()
                .map(|&v| f64::from(u8::from(v != 0.0)))
                .collect()
        } else {
            values.to_vec()
        };
        let path = temp_file(
            "stored.npy",
            &npy_bytes(descr, fortran, "(2, 3)", &bytes_of(&values, descr)),
        );
        let stored = matdiff_num::data::load_matrix_stored(&path, CsvHeader::FirstRow).unwrap();
        assert_eq!(stored.is_mapped(), mapped, "{label}");
        assert_eq!(
            stored.order(),
            if fortran {
                matdiff_num::Order::Columns
            } else {
                matdiff_num::Order::Rows
            },
            "{label}"
        );
        assert_eq!(stored.rows_slice().is_some(), !fortran, "{label}");
        let m = stored.view();
        assert_eq!((m.nrows(), m.ncols()), (2, 3), "{label}");
        for i in 0..2 {
            for j in 0..3 {
                let expected = c_order[3 * i + j];
                let expected = if descr == "|b1" {
                    f64::from(u8::from(expected != 0.0))
                } else {
                    expected
                };
                assert_eq!(m[(i, j)], expected, "{label} ({i}, {j})");
            }
        }
        assert_eq!(load_npy(&path).unwrap(), m.to_owned(), "{label}");
    }
}

/// A non-finite value is found by the parallel check of a mapped file, with its
/// element, also far into a large file.
#[test]
fn a_mapped_file_with_a_nan_names_the_element() {
    let (rows, cols) = (70_000, 3);
    let mut values = vec![1.5; rows * cols];
    values[3 * 65_537 + 2] = f64::NAN;
    values[3 * 69_000] = f64::INFINITY;
    let path = temp_file(
        "nan.npy",
        &npy_bytes(
            "<f8",
            false,
            &format!("({rows}, {cols})"),
            &f64_payload(&values),
        ),
    );
    let message = matdiff_num::data::load_matrix_stored(&path, CsvHeader::FirstRow)
        .unwrap_err()
        .to_string();
    assert!(message.contains("element (65537, 2) is NaN"), "{message}");
}

/// A CSV file of several pieces (each about a mebibyte) for the parallel reader: the
/// same values however its lines are ended, and an error in a later piece is reported
/// at its own line and column, as the plain reader reports it.
#[test]
fn a_large_csv_reads_in_parallel_with_errors_at_their_lines() {
    let rows = 150_000;
    let line = |i: usize| format!("{},{}.25,-{}e-3", i, i % 97, i % 13);
    for ending in ["\n", "\r\n"] {
        let mut text = format!("a,b,c{ending}");
        for i in 0..rows {
            text.push_str(&line(i));
            text.push_str(ending);
        }
        assert!(text.len() > 2 << 20, "several pieces");
        let table = parse_csv("big.csv", &text).unwrap();
        assert_eq!(table.nrows(), rows);
        for i in [0, 1, 65_535, 65_536, rows - 1] {
            let expected: Vec<f64> = line(i).split(',').map(|c| c.parse().unwrap()).collect();
            for (j, e) in expected.iter().enumerate() {
                assert_eq!(table.data[(i, j)], *e, "row {i} column {j}");
            }
        }
        let path = temp_file("big.csv", text.as_bytes());
        let stored = matdiff_num::data::load_matrix_stored(&path, CsvHeader::FirstRow).unwrap();
        assert_eq!(stored.view(), table.data.as_ref());
        // An error deep in the file: data row 120000 is file line 120002.
        let needle = format!("{ending}{}{ending}", line(120_000));
        let broken = text.replacen(&needle, &format!("{ending}120000,x7,1{ending}"), 1);
        assert_ne!(broken, text);
        let error = parse_csv("big.csv", &broken).unwrap_err();
        match &error {
            DataError::NonNumeric {
                line, column, cell, ..
            } => {
                assert_eq!((*column, cell.as_str()), (2, "x7"), "{ending:?}");
                // The plain reader counts lines of `\r\n` files one short past the
                // first (it places a record at the `\n` of the line before); the
                // parallel reader reports what it reports.
                let expected = if ending == "\n" { 120_002 } else { 120_001 };
                assert_eq!(*line, expected, "{ending:?}");
            }
            other => panic!("{other}"),
        }
        let broken_file = temp_file("broken.csv", broken.as_bytes());
        let plain = RowReader::open(&broken_file, 1000).unwrap_err();
        assert_eq!(
            (plain.line(), plain.column()),
            (error.line(), error.column()),
            "{ending:?}"
        );
        std::fs::remove_file(&broken_file).unwrap();
        let ragged = text.replacen(&needle, &format!("{ending}1,2{ending}"), 1);
        match parse_csv("big.csv", &ragged).unwrap_err() {
            DataError::Ragged { line, found, .. } => {
                assert_eq!(
                    (line, found),
                    (if ending == "\n" { 120_002 } else { 120_001 }, 2)
                )
            }
            other => panic!("{other}"),
        }
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn npy_headers_nested_past_a_dictionary_and_a_tuple_are_refused_at_once() {
    // The header's literal parser takes time exponential in the depth of nesting:
    // 200 opening braces ran for minutes before they were refused up front.
    let mut cases = Vec::new();
    for body in [
        "{".repeat(200),
        "(".repeat(50),
        "{'descr': [('a', '<f8')], 'shape': ((3,),), }".to_owned(),
    ] {
        let mut header = body;
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        cases.push(bytes);
    }
    for bytes in cases {
        let error = parse_npy("nested.npy", &bytes)
            .expect_err("refused")
            .to_string();
        assert!(error.contains("nests brackets deeper than 2"), "{error}");
    }
    // A header of numpy.save, with a quoted bracket in a string, still reads.
    let ok = npy_bytes("<f8", false, "(2,)", &f64_payload(&[1.0, 2.0]));
    assert!(parse_npy("flat.npy", &ok).is_ok());
}
