//! The entry points of the data readers' fuzz targets (`fuzz/fuzz_targets/`), shared
//! with the seed-corpus test that runs in CI: each reads arbitrary bytes and checks
//! the reader's contract. A reader may refuse any input with an error; it must never
//! panic, and what it accepts must be whole: the stated shape, finite values.

use matdiff_core::parse_function;

use crate::data::{npy_layout, parse_csv_data, parse_npy, CsvHeader};
use crate::Inputs;

/// A `.npy` file: the layout and the loaded matrix agree with each other and with
/// the file's length.
pub fn npy(bytes: &[u8]) {
    let layout = npy_layout("fuzz.npy", bytes, bytes.len() as u64);
    let loaded = parse_npy("fuzz.npy", bytes);
    match (layout, loaded) {
        (Ok(layout), Ok(m)) => {
            assert_eq!((m.nrows(), m.ncols()), (layout.rows, layout.cols));
            assert_eq!(
                layout.data_start + layout.data_bytes(),
                bytes.len() as u64,
                "accepted with a length other than the header's"
            );
            assert!((0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite())));
        }
        // Finite values are checked after the layout: a valid layout may still hold NaN.
        (Ok(_), Err(e)) => assert!(e.to_string().contains("only finite numbers"), "{e}"),
        (Err(_), Ok(_)) => panic!("the layout was refused but the file loaded"),
        (Err(_), Err(_)) => {}
    }
}

/// A CSV file, with and without a header row: every row as wide as the columns, every
/// value finite, at least one row.
pub fn csv(bytes: &[u8]) {
    for header in [CsvHeader::FirstRow, CsvHeader::Absent] {
        if let Ok(table) = parse_csv_data("fuzz.csv", bytes, header) {
            assert_eq!(table.columns.len(), table.data.ncols());
            assert!(table.data.nrows() > 0);
            let data = &table.data;
            assert!((0..data.ncols()).all(|j| (0..data.nrows()).all(|i| data[(i, j)].is_finite())));
        }
    }
}

/// A JSON inputs file for a function of a scalar, a vector and a matrix: accepted
/// values have their declared shapes.
pub fn json(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let f = parse_function("a*x'*A*x", "a: scalar; x: vector(n); A: matrix(n, n)")
        .expect("a valid function");
    if let Ok(inputs) = Inputs::from_json(text, &f.graph) {
        for v in f.graph.variables() {
            if let Some(m) = inputs.get(v.name) {
                assert!((0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite())));
                if v.shape.is_scalar() {
                    assert_eq!((m.nrows(), m.ncols()), (1, 1));
                }
            }
        }
    }
}
