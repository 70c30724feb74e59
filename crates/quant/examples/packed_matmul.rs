//! The packed matmul alone, on one thread: a rows × cols weight of random values quantized to
//! TYPE, repacked, times n random activation rows (activation quantization included), `reps`
//! times; prints the best and the median GFLOP/s. Prefill tasks are n / 4 rows (n ≥ 64 takes
//! the k-quants' tile path with tasks of 16+ rows; n = 256 gives pp512's 64-row tasks at two
//! threads).
//!
//! Run: `cargo run --release -p pine-quant --example packed_matmul -- TYPE [rows cols n reps
//! [unpacked]]` (TYPE: q4_0, q5_0, q8_0, q4_k, q5_k or q6_k; default 2048 2048 64 300), pinned
//! with `taskset`. `unpacked` times the GGUF-layout engine (`matmul`, native precision) on the
//! same data instead, the path of the types and shapes that are not packed.
use pine_gguf::GgmlType;
use pine_pool::Pool;
use pine_quant::matmul::{matmul, matmul_packed, MatmulScratch, PackedWeights};
use pine_quant::matmul::{Precision, WeightView};
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let ty = match a[1].as_str() {
        "q4_0" => GgmlType::Q4_0,
        "q5_0" => GgmlType::Q5_0,
        "q8_0" => GgmlType::Q8_0,
        "q4_k" => GgmlType::Q4_K,
        "q5_k" => GgmlType::Q5_K,
        "q6_k" => GgmlType::Q6_K,
        t => panic!("unknown type {t}: q4_0, q5_0, q8_0, q4_k, q5_k or q6_k"),
    };
    let p = |i: usize, d: usize| a.get(i).map(|s| s.parse().unwrap()).unwrap_or(d);
    let (rows, cols, n, reps) = (p(2, 2048), p(3, 2048), p(4, 64), p(5, 300));
    let pool = Pool::new(1).unwrap();
    let mut s = 0x1234_5678_9abc_def1u64;
    let mut rnd = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    };
    let rb = cols / ty.block_size() * ty.block_bytes();
    // The GGUF rows, rows × rb bytes.
    let mut data = vec![0u8; rows * rb];
    for r in 0..rows {
        let x: Vec<f32> = (0..cols).map(|_| rnd()).collect();
        pine_quant::quantize_row(ty, &x, &mut data[r * rb..(r + 1) * rb]).unwrap();
    }
    let unpacked = a.get(6).is_some_and(|s| s == "unpacked");
    let w = PackedWeights::pack(&pool, ty, rows, cols, &data).unwrap();
    let view = WeightView {
        ty,
        rows,
        cols,
        data: &data,
    };
    // Activations n × cols and outputs n × rows, row-major.
    let x: Vec<f32> = (0..n * cols).map(|_| rnd()).collect();
    let mut y = vec![0f32; n * rows];
    let mut sc = MatmulScratch::new();
    // Seconds per call, `reps` of them.
    let mut t = Vec::new();
    for _ in 0..reps {
        let t0 = Instant::now();
        match unpacked {
            true => matmul(&pool, &view, &x, n, &mut y, &mut sc, Precision::Native).unwrap(),
            false => matmul_packed(&pool, &w, &x, n, &mut y, &mut sc).unwrap(),
        }
        t.push(t0.elapsed().as_secs_f64());
    }
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let f = 2.0 * (rows * cols * n) as f64 / 1e9;
    // y[0] printed, so that the work is kept.
    println!(
        "{:?}{} {}x{} n={}: best {:.1} median {:.1} GFLOP/s (y0 {})",
        ty,
        if unpacked { " unpacked" } else { "" },
        rows,
        cols,
        n,
        f / t[0],
        f / t[t.len() / 2],
        y[0]
    );
}
