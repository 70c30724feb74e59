//! Hostile-input cases: damaged model files. Whatever is wrong with a file, every tool names
//! the file and the problem and exits 1, without a panic.

use std::path::{Path, PathBuf};

use pine::gguf::{Gguf, GgufWriter, OwnedValue};

use crate::common;
use crate::harness::{run, Bin, Scratch};

fn tiny() -> PathBuf {
    common::tiny_llama_dir().join("tiny-llama.Q4_0.gguf")
}

/// Runs pine-run (token ids, one token) and pine-inspect on `model`; both must fail naming
/// the file and mentioning each of `needles` (pine-inspect only reads the header, so it is
/// held to the header's problems: `inspect_too`).
fn refused(model: &Path, needles: &[&str], inspect_too: bool) {
    let name = model.file_name().unwrap().to_str().unwrap();
    let m = model.to_str().unwrap();
    let mut want = vec![name];
    want.extend_from_slice(needles);
    run(
        Bin::Run,
        &[
            m,
            "--token-ids",
            "1,2",
            "-n",
            "1",
            "--temp",
            "0",
            "--backend",
            "cpu",
        ],
    )
    .fails_with(&want);
    if inspect_too {
        run(Bin::Inspect, &[m]).fails_with(&want);
    }
}

#[test]
fn truncated_files_are_refused_naming_the_file() {
    let s = Scratch::new("files-truncated");
    let bytes = std::fs::read(tiny()).unwrap();
    for cut in [0, 3, 8, 23, 100, 4096, bytes.len() / 2, bytes.len() - 1] {
        let p = s.path(&format!("cut{cut}.gguf"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        refused(&p, &[], true);
    }
}

#[test]
fn a_bad_magic_or_version_is_refused() {
    let s = Scratch::new("files-magic");
    let mut bytes = std::fs::read(tiny()).unwrap();
    bytes[..4].copy_from_slice(b"GGML");
    let p = s.path("magic.gguf");
    std::fs::write(&p, &bytes).unwrap();
    refused(&p, &["magic"], true);
    bytes[..4].copy_from_slice(b"GGUF");
    bytes[4..8].copy_from_slice(&99u32.to_le_bytes());
    let p = s.path("version.gguf");
    std::fs::write(&p, &bytes).unwrap();
    refused(&p, &["version"], true);
}

/// A copy of the tiny model without tensor `drop`, or with `general.architecture` = `arch`.
fn altered(s: &Scratch, name: &str, drop: Option<&str>, arch: Option<&str>) -> PathBuf {
    let g = Gguf::open(tiny()).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in g.metadata() {
        let v = match (k, arch) {
            ("general.architecture", Some(a)) => OwnedValue::String(a.into()),
            _ => OwnedValue::from_value(&v),
        };
        w.set(k, v).unwrap();
    }
    for t in g.tensors() {
        if Some(t.name.as_str()) != drop {
            w.add_tensor(&t.name, t.ty, &t.dims, g.tensor_data(t).to_vec())
                .unwrap();
        }
    }
    let p = s.path(name);
    std::fs::write(&p, w.to_bytes().unwrap()).unwrap();
    p
}

#[test]
fn a_missing_tensor_is_named() {
    let s = Scratch::new("files-missing");
    let p = altered(&s, "missing.gguf", Some("blk.1.ffn_up.weight"), None);
    refused(&p, &["blk.1.ffn_up.weight", "missing"], false);
}

#[test]
fn an_unknown_architecture_is_named() {
    let s = Scratch::new("files-arch");
    let p = altered(&s, "arch.gguf", None, Some("mamba9"));
    refused(&p, &["mamba9"], false);
}

#[test]
fn a_file_that_is_not_gguf_is_refused() {
    let s = Scratch::new("files-text");
    let p = s.path("notes.gguf");
    std::fs::write(&p, "just some text, not a model\n".repeat(100)).unwrap();
    refused(&p, &["magic"], true);
}
