//! Data sets compiled into the library, so examples and the demo need no files.
//!
//! The texts are the CSV files of the repository's `data/` directory (header row,
//! numbers only); `data/README.md` gives their sources and reference results. Parse
//! one with [`matdiff_num::data::parse_csv`] or use [`load`].

use matdiff_num::data::{parse_csv, DataError, Table};

/// A bundled data set: its name, the column to predict and the CSV text.
#[derive(Debug, Clone, Copy)]
pub struct Dataset {
    /// The name it is looked up by (`diabetes`, `longley`, `spector`).
    pub name: &'static str,
    /// The column usually predicted from the others.
    pub target: &'static str,
    /// Where the data come from.
    pub source: &'static str,
    /// The CSV text, header row first.
    pub csv: &'static str,
}

/// Every bundled data set, in a fixed order.
pub const ALL: &[Dataset] = &[
    Dataset {
        name: "diabetes",
        target: "target",
        source: "Efron, Hastie, Johnstone, Tibshirani, \"Least Angle Regression\" (2004); raw, as in scikit-learn",
        csv: include_str!("../../../data/diabetes.csv"),
    },
    Dataset {
        name: "longley",
        target: "totemp",
        source: "Longley (1967); NIST StRD certified values",
        csv: include_str!("../../../data/longley.csv"),
    },
    Dataset {
        name: "spector",
        target: "grade",
        source: "Spector & Mazzeo (1980); as in statsmodels",
        csv: include_str!("../../../data/spector.csv"),
    },
];

/// The bundled data set called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Dataset> {
    ALL.iter().find(|d| d.name == name)
}

/// The CSV text of the bundled data set called `name`, if there is one.
pub fn get(name: &str) -> Option<&'static str> {
    find(name).map(|d| d.csv)
}

/// The names of the bundled data sets, in a fixed order.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|d| d.name).collect()
}

/// Parses the bundled data set called `name` into a table (`None` when there is no
/// such data set).
pub fn load(name: &str) -> Option<Result<Table, DataError>> {
    find(name).map(|d| parse_csv(d.name, d.csv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_data_set_parses_and_has_its_target() {
        let shapes = [
            ("diabetes", 442, 11),
            ("longley", 16, 7),
            ("spector", 32, 4),
        ];
        assert_eq!(names(), ["diabetes", "longley", "spector"]);
        for (name, rows, columns) in shapes {
            let table = load(name).unwrap().unwrap();
            assert_eq!(
                (table.nrows(), table.columns.len()),
                (rows, columns),
                "{name}"
            );
            let dataset = find(name).unwrap();
            assert!(table.column_index(dataset.target).is_ok(), "{name}");
            assert_eq!(get(name), Some(dataset.csv));
        }
        assert!(get("iris").is_none());
        assert!(load("iris").is_none());
    }
}
