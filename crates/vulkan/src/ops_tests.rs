//! Every Vulkan kernel against the CPU backend: matmul and embedding lookup for every block type
//! in the tiny-llama fixtures (the CPU in reference mode: weights dequantized to f32, f32
//! activations), and the element-wise ops on random data.

use std::sync::Arc;

use pine_backend::{Backend, CpuBackend, MatmulMode, VulkanNumerics, WeightSource};
use pine_gguf::Gguf;

use crate::test_support::{backend, tiny_llama, values};

fn read<B: Backend>(b: &mut B, buf: &B::Buffer, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; n];
    b.read(buf, &mut out);
    b.take_error().unwrap();
    out
}

fn upload<B: Backend>(b: &mut B, data: &[f32]) -> B::Buffer {
    let mut buf = b.buffer(data.len());
    b.write(&mut buf, data);
    buf
}

/// max |a - b| / (scale of the values), for dot products of length `k`.
fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * scale,
            "{what}: element {i}: vulkan {g} vs cpu {w} (scale {scale})"
        );
    }
}

/// Matmul (1, 11 and 40 rows) and embedding lookup of 2-D tensors of each type, on both backends,
/// in reference mode (f32 activations) and in native mode (llama.cpp's activation rounding):
/// each type's first tensor, and its first one whose rows span several 256-element blocks (so
/// the k-quants' sums across super-blocks are checked too). Native mode runs twice: with the
/// integer matmuls' lane sums by subgroup shuffles where the device has them, and with the
/// shared-memory fallback; both must give the CPU's bits (for the k-quants, the bits of its
/// per-pair kernels: see [`packed_k`]) in exact numerics on a device with f64. Fast numerics
/// (native fma and division) are held to the bound of the inexact float orders, 1e-5 of the
/// values' scale; there 40 rows run the tiled matmul (`mul_mm.comp`, `mul_mmq.comp`), in both
/// tile sizes and both modes (f32 activations, and the rounded activations' integers), and 1
/// and 11 rows of the integer types the fast row kernel (`mul_mv.comp`).
#[test]
fn matmul_and_embed_match_the_cpu_for_every_fixture_type() {
    matmul_and_embed_match(MatmulMode::F32, true, VulkanNumerics::Exact, false);
    matmul_and_embed_match(MatmulMode::Native, true, VulkanNumerics::Exact, false);
    matmul_and_embed_match(MatmulMode::Native, false, VulkanNumerics::Exact, false);
    for large in [false, true] {
        matmul_and_embed_match(MatmulMode::Native, true, VulkanNumerics::Fast, large);
        matmul_and_embed_match(MatmulMode::F32, true, VulkanNumerics::Fast, large);
    }
    // The integer types' tiled matmul in f32, as on devices without integer dot products.
    matmul_and_embed_match(MatmulMode::Native, false, VulkanNumerics::Fast, false);
}

/// Whether the CPU backend runs weights of `ty` through packed kernels with a float order of
/// their own: the k-quants and IQ4_XS (and their activation rounding,
/// `pine_quant::matmul::packed_k`) and Q5_0, Q8_0 and IQ4_NL (the block order); the shaders
/// follow the per-pair kernels (llama.cpp's order), the reference for those types here.
fn packed_own_order(ty: pine_gguf::GgmlType) -> bool {
    use pine_gguf::GgmlType as T;
    matches!(
        ty,
        T::Q2_K | T::Q3_K | T::Q4_K | T::Q5_K | T::Q6_K | T::IQ4_XS | T::Q5_0 | T::Q8_0 | T::IQ4_NL
    ) && pine_quant::matmul::PackedWeights::supported(ty)
}

/// `x · Wᵀ` (`n` rows) by the CPU's per-pair kernels, on the weight's mapped bytes.
fn per_pair(file: &Gguf, info: &pine_gguf::TensorInfo, x: &[f32], n: usize) -> Vec<f32> {
    use pine_quant::matmul::{matmul, MatmulScratch, Precision, WeightView};
    let w = WeightView {
        ty: info.ty,
        rows: info.n_rows() as usize,
        cols: info.row_len() as usize,
        data: file.tensor_data(info),
    };
    let pool = pine_pool::Pool::new(1).unwrap();
    let mut y = vec![0.0; n * w.rows];
    let mut scratch = MatmulScratch::new();
    matmul(&pool, &w, x, n, &mut y, &mut scratch, Precision::Native).unwrap();
    y
}

/// `x · Wᵀ` (`n` rows) in f64 from the weight's dequantized values and the activations as the
/// matmul takes them: rounded to the weight's activation type and back in native mode, as
/// they are in reference mode. The tiled matmul computes this product up to f32 sums (the
/// row kernels keep llama.cpp's terms instead, such as Q8_1's block sums rounded to f16).
fn rounded_reference(
    file: &Gguf,
    info: &pine_gguf::TensorInfo,
    x: &[f32],
    n: usize,
    mode: MatmulMode,
) -> Vec<f32> {
    use pine_quant::activation::{activation_type, quantize_activation_row};
    let (k, rows) = (info.row_len() as usize, info.n_rows() as usize);
    let mut w = vec![0.0f32; k * rows];
    pine_quant::dequantize_row(info.ty, file.tensor_data(info), &mut w).unwrap();
    let mut xr = x.to_vec();
    if let (MatmulMode::Native, Some(act)) = (mode, activation_type(info.ty)) {
        let mut bytes = vec![0u8; k / act.block_size() * act.block_bytes()];
        for row in xr.chunks_mut(k) {
            quantize_activation_row(act, row, &mut bytes).unwrap();
            pine_quant::dequantize_row(act, &bytes, row).unwrap();
        }
    }
    let mut y = vec![0.0; n * rows];
    for (c, xc) in xr.chunks(k).enumerate() {
        for (r, wr) in w.chunks(k).enumerate() {
            let dot: f64 = wr.iter().zip(xc).map(|(&a, &b)| a as f64 * b as f64).sum();
            y[c * rows + r] = dot as f32;
        }
    }
    y
}

fn matmul_and_embed_match(
    mode: MatmulMode,
    subgroups: bool,
    numerics: VulkanNumerics,
    large_tiles: bool,
) {
    let Some(mut vk) = backend(mode, numerics) else {
        return;
    };
    if !subgroups {
        vk.force_subgroups(false);
        // (and without the tiled matmul's integer dot products: the fallbacks together)
        vk.force_int_dot(false);
    }
    vk.force_large_tiles(large_tiles);
    let mut cpu = CpuBackend::new(2, mode).unwrap();
    let dir = tiny_llama();
    let mut seen = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "gguf"))
        .collect();
    names.sort();
    for path in names {
        let file = Arc::new(Gguf::open(&path).unwrap());
        for info in file.tensors() {
            if info.dims.len() != 2 {
                continue;
            }
            let key = (info.ty, info.dims[0] > 256);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let what = format!(
                "{mode:?} {numerics:?} (subgroups {subgroups}, large tiles {large_tiles}) {} {} ({})",
                path.display(),
                info.name,
                info.ty.name()
            );
            let src = WeightSource { file: &file, info };
            let (wv, wc) = (vk.load_weight(src).unwrap(), cpu.load_weight(src).unwrap());
            let (k, rows) = (info.dims[0] as usize, info.dims[1] as usize);
            for n in [1usize, 11, 40] {
                let x = values(n * k, n as u64);
                let (xv, xc) = (upload(&mut vk, &x), upload(&mut cpu, &x));
                let (mut yv, mut yc) = (vk.buffer(n * rows), cpu.buffer(n * rows));
                vk.matmul(&wv, &xv, n, &mut yv).unwrap();
                cpu.matmul(&wc, &xc, n, &mut yc).unwrap();
                let got = read(&mut vk, &yv, n * rows);
                let tiled = numerics == VulkanNumerics::Fast && n >= 32;
                let want = if tiled {
                    rounded_reference(&file, info, &x, n, mode)
                } else if mode == MatmulMode::Native && packed_own_order(info.ty) {
                    per_pair(&file, info, &x, n)
                } else {
                    read(&mut cpu, &yc, n * rows)
                };
                if vk.matches_cpu(info.ty) {
                    assert_eq!(got, want, "matmul n={n} {what}: not bit-identical");
                } else {
                    assert_close(&format!("matmul n={n} {what}"), &got, &want, 1e-5);
                }
            }
            let ids: Vec<u32> = [0, rows - 1, rows / 2, 3].map(|i| i as u32).to_vec();
            let (mut ev, mut ec) = (vk.buffer(ids.len() * k), cpu.buffer(ids.len() * k));
            vk.embed(&wv, &ids, &mut ev).unwrap();
            cpu.embed(&wc, &ids, &mut ec).unwrap();
            let got = read(&mut vk, &ev, ids.len() * k);
            assert_eq!(got, read(&mut cpu, &ec, ids.len() * k), "embed {what}");
        }
    }
    let mut types: Vec<_> = seen.iter().map(|&(ty, _)| ty).collect();
    types.sort_by_key(|t| t.id());
    types.dedup();
    assert!(
        types.len() >= 19,
        "only {} types found in {}",
        types.len(),
        dir.display()
    );
    // Fast numerics ran the 40-row products through the tiled matmul, in the tile size asked
    // for, with the rounded activations' integers in native mode.
    let tiled: Vec<_> = vk
        .loaded_shaders()
        .into_iter()
        .filter(|s| s.starts_with("mul_mm_") || s.starts_with("mul_mmq_"))
        .collect();
    if numerics == VulkanNumerics::Fast {
        let int = tiled.iter().filter(|s| s.contains("_int")).count();
        let dot = tiled.iter().filter(|s| s.starts_with("mul_mmq_")).count();
        assert!(tiled.len() >= 15, "{mode:?}: tiled builds {tiled:?}");
        assert!(tiled.iter().all(|s| s.ends_with("_l") == large_tiles));
        // The twelve integer types, by integer dot products where the device has them.
        let int_dot = subgroups && vk.device().int_dot;
        let native = mode == MatmulMode::Native;
        assert_eq!(dot, if native && int_dot { 12 } else { 0 }, "{tiled:?}");
        assert_eq!(int, if native && !int_dot { 12 } else { 0 }, "{tiled:?}");
    } else {
        assert!(tiled.is_empty(), "exact numerics ran {tiled:?}");
    }
    // Fewer rows ran fast numerics' row kernel for each of the twelve integer types, the exact
    // order's in exact numerics.
    let rows = vk.loaded_shaders();
    let mv = rows.iter().filter(|s| s.starts_with("mul_mv_")).count();
    let fast_int = numerics == VulkanNumerics::Fast && mode == MatmulMode::Native;
    assert_eq!(mv, if fast_int { 12 } else { 0 }, "{rows:?}");
}

/// Bit for bit with the exact float operations, within 1e-6 in fast numerics.
#[test]
fn elementwise_ops_match_the_cpu() {
    for numerics in [VulkanNumerics::Exact, VulkanNumerics::Fast] {
        elementwise_ops_match(numerics);
    }
}

fn elementwise_ops_match(numerics: VulkanNumerics) {
    let Some(mut vk) = backend(MatmulMode::Native, numerics) else {
        return;
    };
    let mut cpu = CpuBackend::new(1, MatmulMode::Native).unwrap();
    let (n, width) = (5, 96);
    let x: Vec<f32> = values(n * width, 1).iter().map(|v| v * 12.0).collect();
    let y = values(n * width, 2);
    fn run<B: Backend>(b: &mut B, x: &[f32], y: &[f32], width: usize) -> Vec<Vec<f32>> {
        let (xb, yb) = (upload(b, x), upload(b, y));
        let mut out = Vec::new();
        let mut g = upload(b, x);
        b.swiglu(&mut g, &yb, x.len() - 7);
        out.push(read(b, &g, x.len()));
        let mut g = upload(b, x);
        b.geglu(&mut g, &yb, x.len() - 5);
        out.push(read(b, &g, x.len()));
        let mut sc = upload(b, x);
        b.scale(&mut sc, 16.0f32.sqrt() * 1.1, x.len() - 9);
        out.push(read(b, &sc, x.len()));
        let mut a = upload(b, x);
        b.add(&mut a, &yb, x.len() - 3);
        out.push(read(b, &a, x.len()));
        let mut sel = b.buffer(3 * width);
        b.select_rows(&xb, width, &[4, 0, 2], &mut sel);
        out.push(read(b, &sel, 3 * width));
        out
    }
    let got = run(&mut vk, &x, &y, width);
    let want = run(&mut cpu, &x, &y, width);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if vk.cpu_float_order() {
            assert_eq!(g, w, "op {i}: not bit-identical");
        } else {
            assert_close(&format!("op {i} ({numerics:?})"), g, w, 1e-6);
        }
    }
}

/// Bit for bit with the exact float operations, within 1e-6 in fast numerics (f32 sums).
#[test]
fn rms_norm_matches_the_cpu() {
    for numerics in [VulkanNumerics::Exact, VulkanNumerics::Fast] {
        rms_norm_matches(numerics);
    }
}

fn rms_norm_matches(numerics: VulkanNumerics) {
    let Some(mut vk) = backend(MatmulMode::Native, numerics) else {
        return;
    };
    let mut cpu = CpuBackend::new(1, MatmulMode::Native).unwrap();
    let path = tiny_llama().join("tiny-llama.F32.gguf");
    let file = Arc::new(Gguf::open(path).unwrap());
    let info = file.tensor("blk.0.attn_norm.weight").unwrap();
    let src = WeightSource { file: &file, info };
    let width = info.dims[0] as usize;
    let x = values(3 * width, 9);
    fn run<B: Backend>(b: &mut B, src: WeightSource<'_>, x: &[f32]) -> Vec<f32> {
        let w = b.load_weight(src).unwrap();
        let xb = upload(b, x);
        let mut o = b.buffer(x.len());
        b.rms_norm(&xb, &w, 1e-5, 3, &mut o);
        read(b, &o, x.len())
    }
    let got = run(&mut vk, src, &x);
    let want = run(&mut cpu, src, &x);
    if vk.cpu_float_order() {
        assert_eq!(got, want, "rms_norm: not bit-identical");
    } else {
        assert_close(&format!("rms_norm ({numerics:?})"), &got, &want, 1e-6);
    }
}

/// A bias vector added to every row (one float add per element: the same bits everywhere).
#[test]
fn add_bias_matches_the_cpu() {
    let Some(mut vk) = backend(MatmulMode::Native, VulkanNumerics::Exact) else {
        return;
    };
    let mut cpu = CpuBackend::new(1, MatmulMode::Native).unwrap();
    let path = tiny_llama().join("tiny-llama.F32.gguf");
    let file = Arc::new(Gguf::open(path).unwrap());
    let info = file.tensor("blk.1.ffn_norm.weight").unwrap();
    let src = WeightSource { file: &file, info };
    let width = info.dims[0] as usize;
    // One row more in the buffer than is biased: it must stay as it was.
    let x = values(4 * width, 11);
    fn run<B: Backend>(b: &mut B, src: WeightSource<'_>, x: &[f32]) -> Vec<f32> {
        let w = b.load_weight(src).unwrap();
        let mut xb = upload(b, x);
        b.add_bias(&mut xb, &w, 3);
        read(b, &xb, x.len())
    }
    let got = run(&mut vk, src, &x);
    let want = run(&mut cpu, src, &x);
    assert_eq!(got, want, "add_bias: not bit-identical");
    assert_eq!(
        got[3 * width..],
        x[3 * width..],
        "add_bias wrote past its rows"
    );
}

#[test]
fn every_shader_builds_a_pipeline() {
    let Some(vk) = backend(MatmulMode::Native, VulkanNumerics::Exact) else {
        return;
    };
    let mut p = crate::kernels::Pipelines::default();
    for name in crate::kernels::names() {
        p.get(vk.context(), name).unwrap();
    }
}

/// The device argmax (`argmax.comp`) is the host's `pine_backend::math::argmax` of each row,
/// in both numeric modes: random rows of several widths (one over the workgroup's stride,
/// several strides, an odd tail), ties (the lowest index wins, also across invocations),
/// equal zeros of both signs, infinities and NaNs (never winning, but a NaN first value keeps
/// index 0); and it reads back 4 bytes per row.
#[test]
fn device_argmax_matches_the_host_scan() {
    use pine_backend::math::argmax;
    for numerics in [VulkanNumerics::Fast, VulkanNumerics::Exact] {
        let Some(mut vk) = backend(MatmulMode::Native, numerics) else {
            return;
        };
        let mut rows: Vec<Vec<f32>> = [1usize, 7, 256, 257, 1000, 49152]
            .iter()
            .enumerate()
            .map(|(i, &w)| values(w, 40 + i as u64))
            .collect();
        let mut tie = vec![0.5f32; 3000];
        tie[2999] = 0.25;
        rows.push(tie);
        let mut late = values(3000, 9);
        late[1200] = 2.0;
        late[2900] = 2.0;
        late[700] = 2.0;
        rows.push(late);
        rows.push(vec![-0.0, 0.0, -0.0, 0.0]);
        rows.push(vec![f32::NAN, 1.0, 2.0]);
        rows.push(vec![1.0, f32::NAN, f32::INFINITY, f32::NAN, f32::INFINITY]);
        rows.push(vec![f32::NEG_INFINITY, f32::NAN, f32::NEG_INFINITY]);
        rows.push(vec![-3.0, f32::NAN, f32::NAN, f32::NAN]);
        for row in &rows {
            // Two rows of the same width: the second shifted, so rows are told apart.
            let second: Vec<f32> = row.iter().rev().copied().collect();
            let both: Vec<f32> = row.iter().chain(&second).copied().collect();
            let buf = upload(&mut vk, &both);
            let before = vk.counters();
            let mut got = [7u32; 2];
            vk.argmax(&buf, row.len(), &mut got);
            vk.take_error().unwrap();
            let read = vk.counters().since(&before).readback_bytes;
            assert_eq!(read, 8, "{numerics}: bytes read back for two rows");
            let want = [argmax(row), argmax(&second)];
            assert_eq!(got, want, "{numerics}: width {}", row.len());
        }
    }
}

/// The device top-k (`top_k.comp`) is the host's `pine_backend::math::keep_top` of the row, ids
/// and value bits: random rows of several widths and k (1, the default 40, the largest 256,
/// more than the row holds), rows of few distinct values (ties at the k-th place, taken by
/// the lowest ids), both zeros, infinities and NaNs of both signs (f32's total order); and it
/// reads back 8 bytes per candidate.
#[test]
fn device_top_k_matches_the_host_selection() {
    use pine_backend::math::keep_top;
    let Some(mut vk) = backend(MatmulMode::Native, VulkanNumerics::Fast) else {
        return;
    };
    let mut rows: Vec<Vec<f32>> = [1usize, 7, 256, 300, 4099, 49152]
        .iter()
        .enumerate()
        .map(|(i, &w)| values(w, 70 + i as u64))
        .collect();
    // Few distinct values: thousands of ties, at every place.
    rows.push(values(5000, 3).iter().map(|v| (v * 4.0).round()).collect());
    rows.push(vec![0.5f32; 1000]);
    let mut odd = values(600, 11);
    odd[..12].copy_from_slice(&[
        -0.0,
        0.0,
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        1e-45,
        -1e-45,
    ]);
    rows.push(odd);
    for row in &rows {
        let buf = upload(&mut vk, row);
        for k in [1, 3, 40, 256, 1000] {
            let mut want: Vec<(u32, f32)> = row
                .iter()
                .enumerate()
                .map(|(i, &v)| (i as u32, v))
                .collect();
            keep_top(&mut want, k);
            let before = vk.counters();
            let mut got = Vec::new();
            vk.top_k(&buf, row.len(), k, 1, &mut got);
            vk.take_error().unwrap();
            let bits = |c: &[(u32, f32)]| -> Vec<(u32, u32)> {
                c.iter().map(|&(i, v)| (i, v.to_bits())).collect()
            };
            assert_eq!(bits(&got), bits(&want), "width {}, k {k}", row.len());
            if k <= crate::backend::TOP_K_MAX {
                let read = vk.counters().since(&before).readback_bytes;
                assert_eq!(
                    read,
                    8 * k.min(row.len()) as u64,
                    "width {}, k {k}",
                    row.len()
                );
            }
        }
    }
}
