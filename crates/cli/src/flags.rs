//! Flag values shared by `pine-run` and `pine-bench`, so both tools spell modes the same way.

use clap::ValueEnum;
use pine_backend::CacheType;
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

/// The library's backend choice for a flag value, `--device` and a thread count.
pub fn backend_choice(b: BackendArg, device: Option<usize>, threads: usize) -> BackendChoice {
    match b {
        BackendArg::Auto => BackendChoice::Auto { threads },
        BackendArg::Cpu => BackendChoice::Cpu { threads },
        BackendArg::Vulkan => BackendChoice::Vulkan { device },
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
            "  fp16: {}, int8: {}, integer dot: {}, cooperative matrix: {}, fp64: {}",
            yes(d.fp16),
            yes(d.int8),
            yes(d.int_dot),
            yes(d.cooperative_matrix),
            yes(d.fp64)
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
