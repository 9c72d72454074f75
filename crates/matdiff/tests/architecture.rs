//! The command line uses only the library's public API: no source file of the binary
//! names an internal crate (`matdiff_core`, `matdiff_num`, `matdiff_fit`,
//! `matdiff_syntax`) or reaches through the facade with `into_internal`. What the
//! facade re-exports (`matdiff::fit`, `matdiff::data`, …) is its API.

use std::path::{Path, PathBuf};

/// Names a file of the binary must not contain.
const INTERNAL: [&str; 5] = [
    "matdiff_core",
    "matdiff_num",
    "matdiff_fit",
    "matdiff_syntax",
    "into_internal",
];

/// Files of the binary that still reach the internal crates, each with the reason.
/// Every other file of the binary is held to the rule.
const EXCEPTIONS: [(&str, &str); 0] = [];

/// The binary's sources: `main.rs`, the modules it declares at the top level, and
/// the folders of commands and pictures.
fn binary_sources(src: &Path) -> Vec<PathBuf> {
    let mut files = vec![
        src.join("main.rs"),
        src.join("input.rs"),
        src.join("report.rs"),
    ];
    let mut folders = vec![src.join("commands"), src.join("pictures")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("the folder exists") {
            let path = entry.expect("a readable entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn the_command_line_uses_only_the_facade() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let main = std::fs::read_to_string(src.join("main.rs")).unwrap();
    for module in [
        "mod commands;",
        "mod input;",
        "mod pictures;",
        "mod report;",
    ] {
        assert!(main.contains(module), "main.rs declares `{module}`");
    }
    let files = binary_sources(&src);
    assert!(files.len() > 10, "{files:?}");
    let mut offences = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if EXCEPTIONS.iter().any(|(path, _)| *path == relative) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for name in INTERNAL {
                if line.contains(name) {
                    offences.push(format!("{relative}:{}: {}", number + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the command line reaches past the facade:\n{}",
        offences.join("\n")
    );
    // Every exception is still needed: a file that no longer reaches the internal
    // crates leaves the list.
    for (path, why) in EXCEPTIONS {
        let text = std::fs::read_to_string(src.join(path)).unwrap_or_default();
        assert!(
            INTERNAL.iter().any(|name| text.contains(name)),
            "{path} no longer needs its exception ({why}) — remove it from the list"
        );
    }
}
