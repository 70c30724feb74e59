//! `pine-serve`'s command line (llama-server's flag names where they overlap).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;
use pine_cli::flags::{self, BackendArg, CacheArg};

/// The flags of `pine-serve`.
#[derive(Parser, Debug)]
#[command(
    name = "pine-serve",
    about = "An OpenAI-compatible HTTP server over pine (chat and text completions, streaming, \
             PINE/anchor attention through request fields)"
)]
pub struct ServeArgs {
    /// The GGUF model (default: $PINE_MODEL, else models/SmolLM2-135M-Instruct.Q4_1.gguf).
    pub model: Option<PathBuf>,
    /// Address to listen on (127.0.0.1: only this machine can connect).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0: any free port; the bound address is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Parallel slots: requests generated at the same time, each with its own KV cache.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub parallel: u64,
    /// Total context in tokens, divided evenly among the slots (as llama-server's -c).
    #[arg(long = "ctx-size", short = 'c', default_value_t = 4096)]
    pub ctx_size: usize,
    /// CPU threads (default: all cores).
    #[arg(long, short = 't', value_parser = flags::threads)]
    pub threads: Option<usize>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    pub backend: BackendArg,
    /// Vulkan device index (with --backend vulkan).
    #[arg(long)]
    pub device: Option<usize>,
    /// Exact Vulkan numerics (`--vk-exact`; help: `flags::VK_EXACT_HELP`).
    #[arg(long, help = flags::VK_EXACT_HELP)]
    pub vk_exact: bool,
    /// KV cache element type.
    #[arg(long, value_enum, default_value_t = CacheArg::F16)]
    pub cache_type: CacheArg,
    /// Require `Authorization: Bearer KEY` on every endpoint but /health.
    #[arg(long)]
    pub api_key: Option<String>,
    /// Another origin browsers may call the server from (repeatable; `*`: any). Origins on
    /// this machine (localhost, 127.0.0.1, [::1]) are always allowed.
    #[arg(long, value_name = "ORIGIN")]
    pub cors_origin: Vec<String>,
    /// The model name /v1/models reports (default: the file name).
    #[arg(long)]
    pub alias: Option<String>,
    /// Requests that may wait for a free slot; beyond them requests get 503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    pub max_queue: usize,
    /// Largest request body in bytes (larger ones get 413).
    #[arg(long, default_value_t = 4 << 20)]
    pub body_limit: usize,
    /// Prompt tokens one slot evaluates per step while other slots decode.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub prefill_chunk: u64,
}

impl ServeArgs {
    /// Checks what clap cannot: the per-slot context and the device and numerics flags.
    pub fn check(&self) -> Result<(), String> {
        flags::check_device(self.backend, self.device)?;
        flags::check_vk_exact(self.backend, self.vk_exact)?;
        if self.ctx_size / self.parallel as usize == 0 {
            return Err(format!(
                "-c {} divided among --parallel {} slots leaves no context per slot",
                self.ctx_size, self.parallel
            ));
        }
        if self.api_key.as_deref() == Some("") {
            return Err("--api-key must not be empty".into());
        }
        Ok(())
    }

    /// Context of each slot: `-c` divided among the slots.
    pub fn n_ctx_slot(&self) -> usize {
        self.ctx_size / self.parallel as usize
    }
}
