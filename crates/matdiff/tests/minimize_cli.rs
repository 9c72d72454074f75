//! `matdiff minimize` end to end: the built binary on small CSV files written to a
//! temporary directory, and on the Spector & Mazzeo data (tests/data/README.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `matdiff minimize` with the arguments of a shell-like command line in `dir`.
fn minimize(dir: &Path, line: &str) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_matdiff"))
        .arg("minimize")
        .args(words(line))
        .current_dir(dir)
        .output()
        .expect("the matdiff binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Splits a command line at spaces outside double quotes (no escapes).
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' | '\n' if !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            _ => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// A fresh directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("matdiff-minimize-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const W_TRUE: [f64; 3] = [1.0, -2.0, 0.5];
const ROWS: usize = 200;

/// `X.csv` (a column of ones, two smooth pseudo-random features) and
/// `y.csv = X w_true + small noise`; returns the directory.
fn least_squares_files(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    let mut x = String::from("one,a,b\n");
    let mut y = String::from("y\n");
    for i in 0..ROWS {
        let t = i as f64;
        let row = [1.0, (1.3 * t).sin(), (0.7 * t + 0.4).cos()];
        let noise = 0.05 * (5.1 * t).sin();
        let target: f64 = row.iter().zip(W_TRUE).map(|(a, w)| a * w).sum::<f64>() + noise;
        x.push_str(&format!("{},{},{}\n", row[0], row[1], row[2]));
        y.push_str(&format!("{target}\n"));
    }
    std::fs::write(dir.join("X.csv"), x).unwrap();
    std::fs::write(dir.join("y.csv"), y).unwrap();
    dir
}

/// The least-squares fit of the issue, on the files of [`least_squares_files`].
const FIT: &str =
    r#""1/N*norm2(X*w - y)^2" --wrt w --let "X: matrix(N,d)" --data X=X.csv --data y=y.csv"#;

fn solution(run: &Run) -> Vec<f64> {
    let json: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is JSON ({e}): {}", run.stdout));
    json["solution"]
        .as_array()
        .expect("a vector solution is a flat list")
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max)
}

#[test]
fn the_issue_command_fits_plots_and_writes_the_history() {
    let dir = least_squares_files("issue");
    let run = minimize(
        &dir,
        &format!("{FIT} --method minibatch --batch 32 --lr 0.05 --epochs 50 --plot loss.png --history h.csv"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "stopped: reached the epoch limit --epochs");
    let keys = [
        "loss: ",
        "gradient norm: ",
        "iterations: 350",
        "epochs: 50",
        "seconds: ",
        "w = [",
    ];
    assert_eq!(lines.len(), 1 + keys.len());
    for (line, key) in lines[1..].iter().zip(keys) {
        assert!(line.starts_with(key), "{line:?} should start with {key:?}");
    }
    let w: Vec<f64> = serde_json::from_str(lines[6].trim_start_matches("w = ")).unwrap();
    assert!(max_diff(&w, &W_TRUE) < 0.05, "{w:?}");

    let png = std::fs::read(dir.join("loss.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 1000);

    let history = std::fs::read_to_string(dir.join("h.csv")).unwrap();
    assert!(history.starts_with("iteration,epoch,loss,grad_norm,step_norm,lr\n"));
    let losses = losses(&history);
    // The start and one full loss per epoch; the loss falls.
    assert_eq!(losses.len(), 51);
    assert!(losses[50] < losses[0] / 100.0, "{losses:?}");
}

/// The loss column of a history file.
fn losses(history: &str) -> Vec<f64> {
    history
        .lines()
        .skip(1)
        .map(|r| r.split(',').nth(2).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn gradient_descent_with_json_output_and_an_svg_plot() {
    let dir = least_squares_files("json");
    let run = minimize(
        &dir,
        &format!("{FIT} --line-search --tol-grad 1e-9 --json --plot loss.svg"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["stop"], "gradient_norm");
    assert_eq!(json["converged"], true);
    assert_eq!(json["variable"], "w");
    assert!(json["gradient_norm"].as_f64().unwrap() < 1e-9);
    assert_eq!(json["iterations"], json["epochs"]);
    for key in ["loss", "seconds"] {
        assert!(json[key].is_number(), "{key}");
    }
    assert!(max_diff(&solution(&run), &W_TRUE) < 0.05);
    let svg = std::fs::read_to_string(dir.join("loss.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("iteration"));
}

#[test]
fn an_oversized_step_diverges_with_advice_and_exit_1() {
    let dir = least_squares_files("diverge");
    for method in ["gd", "minibatch --batch 8", "momentum"] {
        let run = minimize(
            &dir,
            &format!("{FIT} --lr 50 --method {method} --history h.csv"),
        );
        assert_eq!(run.code, 1, "{method}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{method}");
        for part in [
            "diverged at iteration",
            "--lr",
            "--standardize",
            "--line-search",
        ] {
            assert!(run.stderr.contains(part), "{method}: {}", run.stderr);
        }
        // The history is still written: it shows the loss running away.
        let losses = losses(&std::fs::read_to_string(dir.join("h.csv")).unwrap());
        assert!(losses.len() >= 2, "{method}");
        assert!(
            losses.windows(2).all(|w| w[1] > w[0]),
            "{method}: {losses:?}"
        );
    }
}

/// A command line that must fail with exit 2, and what stderr must say.
struct BadInput {
    line: &'static str,
    says: &'static str,
}

const LSQ: &str = r#""1/N*norm2(X*w - y)^2" --wrt w --let "X: matrix(N,d)""#;

#[rustfmt::skip]
const BAD_INPUTS: &[BadInput] = &[
    BadInput { line: "{LSQ} --data X=X.csv",
        says: "no data for `y` — give each one with --data NAME=FILE" },
    BadInput { line: r#""norm2(A*X*w - y)^2" --wrt w --data y=y.csv"#,
        says: "no data for `A`, `X`" },
    BadInput { line: r#""1/N*norm2(X*w - y)^2" --wrt v --let "X: matrix(N,d)""#,
        says: "`v` is not a variable of the expression" },
    BadInput { line: "{LSQ} --data X --data y=y.csv",
        says: "--data `X` is not NAME=FILE" },
    BadInput { line: "{LSQ} --data X=bad.csv --data y=y.csv",
        says: "bad.csv:3:2: non-numeric cell \"two\"" },
    BadInput { line: "{LSQ} --data X=missing.csv --data y=y.csv",
        says: "missing.csv: cannot read the file" },
    BadInput { line: "{LSQ} --data X=X.csv --data y=y3.csv",
        says: "dimension `N` is 200 from `X` but 3 from `y`" },
    BadInput { line: "{FIT} --batch 4",
        says: "invalid option batch" },
    BadInput { line: "{FIT} --method sgd --line-search",
        says: "invalid option line-search" },
    BadInput { line: "{FIT} --lr=-1",
        says: "the learning rate must be a positive number" },
    BadInput { line: "{FIT} --plot loss.jpg",
        says: "--plot `loss.jpg`: use a .png or .svg file" },
    BadInput { line: "{FIT} --init short.json",
        says: "short.json: the starting point of `w` is 2 × 1, but `w` is 3 × 1 here" },
    BadInput { line: "{FIT} --samples M",
        says: "`M` is not a dimension of the expression" },
    BadInput { line: r#""norm2(K*a - y)^2" --wrt a --let "K: matrix(N, N)" --data K=K.csv --data y=y3.csv --method sgd"#,
        says: "`a` has the sample dimension `N`, so the data cannot be split into batches" },
    BadInput { line: r#""sum(log(X*w))" --wrt w --data X=X.csv"#,
        says: "the loss cannot be evaluated at the starting point: log of a non-positive entry (0 at [0]) in `log(X*w)`" },
    BadInput { line: r#""X*w +" --wrt w"#,
        says: "<expr>" },
];

#[test]
fn bad_input_exits_2_and_names_the_culprit() {
    let dir = least_squares_files("bad");
    std::fs::write(dir.join("bad.csv"), "a,b\n1,2\n3,two\n").unwrap();
    std::fs::write(dir.join("short.json"), "[1, 2]").unwrap();
    std::fs::write(dir.join("K.csv"), "a,b,c\n2,0,0\n0,2,0\n0,0,2\n").unwrap();
    std::fs::write(dir.join("y3.csv"), "y\n1\n2\n3\n").unwrap();
    for case in BAD_INPUTS {
        let line = case.line.replace("{LSQ}", LSQ).replace("{FIT}", FIT);
        let run = minimize(&dir, &line);
        assert_eq!(run.code, 2, "{line}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{line}");
        assert!(
            run.stderr.contains(case.says),
            "{line}: expected {:?} in\n{}",
            case.says,
            run.stderr
        );
    }
}

#[test]
fn a_starting_point_from_json_and_a_matrix_solution_as_rows() {
    let dir = least_squares_files("init");
    std::fs::write(dir.join("Y.csv"), "p,q\n1,2\n3,4\n").unwrap();
    std::fs::write(dir.join("start.json"), r#"{"W": [[1, 2], [3, 5]]}"#).unwrap();
    let base = r#""norm2(W - Y)^2" --wrt W --let "W: matrix(2, 2)" --data Y=Y.csv --init start.json --json"#;
    // Zero iterations: the solution is the starting point, printed as a list of rows.
    let run = minimize(&dir, &format!("{base} --max-iter 0"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        json["solution"],
        serde_json::json!([[1.0, 2.0], [3.0, 5.0]])
    );
    assert_eq!(json["loss"], 1.0);
    assert_eq!(json["stop"], "max_iterations");
    // Gradient descent from there reaches Y: the gradient is 2(W − Y), so a step of
    // 1/4 halves the distance each time.
    let run = minimize(&dir, &format!("{base} --lr 0.25 --tol-grad 1e-12"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    let w = &json["solution"];
    for (i, j, y) in [(0, 0, 1.0), (0, 1, 2.0), (1, 0, 3.0), (1, 1, 4.0)] {
        assert!((w[i][j].as_f64().unwrap() - y).abs() < 1e-12, "{w}");
    }
}

#[test]
fn logistic_regression_on_spector_reaches_the_reference_coefficients() {
    // statsmodels Logit on Spector & Mazzeo (1980): const, gpa, tuce, psi.
    let reference = [-13.021347, 2.826113, 0.095158, 2.378688];
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let run = minimize(
        &data,
        r#""sum(log(1 + exp(-y .* (X*w))))" --wrt w --data X=spector_X.csv --data y=spector_y.csv
           --method gd --line-search --tol-grad 1e-5 --max-iter 1000000 --json --quiet"#,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["stop"], "gradient_norm");
    let w = solution(&run);
    assert!(max_diff(&w, &reference) < 1e-3, "{w:?}");
    // The log-likelihood −12.889634 is minus the loss.
    assert!((json["loss"].as_f64().unwrap() - 12.889634).abs() < 1e-6);
}

/// Every method, schedule and sampling through the command line, and how close to
/// the least loss each must end (as a factor of it; the noise keeps it above 0).
#[rustfmt::skip]
const METHODS: &[(&str, f64)] = &[
    ("--method gd --lr 0.3 --epochs 30", 1.001),
    ("--method gd --line-search --epochs 30", 1.001),
    ("--method sgd --lr 0.01 --epochs 30", 1.01),
    ("--method sgd --lr 0.05 --schedule invscaling --epochs 30", 1.01),
    ("--method minibatch --lr 0.1 --sampling replace --epochs 30", 1.01),
    ("--method minibatch --lr 0.2 --schedule step --epochs 30", 1.01),
    ("--method minibatch --lr 0.1 --schedule adaptive --epochs 30", 1.01),
    ("--method momentum --lr 0.05 --epochs 300", 1.001),
    ("--method nesterov --lr 0.05 --epochs 300", 1.001),
    ("--method adam --lr 0.1 --epochs 300", 1.001),
    ("--method adam --lr 0.05 --batch 16 --epochs 30", 1.01),
];

#[test]
fn every_method_reaches_the_least_loss() {
    let dir = least_squares_files("methods");
    let least = least_loss(&dir);
    for (options, factor) in METHODS {
        let run = minimize(&dir, &format!("{FIT} {options} --json --quiet"));
        assert_eq!(run.code, 0, "{options}: {}", run.stderr);
        let json: Value = serde_json::from_str(&run.stdout).unwrap();
        let loss = json["loss"].as_f64().unwrap();
        assert!(
            least <= loss * (1.0 + 1e-12) && loss < factor * least,
            "{options}: loss {loss}, least {least}"
        );
    }
}

/// The mean squared error of the least-squares solution, by faer.
fn least_loss(dir: &Path) -> f64 {
    let x = read_csv(&dir.join("X.csv"));
    let y = read_csv(&dir.join("y.csv"));
    let qr = x.col_piv_qr();
    let w = faer::linalg::solvers::SolveLstsq::solve_lstsq(&qr, &y);
    let residual = &x * &w - &y;
    residual.norm_l2().powi(2) / x.nrows() as f64
}

fn read_csv(path: &Path) -> faer::Mat<f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    faer::Mat::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j])
}

/// A NumPy `.npy` file (format 1.0, little-endian f64, C order) of a matrix.
fn npy(m: &faer::Mat<f64>) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, {}), }}",
        m.nrows(),
        m.ncols()
    );
    // Magic (6) + version (2) + length (2) + header end on a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            bytes.extend(m[(i, j)].to_le_bytes());
        }
    }
    bytes
}

#[test]
fn npy_data_give_the_same_fit_as_csv() {
    let dir = least_squares_files("npy");
    std::fs::write(dir.join("X.npy"), npy(&read_csv(&dir.join("X.csv")))).unwrap();
    let options = "--line-search --tol-grad 1e-9 --json --quiet";
    let from_csv = minimize(&dir, &format!("{FIT} {options}"));
    let from_npy = minimize(
        &dir,
        &format!("{} {options}", FIT.replace("X=X.csv", "X=X.npy")),
    );
    assert_eq!(from_npy.code, 0, "{}", from_npy.stderr);
    assert_eq!(solution(&from_npy), solution(&from_csv));
}
