//! Running the built `matdiff` binary, shared by the command-line tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `matdiff ARGS` in the crate's folder: (exit code, stdout, stderr).
pub fn matdiff(args: &[&str]) -> (i32, String, String) {
    matdiff_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// Runs `matdiff ARGS` in `dir`: (exit code, stdout, stderr).
pub fn matdiff_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_matdiff"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the matdiff binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `matdiff ARGS` in `dir` with `input` on its standard input: (exit code,
/// stdout, stderr).
pub fn matdiff_with_stdin(dir: &Path, args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_matdiff"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the matdiff binary runs");
    child
        .stdin
        .take()
        .expect("a pipe to stdin")
        .write_all(input.as_bytes())
        .expect("stdin takes the input");
    let out = child.wait_with_output().expect("matdiff ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The arguments as a shell would need them, for snapshots: `derive "x'*x" --wrt x`.
pub fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.contains([' ', '\'', '*', '<', '>', '(', ';', '|']) {
                format!("\"{a}\"")
            } else {
                (*a).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A fresh, empty scratch folder for one test: `matdiff-NAME-PID` in the system's
/// temporary folder (emptied first, so reruns start clean).
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("matdiff-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

/// The bytes of a version-1 `.npy` file of little-endian `f64` values of the NumPy
/// shape `shape` (`"(3, 2)"`, `"(3,)"`), in C order or, with `fortran`, Fortran order,
/// written by hand as NumPy writes them.
pub fn npy_bytes(shape: &str, fortran: bool, values: &[f64]) -> Vec<u8> {
    let order = if fortran { "True" } else { "False" };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': {order}, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + header end on a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    bytes
}

/// A `matdiff serve` on a port the system picks, on 127.0.0.1, ended when dropped.
pub struct Server {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
}

impl Server {
    /// Starts `matdiff serve --port 0 EXTRA` and waits for the URL it prints.
    pub fn start(extra: &[&str]) -> Server {
        use std::io::BufRead as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_matdiff"))
            .args(["serve", "--port", "0"])
            .args(extra)
            // One thread of numeric work per server: a slow request in one test must
            // not take both cores from the servers of the tests running beside it.
            .env("RAYON_NUM_THREADS", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("matdiff serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("matdiff serve prints its URL");
        let url = line
            .trim()
            .strip_prefix("matdiff serve: ")
            .unwrap_or_else(|| panic!("the first line names the URL: {line:?}"))
            .to_owned();
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
