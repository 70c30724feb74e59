//! `pine-attention`: prompt layouts and the attention plugins — causal, PINE and anchor — that
//! turn a layout into forward batches and per-layer attention plans for any backend.

pub mod layout;
pub mod mode;
pub mod pine;
pub mod planner;

pub use layout::{Geometry, Layout};
pub use mode::{AnchorPositions, AttentionMode, TieRule};
pub use planner::{BatchSpec, FixedPlanner, LayoutPlanner, Part, Planner, CHUNK};
