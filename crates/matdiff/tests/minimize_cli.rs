//! `matdiff minimize` end to end: the built binary on small CSV files written to a
//! temporary directory, and on the Spector & Mazzeo data (tests/data/README.md).

mod common;

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
    common::scratch(&format!("minimize-{name}"))
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
        "gradient norm ‖∇f(w)‖: ",
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
    assert!(history.starts_with("iteration,epoch,loss,grad_norm,step_norm,lr,seconds\n"));
    let losses = losses(&history);
    // The start and one full loss per epoch; the loss falls.
    assert_eq!(losses.len(), 51);
    assert!(losses[50] < losses[0] / 100.0, "{losses:?}");
    // Elapsed seconds: from the start of the run, never running backwards.
    let seconds = column(&history, 6);
    assert!(seconds[0] >= 0.0, "{seconds:?}");
    assert!(seconds.windows(2).all(|s| s[0] <= s[1]), "{seconds:?}");
    let iterations = column(&history, 0);
    assert_eq!(iterations[50], 350.0);
}

/// A column of a history file, by position.
fn column(history: &str, index: usize) -> Vec<f64> {
    history
        .lines()
        .skip(1)
        .map(|r| r.split(',').nth(index).unwrap().parse().unwrap())
        .collect()
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
    assert_eq!(json["stop_reason"], "grad_norm");
    assert_eq!(json["converged"], true);
    assert_eq!(json["variable"], "w");
    assert!(json["grad_norm"].as_f64().unwrap() < 1e-9);
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
            "standardise the data",
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

#[test]
fn sgd_with_an_oversized_step_overflows_into_divergence_advice() {
    let dir = least_squares_files("diverge-sgd");
    let run = minimize(&dir, &format!("{FIT} --lr 5 --method sgd"));
    assert_eq!(run.code, 1, "{}", run.stderr);
    // No weights are printed, and the overflow is named as such.
    assert_eq!(run.stdout, "");
    for part in ["diverged", "--lr", "standardise the data", "overflow"] {
        assert!(run.stderr.contains(part), "{}", run.stderr);
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
        says: "invalid --batch: a batch size applies to momentum" },
    BadInput { line: "{FIT} --method sgd --line-search",
        says: "invalid --line-search: the line search needs the full loss" },
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
    BadInput { line: "{LSQ} --data X=ragged.json --data y=y.csv",
        says: "ragged.json: `X` has ragged rows: row 1 has 1 entries, row 0 has 2" },
    BadInput { line: "{LSQ} --data X=words.json --data y=y.csv",
        says: "words.json: `X`[0][1] is not a number" },
    BadInput { line: "{LSQ} --data X=broken.json --data y=y.csv",
        says: "broken.json:2:2: not valid JSON: expected `,` or `]`" },
    BadInput { line: "{LSQ} --data X=other.json --data y=y.csv",
        says: "other.json: no value for `X` — give the value itself or an object with the key `X`" },
    BadInput { line: "{LSQ} --data Z=other.json --data X=X.csv --data y=y.csv",
        says: "other.json: `Z` is not a variable of the expression" },
    BadInput { line: "{FIT} --init ones",
        says: "--init `ones`: no such file — use zeros, random or a JSON file with the value" },
    BadInput { line: "{FIT} --init [NaN,0]",
        says: "--init `[NaN,0]`: not valid JSON (expected value at line 1 column 2); NaN and Infinity are not JSON numbers" },
    BadInput { line: "{FIT} --lr-sweep 1e-3,1e-2",
        says: "--plot" },
    BadInput { line: "{FIT} --lr-sweep 1e-3,1e-2 --plot s.png --lr 0.1",
        says: "--lr" },
    BadInput { line: "{FIT} --lr-sweep 1e-3,1e-2 --plot s.png --line-search",
        says: "--line-search" },
    BadInput { line: "{FIT} --lr-sweep 1e-3,,1e-2 --plot s.png",
        says: "--lr-sweep `1e-3,,1e-2`: an entry is empty — give positive learning rates separated by commas" },
    BadInput { line: "{FIT} --lr-sweep 1e-3,big --plot s.png",
        says: "`big` is not a number" },
    BadInput { line: "{FIT} --lr-sweep 1e-3,-0.1 --plot s.png",
        says: "`-0.1` is not a positive learning rate" },
    BadInput { line: "{FIT} --lr-sweep 0.1,1e-1 --plot s.png",
        says: "`1e-1` repeats `0.1`" },
    BadInput { line: "{FIT} --lr-sweep 1e-3 --plot s.gif",
        says: "--plot `s.gif`: use a .png or .svg file" },
    BadInput { line: r#""norm2(X*w - y)" --wrt w --data X=X.csv --data y=y.csv --stream"#,
        says: "needs a loss that sums a function of `X*w` over the samples" },
    BadInput { line: "{FIT} --stream --method sgd --sampling replace",
        says: "use --sampling shuffle (within chunks), not replace" },
    BadInput { line: "{FIT} --stream --method minibatch --batch 64 --chunk-rows 10",
        says: "raise --chunk-rows to at least 64" },
    BadInput { line: "{LSQ} --data X=bad.csv --data y=y.csv --stream",
        says: "bad.csv:3:2: non-numeric cell \"two\"" },
    BadInput { line: "{FIT} --method sgd --chunk-rows 0",
        says: "a chunk needs at least 1 row" },
    BadInput { line: r#""norm2(X*w - y)" --wrt w --data X=X.csv --data y=y.csv --intercept"#,
        says: "an intercept is added to the linear predictor `X*w` of a linear model's loss" },
    BadInput { line: "{FIT} --intercept --stream",
        says: "an intercept is fitted on data in memory only, and these are streamed" },
    BadInput { line: "{FIT} --intercept --save m.json",
        says: "'--intercept' cannot be used with '--save" },
];

#[test]
fn streamed_data_give_the_in_memory_fit_in_bounded_memory() {
    let dir = least_squares_files("stream");
    for method in [
        "--method sgd --lr 0.01",
        "--method minibatch --batch 8 --lr 0.05",
        "--method gd --lr 0.1",
    ] {
        let line = format!("{FIT} {method} --epochs 3 --chunk-rows 16 --json");
        let memory = minimize(&dir, &line);
        let streamed = minimize(&dir, &format!("{line} --stream"));
        assert_eq!(memory.code, 0, "{}", memory.stderr);
        assert_eq!(streamed.code, 0, "{}", streamed.stderr);
        let (a, b): (Value, Value) = (
            serde_json::from_str(&memory.stdout).unwrap(),
            serde_json::from_str(&streamed.stdout).unwrap(),
        );
        let (wa, wb) = (
            a["solution"].as_array().unwrap(),
            b["solution"].as_array().unwrap(),
        );
        for (p, q) in wa.iter().zip(wb) {
            let (p, q) = (p.as_f64().unwrap(), q.as_f64().unwrap());
            assert!(
                (p - q).abs() <= 1e-12 * (1.0 + p.abs()),
                "{method}: {p} vs {q}"
            );
        }
        assert_eq!(a["iterations"], b["iterations"], "{method}");
        assert!(a.get("peak_rss_bytes").is_none(), "{method}");
        assert!(
            b["peak_rss_bytes"].as_u64().is_some_and(|m| m > 0),
            "{method}"
        );
    }
    let text = minimize(
        &dir,
        &format!("{FIT} --method sgd --epochs 2 --stream --history s.csv --plot s.svg"),
    );
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("peak memory: "), "{}", text.stdout);
    let history = std::fs::read_to_string(dir.join("s.csv")).unwrap();
    assert_eq!(losses(&history).len(), 3, "the start and two epochs");
    assert!(std::fs::read_to_string(dir.join("s.svg"))
        .unwrap()
        .contains("<svg"));
}

#[test]
fn bad_input_exits_2_and_names_the_culprit() {
    let dir = least_squares_files("bad");
    std::fs::write(dir.join("bad.csv"), "a,b\n1,2\n3,two\n").unwrap();
    std::fs::write(dir.join("short.json"), "[1, 2]").unwrap();
    std::fs::write(dir.join("K.csv"), "a,b,c\n2,0,0\n0,2,0\n0,0,2\n").unwrap();
    std::fs::write(dir.join("y3.csv"), "y\n1\n2\n3\n").unwrap();
    std::fs::write(dir.join("ragged.json"), "[[1, 2], [3]]").unwrap();
    std::fs::write(dir.join("words.json"), r#"[[1, "two"], [3, 4]]"#).unwrap();
    std::fs::write(dir.join("broken.json"), "[[1, 2]\n [3, 4]]").unwrap();
    std::fs::write(dir.join("other.json"), r#"{"Z": [[1, 2]]}"#).unwrap();
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
    assert_eq!(json["stop_reason"], "max_iter");
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
    assert_eq!(json["stop_reason"], "grad_norm");
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
    let shape = format!("({}, {})", m.nrows(), m.ncols());
    let rows: Vec<f64> = (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)]))
        .collect();
    common::npy_bytes(&shape, false, &rows)
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

/// Every stop rule, and the run that makes it fire (on the least-squares files).
#[rustfmt::skip]
const STOP_REASONS: &[(&str, &str)] = &[
    ("--line-search --tol-grad 1e-9", "grad_norm"),
    ("--lr 0.1 --tol-step 1e-4", "step_norm"),
    ("--lr 0.1 --tol-loss 1e-8", "loss_change"),
    ("--lr 0.1 --max-iter 5", "max_iter"),
    ("--lr 0.1 --epochs 5", "epochs"),
    // Steps of 1e-6 lower the loss by far less than 1e-4 per epoch.
    ("--lr 1e-6 --n-iter-no-change 3", "no_improvement"),
    ("--method minibatch --batch 16 --lr 0.05 --schedule adaptive --epochs 10000", "no_improvement"),
];

#[test]
fn json_has_the_contract_keys_and_names_each_stop_rule() {
    let dir = least_squares_files("stops");
    let keys = [
        "converged",
        "epoch_loss",
        "epochs",
        "grad_norm",
        "iterations",
        "loss",
        "seconds",
        "solution",
        "stop_description",
        "stop_reason",
        "variable",
    ];
    for (options, reason) in STOP_REASONS {
        let run = minimize(&dir, &format!("{FIT} {options} --json --quiet"));
        assert_eq!(run.code, 0, "{options}: {}", run.stderr);
        let json: Value = serde_json::from_str(&run.stdout).unwrap();
        let mut found: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        found.sort_unstable();
        assert_eq!(found, keys, "{options}");
        assert_eq!(json["stop_reason"], *reason, "{options}");
        let converged = ["grad_norm", "step_norm", "loss_change"].contains(reason);
        assert_eq!(json["converged"], converged, "{options}");
        for key in ["loss", "grad_norm", "seconds"] {
            assert!(json[key].as_f64().unwrap().is_finite(), "{options}: {key}");
        }
    }
    // Each limit is where the run stopped.
    let limit = |options: &str, key: &str| {
        let run = minimize(&dir, &format!("{FIT} {options} --json --quiet"));
        serde_json::from_str::<Value>(&run.stdout).unwrap()[key].clone()
    };
    assert_eq!(limit("--lr 0.1 --max-iter 5", "iterations"), 5);
    assert_eq!(limit("--lr 0.1 --epochs 5", "epochs"), 5);
    assert_eq!(limit("--lr 1e-6 --n-iter-no-change 3", "epochs"), 3);
}

#[test]
fn a_line_search_lost_in_rounding_says_so() {
    // The loss changes by less than its rounding along every trial step, and being
    // linear its slope never flattens: no step is acceptable.
    let dir = temp_dir("rounding");
    std::fs::write(dir.join("c.csv"), "c\n0.3\n-1.7\n2.9\n").unwrap();
    let run = minimize(
        &dir,
        r#""1e20 + c'*w" --wrt w --data c=c.csv --line-search --json --quiet"#,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["stop_reason"], "line_search_failed");
    assert_eq!(json["converged"], false);
    assert_eq!(json["solution"], serde_json::json!([0.0, 0.0, 0.0]));
}

/// The JSON value encoding of a matrix: a list of rows, or a flat list for a column.
fn json_value(m: &faer::Mat<f64>) -> Value {
    if m.ncols() == 1 {
        (0..m.nrows()).map(|i| m[(i, 0)]).collect()
    } else {
        (0..m.nrows())
            .map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect::<Value>())
            .collect()
    }
}

#[test]
fn json_data_give_the_same_fit_as_csv() {
    let dir = least_squares_files("jsondata");
    let x = read_csv(&dir.join("X.csv"));
    let y = read_csv(&dir.join("y.csv"));
    std::fs::write(dir.join("X.json"), json_value(&x).to_string()).unwrap();
    let named = serde_json::json!({ "y": json_value(&y) });
    std::fs::write(dir.join("y.json"), named.to_string()).unwrap();
    let options = "--line-search --tol-grad 1e-9 --json --quiet";
    let from_csv = minimize(&dir, &format!("{FIT} {options}"));
    let from_json = minimize(
        &dir,
        &format!(
            "{} {options}",
            FIT.replace("X=X.csv", "X=X.json")
                .replace("y=y.csv", "y=y.json")
        ),
    );
    assert_eq!(from_json.code, 0, "{}", from_json.stderr);
    assert_eq!(solution(&from_json), solution(&from_csv));

    // A scalar as a JSON number: ridge regression, against its normal equations
    // (X'X/N + λI) w = X'y/N.
    std::fs::write(dir.join("lambda.json"), "0.5").unwrap();
    let run = minimize(
        &dir,
        r#""1/N*norm2(X*w - y)^2 + lambda*norm2(w)^2" --wrt w --let "X: matrix(N,d)"
           --data X=X.csv --data y=y.csv --data lambda=lambda.json --line-search
           --tol-grad 1e-10 --json --quiet"#,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let n = x.nrows() as f64;
    let gram = faer::Mat::from_fn(3, 3, |i, j| {
        (x.col(i).transpose() * x.col(j)) / n + if i == j { 0.5 } else { 0.0 }
    });
    let rhs = faer::Mat::from_fn(3, 1, |i, _| (x.col(i).transpose() * y.col(0)) / n);
    let ridge = faer::linalg::solvers::Solve::solve(&gram.partial_piv_lu(), &rhs);
    let expected: Vec<f64> = (0..3).map(|i| ridge[(i, 0)]).collect();
    assert!(max_diff(&solution(&run), &expected) < 1e-8, "{expected:?}");
}

#[test]
fn a_random_start_is_small_and_reproducible_by_seed() {
    let dir = least_squares_files("random");
    // Zero iterations: the solution is the starting point.
    let start = |seed: &str| {
        let run = minimize(
            &dir,
            &format!("{FIT} --init random {seed} --max-iter 0 --json --quiet"),
        );
        assert_eq!(run.code, 0, "{seed}: {}", run.stderr);
        solution(&run)
    };
    let seven = start("--seed 7");
    assert_eq!(seven, start("--seed 7"));
    assert_ne!(seven, start("--seed 8"));
    assert_ne!(seven, start(""));
    assert_eq!(start(""), start("--seed 0"));
    for w in [&seven, &start("--seed 8")] {
        assert!(w.iter().all(|&v| v != 0.0 && v.abs() < 0.1), "{w:?}");
    }
    // The same seed gives bit-identical runs from a random start, too.
    let fit = |seed: &str| {
        let run = minimize(
            &dir,
            &format!("{FIT} --init random {seed} --method sgd --epochs 3 --json --quiet"),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        solution(&run)
    };
    assert_eq!(fit("--seed 3"), fit("--seed 3"));

    // A symmetric variable starts symmetric, an spd one positive definite.
    std::fs::write(dir.join("S.csv"), "a,b\n2,1\n1,3\n").unwrap();
    for kind in ["symmetric", "spd"] {
        let run = minimize(
            &dir,
            &format!(
                r#""norm2(P - S)^2" --wrt P --let "P: {kind}(2)" --data S=S.csv --init random
                   --seed 5 --max-iter 0 --json --quiet"#
            ),
        );
        assert_eq!(run.code, 0, "{kind}: {}", run.stderr);
        let json: Value = serde_json::from_str(&run.stdout).unwrap();
        let p = |i: usize, j: usize| json["solution"][i][j].as_f64().unwrap();
        assert_eq!(p(0, 1), p(1, 0), "{kind}");
        assert_ne!(p(0, 1), 0.0, "{kind}");
        let determinant = p(0, 0) * p(1, 1) - p(0, 1) * p(1, 0);
        assert_eq!(kind == "spd", p(0, 0) > 0.0 && determinant > 0.0, "{kind}");
    }
}

/// The rows of a sweep's table: η, final loss, iterations, stop reason.
fn sweep_rows(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .skip(1)
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let mut row: Vec<String> = words[..3].iter().map(|w| w.to_string()).collect();
            row.push(words[3..].join(" "));
            row
        })
        .collect()
}

#[test]
fn a_learning_rate_sweep_draws_every_curve_and_marks_the_diverged_rate() {
    let dir = least_squares_files("sweep");
    // The first column of X is all ones, so the largest eigenvalue of the Hessian
    // 2/N X'X is at least 2 and gradient descent diverges for η ≥ 1; η = 10 must.
    let rates = "1e-3,1e-2,1e-1,10";
    let run = minimize(
        &dir,
        &format!("{FIT} --lr-sweep {rates} --epochs 200 --plot sweep.png"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["η", "final", "loss", "iterations", "stop", "reason"]
    );
    let rows = sweep_rows(&run.stdout);
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["1e-3", "1e-2", "1e-1", "10"]);
    for row in &rows[..3] {
        assert!(
            ["epochs", "grad_norm"].contains(&row[3].as_str()),
            "{row:?}"
        );
        assert!(row[2].parse::<usize>().unwrap() <= 200, "{row:?}");
    }
    assert!(rows[3][3].starts_with("diverged at iteration "), "{rows:?}");
    let at: usize = rows[3][3]["diverged at iteration ".len()..]
        .parse()
        .unwrap();
    assert_eq!(rows[3][2], at.to_string());
    assert!((1..200).contains(&at), "{at}");
    // A larger rate (short of diverging) ends lower after the same number of epochs.
    let losses: Vec<f64> = rows[..3].iter().map(|r| r[1].parse().unwrap()).collect();
    assert!(losses[0] > losses[1] && losses[1] > losses[2], "{losses:?}");

    let png = std::fs::read(dir.join("sweep.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 1000);

    // The SVG carries the legend's text: each rate and how its run ended.
    let run = minimize(
        &dir,
        &format!("{FIT} --lr-sweep {rates} --epochs 200 --plot sweep.svg --json"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let svg = std::fs::read_to_string(dir.join("sweep.svg")).unwrap();
    for label in [
        "η = 1e-3: stopped at limit",
        "η = 1e-2: stopped at limit",
        &format!("η = 10: diverged at iteration {at}"),
    ] {
        assert!(svg.contains(label), "{label}");
    }
    assert!(svg.contains("η = 1e-1: "));
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[0]["lr"], 1e-3);
    assert_eq!(runs[0]["stop_reason"], "epochs");
    assert_eq!(runs[3]["stop_reason"], "diverged");
    assert_eq!(runs[3]["at_iteration"], at);
    assert!(runs[3].get("solution").is_none());
    // The same seed and start: each rate's run is the single run at that rate.
    let single = minimize(
        &dir,
        &format!("{FIT} --lr 1e-2 --epochs 200 --json --quiet"),
    );
    assert_eq!(
        runs[1]["solution"],
        serde_json::from_str::<Value>(&single.stdout).unwrap()["solution"]
    );
}

#[test]
fn epoch_losses_are_exact_where_looked_at_and_sgd_runs_on_several_threads() {
    let dir = least_squares_files("epoch-loss");
    let sgd = format!("{FIT} --method sgd --lr 0.05 --epochs 20 --json --quiet");
    let fit = |options: &str| {
        let run = minimize(&dir, &format!("{sgd} {options}"));
        assert_eq!(run.code, 0, "{options}: {}", run.stderr);
        let json: Value = serde_json::from_str(&run.stdout).unwrap();
        (json, solution(&run))
    };
    // No rule looks at the epochs' losses: the running average, with the same
    // iterates and the same exact final loss.
    let (running, w_running) = fit("--tol-grad 0");
    let (exact, w_exact) = fit("--tol-grad 0 --epoch-loss exact");
    assert_eq!(running["epoch_loss"], "running");
    assert_eq!(exact["epoch_loss"], "exact");
    assert_eq!(w_running, w_exact);
    assert_eq!(running["loss"], exact["loss"]);
    assert_eq!(running["stop_reason"], "epochs");
    // A gradient tolerance (the default) or a history needs the exact loss.
    assert_eq!(fit("").0["epoch_loss"], "exact");
    let (history, _) = fit("--tol-grad 0 --history h.csv");
    assert_eq!(history["epoch_loss"], "exact");
    let refused = minimize(&dir, &format!("{sgd} --epoch-loss running --tol-grad 1e-8"));
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("--epoch-loss"),
        "{}",
        refused.stderr
    );
    // Text output says which.
    let text = minimize(
        &dir,
        &format!("{FIT} --method sgd --lr 0.05 --epochs 3 --tol-grad 0 --quiet"),
    );
    assert!(
        text.stdout.contains("epoch losses: running averages"),
        "{}",
        text.stdout
    );

    // Hogwild! on two threads: near the one-thread fit, not bit for bit.
    let (_, w_threads) = fit("--tol-grad 0 --threads 2");
    assert!(max_diff(&w_threads, &W_TRUE) < 0.05, "{w_threads:?}");
    assert!(max_diff(&w_threads, &w_running) < 0.05);
    let gd = minimize(&dir, &format!("{FIT} --threads 2 --epochs 3"));
    assert_eq!(gd.code, 2);
    assert!(
        gd.stderr.contains("--threads") && gd.stderr.contains("sgd"),
        "{}",
        gd.stderr
    );
}

/// `--intercept` on the features alone gives the fit on `[1, a, b]` (the ones stored
/// in the file): the intercept is the first coefficient there, in text and in JSON.
#[test]
fn an_intercept_is_the_coefficient_of_a_column_of_ones() {
    let dir = least_squares_files("intercept");
    let x = std::fs::read_to_string(dir.join("X.csv")).unwrap();
    let features: String = x
        .lines()
        .map(|line| {
            line.split_once(',')
                .map_or(line, |(_, rest)| rest)
                .to_owned()
                + "\n"
        })
        .collect();
    std::fs::write(dir.join("F.csv"), features).unwrap();
    let tight = "--method gd --lr 0.3 --tol-grad 1e-12 --max-iter 100000 --json --quiet";
    let ones = minimize(&dir, &format!("{FIT} {tight}"));
    assert_eq!(ones.code, 0, "{}", ones.stderr);
    let with_ones = solution(&ones);
    let line = r#""1/N*norm2(X*w - y)^2" --wrt w --let "X: matrix(N,d)" --data X=F.csv --data y=y.csv --intercept"#;
    for method in [
        tight.to_owned(),
        "--method sgd --lr 0.02 --epochs 200 --json --quiet".to_owned(),
    ] {
        let run = minimize(&dir, &format!("{line} {method}"));
        assert_eq!(run.code, 0, "{}", run.stderr);
        let w = solution(&run);
        let json: Value = serde_json::from_str(&run.stdout).unwrap();
        let b = json["intercept"]
            .as_f64()
            .expect("an intercept in the JSON");
        let tol = if method.contains("sgd") { 0.02 } else { 1e-8 };
        assert!(
            max_diff(&w, &with_ones[1..]) < tol,
            "{method}: {w:?} vs {with_ones:?}"
        );
        assert!(
            (b - with_ones[0]).abs() < tol,
            "{method}: b = {b}, {with_ones:?}"
        );
    }
    let text = minimize(
        &dir,
        &format!("{line} --method gd --lr 0.3 --max-iter 10 --quiet"),
    );
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("\nintercept b = "), "{}", text.stdout);
    // Without the option the JSON has no intercept.
    let json: Value = serde_json::from_str(&ones.stdout).unwrap();
    assert!(json.get("intercept").is_none());
}
