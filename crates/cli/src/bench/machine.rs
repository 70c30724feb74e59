//! Where a measurement was taken, so a JSON report can be compared with another machine's or
//! another commit's: CPU model, logical cores, peak memory and pine's git commit.

use std::path::Path;
use std::process::Command;

/// The first `model name` of `/proc/cpuinfo` (None off Linux or when absent).
pub fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// Logical cores the process may use (what `nproc` prints).
pub fn logical_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Peak resident set size in KiB (`VmHWM` of `/proc/self/status`), read once the benchmarks are
/// done so it covers every model load and KV cache.
pub fn peak_rss_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// pine's commit: `git rev-parse HEAD` in the source tree the binary was built from, or in
/// the current directory; None when neither is a git checkout.
pub fn git_commit() -> Option<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    [src, Path::new(".")].iter().find_map(|dir| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["rev-parse", "HEAD"])
            .output()
            .ok()?;
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !s.is_empty()).then_some(s)
    })
}
