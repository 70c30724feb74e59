//! `pine-backend`: the [`Backend`] trait the Llama graph runs on, the attention plans every
//! attention mode is expressed in, RoPE, and the CPU backend.

pub mod backend;
pub mod cpu;
pub mod error;
pub mod importance;
pub mod key_blocks;
pub mod lanes;
pub mod math;
pub mod plan;
pub mod region_store;
pub mod rope;
mod simd8;

pub use backend::{
    ranked_attention_in_steps, AttentionShape, Backend, CacheSpec, CacheType, MatmulMode,
    VulkanNumerics, WeightSource,
};
pub use cpu::{CpuBackend, CpuCache, CpuWeight};
pub use error::BackendError;
pub use importance::{ImportanceRows, RegionGeometry};
pub use plan::{AttentionPlan, HeadRanges, KeyRange, QueryGroup, RankFn, RankedRow};
pub use region_store::RegionStore;
pub use rope::{Rope, RopeScaling};
