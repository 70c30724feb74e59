//! Shared helpers of the fixture tests: where the tiny-llama fixtures are. A missing fixture
//! directory fails the test with instructions (project rule: tests never silently skip).

use std::path::PathBuf;

/// The tiny-llama fixture directory: `$PINE_FIXTURES/tiny-llama` (the fixtures directory, as
/// in the workspace README), or `$PINE_FIXTURES` itself when it is the tiny-llama directory;
/// else the repository's own `tests/fixtures/tiny-llama`.
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("PINE_FIXTURES") {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.join("tiny-llama").is_dir() {
                p.join("tiny-llama")
            } else {
                p
            }
        }
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-llama"),
    }
}

/// The fixture directory; panics (failing the test) with how to point the tests at the
/// fixtures when it does not hold them.
pub fn require_fixtures() -> PathBuf {
    let dir = fixtures_dir();
    assert!(
        dir.join("tiny-llama.F32.gguf").is_file(),
        "tiny-llama fixtures not found at {}: they are committed in the repository's \
         tests/fixtures/tiny-llama; set PINE_FIXTURES to a directory holding tiny-llama/ to use \
         another copy",
        dir.display()
    );
    dir
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
