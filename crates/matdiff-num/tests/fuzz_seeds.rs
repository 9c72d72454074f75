//! The data readers' fuzz targets (`fuzz/fuzz_targets/{npy,csv,json}.rs`) run in CI
//! over their seeds (`fuzz/seeds/`) and deterministic mutations of it: every
//! prefix (truncation), one byte changed at a time, and trailing bytes. The targets
//! themselves need a nightly toolchain and cargo-fuzz; this runs the same entry
//! functions with the stable test harness.

use std::path::PathBuf;

use matdiff_num::fuzz_entry;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// The seed, its prefixes, single-byte changes and trailing bytes.
fn mutations(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![seed.to_vec()];
    out.extend((0..seed.len()).map(|n| seed[..n].to_vec()));
    for (k, replacement) in [0u8, b'9', b'(', 0xff, b','].into_iter().enumerate() {
        for i in (k..seed.len()).step_by(3) {
            let mut m = seed.to_vec();
            m[i] = replacement;
            out.push(m);
        }
    }
    for tail in [&b"\0"[..], b"\n1,2", &[0u8; 8]] {
        let mut m = seed.to_vec();
        m.extend_from_slice(tail);
        out.push(m);
    }
    out
}

fn run(target: &str, entry: fn(&[u8])) {
    let mut inputs = 0;
    for seed in corpus(target) {
        for input in mutations(&seed) {
            entry(&input);
            inputs += 1;
        }
    }
    assert!(inputs > 100, "{target}: only {inputs} inputs");
}

#[test]
fn npy_reader_survives_its_corpus() {
    run("npy", fuzz_entry::npy);
}

#[test]
fn csv_reader_survives_its_corpus() {
    run("csv", fuzz_entry::csv);
}

#[test]
fn json_reader_survives_its_corpus() {
    run("json", fuzz_entry::json);
}
