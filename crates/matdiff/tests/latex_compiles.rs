//! The LaTeX output compiles with pdflatex and loses no character: the demo's
//! standalone `derivation.tex`, and `derive --steps --format latex` for every row of the
//! derivatives table in one document. Where pdflatex is not installed the test says so
//! and passes (`.ci/run` installs it).

mod common;

use std::path::Path;
use std::process::Command;

use common::matdiff_in;

/// Whether `pdflatex` runs here.
fn pdflatex_installed() -> bool {
    Command::new("pdflatex")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Compiles `dir/NAME.tex` with every lost character reported, and returns the
/// problems: errors (`! …` lines) and "Missing character" lines of the log.
fn compile(dir: &Path, name: &str) -> Vec<String> {
    let output = Command::new("pdflatex")
        .current_dir(dir)
        .args([
            "-interaction=nonstopmode",
            "-halt-on-error",
            &format!("-jobname={name}"),
            &format!("\\tracinglostchars=2 \\input{{{name}.tex}}"),
        ])
        .output()
        .expect("pdflatex runs");
    let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
    let mut problems: Vec<String> = log
        .lines()
        .filter(|l| l.starts_with('!') || l.contains("Missing character"))
        .map(str::to_owned)
        .collect();
    if !output.status.success() && problems.is_empty() {
        problems.push(format!(
            "pdflatex failed: {}",
            String::from_utf8_lossy(&output.stdout)
        ));
    }
    if !dir.join(format!("{name}.pdf")).is_file() {
        problems.push("no PDF was written".to_owned());
    }
    problems
}

/// The rows of `crates/matdiff-num/tests/data/derivatives.txt` as `derive` arguments.
fn table_rows() -> Vec<Vec<String>> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../matdiff-num/tests/data/derivatives.txt");
    let text = std::fs::read_to_string(&path).expect("the derivatives table");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let cols: Vec<&str> = line.split('|').map(str::trim).collect();
            let mut args = vec![cols[0].to_owned(), "--wrt".into(), cols[2].to_owned()];
            if !cols[1].is_empty() {
                args.extend(["--let".into(), cols[1].to_owned()]);
            }
            args.extend(["--order".into(), cols[3].to_owned()]);
            args
        })
        .collect()
}

#[test]
fn the_demo_and_the_derivatives_table_compile_with_pdflatex() {
    if !pdflatex_installed() {
        eprintln!("note: pdflatex is not installed; the LaTeX output was not compiled");
        return;
    }
    let dir = common::scratch("latex");

    let (code, stdout, stderr) = matdiff_in(&dir, &["demo", "--out", "out"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let problems = compile(&dir.join("out"), "derivation");
    assert!(
        problems.is_empty(),
        "the demo's derivation.tex: {problems:#?}"
    );

    let rows = table_rows();
    assert!(rows.len() > 50, "{} rows", rows.len());
    let mut body = String::new();
    for args in &rows {
        let mut full: Vec<&str> = vec!["derive"];
        full.extend(args.iter().map(String::as_str));
        full.extend(["--steps", "--format", "latex"]);
        let (code, stdout, stderr) = matdiff_in(&dir, &full);
        assert_eq!(code, 0, "{full:?}: {stderr}");
        assert!(stdout.is_ascii(), "{full:?}: {stdout}");
        assert_eq!(
            stdout.matches("\\notag").count(),
            stdout.matches("\\\\\n").count()
        );
        body.push_str(&stdout);
    }
    std::fs::write(
        dir.join("table.tex"),
        matdiff_core::print::latex_document(&body),
    )
    .unwrap();
    let problems = compile(&dir, "table");
    assert!(problems.is_empty(), "the derivatives table: {problems:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}
