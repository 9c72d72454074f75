//! `matdiff plot`: trajectories from the real solvers, checked against the closed-form
//! iterates of gradient descent on a quadratic; valid PNG and SVG files of the requested
//! size; bad requests refused with exit 2.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The least-squares loss of the issue, `1/N‖Xw − y‖²`.
const LOSS: &str = "1/N*norm2(X*w - y)^2";

/// Six samples of two correlated features and a target.
const X: [[f64; 2]; 6] = [
    [1.0, 0.5],
    [-0.5, 1.0],
    [2.0, 1.5],
    [0.0, -1.0],
    [1.5, -0.5],
    [-1.0, -2.0],
];
const Y: [f64; 6] = [1.5, -2.0, 2.5, 1.0, 2.0, 0.5];

/// A fresh folder with `X.csv` and `y.csv`.
fn folder(name: &str) -> PathBuf {
    let dir = common::scratch(&format!("plot-{name}"));
    let x: String = X.iter().map(|r| format!("{},{}\n", r[0], r[1])).collect();
    std::fs::write(dir.join("X.csv"), format!("a,b\n{x}")).unwrap();
    let y: String = Y.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(dir.join("y.csv"), format!("y\n{y}")).unwrap();
    dir
}

fn matdiff(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_matdiff"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// `matdiff plot LOSS --wrt w … --run RUN --trajectory t.csv --out OUT`.
fn plot_runs(dir: &Path, runs: &[&str], out: &str) -> Output {
    let mut args = vec![
        "plot",
        LOSS,
        "--wrt",
        "w",
        "--let",
        "X: matrix(N,2)",
        "--data",
        "X=X.csv",
        "--data",
        "y=y.csv",
        "--trajectory",
        "t.csv",
        "--out",
        out,
    ];
    for run in runs {
        args.extend(["--run", run]);
    }
    matdiff(dir, &args)
}

/// The trajectory CSV as (run, iteration, x, y) rows.
fn trajectory(dir: &Path) -> Vec<(usize, usize, [f64; 2])> {
    let text = std::fs::read_to_string(dir.join("t.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("run,method,lr,iteration,x,y,loss"));
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (
                cells[0].parse().unwrap(),
                cells[3].parse().unwrap(),
                [cells[4].parse().unwrap(), cells[5].parse().unwrap()],
            )
        })
        .collect()
}

/// `H = 2/N XᵀX` and `b = 2/N Xᵀy`: the loss is `wᵀHw/2 − bᵀw + const`.
fn hessian_and_b() -> ([[f64; 2]; 2], [f64; 2]) {
    let n = X.len() as f64;
    let mut h = [[0.0; 2]; 2];
    let mut b = [0.0; 2];
    for (row, y) in X.iter().zip(Y) {
        for i in 0..2 {
            b[i] += 2.0 / n * row[i] * y;
            for j in 0..2 {
                h[i][j] += 2.0 / n * row[i] * row[j];
            }
        }
    }
    (h, b)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn gradient_descent_follows_the_closed_form_iterates() {
    let dir = folder("closed-form");
    let eta = 0.1;
    let output = plot_runs(&dir, &["gd:lr=0.1,iterations=40"], "paths.png");
    assert!(output.status.success(), "{}", stderr(&output));
    let rows = trajectory(&dir);
    assert_eq!(rows.len(), 41);
    // w_{k+1} = (I − ηH) w_k + ηb from w_0 = 0.
    let (h, b) = hessian_and_b();
    let mut w = [0.0, 0.0];
    for (k, &(run, iteration, at)) in rows.iter().enumerate() {
        assert_eq!((run, iteration), (1, k));
        for i in 0..2 {
            assert!(
                (at[i] - w[i]).abs() < 1e-12,
                "iteration {k}: {at:?} vs {w:?}"
            );
        }
        let hw = [
            h[0][0] * w[0] + h[0][1] * w[1],
            h[1][0] * w[0] + h[1][1] * w[1],
        ];
        w = [
            w[0] - eta * hw[0] + eta * b[0],
            w[1] - eta * hw[1] + eta * b[1],
        ];
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_too_large_step_moves_away_from_the_minimiser_and_is_reported_as_diverged() {
    let dir = folder("diverged");
    let (h, b) = hessian_and_b();
    // The largest curvature L: gradient descent diverges for η > 2/L.
    let (tr, det) = (h[0][0] + h[1][1], h[0][0] * h[1][1] - h[0][1] * h[1][0]);
    let l = tr / 2.0 + (tr * tr / 4.0 - det).sqrt();
    let eta = 2.5 / l;
    let run = format!("gd:lr={eta}");
    let output = plot_runs(&dir, &[run.as_str(), "gd:lr=0.1"], "paths.png");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("diverged"), "{}", stdout(&output));
    let minimiser = [
        (h[1][1] * b[0] - h[0][1] * b[1]) / det,
        (h[0][0] * b[1] - h[1][0] * b[0]) / det,
    ];
    let distances: Vec<f64> = trajectory(&dir)
        .into_iter()
        .filter(|row| row.0 == 1)
        .map(|(_, _, at)| (at[0] - minimiser[0]).hypot(at[1] - minimiser[1]))
        .collect();
    assert!(distances.len() > 3, "{distances:?}");
    // Along the steepest direction the error grows by |1 − ηL| = 1.5 per step.
    for pair in distances[1..].windows(2) {
        assert!(pair[1] > pair[0], "{distances:?}");
    }
    assert!(
        distances[distances.len() - 1] > 10.0 * distances[0],
        "{distances:?}"
    );
    // A run that grows more slowly (|1 − ηL| = 1.2) and ends at its iteration limit far
    // above its starting loss is called diverged too, not "iteration limit".
    let slow = format!("gd:lr={},iterations=12", 2.2 / l);
    let output = plot_runs(&dir, &[slow.as_str()], "slow.png");
    assert!(output.status.success(), "{}", stderr(&output));
    let line = stdout(&output);
    assert!(line.contains("12 iterations, diverged"), "{line}");
    assert!(!line.contains("iteration limit"), "{line}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_coordinates_of_a_longer_variable_are_chosen_with_coords() {
    let dir = folder("coords");
    std::fs::write(dir.join("a.csv"), "a\n1\n2\n3\n").unwrap();
    // q = ‖w − a‖² over (w[0], w[2]): gd with η = 0.25 halves the distance to a.
    let output = matdiff(
        &dir,
        &[
            "plot",
            "norm2(w - a)^2",
            "--wrt",
            "w",
            "--data",
            "a=a.csv",
            "--coords",
            "0,2",
            "--run",
            "gd:lr=0.25,iterations=3",
            "--trajectory",
            "t.csv",
            "--out",
            "coords.svg",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let points: Vec<[f64; 2]> = trajectory(&dir).into_iter().map(|r| r.2).collect();
    assert_eq!(
        points,
        [[0.0, 0.0], [0.5, 1.5], [0.75, 2.25], [0.875, 2.625]]
    );
    let svg = std::fs::read_to_string(dir.join("coords.svg")).unwrap();
    assert!(svg.contains("w[0]") && svg.contains("w[2]"), "axis labels");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Width and height from a PNG's signature and IHDR chunk.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let signature = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    if bytes.len() < 24 || bytes[..8] != signature || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let number = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    Some((number(16), number(20)))
}

/// Width and height of an SVG document whose elements are all closed.
fn svg_size(text: &str) -> Option<(u32, u32)> {
    let text = text.trim();
    if !(text.starts_with("<svg") && text.ends_with("</svg>")) {
        return None;
    }
    // Every element is closed: as many `<x …>` openings as `</x>` and `/>` closings.
    let opened = text.matches('<').count() - text.matches("</").count();
    let closed = text.matches("</").count() + text.matches("/>").count();
    if opened != closed {
        return None;
    }
    let attribute = |name: &str| -> Option<u32> {
        let start = text.find(&format!(" {name}=\""))? + name.len() + 3;
        text[start..].split('"').next()?.parse().ok()
    };
    Some((attribute("width")?, attribute("height")?))
}

#[test]
fn pictures_are_valid_png_and_svg_of_the_requested_size() {
    let dir = folder("formats");
    let common = [
        "--wrt",
        "w",
        "--let",
        "X: matrix(N,2)",
        "--data",
        "X=X.csv",
        "--data",
        "y=y.csv",
        "--run",
        "gd:lr=0.1",
        "--run",
        "sgd:lr=0.05,epochs=2",
    ];
    let scalar = [
        "--wrt",
        "x",
        "--let",
        "x: scalar",
        "--at",
        "1",
        "--h",
        "0.5",
    ];
    /// The expression, its options, the picture, `--size` and the size expected.
    type Case<'a> = (&'a str, &'a [&'a str], &'a str, Option<&'a str>, (u32, u32));
    let cases: [Case; 5] = [
        (LOSS, &common, "a.png", None, (1000, 800)),
        (LOSS, &common, "b.png", Some("640x480"), (640, 480)),
        (LOSS, &common, "c.svg", Some("800x600"), (800, 600)),
        ("x^3 - 2*x", &scalar, "d.png", Some("700x500"), (700, 500)),
        ("x^3 - 2*x", &scalar, "e.svg", None, (1000, 800)),
    ];
    for (expr, options, out, size, expected) in cases {
        let mut args = vec!["plot", expr];
        args.extend_from_slice(options);
        args.extend(["--out", out]);
        if let Some(size) = size {
            args.extend(["--size", size]);
        }
        let output = matdiff(&dir, &args);
        assert!(output.status.success(), "{out}: {}", stderr(&output));
        assert!(stdout(&output).contains(&format!("wrote {out}")), "{out}");
        let got = if out.ends_with(".png") {
            png_size(&std::fs::read(dir.join(out)).unwrap())
        } else {
            svg_size(&std::fs::read_to_string(dir.join(out)).unwrap())
        };
        assert_eq!(got, Some(expected), "{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_tangent_picture_reports_the_linear_part_and_the_gap() {
    let dir = folder("tangent");
    let output = matdiff(
        &dir,
        &[
            "plot",
            "x^3 - 2*x",
            "--wrt",
            "x",
            "--let",
            "x: scalar",
            "--at",
            "1",
            "--h",
            "0.5",
            "--out",
            "t.png",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    // f(1) = −1, f'(1) = 1, f(1.5) = 0.375: f'h = 0.5 and o(h) = 0.875.
    assert_eq!(
        stdout(&output).lines().next(),
        Some("f(1) = -1, f'(1) = 1, h = 0.5: f'·h = 0.5, o(h) = 0.875")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_requests_exit_2_with_a_message() {
    let dir = folder("bad");
    std::fs::write(dir.join("a.csv"), "a\n1\n2\n3\n").unwrap();
    let plane = [
        "--wrt",
        "w",
        "--let",
        "X: matrix(N,2)",
        "--data",
        "X=X.csv",
        "--data",
        "y=y.csv",
    ];
    let scalar = ["--wrt", "x", "--let", "x: scalar"];
    let cases: [(&str, Vec<&str>, &str); 18] = [
        (
            "x^2",
            [&scalar[..], &["--h", "1e308"]].concat(),
            "the default range x₀ ± 2.5|h|: the interval -inf:inf has no finite width",
        ),
        (
            "x^2",
            [&scalar[..], &["--h", "1e-300"]].concat(),
            "too narrow to draw — choose another --h or give --range",
        ),
        // Widths that overflow, or values past what a picture draws: refused, not a
        // hang.
        (
            LOSS,
            [&plane[..], &["--range=-1:1,-1e308:1e308"]].concat(),
            "the interval -1e308:1e308 reaches past ±1e300",
        ),
        (
            "x^3 - 2*x",
            [&scalar[..], &["--range=-1e308:0"]].concat(),
            "the interval -1e308:0 reaches past ±1e300",
        ),
        (
            "x^3 - 2*x",
            [&scalar[..], &["--range=-1e102:0"]].concat(),
            "the values of f: the interval -1.08e306:8.00e304 reaches past ±1e300",
        ),
        (
            LOSS,
            [&plane[..], &["--range", "0:0,0:1"]].concat(),
            "the interval 0:0 is empty — give two different ends, e.g. 0:1",
        ),
        (
            LOSS,
            [&plane[..], &["--range", "1:1.0000000000000002,0:1"]].concat(),
            "too narrow to draw",
        ),
        (
            LOSS,
            [&plane[..], &["--run", "gd:iterations=1000000000000"]].concat(),
            "iterations is at most 100000",
        ),
        (
            LOSS,
            [&plane[..], &["--out", "missing/p.png"]].concat(),
            "the folder `missing` does not exist — create it or write the picture elsewhere",
        ),
        (
            "x^2",
            [&scalar[..], &["--out", "missing/p.svg"]].concat(),
            "the folder `missing` does not exist",
        ),
        (
            "norm2(w - a)^2",
            vec!["--wrt", "w", "--data", "a=a.csv"],
            "`w` has 3 coordinates, a contour picture needs two — choose them with --coords i,j",
        ),
        (
            LOSS,
            [&plane[..], &["--range", "1:1,0:2"]].concat(),
            "the interval 1:1 is empty",
        ),
        (
            LOSS,
            [&plane[..], &["--range", "0:1"]].concat(),
            "is not x0:x1,y0:y1",
        ),
        (
            LOSS,
            [&plane[..], &["--run", "newton:lr=1"]].concat(),
            "unknown method `newton`",
        ),
        (
            LOSS,
            [&plane[..], &["--run", "gd:lr=0"]].concat(),
            "lr must be a positive number",
        ),
        (
            LOSS,
            [&plane[..], &["--coords", "1,1"]].concat(),
            "names one coordinate twice",
        ),
        (
            LOSS,
            [&plane[..], &["--out", "p.pdf"]].concat(),
            "neither .png nor .svg",
        ),
        (
            "x^2",
            vec!["--wrt", "x", "--let", "x: scalar", "--run", "gd"],
            "`x` has one coordinate",
        ),
    ];
    for (expr, options, message) in cases {
        let mut args = vec!["plot", expr];
        args.extend(options.iter().copied());
        let output = matdiff(&dir, &args);
        assert!(!stderr(&output).contains("Os {"), "{}", stderr(&output));
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(message),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
