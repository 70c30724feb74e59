//! Bit-exact conformance of every dequantizer against an independent reference: gguf-py's
//! numpy dequantizers, digested per tensor by `tests/data/gen_dequant_digests.py` into
//! `tests/data/dequant_digests.json`, over all 24 tiny-llama fixture files (llama.cpp b4748).
//!
//! gguf-py evaluates each type's f32 operations in llama.cpp's order (see the script), so no
//! type needs a special llama.cpp-ordered reference; the script's `OVERRIDES` table is where
//! one would go.

mod common;

use pine_gguf::Gguf;
use pine_quant::{dequantize_row, dequantize_tensor};
use serde_json::Value;

#[test]
fn every_fixture_tensor_matches_gguf_py_bit_for_bit() {
    let dir = common::require_fixtures();
    let json: Value = serde_json::from_str(include_str!("data/dequant_digests.json")).unwrap();
    let files = json["files"].as_object().unwrap();
    assert_eq!(files.len(), 24, "expected the 24 tiny-llama fixtures");
    let mut failures = Vec::new();
    let mut checked = 0;
    for (fname, tensors) in files {
        let gguf = Gguf::open(dir.join(fname)).unwrap_or_else(|e| panic!("{fname}: {e}"));
        let tensors = tensors.as_object().unwrap();
        assert_eq!(gguf.tensors().len(), tensors.len(), "{fname}: tensor count");
        for t in gguf.tensors() {
            let want = &tensors[&t.name];
            assert_eq!(
                want["type"].as_str().unwrap(),
                t.ty.name(),
                "{fname} {}",
                t.name
            );
            let n = t.dims.iter().product::<u64>() as usize;
            assert_eq!(
                want["n"].as_u64().unwrap() as usize,
                n,
                "{fname} {}",
                t.name
            );
            let data = gguf.tensor_data(t);
            let mut out = vec![0f32; n];
            dequantize_tensor(t.ty, data, &mut out)
                .unwrap_or_else(|e| panic!("{fname} {}: {e}", t.name));
            // Row by row must agree with the whole-tensor (parallel) decode.
            let row = t.dims[0] as usize;
            let row_bytes = data.len() / (n / row);
            let mut r = vec![0f32; row];
            dequantize_row(t.ty, &data[..row_bytes], &mut r).unwrap();
            assert!(r.iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()));

            let got = format!("{:016x}", common::fnv1a64_f32(&out));
            if got != want["fnv1a64"].as_str().unwrap() {
                failures.push(format!("{fname} {} ({}): {got}", t.name, t.ty));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} tensors differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
