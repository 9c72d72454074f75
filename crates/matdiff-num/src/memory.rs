//! The memory budget: how many bytes a plan's buffers, or a file read into memory,
//! may take. By default it is the memory the machine has available when asked (Linux:
//! `MemAvailable` in `/proc/meminfo`; elsewhere [`FALLBACK_BYTES`]); a program may set
//! its own with [`set_budget_bytes`] (the CLI's `--max-memory`).

use std::sync::atomic::{AtomicU64, Ordering};

/// The budget assumed where the available memory cannot be read: 8 GiB.
pub const FALLBACK_BYTES: u64 = 8 << 30;

/// 0: no budget set, use the available memory.
static BUDGET: AtomicU64 = AtomicU64::new(0);

/// Sets the budget for the rest of the process; `None` goes back to the available memory.
pub fn set_budget_bytes(bytes: Option<u64>) {
    BUDGET.store(bytes.map_or(0, |b| b.max(1)), Ordering::Relaxed);
}

/// The budget in bytes: the one set, else the memory available now.
pub fn budget_bytes() -> u64 {
    match BUDGET.load(Ordering::Relaxed) {
        0 => available_bytes().unwrap_or(FALLBACK_BYTES),
        set => set,
    }
}

/// Whether the budget was set explicitly (rather than read from the machine).
pub fn budget_is_set() -> bool {
    BUDGET.load(Ordering::Relaxed) != 0
}

/// The memory the machine has available, when the system says.
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line
        .trim_start_matches("MemAvailable:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// Parses a size such as `512M`, `8G`, `1.5GiB`, `4096` (bytes); suffixes K, M, G, T
/// (with or without `B`/`iB`) are powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size — write e.g. 512M or 8G"))?;
    let scale: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TB" | "TIB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("`{text}` has an unknown unit — use K, M, G or T")),
    };
    let bytes = value * scale;
    if !(1.0..1.8e19).contains(&bytes) {
        return Err(format!(
            "`{text}` is not a usable size — give at least 1 byte"
        ));
    }
    Ok(bytes as u64)
}

/// A byte count for messages, in the binary units `--max-memory` takes: `11.9 GiB`,
/// `640.0 KiB`, `512 bytes`.
pub fn describe_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        for (text, bytes) in [
            ("4096", 4096),
            ("1K", 1024),
            ("512M", 512 << 20),
            ("8G", 8 << 30),
            ("1.5GiB", 3 << 29),
            ("2 TB", 2 << 40),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for bad in ["", "G", "-1G", "0", "1X", "nan", "1e400"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn byte_counts_read_in_decimal_units() {
        assert_eq!(describe_bytes(512), "512 bytes");
        assert_eq!(describe_bytes(12_800_000_000), "11.9 GiB");
        assert_eq!(describe_bytes(1 << 30), "1.0 GiB");
    }
}
