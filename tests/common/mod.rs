//! Shared helpers of the end-to-end tests: where the fixtures and the model are, and a reader
//! for the float32 `.npy` files llama.cpp's logits are stored in.

#![allow(dead_code)]

pub mod fixture_cases;

use std::path::PathBuf;

/// The repository's root: the tests run as targets of the root package (`pine`) or of
/// `crates/cli` (`pine-cli`, the ones that run its binaries), so it is found from either.
pub fn repo_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|d| d.join("tests/fixtures").is_dir())
        .expect("the repository holding tests/fixtures")
        .to_path_buf()
}

/// The fixtures directory (holding `tiny-llama/`, `llamacpp-vocab/` and `pine-golden/`):
/// `PINE_FIXTURES`, else the repository's own `tests/fixtures`.
pub fn fixtures_root() -> PathBuf {
    std::env::var_os("PINE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tests/fixtures"))
}

/// The tiny-llama fixture directory; panics with instructions when it is missing.
pub fn tiny_llama_dir() -> PathBuf {
    let d = fixtures_root().join("tiny-llama");
    assert!(
        d.join("manifest.json").is_file(),
        "fixtures not found at {} (they are committed in the repository's tests/fixtures; set \
         PINE_FIXTURES to a directory holding tiny-llama/ to use another copy)",
        d.display()
    );
    d
}

/// The default model (`PINE_MODEL` or `models/SmolLM2-135M-Instruct.Q4_1.gguf`); panics with
/// the fetch command when it is missing.
pub fn smollm2_path() -> PathBuf {
    let p = std::env::var_os("PINE_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    assert!(
        p.is_file(),
        "model not found at {}: run ./models/fetch.sh",
        p.display()
    );
    p
}

/// Reads a little-endian float32 `.npy` file as (shape, data).
pub fn read_npy_f32(path: &std::path::Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..6],
        b"\x93NUMPY",
        "{} is not an npy file",
        path.display()
    );
    let (hlen, hstart) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        )
    };
    let header = std::str::from_utf8(&bytes[hstart..hstart + hlen]).unwrap();
    assert!(
        header.contains("'<f4'"),
        "{}: not float32: {header}",
        path.display()
    );
    assert!(header.contains("'fortran_order': False"));
    let shape_str = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let shape: Vec<usize> = shape_str
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let data = bytes[hstart + hlen..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect::<Vec<_>>();
    assert_eq!(data.len(), shape.iter().product::<usize>());
    (shape, data)
}

/// Loads a model on the CPU backend and opens a session with a `n_ctx`-token cache.
pub fn session(
    path: &std::path::Path,
    threads: usize,
    mode: pine::backend::MatmulMode,
    cache: pine::backend::CacheType,
    n_ctx: usize,
) -> pine::model::Session<pine::backend::CpuBackend> {
    let file = std::sync::Arc::new(pine::gguf::Gguf::open(path).unwrap());
    let backend = pine::backend::CpuBackend::new(threads, mode).unwrap();
    let model = pine::model::Transformer::load(file, backend).unwrap();
    pine::model::Session::new(model, n_ctx, cache).unwrap()
}

/// Largest absolute element-wise difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A JSON array of token ids.
pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// A raw little-endian float32 file.
pub fn read_f32(path: &std::path::Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// One stored segment order of a `pine-golden` case: the layout in that order and the official
/// last-position logits (`pine`, `vanilla`) for it.
pub struct GoldenRun {
    /// Case id and segment order, for messages.
    pub name: String,
    /// Prefix, segments in this order, suffix.
    pub layout: pine::attention::Layout,
    /// The official logits of PINE and of vanilla attention, with the argmax stored beside them.
    pub pine: (Vec<f32>, u32),
    /// See `pine`.
    pub vanilla: (Vec<f32>, u32),
}

/// Every case and stored order of `pine-golden/cases.json`.
pub fn golden_runs() -> Vec<GoldenRun> {
    let dir = fixtures_root().join("pine-golden");
    assert!(
        dir.join("cases.json").is_file(),
        "pine-golden fixtures not found at {} (they are committed in the repository's \
         tests/fixtures; set PINE_FIXTURES to a directory holding pine-golden/ to use another copy)",
        dir.display()
    );
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for case in cases["cases"].as_array().unwrap() {
        let t = &case["token_ids"];
        let segments: Vec<Vec<u32>> = t["segments"].as_array().unwrap().iter().map(ids).collect();
        for p in case["permutations"].as_array().unwrap() {
            let perm: Vec<usize> = p["perm"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect();
            let logits = |key: &str| {
                let l = &p[key]["last_logits"];
                let argmax = l["argmax"].as_u64().unwrap() as u32;
                (read_f32(&dir.join(l["file"].as_str().unwrap())), argmax)
            };
            out.push(GoldenRun {
                name: format!("{} {perm:?}", case["id"]),
                layout: pine::attention::Layout {
                    prefix: ids(&t["prefix"]),
                    segments: perm.iter().map(|&i| segments[i].clone()).collect(),
                    suffix: ids(&t["suffix"]),
                },
                pine: logits("pine"),
                vanilla: logits("vanilla"),
            });
        }
    }
    out
}

/// llama.cpp's greedy 32 tokens after "The capital of France is" on SmolLM2 Q4_1 (raw prompt).
pub const FRANCE_GREEDY_32: &str = " Paris.\n\nThe United States has a population of approximately 311 million people.\n\nThe United States has a population of approximately 31";
