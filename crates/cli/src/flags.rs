//! Flag values shared by `pine-run` and `pine-bench`, so both tools spell modes the same way.

use clap::ValueEnum;
use pine_backend::{CacheType, VulkanNumerics};
use pine_model::BackendChoice;

/// Attention mode (`--attention`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AttentionArg {
    /// Ordinary causal attention; segments are simply concatenated.
    Causal,
    /// Position-invariant inference: segments see each other and are re-positioned by importance.
    Pine,
    /// Anchor attention: segments see only the prefix (anchor) and themselves.
    Anchor,
}

/// KV cache element type (`--cache-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CacheArg {
    /// Half precision (default, as llama.cpp).
    F16,
    /// Single precision.
    F32,
}

impl From<CacheArg> for CacheType {
    fn from(c: CacheArg) -> CacheType {
        match c {
            CacheArg::F16 => CacheType::F16,
            CacheArg::F32 => CacheType::F32,
        }
    }
}

/// Compute backend (`--backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// A Vulkan GPU if one is present, else the CPU (lavapipe only when asked for).
    Auto,
    /// pine's CPU backend (pine-pool threads, native quantized matmuls).
    Cpu,
    /// A Vulkan device (`--device N`, default: the best one, lavapipe included).
    Vulkan,
}

/// Parses a float flag that must be finite and within `lo..=hi` (`lo_open`: strictly above `lo`).
fn float_in(s: &str, lo: f32, lo_open: bool, hi: f32) -> Result<f32, String> {
    let v: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    let low_ok = if lo_open { v > lo } else { v >= lo };
    if !v.is_finite() || !low_ok || v > hi {
        let low = if lo_open { "above" } else { "at least" };
        let high = if hi.is_finite() {
            format!(" and at most {hi}")
        } else {
            String::new()
        };
        return Err(format!(
            "{s} is out of range: must be finite, {low} {lo}{high}"
        ));
    }
    Ok(v)
}

/// `--temp`: a finite temperature ≥ 0 (0 = greedy).
pub fn temperature(s: &str) -> Result<f32, String> {
    float_in(s, 0.0, false, f32::INFINITY)
}

/// `--top-p`: a probability mass in (0, 1] (1 = off).
pub fn top_p(s: &str) -> Result<f32, String> {
    float_in(s, 0.0, true, 1.0)
}

/// `--min-p`: a ratio in [0, 1] (0 = off).
pub fn min_p(s: &str) -> Result<f32, String> {
    float_in(s, 0.0, false, 1.0)
}

/// `--repeat-penalty`: a finite factor > 0 (1 = off).
pub fn repeat_penalty(s: &str) -> Result<f32, String> {
    float_in(s, 0.0, true, f32::INFINITY)
}

/// The number of logical cores the OS offers this process (1 when it cannot tell).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A thread count (`-t`): at least 1; more than the machine's cores is capped to the core
/// count with a warning on stderr (extra threads only contend for the same cores).
pub fn threads(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number of threads"))?;
    if n == 0 {
        return Err("the thread count must be at least 1".into());
    }
    let cores = cores();
    if n > cores {
        eprintln!(
            "warning: {n} threads asked for, but this machine has {cores} cores; using {cores}"
        );
        return Ok(cores);
    }
    Ok(n)
}

/// Rejects `--device` unless the backend is `vulkan`: `cpu` has no devices and `auto` picks the
/// best GPU itself, so either would silently ignore it (value-dependent, so checked after
/// parsing rather than by clap).
pub fn check_device(backend: BackendArg, device: Option<usize>) -> Result<(), String> {
    match (backend, device) {
        (BackendArg::Cpu | BackendArg::Auto, Some(d)) => Err(format!(
            "--device {d} selects a Vulkan device, which --backend {} would ignore; \
             use --backend vulkan --device {d}, or drop --device",
            if backend == BackendArg::Cpu {
                "cpu"
            } else {
                "auto"
            }
        )),
        _ => Ok(()),
    }
}

/// Help text of `--vk-exact`, the same in every tool.
pub const VK_EXACT_HELP: &str = "Vulkan: compute the CPU's float order bit for bit (correctly \
    rounded fma, division and square root from f64, where the device has f64) instead of the \
    default fast numerics (native fma and division, f32 sums, as llama.cpp's Vulkan backend); \
    much slower on consumer GPUs, for checking results. Rejected with --backend cpu";

/// Rejects `--vk-exact` with `--backend cpu`, which has no Vulkan numerics to choose (under
/// `auto` it applies when a GPU is picked).
pub fn check_vk_exact(backend: BackendArg, vk_exact: bool) -> Result<(), String> {
    if backend == BackendArg::Cpu && vk_exact {
        return Err(
            "--vk-exact selects the Vulkan backend's exact numerics, which --backend cpu \
             would ignore; use --backend vulkan (or auto) --vk-exact, or drop --vk-exact"
                .into(),
        );
    }
    Ok(())
}

/// The Vulkan numeric mode of `--vk-exact`.
pub fn numerics(vk_exact: bool) -> VulkanNumerics {
    if vk_exact {
        VulkanNumerics::Exact
    } else {
        VulkanNumerics::Fast
    }
}

/// The library's backend choice for a flag value, `--device`, `--vk-exact` and a thread count.
pub fn backend_choice(
    b: BackendArg,
    device: Option<usize>,
    vk_exact: bool,
    threads: usize,
) -> BackendChoice {
    let numerics = numerics(vk_exact);
    match b {
        BackendArg::Auto => BackendChoice::Auto { threads, numerics },
        BackendArg::Cpu => BackendChoice::Cpu { threads },
        BackendArg::Vulkan => BackendChoice::Vulkan { device, numerics },
    }
}

/// The library's backend kind for a flag value (`--device` is given to the builder apart).
pub fn backend_kind(b: BackendArg) -> pine::BackendKind {
    match b {
        BackendArg::Auto => pine::BackendKind::Auto,
        BackendArg::Cpu => pine::BackendKind::Cpu,
        BackendArg::Vulkan => pine::BackendKind::Vulkan,
    }
}

/// Prints every Vulkan device as `--list-devices` shows them.
pub fn list_devices() -> Result<(), String> {
    let devices = pine_vulkan::list_devices().map_err(|e| e.to_string())?;
    if devices.is_empty() {
        println!("no Vulkan devices found");
    }
    for d in devices {
        let heaps: Vec<String> = d
            .heaps
            .iter()
            .map(|(size, local)| {
                let gib = *size as f64 / (1u64 << 30) as f64;
                format!("{gib:.1} GiB{}", if *local { " device-local" } else { "" })
            })
            .collect();
        let yes = |b: bool| if b { "yes" } else { "no" };
        println!("device {}: {} ({})", d.index, d.name, d.kind);
        println!("  driver: {}, Vulkan {}", d.driver, d.api_version);
        println!("  memory heaps: {}", heaps.join(", "));
        println!(
            "  subgroup size: {}, subgroup shuffles: {}",
            d.subgroup_size
                .map_or("unknown".to_string(), |s| s.to_string()),
            yes(d.subgroup_shuffle)
        );
        println!(
            "  fp16: {}, int8: {}, integer dot: {}, cooperative matrix: {}, fp64: {}, fp32 denormals kept on request: {}",
            yes(d.fp16),
            yes(d.int8),
            yes(d.int_dot),
            yes(d.cooperative_matrix),
            yes(d.fp64),
            yes(d.denorm_preserve32)
        );
        println!(
            "  16-bit storage: {}{}, max storage binding: {} MiB",
            yes(d.storage16),
            if d.storage16 {
                ""
            } else {
                " (pine cannot use this device)"
            },
            d.max_storage_buffer_range >> 20
        );
        println!(
            "  GPU timestamps: {}",
            d.timestamp_period_ns
                .map_or("no (pine-bench reports wall time only)".to_string(), |p| {
                    format!("yes, {p} ns per tick")
                })
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_flags_reject_non_finite_and_out_of_range() {
        for bad in ["NaN", "inf", "-inf", "-1", "x"] {
            assert!(temperature(bad).is_err(), "{bad}");
        }
        assert_eq!(temperature("0"), Ok(0.0));
        assert!(top_p("0").is_err() && top_p("2").is_err() && top_p("1").is_ok());
        assert!(min_p("5").is_err() && min_p("-0.1").is_err() && min_p("0").is_ok());
        assert!(repeat_penalty("0").is_err() && repeat_penalty("1.1").is_ok());
    }

    #[test]
    fn threads_are_at_least_one_and_capped_to_the_cores() {
        assert!(threads("0").is_err() && threads("-1").is_err());
        assert_eq!(threads("1"), Ok(1));
        assert_eq!(threads("1000000"), Ok(cores()));
    }

    #[test]
    fn device_needs_a_vulkan_backend() {
        assert!(check_device(BackendArg::Cpu, Some(0)).is_err());
        assert!(check_device(BackendArg::Vulkan, Some(0)).is_ok());
        assert!(check_device(BackendArg::Auto, Some(1)).is_err());
        assert!(check_device(BackendArg::Cpu, None).is_ok());
    }

    #[test]
    fn vk_exact_needs_a_backend_that_can_be_vulkan() {
        assert!(check_vk_exact(BackendArg::Cpu, true).is_err());
        assert!(check_vk_exact(BackendArg::Cpu, false).is_ok());
        assert!(check_vk_exact(BackendArg::Vulkan, true).is_ok());
        assert!(check_vk_exact(BackendArg::Auto, true).is_ok());
        assert_eq!(numerics(true), VulkanNumerics::Exact);
        assert_eq!(numerics(false), VulkanNumerics::Fast);
    }
}
