//! Unit tests of `pine-quantize`: a small GGUF built with `GgufWriter` is quantized through the
//! public entry points, written, and read back.

use super::*;
use pine_gguf::TensorInfo;
use pine_quant::dequantize_row;

/// Deterministic values in roughly [-1, 1).
fn floats(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A unique temporary path for one test's output.
fn temp_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pine-quantize-{}-{tag}.gguf", std::process::id()))
}

/// A two-layer toy model: two 256-wide matrices, one 96-wide matrix (not a K-quant multiple),
/// one 40-wide matrix (not a 32 multiple), a norm vector and a string/array of metadata.
fn toy_model() -> Gguf {
    let mut w = GgufWriter::new();
    w.set("general.architecture", OwnedValue::String("llama".into()))
        .unwrap();
    w.set("general.file_type", OwnedValue::U32(0)).unwrap();
    w.set("llama.block_count", OwnedValue::U32(2)).unwrap();
    w.set(
        "tokenizer.ggml.tokens",
        OwnedValue::Array(
            pine_gguf::ValueType::String,
            vec![
                OwnedValue::String("a".into()),
                OwnedValue::String("b".into()),
            ],
        ),
    )
    .unwrap();
    let mut add = |name: &str, dims: &[u64], seed| {
        let n = dims.iter().product::<u64>() as usize;
        w.add_tensor(name, GgmlType::F32, dims, f32_bytes(&floats(n, seed)))
            .unwrap();
    };
    add("token_embd.weight", &[256, 4], 1);
    add("blk.0.attn_norm.weight", &[256], 2);
    add("blk.0.attn_q.weight", &[256, 3], 3);
    add("blk.0.ffn_down.weight", &[96, 2], 4);
    add("blk.0.odd.weight", &[40, 2], 5);
    Gguf::from_bytes(w.to_bytes().unwrap()).unwrap()
}

fn tensor<'a>(g: &'a Gguf, name: &str) -> &'a TensorInfo {
    g.tensor(name).unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn q8_0_round_trip_through_a_file() {
    let src = toy_model();
    let out = temp_path("q8");
    let w = quantize_gguf(&src, GgmlType::Q8_0, false, 2, false).unwrap();
    w.write_to(&out).unwrap();
    let q = Gguf::open(&out).unwrap();
    std::fs::remove_file(&out).unwrap();

    assert_eq!(q.get_u32("general.file_type").unwrap(), 7);
    assert_eq!(q.get_u32("general.quantization_version").unwrap(), 2);
    assert_eq!(q.get_str("general.architecture").unwrap(), "llama");
    assert_eq!(q.get_u32("llama.block_count").unwrap(), 2);
    assert_eq!(
        q.get_str_array("tokenizer.ggml.tokens").unwrap(),
        ["a", "b"]
    );

    let names: Vec<&str> = q.tensors().iter().map(|t| t.name.as_str()).collect();
    let src_names: Vec<&str> = src.tensors().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, src_names, "tensor order is kept");
    assert_eq!(tensor(&q, "blk.0.attn_norm.weight").ty, GgmlType::F32);
    assert_eq!(
        q.tensor_data(tensor(&q, "blk.0.attn_norm.weight")),
        src.tensor_data(tensor(&src, "blk.0.attn_norm.weight")),
        "norms are copied bit for bit"
    );
    assert_eq!(tensor(&q, "blk.0.odd.weight").ty, GgmlType::F16);
    for name in [
        "token_embd.weight",
        "blk.0.attn_q.weight",
        "blk.0.ffn_down.weight",
    ] {
        let (qt, st) = (tensor(&q, name), tensor(&src, name));
        assert_eq!(qt.ty, GgmlType::Q8_0, "{name}");
        assert_eq!(qt.dims, st.dims, "{name}");
        // The bytes are exactly quantize_row over each f32 row.
        let row = st.dims[0] as usize;
        let mut want = Vec::new();
        for r in src.tensor_data(st).chunks_exact(row * 4) {
            let mut f = vec![0f32; row];
            dequantize_row(GgmlType::F32, r, &mut f).unwrap();
            let mut b = vec![0u8; row / 32 * 34];
            pine_quant::quantize_row(GgmlType::Q8_0, &f, &mut b).unwrap();
            want.extend(b);
        }
        assert_eq!(q.tensor_data(qt), &want[..], "{name}");
    }
}

#[test]
fn thread_count_does_not_change_the_bytes() {
    let src = toy_model();
    let one = quantize_gguf(&src, GgmlType::Q4_K, false, 1, false).unwrap();
    let three = quantize_gguf(&src, GgmlType::Q4_K, false, 3, false).unwrap();
    assert_eq!(one.to_bytes().unwrap(), three.to_bytes().unwrap());
}

#[test]
fn k_quant_fallbacks_follow_llama_cpp() {
    let q = Gguf::from_bytes(
        quantize_gguf(&toy_model(), GgmlType::Q4_K, false, 2, false)
            .unwrap()
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(q.get_u32("general.file_type").unwrap(), 14);
    assert_eq!(tensor(&q, "blk.0.attn_q.weight").ty, GgmlType::Q4_K);
    assert_eq!(tensor(&q, "blk.0.ffn_down.weight").ty, GgmlType::Q5_0);
    assert_eq!(tensor(&q, "blk.0.odd.weight").ty, GgmlType::F16);
    let q6 = choose(tensor(&q, "blk.0.ffn_down.weight"), GgmlType::Q6_K);
    assert_eq!(q6.ty, GgmlType::Q8_0);
    assert!(q6.note.unwrap().contains("blk.0.ffn_down.weight"));
}

#[test]
fn requantizing_a_quantized_file_and_via_f16() {
    let q8 = Gguf::from_bytes(
        quantize_gguf(&toy_model(), GgmlType::Q8_0, false, 2, false)
            .unwrap()
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    for via_f16 in [false, true] {
        let q4 = Gguf::from_bytes(
            quantize_gguf(&q8, GgmlType::Q4_0, via_f16, 2, false)
                .unwrap()
                .to_bytes()
                .unwrap(),
        )
        .unwrap();
        let t = tensor(&q4, "blk.0.attn_q.weight");
        assert_eq!(t.ty, GgmlType::Q4_0);
        // Decoded values stay close to the Q8_0 source.
        let st = tensor(&q8, "blk.0.attn_q.weight");
        let n = st.n_elements() as usize;
        let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
        pine_quant::dequantize_tensor(GgmlType::Q8_0, q8.tensor_data(st), &mut a).unwrap();
        pine_quant::dequantize_tensor(GgmlType::Q4_0, q4.tensor_data(t), &mut b).unwrap();
        let max = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(max < 0.2, "via_f16={via_f16}: max error {max}");
        // Norms are never rounded to f16.
        assert_eq!(
            q4.tensor_data(tensor(&q4, "blk.0.attn_norm.weight")),
            q8.tensor_data(tensor(&q8, "blk.0.attn_norm.weight"))
        );
    }
}

#[test]
fn same_type_is_copied_and_f32_target_decodes() {
    let q8 = Gguf::from_bytes(
        quantize_gguf(&toy_model(), GgmlType::Q8_0, false, 1, false)
            .unwrap()
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    let again = quantize_gguf(&q8, GgmlType::Q8_0, false, 1, false).unwrap();
    let again = Gguf::from_bytes(again.to_bytes().unwrap()).unwrap();
    let name = "blk.0.attn_q.weight";
    assert_eq!(
        again.tensor_data(tensor(&again, name)),
        q8.tensor_data(tensor(&q8, name))
    );
    let f = quantize_gguf(&q8, GgmlType::F32, false, 1, false).unwrap();
    let f = Gguf::from_bytes(f.to_bytes().unwrap()).unwrap();
    assert!(f.tensors().iter().all(|t| t.ty == GgmlType::F32));
    assert_eq!(f.get_u32("general.file_type").unwrap(), 0);
}

#[test]
fn target_names_and_file_types() {
    assert_eq!(parse_target("q4_k").unwrap(), GgmlType::Q4_K);
    assert_eq!(parse_target("IQ4_NL").unwrap(), GgmlType::IQ4_NL);
    let err = parse_target("Q3_K").unwrap_err();
    assert!(err.contains("Q3_K") && err.contains("Q8_0"), "{err}");
    let types: Vec<u32> = TARGETS.iter().map(|&t| file_type(t)).collect();
    assert_eq!(types, [2, 3, 8, 9, 7, 14, 16, 18, 25, 1, 32, 0]);
    for t in TARGETS {
        assert!(pine_quant::quantize::can_quantize(t), "{t}");
    }
}

#[test]
fn errors_name_the_file_and_exit_1() {
    let missing = temp_path("does-not-exist-in");
    let out = temp_path("never-written");
    let args = Args::try_parse_from([
        "pine-quantize".as_ref(),
        missing.as_os_str(),
        out.as_os_str(),
        "Q8_0".as_ref(),
    ])
    .unwrap();
    let err = quantize_file(&args).unwrap_err();
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(!out.exists());
    let argv = [
        "pine-quantize".into(),
        missing.clone().into_os_string(),
        out.clone().into_os_string(),
        "Q8_0".into(),
    ];
    let code = main(argv);
    assert_eq!(code, ExitCode::FAILURE);
    let code = main(["pine-quantize", "a", "b", "Q9_9"].map(OsString::from));
    assert_eq!(code, ExitCode::FAILURE);
}

#[test]
fn undecodable_matrix_is_an_error_naming_the_tensor() {
    let mut w = GgufWriter::new();
    // IQ2_XXS has no decoder in pine; 256 elements per 66-byte block.
    w.add_tensor(
        "blk.0.w.weight",
        GgmlType::IQ2_XXS,
        &[256, 2],
        vec![0u8; 132],
    )
    .unwrap();
    let g = Gguf::from_bytes(w.to_bytes().unwrap()).unwrap();
    let err = quantize_gguf(&g, GgmlType::Q8_0, false, 1, false)
        .err()
        .expect("fails");
    assert!(
        err.contains("blk.0.w.weight") && err.contains("IQ2_XXS"),
        "{err}"
    );
}
