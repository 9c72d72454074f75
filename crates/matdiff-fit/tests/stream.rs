//! Streaming: a linear model's loss over files read chunk by chunk gives the iterates
//! of the in-memory problem with the same chunk-local sampling, from `.npy` and CSV
//! alike; bad files and unsupported losses are errors that say why.

use std::path::{Path, PathBuf};

use faer::Mat;
use matdiff_core::parse_function;
use matdiff_fit::optim::{minimize, Method, NoObserver, Options, Sampling, StopRules};
use matdiff_fit::problem::{Problem, ProblemError};
use matdiff_fit::stream::StreamedProblem;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DECLS: &str = "X: matrix(N, d); w: vector(d); y: vector(N)";
const N: usize = 50;
const D: usize = 3;

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("matdiff-stream-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn data() -> (Mat<f64>, Mat<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x = Mat::from_fn(N, D, |_, _| rng.random_range(-1.0..1.0));
    let y = Mat::from_fn(N, 1, |i, _| {
        x[(i, 0)] - 2.0 * x[(i, 1)] + 0.5 * x[(i, 2)] + 0.1 * rng.random_range(-1.0..1.0)
    });
    (x, y)
}

/// A little-endian float64 `.npy` file in C order.
fn write_npy(path: &Path, m: &Mat<f64>, vector: bool) {
    let shape = if vector {
        format!("({},)", m.nrows())
    } else {
        format!("({}, {})", m.nrows(), m.ncols())
    };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            bytes.extend_from_slice(&m[(i, j)].to_le_bytes());
        }
    }
    std::fs::write(path, bytes).unwrap();
}

fn write_csv(path: &Path, m: &Mat<f64>, names: &[&str]) {
    let mut text = names.join(",") + "\n";
    for i in 0..m.nrows() {
        let row: Vec<String> = (0..m.ncols()).map(|j| format!("{:?}", m[(i, j)])).collect();
        text += &(row.join(",") + "\n");
    }
    std::fs::write(path, text).unwrap();
}

/// The data as files of one format: `X` and `y`.
fn files(format: &str) -> (PathBuf, PathBuf) {
    // Each call its own folder: tests run in parallel, and a file rewritten while
    // another test reads it is (rightly) an error.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (x, y) = data();
    let dir = dir(&format!("{format}-{call}"));
    let (px, py) = (
        dir.join(format!("X.{format}")),
        dir.join(format!("y.{format}")),
    );
    if format == "npy" {
        write_npy(&px, &x, false);
        write_npy(&py, &y, true);
    } else {
        write_csv(&px, &x, &["a", "b", "c"]);
        write_csv(&py, &y, &["y"]);
    }
    (px, py)
}

fn options(method: Method, chunk: usize) -> Options {
    Options {
        method,
        lr: 0.05,
        sampling: Sampling::Chunks { rows: chunk },
        stop: StopRules {
            tol_grad: None,
            max_epochs: Some(4),
            ..StopRules::default()
        },
        seed: 9,
        ..Options::default()
    }
}

const LOSSES: &[&str] = &[
    "1/N*norm2(X*w - y)^2",
    "1/(2*N)*norm2(X*w - y)^2 + 0.01*norm2(w)^2",
];

#[test]
fn streamed_runs_follow_the_in_memory_iterates() {
    for format in ["npy", "csv"] {
        let (px, py) = files(format);
        for expr in LOSSES {
            for (method, chunk) in [
                (Method::Sgd, 7),
                (Method::MiniBatch { batch: 5 }, 7),
                (Method::MiniBatch { batch: 8 }, 8),
                (Method::MiniBatch { batch: 20 }, 24),
                (Method::Gd, 16),
            ] {
                let what = format!("{format}, {expr}, {method:?}, chunks of {chunk}");
                let (x, y) = data();
                let mut memory = Problem::new(
                    parse_function(expr, DECLS).unwrap(),
                    "w",
                    vec![("X".into(), x), ("y".into(), y)],
                    None,
                )
                .unwrap();
                let mut streamed = StreamedProblem::new(
                    parse_function(expr, DECLS).unwrap(),
                    "w",
                    vec![("X".into(), px.clone()), ("y".into(), py.clone())],
                    Vec::new(),
                    None,
                    chunk,
                )
                .unwrap_or_else(|e| panic!("{what}: {e}"));
                let options = options(method, chunk);
                let a = minimize(&mut memory, &[0.0; D], &options, &mut NoObserver).unwrap();
                let b = minimize(&mut streamed, &[0.0; D], &options, &mut NoObserver).unwrap();
                assert_eq!(a.iterations, b.iterations, "{what}");
                for (p, q) in a.w.iter().zip(&b.w) {
                    // The full loss sums the chunks one by one, so full-batch steps
                    // may differ in the last digits; batches are summed alike.
                    assert!(
                        (p - q).abs() <= 1e-12 * (1.0 + p.abs()),
                        "{what}: {p} vs {q}"
                    );
                }
                assert!(
                    (a.loss - b.loss).abs() <= 1e-12 * a.loss.abs(),
                    "{what}: {} vs {}",
                    a.loss,
                    b.loss
                );
            }
        }
    }
}

fn open(expr: &str, x: &Path, y: &Path, chunk: usize) -> Result<StreamedProblem, ProblemError> {
    StreamedProblem::new(
        parse_function(expr, DECLS).unwrap(),
        "w",
        vec![("X".into(), x.to_owned()), ("y".into(), y.to_owned())],
        Vec::new(),
        None,
        chunk,
    )
}

#[test]
fn bad_files_and_losses_say_why() {
    let (px, py) = files("npy");
    let dir = dir("bad");
    // A CSV cell that is not a number: file, line and column.
    let bad_csv = dir.join("X.csv");
    std::fs::write(&bad_csv, "a,b,c\n1,2,3\n4,x,6\n").unwrap();
    let error = open(LOSSES[0], &bad_csv, &py, 4).unwrap_err().to_string();
    assert!(
        error.contains("X.csv:3:2: non-numeric cell \"x\""),
        "{error}"
    );
    // A ragged CSV row.
    std::fs::write(&bad_csv, "a,b,c\n1,2,3\n4,6\n").unwrap();
    let error = open(LOSSES[0], &bad_csv, &py, 4).unwrap_err().to_string();
    assert!(error.contains("X.csv:3: ragged row"), "{error}");
    // A truncated .npy file.
    let truncated = dir.join("X.npy");
    let bytes = std::fs::read(&px).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 8]).unwrap();
    let error = open(LOSSES[0], &truncated, &py, 4).unwrap_err().to_string();
    assert!(error.contains("truncated"), "{error}");
    // Files of different lengths.
    let (x, _) = data();
    let short = dir.join("y.npy");
    write_npy(&short, &Mat::from_fn(N - 1, 1, |i, _| x[(i, 0)]), true);
    let error = open(LOSSES[0], &px, &short, 4).unwrap_err().to_string();
    assert!(error.contains("rows but"), "{error}");
    // A loss that is not a linear model's.
    let error = open("norm2(X*w - y)", &px, &py, 4).unwrap_err();
    assert!(
        matches!(error, ProblemError::NotStreamable { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("load the data whole"), "{error}");
    // A batch spread over more chunks than are held.
    let mut p = open(LOSSES[0], &px, &py, 4).unwrap();
    let error = matdiff_fit::optim::Objective::loss(
        &mut p,
        &[0.0; D],
        matdiff_fit::optim::Batch::Rows(&[0, 5, 9, 13]),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("more than three chunks"),
        "{error}"
    );
}
