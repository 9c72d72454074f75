//! The demo, the README's first command, runs end to end on the bundled data.

use std::process::Command;

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
    assert!(stdout.contains("diverged"), "{stdout}");
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
