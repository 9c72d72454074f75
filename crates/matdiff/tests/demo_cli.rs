//! The demo, the README's first command, runs end to end on the bundled data.

use std::process::Command;

/// What the demo says, each exactly once or more: the finite-difference errors next to
/// their floor, κ and the bound's iteration count, each stopping criterion ending a
/// run, and where to go further.
const CLAIMS: &[&str] = &[
    "trial 1: max relative error ",
    "(rounding floor of the differences ",
    "κ = L/μ = ",
    "within κ·ln(1/10⁻⁶) = ",
    "diverged, as η > 2/L",
    "— stopped by the criterion ‖∇L(w)‖ < ε",
    "— stopped by the criterion ‖w_new − w_old‖ < ε",
    "— stopped by the criterion |L_new − L_old| < ε",
    "matdiff serve",
    "pip install ./python",
    "--distributed",
    "matdiff predict model.json",
];

/// The number after `prefix` on the first line that holds it.
fn number_after(text: &str, prefix: &str) -> usize {
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("`{prefix}` in\n{text}"))
        + prefix.len();
    text[at..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number after `{prefix}` in\n{text}"))
}

/// η too small stops at the limit (the bound's iteration count), η = 1/L by its
/// criterion within the bound, η too large by divergence.
fn the_three_rates_end_by_limit_criterion_and_divergence(stdout: &str) {
    let bound = number_after(stdout, "within κ·ln(1/10⁻⁶) = ");
    let section = &stdout[stdout.find("# 6.").unwrap()..stdout.find("# 7.").unwrap()];
    let lines: Vec<&str> = section.lines().collect();
    let after = |label: &str| {
        let k = lines
            .iter()
            .position(|l| l.contains(label))
            .unwrap_or_else(|| panic!("{label}\n{section}"));
        (lines[k], lines.get(k + 1).copied().unwrap_or_default())
    };
    let (small, small_end) = after("η too small");
    let iterations = |line: &str| {
        let before = &line[..line.find(" iterations").expect("iterations")];
        before
            .split_whitespace()
            .last()
            .unwrap()
            .parse::<usize>()
            .unwrap()
    };
    assert_eq!(iterations(small), bound, "{small}");
    assert!(
        small_end.contains(&format!("at the limit of {bound} iterations")),
        "{small_end}"
    );
    let (good, good_end) = after("η good (1/L)");
    assert!(iterations(good) < bound, "{good}");
    assert!(
        good_end.contains("by the criterion ‖∇L(w)‖ < ε"),
        "{good_end}"
    );
    let (large, _) = after("η too large");
    assert!(large.contains("diverged"), "{large}");
}

#[test]
fn the_demo_runs_the_seminar_on_the_bundled_diabetes_data() {
    let out = std::env::temp_dir().join(format!("matdiff-demo-{}", std::process::id()));
    let result = Command::new(env!("CARGO_BIN_EXE_matdiff"))
        .args(["demo", "--out"])
        .arg(&out)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    // The derivation ends in the textbook gradient, and the closed form reaches the
    // reference R² of the diabetes data (0.51774842222035).
    assert!(stdout.contains("∇L = 2/N·Xᵀ·(X·w − y)"), "{stdout}");
    assert!(stdout.contains("R² = 0.517748422220"), "{stdout}");
    // The closed form as derived from ∇L = 0 by `solve`.
    assert!(stdout.contains("⇔ w = (Xᵀ·X)⁻¹·Xᵀ·y"), "{stdout}");
    for claim in CLAIMS {
        assert!(stdout.contains(claim), "`{claim}` is not in\n{stdout}");
    }
    the_three_rates_end_by_limit_criterion_and_divergence(&stdout);
    let tex = std::fs::read_to_string(out.join("derivation.tex")).expect("derivation.tex");
    // A standalone document whose first line carries its left-hand side.
    assert!(
        tex.starts_with("\\documentclass{article}\n\\usepackage{amsmath}"),
        "{tex}"
    );
    assert!(tex.contains("\\mathrm{d}L &= "), "{tex}");
    assert!(tex.is_ascii(), "{tex}");
    // The two contour pictures: valid PNG files of the default size, 1000 × 800.
    for picture in ["descent-learning-rates.png", "descent-stochastic.png"] {
        let bytes = std::fs::read(out.join(picture)).expect(picture);
        assert_eq!(
            bytes[..8],
            [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n']
        );
        assert_eq!(&bytes[12..16], b"IHDR", "{picture}");
        let number = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!((number(16), number(20)), (1000, 800), "{picture}");
        assert!(stdout.contains(&picture.to_string()), "{stdout}");
    }
    assert!(stdout.contains("gd η=0.75: "), "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}

/// `demo --json` is the same lesson as one document: the numbers the text shows, and
/// every run ending the way the text says.
#[test]
fn the_demo_as_json_carries_the_same_lesson() {
    let out = std::env::temp_dir().join(format!("matdiff-demo-json-{}", std::process::id()));
    let result = Command::new(env!("CARGO_BIN_EXE_matdiff"))
        .args(["demo", "--json", "--out"])
        .arg(&out)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(result.status.success(), "{stdout}");
    let lesson: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(lesson["derivation"]["gradient"], "2/N*X'*(X*w - y)");
    assert_eq!(lesson["check"]["passed"], true);
    let check_errors = lesson["check"]["errors"].as_array().unwrap();
    assert!(!check_errors.is_empty());
    assert!(check_errors.iter().all(|e| e.as_f64().unwrap() < 1e-6));
    let fits = lesson["closed_form"]["fits"].as_array().unwrap();
    assert_eq!(fits.len(), 4);
    for fit in fits {
        let r2 = fit["r2"].as_f64().unwrap();
        assert!((r2 - 0.51774842222035).abs() < 1e-10, "{fit}");
    }
    // The three rates end by the limit, by the criterion, by divergence; the limit
    // is the bound's iteration count.
    let descent = &lesson["descent"];
    let bound = descent["iteration_bound"].as_u64().unwrap();
    let kappa = descent["kappa"].as_f64().unwrap();
    assert_eq!(bound, (kappa * 1e6_f64.ln()).ceil() as u64);
    let reasons: Vec<&str> = descent["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["stop_reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["max_iter", "grad_norm", "diverged"]);
    assert_eq!(descent["runs"][0]["iterations"].as_u64(), Some(bound));
    // Each stopping criterion ends its own run, near the closed form.
    for (run, reason) in lesson["stopping_criteria"].as_array().unwrap().iter().zip([
        "grad_norm",
        "step_norm",
        "loss_change",
    ]) {
        assert_eq!(run["stop_reason"], reason, "{run}");
        assert!(run["r2"].as_f64().unwrap() > 0.5177, "{run}");
    }
    let stochastic = lesson["stochastic"].as_array().unwrap();
    assert_eq!(stochastic.len(), 2);
    for run in stochastic {
        assert!(run["r2"].as_f64().unwrap() > 0.5, "{run}");
    }
    for picture in lesson["pictures"].as_array().unwrap() {
        let file = picture["file"].as_str().unwrap();
        assert!(std::path::Path::new(file).is_file(), "{file}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
