//! Shared helpers of the fixture tests: where the tiny-llama fixtures are and how to skip
//! cleanly when they are absent.

use std::path::PathBuf;

/// The fixture directory: `$PINE_FIXTURES`, else `../shared/fixtures/tiny-llama` next to the
/// repository root.
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("PINE_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/tiny-llama")
        }
    }
}

/// The fixture directory if it holds the GGUF files; `None` (and a note on stderr) otherwise,
/// so checkouts without the shared fixtures still pass `cargo test`.
pub fn fixtures_or_skip() -> Option<PathBuf> {
    let dir = fixtures_dir();
    if dir.join("tiny-llama.F32.gguf").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: no fixtures at {} (set PINE_FIXTURES)",
            dir.display()
        );
        None
    }
}

/// FNV-1a 64-bit over the little-endian bytes of `values` (the digest the Python script
/// writes).
#[allow(dead_code)] // used by fixture_dequant only
pub fn fnv1a64_f32(values: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}
