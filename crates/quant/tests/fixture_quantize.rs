//! Byte-exactness of the weight quantizers against `llama-quantize` (llama.cpp b4748, no
//! importance matrix): every fixture tensor whose type `quantize_row` supports is re-quantized
//! from the F32 fixture and must reproduce the file's bytes exactly.

mod common;

use pine_gguf::{GgmlType, Gguf};
use pine_quant::{dequantize_tensor, quantize::can_quantize, quantize_row};
use std::collections::BTreeMap;

#[test]
fn quantizers_reproduce_llama_quantize_bytes() {
    let dir = common::require_fixtures();
    let f32_file = Gguf::open(dir.join("tiny-llama.F32.gguf")).unwrap();
    let mut per_type: BTreeMap<GgmlType, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "gguf"))
        .collect();
    paths.sort();
    for path in paths {
        let fname = path.file_name().unwrap().to_string_lossy().into_owned();
        let q = Gguf::open(&path).unwrap();
        for t in q.tensors() {
            if !can_quantize(t.ty) || t.ty == GgmlType::F32 {
                continue;
            }
            let src_info = f32_file.tensor(&t.name).unwrap();
            assert_eq!(src_info.ty, GgmlType::F32);
            let n = src_info.dims.iter().product::<u64>() as usize;
            let mut src = vec![0f32; n];
            dequantize_tensor(GgmlType::F32, f32_file.tensor_data(src_info), &mut src).unwrap();
            let want = q.tensor_data(t);
            let mut got = vec![0u8; want.len()];
            let row = t.dims[0] as usize;
            let row_bytes = want.len() / (n / row);
            for (x, y) in src.chunks_exact(row).zip(got.chunks_exact_mut(row_bytes)) {
                quantize_row(t.ty, x, y).unwrap();
            }
            let stat = per_type.entry(t.ty).or_default();
            stat.0 += 1;
            if got != want {
                stat.1 += 1;
                let blocks = got
                    .chunks(t.ty.block_bytes())
                    .zip(want.chunks(t.ty.block_bytes()))
                    .filter(|(a, b)| a != b)
                    .count();
                failures.push(format!(
                    "{fname} {} ({}): {blocks} of {} blocks differ",
                    t.name,
                    t.ty,
                    want.len() / t.ty.block_bytes()
                ));
            }
        }
    }
    eprintln!("tensors checked / differing per type: {per_type:?}");
    assert!(per_type.len() >= 14, "too few types covered: {per_type:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
