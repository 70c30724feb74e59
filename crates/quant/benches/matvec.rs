//! Matvec / matmul throughput of the CPU engine per weight type, at 1 and 2 threads.
//!
//! Prints GB/s of weight bytes streamed for decode shapes (rows × cols) and GFLOP/s for a
//! 512-row prefill. Run: `cargo bench -p pine-quant --bench matvec [-- TYPE ...]`.

use pine_gguf::GgmlType;
use pine_quant::dot::kernels;
use pine_quant::matmul::{matmul, MatmulScratch, Precision, WeightView};
use pine_quant::quantize_row;
use std::time::{Duration, Instant};

/// Decode shapes (out rows, in cols): SmolLM2-135M's down/up projections and output head, and a
/// 7B-class square.
const MATVEC: [(usize, usize); 4] = [(576, 1536), (1536, 576), (49152, 576), (4096, 4096)];
/// Prefill: 512 activation rows through a 1536 × 576 weight.
const PREFILL: (usize, usize, usize) = (1536, 576, 512);

/// Deterministic pseudo-random floats (xorshift), roughly uniform in [-1, 1).
fn floats(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// A `rows × cols` weight of `ty`: 8 distinct quantized rows repeated (quantizing big k-quant
/// matrices with the reference quantizer would dominate the run time).
fn weights(ty: GgmlType, rows: usize, cols: usize) -> Option<Vec<u8>> {
    let rb = cols / ty.block_size() * ty.block_bytes();
    let distinct = rows.min(8);
    let mut proto = vec![0u8; distinct * rb];
    for (i, r) in proto.chunks_exact_mut(rb).enumerate() {
        quantize_row(ty, &floats(cols, i as u64 + 1), r).ok()?;
    }
    let mut w = Vec::with_capacity(rows * rb);
    for i in 0..rows {
        w.extend_from_slice(&proto[(i % distinct) * rb..(i % distinct + 1) * rb]);
    }
    Some(w)
}

/// Seconds per call of `f`, timed over at least `min` after one warm-up call.
fn time(min: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let (start, mut iters) = (Instant::now(), 0u32);
    while start.elapsed() < min || iters < 3 {
        f();
        iters += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(iters)
}

fn main() {
    use GgmlType::*;
    let all = [
        Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS, IQ3_XXS, IQ3_S,
        TQ1_0, TQ2_0, F32, F16, BF16,
    ];
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let types: Vec<GgmlType> = all
        .into_iter()
        .filter(|t| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(t.name())))
        .collect();
    let min = Duration::from_millis(200);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        println!("== {threads} thread(s) ==");
        println!(
            "{:<8} {:<11} {:>10} {:>10} {:>11} {:>11} {:>13}",
            "type", "isa", "576x1536", "1536x576", "49152x576", "4096x4096", "prefill512"
        );
        for &ty in &types {
            let mut line = format!("{:<8} {:<11}", ty.name(), kernels().isa(ty).unwrap_or("-"));
            let mut scratch = MatmulScratch::new();
            for (rows, cols) in MATVEC {
                let Some(w) = weights(ty, rows, cols) else {
                    line += &format!(" {:>10}", "n/a");
                    continue;
                };
                let view = WeightView {
                    ty,
                    rows,
                    cols,
                    data: &w,
                };
                let x = floats(cols, 99);
                let mut y = vec![0.0f32; rows];
                let s = pool.install(|| {
                    time(min, || {
                        matmul(&view, &x, 1, &mut y, &mut scratch, Precision::Native).unwrap()
                    })
                });
                line += &format!(" {:>7.1}GB/s", w.len() as f64 / s / 1e9);
            }
            let (rows, cols, n) = PREFILL;
            if let Some(w) = weights(ty, rows, cols) {
                let view = WeightView {
                    ty,
                    rows,
                    cols,
                    data: &w,
                };
                let x = floats(n * cols, 7);
                let mut y = vec![0.0f32; n * rows];
                let s = pool.install(|| {
                    time(min, || {
                        matmul(&view, &x, n, &mut y, &mut scratch, Precision::Native).unwrap()
                    })
                });
                line += &format!(" {:>7.1}GFLOP/s", 2.0 * (rows * cols * n) as f64 / s / 1e9);
            }
            println!("{line}");
        }
    }
}
