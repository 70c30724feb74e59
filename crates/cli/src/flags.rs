//! Flag values shared by `pine-run` and `pine-bench`, so both tools spell modes the same way.

use clap::ValueEnum;
use pine_backend::CacheType;

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
