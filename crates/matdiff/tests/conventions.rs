//! The conventions every subcommand shares (docs/cli.md): `--json` prints JSON, a
//! point is a JSON object by name, a bare value of one variable or `@FILE`, `-` and
//! `@-` read standard input, the short flags, the seminar's order in `--help`, the
//! same names in flags and `--run` keys, and numbers people can read.

mod common;

use std::path::{Path, PathBuf};

use common::{matdiff_in, matdiff_with_stdin, scratch};

/// A folder with the least-squares data `X` (3 × 2) and `y` (exact fit `w = (1, 2)`).
fn data_folder(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("X.csv"), "a,b\n1,0\n0,1\n1,1\n").unwrap();
    std::fs::write(dir.join("y.csv"), "y\n1\n2\n3\n").unwrap();
    std::fs::write(
        dir.join("point.json"),
        r#"{"x": [1, 2], "A": [[2, 0], [0, 1]]}"#,
    )
    .unwrap();
    std::fs::write(dir.join("start.json"), "[0.5, 0.5]").unwrap();
    dir
}

const LSQ: &str = "1/N*norm2(X*w - y)^2";
const DATA: [&str; 6] = [
    "--let",
    "X: matrix(N,d)",
    "--data",
    "X=X.csv",
    "--data",
    "y=y.csv",
];

/// Every subcommand that computes something, run with `--json`: (name, arguments
/// before `--json`, exit code).
fn json_table() -> Vec<(&'static str, Vec<&'static str>, i32)> {
    let fit = |cmd: &'static str, extra: &[&'static str]| {
        let mut args = vec![cmd, LSQ, "--wrt", "w"];
        args.extend_from_slice(&DATA);
        args.extend_from_slice(extra);
        args
    };
    vec![
        (
            "parse",
            vec!["parse", "x'*A*x", "--let", "A: matrix(n,n)"],
            0,
        ),
        (
            "derive",
            vec!["derive", "x'*A*x", "--let", "A: matrix(n,n)", "--wrt", "x"],
            0,
        ),
        (
            "check",
            vec!["check", "x'*A*x", "--let", "A: matrix(n,n)", "--wrt", "x"],
            0,
        ),
        (
            "eval",
            vec![
                "eval",
                "x'*A*x",
                "--let",
                "A: matrix(n,n)",
                "--at",
                "@point.json",
                "--wrt",
                "x",
            ],
            0,
        ),
        (
            "plot, plane",
            fit("plot", &["--run", "gd:lr=0.1,max_iter=5", "-o", "p.svg"]),
            0,
        ),
        (
            "plot, tangent",
            vec![
                "plot",
                "x^3 - 2*x",
                "--wrt",
                "x",
                "--let",
                "x: scalar",
                "--at",
                "1",
                "-o",
                "t.svg",
            ],
            0,
        ),
        ("minimize", fit("minimize", &["--lr", "0.3", "-q"]), 0),
        ("linreg", vec!["linreg", "longley"], 0),
        (
            "linreg, all solvers",
            vec!["linreg", "diabetes", "--solver", "all"],
            0,
        ),
        (
            "solve",
            vec!["solve", LSQ, "--let", "X: matrix(N,d)", "--wrt", "w"],
            0,
        ),
        ("solve on data", fit("solve", &[]), 0),
        ("bench", fit("bench", &["--repeat", "1"]), 0),
        ("demo", vec!["demo", "--out", "demo-out"], 0),
    ]
}

#[test]
fn every_subcommand_prints_json_with_json() {
    let dir = data_folder("json");
    for (name, args, code) in json_table() {
        let mut args = args.clone();
        args.push("--json");
        let (got, stdout, stderr) = matdiff_in(&dir, &args);
        assert_eq!(got, code, "{name}: {stderr}");
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(&stdout);
        let value = parsed.unwrap_or_else(|e| panic!("{name}: stdout is not JSON ({e}): {stdout}"));
        assert!(value.is_object(), "{name}: {stdout}");
    }
    // `--format json` is the same as `--json` where there are text forms.
    for cmd in [
        vec!["parse", "x'*x"],
        vec!["derive", "x'*x", "--wrt", "x"],
        vec!["solve", LSQ, "--let", "X: matrix(N,d)", "--wrt", "w"],
    ] {
        let json = matdiff_in(&dir, &[&cmd[..], &["--json"]].concat());
        let format = matdiff_in(&dir, &[&cmd[..], &["--format", "json"]].concat());
        assert_eq!(json, format, "{cmd:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The value printed by `eval` for a point given as `at`.
fn eval_at(dir: &Path, expr: &str, decls: &str, at: &str) -> (i32, String, String) {
    matdiff_in(
        dir,
        &["eval", expr, "--let", decls, "--at", at, "--wrt", "x"],
    )
}

#[test]
fn a_point_is_an_object_a_bare_value_or_a_file_everywhere() {
    let dir = data_folder("points");
    let quadratic = ("x'*A*x", "A: matrix(n,n)");
    let expected = r#"{"value": 6.0, "gradient": [4.0,4.0]}"#;
    // (the point as given, what eval prints)
    let cases = [
        (r#"{"x": [1, 2], "A": [[2, 0], [0, 1]]}"#, expected),
        ("@point.json", expected),
        // The legacy form: a path to an existing file.
        ("point.json", expected),
    ];
    for (at, want) in cases {
        let (code, stdout, stderr) = eval_at(&dir, quadratic.0, quadratic.1, at);
        assert_eq!((code, stdout.trim()), (0, want), "{at}: {stderr}");
    }
    // A bare value stands for the only variable.
    let (code, stdout, stderr) = eval_at(&dir, "x'*x", "", "[1, 2]");
    assert_eq!(
        (code, stdout.trim()),
        (0, r#"{"value": 5.0, "gradient": [2.0,4.0]}"#),
        "{stderr}"
    );
    // … and is refused, saying why, when there are several.
    let (code, _, stderr) = eval_at(&dir, quadratic.0, quadratic.1, "[1, 2]");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("a bare value stands for the only variable"),
        "{stderr}"
    );
    let (code, _, stderr) = eval_at(&dir, "x'*x", "", "@missing.json");
    assert_eq!(code, 2);
    assert!(stderr.contains("missing.json"), "{stderr}");

    // minimize --init: inline, bare, an object, or @FILE start at the same point.
    let start = |init: &str| {
        let mut args = vec![
            "minimize",
            LSQ,
            "--wrt",
            "w",
            "--max-iter",
            "1",
            "--json",
            "-q",
        ];
        args.extend_from_slice(&DATA);
        args.extend_from_slice(&["--init", init]);
        let (code, stdout, stderr) = matdiff_in(&dir, &args);
        assert_eq!(code, 0, "{init}: {stderr}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        v["solution"].clone()
    };
    let reference = start("@start.json");
    for init in ["[0.5, 0.5]", r#"{"w": [0.5, 0.5]}"#, "start.json"] {
        assert_eq!(start(init), reference, "{init}");
    }
    assert_ne!(start("zeros"), reference);

    // plot --at: the same forms for the start of the runs.
    let end = |at: &str| {
        let mut args = vec![
            "plot",
            LSQ,
            "--wrt",
            "w",
            "--run",
            "gd:lr=0.1,max_iter=3",
            "-o",
            "p.svg",
            "--json",
            "--at",
            at,
        ];
        args.extend_from_slice(&DATA);
        let (code, stdout, stderr) = matdiff_in(&dir, &args);
        assert_eq!(code, 0, "{at}: {stderr}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        v["runs"][0]["end"].clone()
    };
    let reference = end("@start.json");
    for at in ["[0.5, 0.5]", r#"{"w": [0.5, 0.5]}"#] {
        assert_eq!(end(at), reference, "{at}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dash_reads_the_expression_from_stdin() {
    let dir = scratch("stdin");
    // (arguments, standard input, stdout)
    let cases: [(&[&str], &str, &str); 3] = [
        (
            &[
                "derive",
                "-",
                "--wrt",
                "x",
                "--let",
                "A: matrix(n,n)",
                "--format",
                "text",
            ],
            "x'*A*x\n",
            "(A + A')*x\n",
        ),
        (
            &["derive", "@-", "--wrt", "x", "--format", "text"],
            "A: symmetric(n)\nx'*A*x\n",
            "2*A*x\n",
        ),
        (
            &["parse", "-"],
            "norm2(x)^2",
            "norm2(x)^2\nscalar\nx: vector(n)\nn: scalar (dimension)\n",
        ),
    ];
    for (args, input, want) in cases {
        let (code, stdout, stderr) = matdiff_with_stdin(&dir, args, input);
        assert_eq!((code, stdout.as_str()), (0, want), "{args:?}: {stderr}");
    }
    // A syntax error on stdin points into `<stdin>`.
    let (code, _, stderr) = matdiff_with_stdin(&dir, &["parse", "-"], "x +");
    assert_eq!(code, 2);
    assert!(stderr.contains("<stdin>"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn short_flags_mean_their_long_forms() {
    let dir = data_folder("short");
    let mut fit = vec!["minimize", LSQ, "--wrt", "w", "--lr", "0.3"];
    fit.extend_from_slice(&DATA);
    let quiet = matdiff_in(&dir, &[&fit[..], &["-q", "--json"]].concat());
    let long = matdiff_in(&dir, &[&fit[..], &["--quiet", "--json"]].concat());
    assert_eq!((quiet.0, quiet.2.as_str()), (0, ""));
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("seconds"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&quiet.1), strip(&long.1));
    let verbose = matdiff_in(&dir, &[&fit[..], &["-v"]].concat());
    let long = matdiff_in(&dir, &[&fit[..], &["--verbose"]].concat());
    assert_eq!((verbose.0, verbose.2.as_str()), (0, long.2.as_str()));
    let (code, _, stderr) = matdiff_in(
        &dir,
        &[
            "plot",
            "x^2",
            "--wrt",
            "x",
            "--let",
            "x: scalar",
            "-o",
            "short.svg",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(dir.join("short.svg").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_lists_the_subcommands_in_the_seminar_order() {
    let (code, stdout, _) = common::matdiff(&["--help"]);
    assert_eq!(code, 0);
    let listed: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        listed,
        [
            "parse", "derive", "check", "eval", "plot", "minimize", "linreg", "demo", "solve",
            "predict", "serve", "help"
        ]
    );
}

#[test]
fn run_keys_and_flags_share_their_names() {
    let dir = data_folder("names");
    let run = |spec: &str| {
        let mut args = vec![
            "plot", LSQ, "--wrt", "w", "--run", spec, "-o", "p.svg", "--json",
        ];
        args.extend_from_slice(&DATA);
        let (code, stdout, stderr) = matdiff_in(&dir, &args);
        (code, stdout, stderr)
    };
    let (code, stdout, stderr) = run("gd:lr=0.1,max_iter=7");
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["runs"][0]["iterations"], 7);
    assert_eq!(v["runs"][0]["stop_reason"], "max_iter");
    // The older key still works and means the same.
    assert_eq!(run("gd:lr=0.1,iterations=7").1, stdout);
    let (code, _, stderr) = run("gd:steps=7");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("use lr, epochs, max_iter, batch or seed"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_improvement_takes_its_threshold() {
    let dir = data_folder("patience");
    let mut fit = vec![
        "minimize",
        LSQ,
        "--wrt",
        "w",
        "--lr",
        "0.3",
        "--tol-grad",
        "1e-300",
        "--n-iter-no-change",
        "2",
        "--json",
        "-q",
    ];
    fit.extend_from_slice(&DATA);
    let iterations = |extra: &[&str]| {
        let (code, stdout, stderr) = matdiff_in(&dir, &[&fit[..], extra].concat());
        assert_eq!(code, 0, "{stderr}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["stop_reason"], "no_improvement", "{stdout}");
        v["iterations"].as_u64().unwrap()
    };
    // A coarser threshold gives up sooner.
    assert!(
        iterations(&["--min-improvement", "1e-1"]) < iterations(&["--min-improvement", "1e-12"])
    );
    let (code, _, stderr) = matdiff_in(
        &dir,
        &["minimize", LSQ, "--wrt", "w", "--min-improvement", "1e-3"],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("--n-iter-no-change"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reports_name_the_gradient_after_the_variable_and_print_short_numbers() {
    let dir = data_folder("words");
    let mut fit = vec![
        "minimize",
        LSQ,
        "--wrt",
        "w",
        "--lr",
        "0.3",
        "--tol-grad",
        "1e-10",
        "-q",
    ];
    fit.extend_from_slice(&DATA);
    let (code, stdout, stderr) = matdiff_in(&dir, &fit);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "stopped: the gradient norm ‖∇f(w)‖ fell below --tol-grad"
    );
    // Tiny numbers in a short scientific form: at most three significant digits.
    for (line, key) in lines[1..3]
        .iter()
        .zip(["loss: ", "gradient norm ‖∇f(w)‖: "])
    {
        let number = line.strip_prefix(key).unwrap_or_else(|| panic!("{line}"));
        let (mantissa, exponent) = number.split_once('e').unwrap_or_else(|| panic!("{line}"));
        assert!(mantissa.len() <= 4 && exponent.starts_with('-'), "{line}");
        assert!(number.parse::<f64>().unwrap() < 1e-9, "{line}");
    }
    let (code, stdout, _) = matdiff_in(&dir, &["linreg", "longley"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("(after centring and column scaling)"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
