//! Peak resident memory of this process, from `/proc` (Linux only), for `bench`.

/// Peak resident memory of this process in bytes (`VmHWM`, Linux only).
pub(super) fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Starts a new peak-memory window (`VmHWM` back to the current size; Linux only, best effort).
pub(super) fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
