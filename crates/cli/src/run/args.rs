//! `pine-run`'s command line, with llama.cpp's flag names where they exist.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

pub use crate::flags::{AttentionArg, BackendArg, CacheArg};

/// PINE's tie rule (`--pine-ties`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TiesArg {
    /// Ties broken by a hash of each segment's tokens: exactly order-invariant.
    Hash,
    /// Ties broken by input order, as the official implementation does.
    InputOrder,
}

/// Anchor-mode positions (`--anchor-positions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AnchorArg {
    /// The paper's packed positions.
    Continuous,
    /// Every segment restarts after the anchor (order-invariant).
    Reset,
}

/// Run a GGUF Llama model on a prompt and stream the generated text to stdout.
#[derive(Parser, Debug)]
#[command(name = "pine-run", version, about)]
pub struct RunArgs {
    /// Model file (default: the SmolLM2 model that ./models/fetch.sh downloads).
    pub model: Option<PathBuf>,
    /// Prompt text.
    #[arg(short = 'p', long, conflicts_with = "file")]
    pub prompt: Option<String>,
    /// Read the prompt from a file.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Feed these token ids instead of text (comma separated).
    #[arg(
        long,
        value_delimiter = ',',
        conflicts_with_all = [
            "prompt", "file", "segments", "segments_file", "question", "layout", "interactive"
        ]
    )]
    pub token_ids: Option<Vec<u32>>,
    /// Tokens to generate (-1 = until end of generation or a full context).
    #[arg(
        short = 'n',
        long = "n-predict",
        default_value_t = -1,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i64).range(-1..)
    )]
    pub n_predict: i64,
    /// Context size in tokens (0 = the model's training context).
    #[arg(short = 'c', long = "ctx-size", default_value_t = 4096)]
    pub ctx_size: usize,
    /// Threads (default: all cores; more than the machine's cores are capped with a warning).
    #[arg(
        short = 't',
        long,
        allow_negative_numbers = true,
        value_parser = crate::flags::threads
    )]
    pub threads: Option<usize>,
    /// Compute backend: auto = a Vulkan GPU if present (falling back to the CPU when there is
    /// none or the model does not fit), else the CPU.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// Vulkan device index for `--backend vulkan` (see `--list-devices`); other backends
    /// reject it.
    #[arg(long)]
    pub device: Option<usize>,
    /// Exact Vulkan numerics (`--vk-exact`; help: `flags::VK_EXACT_HELP`).
    #[arg(long, help = crate::flags::VK_EXACT_HELP)]
    pub vk_exact: bool,
    /// Print the Vulkan devices and exit.
    #[arg(long)]
    pub list_devices: bool,
    /// Temperature (0 = greedy; finite, ≥ 0).
    #[arg(
        long,
        default_value_t = 0.8,
        allow_negative_numbers = true,
        value_parser = crate::flags::temperature
    )]
    pub temp: f32,
    /// Top-k sampling (0 = off).
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Top-p sampling (1 = off; 0 < p ≤ 1).
    #[arg(
        long,
        default_value_t = 0.95,
        allow_negative_numbers = true,
        value_parser = crate::flags::top_p
    )]
    pub top_p: f32,
    /// Min-p sampling (0 = off; 0 ≤ p ≤ 1).
    #[arg(
        long,
        default_value_t = 0.05,
        allow_negative_numbers = true,
        value_parser = crate::flags::min_p
    )]
    pub min_p: f32,
    /// Repetition penalty (1 = off; finite, > 0).
    #[arg(
        long,
        default_value_t = 1.0,
        allow_negative_numbers = true,
        value_parser = crate::flags::repeat_penalty
    )]
    pub repeat_penalty: f32,
    /// Tokens the repetition penalty looks back over.
    #[arg(long, default_value_t = 64)]
    pub repeat_last_n: usize,
    /// Random seed.
    #[arg(long, default_value_t = 0x5EED)]
    pub seed: u64,
    /// Use the prompt as is (no chat template).
    #[arg(long)]
    pub raw: bool,
    /// System message for chat mode.
    #[arg(long)]
    pub system: Option<String>,
    /// KV cache type.
    #[arg(long, value_enum, default_value_t = CacheArg::F16)]
    pub cache_type: CacheArg,
    /// Reference mode: weights dequantized to f32, activations kept in f32.
    #[arg(long)]
    pub f32_matmul: bool,
    /// Write float32 [n_prompt_tokens, n_vocab] logits of every prompt position to this .npy
    /// (a new or regular file, replaced only when complete; a device or FIFO, written in place).
    #[arg(long)]
    pub logits_out: Option<PathBuf>,
    /// Interactive chat: read user turns from stdin (`-p`/`-f` is the first turn).
    #[arg(
        short = 'i',
        long,
        conflicts_with_all = ["segments", "segments_file", "question", "layout"]
    )]
    pub interactive: bool,
    /// Attention mode for prompts with segments (pine and anchor need `--segment`,
    /// `--segments-file` or `--layout`).
    #[arg(long, value_enum, default_value_t = AttentionArg::Causal)]
    pub attention: AttentionArg,
    /// How PINE breaks importance ties.
    #[arg(long, value_enum, default_value_t = TiesArg::Hash)]
    pub pine_ties: TiesArg,
    /// Where anchor mode places segments.
    #[arg(long, value_enum, default_value_t = AnchorArg::Continuous)]
    pub anchor_positions: AnchorArg,
    /// An interchangeable prompt part (document, candidate answer); repeatable.
    #[arg(long = "segment")]
    pub segments: Vec<String>,
    /// A JSON array of strings: more segments.
    #[arg(long)]
    pub segments_file: Option<PathBuf>,
    /// Text after the segments (the question); needs segments.
    #[arg(long)]
    pub question: Option<String>,
    /// A JSON layout {"prefix": P, "segments": [S…], "suffix": X}; each part a string or an
    /// array of token ids; the whole prompt, so it excludes the other prompt flags.
    #[arg(
        long,
        conflicts_with_all = ["prompt", "file", "segments", "segments_file", "question"]
    )]
    pub layout: Option<PathBuf>,
    /// Print model details and per-token information to stderr.
    #[arg(long)]
    pub verbose: bool,
}
