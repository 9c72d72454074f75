//! `matdiff minimize --stream`: the library reads the data files chunk by chunk, so
//! that data larger than memory can be fitted; the report adds the peak memory of the
//! process, measured here.

/// The peak resident memory of this process (`VmHWM` of `/proc/self/status`), where
/// the system reports it.
pub(super) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}
