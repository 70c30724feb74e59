//! Hostile-input cases: damaged model files. Whatever is wrong with a file, every tool names
//! the file and the problem and exits 1, without a panic.

use std::path::Path;

use pine::gguf::OwnedValue;

use crate::harness::{crafted, run, run_ids, tiny, Bin, Scratch};

/// Runs pine-run (token ids, one token) and pine-inspect on `model`; both must fail naming
/// the file and mentioning each of `needles` (pine-inspect only reads the header, so it is
/// held to the header's problems: `inspect_too`).
fn refused(model: &Path, needles: &[&str], inspect_too: bool) {
    let name = model.file_name().unwrap().to_str().unwrap();
    let m = model.to_str().unwrap();
    let mut want = vec![name];
    want.extend_from_slice(needles);
    run_ids(model, &[]).fails_with(&want);
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

#[test]
fn a_missing_tensor_is_named() {
    let s = Scratch::new("files-missing");
    let p = crafted(&s, "missing.gguf", &[], &["blk.1.ffn_up.weight"]);
    refused(&p, &["blk.1.ffn_up.weight", "missing"], false);
}

#[test]
fn an_unknown_architecture_is_named() {
    let s = Scratch::new("files-arch");
    let arch = OwnedValue::String("mamba9".into());
    let p = crafted(
        &s,
        "arch.gguf",
        &[("general.architecture", Some(arch))],
        &[],
    );
    refused(&p, &["mamba9"], false);
}

#[test]
fn a_file_that_is_not_gguf_is_refused() {
    let s = Scratch::new("files-text");
    let p = s.path("notes.gguf");
    std::fs::write(&p, "just some text, not a model\n".repeat(100)).unwrap();
    refused(&p, &["magic"], true);
}
