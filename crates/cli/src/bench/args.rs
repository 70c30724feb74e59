//! `pine-bench`'s command line, with llama-bench's flag names so the same numbers can be passed
//! to both tools.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

pub use crate::flags::{AttentionArg, BackendArg, CacheArg};

/// Report format (`-o`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputArg {
    /// A markdown table, one row per test as it finishes (llama-bench's default).
    Md,
    /// One JSON document with every repetition's time, printed at the end.
    Json,
    /// Comma-separated values with a header line.
    Csv,
}

/// Measure prompt processing (pp) and token generation (tg) speed like llama.cpp's llama-bench.
///
/// Pinning: pine-bench does not pin threads itself; run it under `taskset -c 0-N` (as
/// `benches/compare-llamacpp.sh` does) to keep the scheduler from moving the pool around.
#[derive(Parser, Debug, Clone)]
#[command(name = "pine-bench", version, about)]
pub struct BenchArgs {
    /// Model files (repeat or comma-separate; default: the SmolLM2 model of ./models/fetch.sh).
    #[arg(short = 'm', long = "model", value_delimiter = ',')]
    pub models: Vec<PathBuf>,
    /// Prompt lengths of the pp tests (0 = no pp test).
    #[arg(short = 'p', long = "n-prompt", value_delimiter = ',', default_values_t = [512])]
    pub n_prompt: Vec<usize>,
    /// Generated lengths of the tg tests (0 = no tg test).
    #[arg(short = 'n', long = "n-gen", value_delimiter = ',', default_values_t = [128])]
    pub n_gen: Vec<usize>,
    /// Thread counts, each at least 1 (more than the machine's cores are capped with a
    /// warning); each gets its own backend and a fresh model load.
    #[arg(
        short = 't',
        long = "threads",
        value_delimiter = ',',
        default_values_t = [default_threads()],
        allow_negative_numbers = true,
        value_parser = crate::flags::threads
    )]
    pub threads: Vec<usize>,
    /// Timed repetitions of each test (after one untimed warm-up run; at least 1).
    #[arg(
        short = 'r',
        long = "repetitions",
        default_value_t = 5,
        allow_negative_numbers = true,
        value_parser = at_least_one
    )]
    pub repetitions: usize,
    /// Compute backend (auto: a Vulkan GPU if present, else the CPU).
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    pub backend: BackendArg,
    /// Vulkan device index for `--backend vulkan` (see `pine-run --list-devices`); other
    /// backends reject it.
    #[arg(long)]
    pub device: Option<usize>,
    /// Exact Vulkan numerics (`--vk-exact`; help: `flags::VK_EXACT_HELP`).
    #[arg(long, help = crate::flags::VK_EXACT_HELP)]
    pub vk_exact: bool,
    /// Vulkan: also time every dispatch with GPU timestamps and report the device time by
    /// shader per token (a stamp after each dispatch costs device time, so t/s drops a little).
    #[arg(long)]
    pub vk_profile: bool,
    /// Attention modes (comma-separated); pine and anchor split the prompt into segments.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [AttentionArg::Causal])]
    pub attention: Vec<AttentionArg>,
    /// Segments of the pine/anchor prompt layout (at least 1).
    #[arg(long, default_value_t = 4, allow_negative_numbers = true, value_parser = at_least_one)]
    pub segments: usize,
    /// KV cache element type.
    #[arg(long, value_enum, default_value_t = CacheArg::F16)]
    pub cache_type: CacheArg,
    /// Report format on stdout.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputArg::Md)]
    pub output: OutputArg,
    /// Also write the JSON report (every repetition, machine info) to this file.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

/// llama-bench's default thread count is the number of physical cores; pine uses the logical
/// count the OS offers.
fn default_threads() -> usize {
    crate::flags::cores()
}

/// A count that must be at least 1 (`-r`, `--segments`).
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a whole number")),
    }
}
