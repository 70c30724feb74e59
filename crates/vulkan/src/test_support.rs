//! Test helpers: a device (lavapipe in CI) and the tiny-llama fixtures.

use std::path::PathBuf;

use pine_backend::{MatmulMode, VulkanNumerics};

use crate::VulkanBackend;

/// A backend on any device in `mode` and `numerics`, or `None` as [`crate::device_for_tests`]
/// says.
pub fn backend(mode: MatmulMode, numerics: VulkanNumerics) -> Option<VulkanBackend> {
    crate::device_for_tests(mode, numerics)
}

/// The tiny-llama fixture folder: `$PINE_FIXTURES/tiny-llama`, else the repository's own
/// `tests/fixtures/tiny-llama`; panics with where to get it when it is missing.
pub fn tiny_llama() -> PathBuf {
    let root = std::env::var_os("PINE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures"));
    let dir = root.join("tiny-llama");
    assert!(
        dir.join("manifest.json").is_file(),
        "tiny-llama fixtures not found at {} (they are committed in the repository's \
         tests/fixtures; set PINE_FIXTURES to a directory holding tiny-llama/ to use another copy)",
        dir.display()
    );
    dir
}

/// Deterministic pseudo-random values in [-1, 1).
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}
