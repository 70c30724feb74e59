//! Throughput of the CPU matmul engine per weight type, at 1 and 2 threads (each a CPU backend
//! with its own rayon pool), so kernel changes can be judged by the numbers that bound decode
//! and prefill speed.
//!
//! Prints GB/s of weight bytes streamed for matvec (decode) shapes, rows × cols: SmolLM2-135M's
//! FFN down projection 576×1536 and up/gate projection 1536×576, its output head 49152×576, and
//! a 7B-class 4096×4096; and GFLOP/s for a 512-row prefill through the 576×1536 weight. Then
//! the CPU's int8 peak at each thread count: `vpdpbusd` on 512-bit registers (AVX-512 VNNI)
//! with ten independent chains per thread, the ceiling the prefill kernels are judged against
//! (a prefill's GMAC/s is its tokens/s times the multiply-adds of one token's matmuls).
//!
//! With `--dram`, instead: decode from memory, the case of a 1B–8B model whose weights no cache
//! holds: matvecs cycling through 1B-shaped FFN weights (8192×2048 and 2048×8192) of ≥ 512 MB
//! in all, as GB/s of weight bytes at 1 and 2 threads, beside the CPU's read bandwidth measured
//! in the same run (threads summing a 1 GiB buffer): the bound decode is judged against.
//!
//! Run: `cargo bench --bench kernels [-- [--quick] [--dram] [TYPE ...]]`; `--quick` times fewer
//! repetitions, TYPE names (e.g. `Q4_0 q8_0`) restrict the types. Types pine cannot quantize
//! are benchmarked on pseudo-random blocks (marked `*`): the values are meaningless but the
//! kernels do the same work.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pine::backend::{Backend, CpuBackend, CpuWeight, MatmulMode, WeightSource};
use pine::gguf::{GgmlType, Gguf, GgufWriter};
use pine::quant::dot::kernels;
use pine::quant::quantize::can_quantize;
use pine::quant::quantize_row;

/// Matvec shapes (rows, cols).
const MATVEC: [(usize, usize); 4] = [(576, 1536), (1536, 576), (49152, 576), (4096, 4096)];
/// Prefill: `n` activation rows through a rows × cols weight (the FFN-down shape, whose 1536
/// columns every block size divides).
const PREFILL: (usize, usize, usize) = (576, 1536, 512);
/// Thread counts, each measured in its own backend (rayon pool).
const THREADS: [usize; 2] = [1, 2];

/// How long to time each case.
#[derive(Clone, Copy)]
struct Reps {
    /// Time at least this long...
    min_time: Duration,
    /// ...and at least this many calls (after one warm-up call).
    min_iters: u32,
}

/// Deterministic pseudo-random u64s (xorshift).
fn xorshift(seed: u64) -> impl Iterator<Item = u64> {
    let mut s = seed | 1;
    std::iter::repeat_with(move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    })
}

/// Deterministic floats, roughly uniform in [-1, 1).
fn floats(n: usize, seed: u64) -> Vec<f32> {
    xorshift(seed)
        .take(n)
        .map(|s| (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        .collect()
}

/// One encoded row of `ty`: quantized from floats, or pseudo-random bytes for types pine has
/// no quantizer for.
fn encoded_row(ty: GgmlType, cols: usize, seed: u64) -> Vec<u8> {
    let rb = cols / ty.block_size() * ty.block_bytes();
    let mut row = vec![0u8; rb];
    if can_quantize(ty) {
        quantize_row(ty, &floats(cols, seed), &mut row).expect("quantizable row");
    } else {
        for (b, r) in row.iter_mut().zip(xorshift(seed)) {
            *b = (r >> 32) as u8;
        }
    }
    row
}

/// A rows × cols weight of `ty` loaded through `backend` (a CPU weight maps the file, so any
/// CPU backend can use it): 8 distinct rows repeated (quantizing big k-quant matrices with the
/// reference quantizer would dominate the run time). Returns the weight and its size in bytes,
/// or `None` when `cols` is not a whole number of `ty`'s blocks (k-quants need 256).
fn weight(
    backend: &mut CpuBackend,
    ty: GgmlType,
    rows: usize,
    cols: usize,
) -> Option<(CpuWeight, usize)> {
    if !cols.is_multiple_of(ty.block_size()) {
        return None;
    }
    let distinct: Vec<Vec<u8>> = (0..rows.min(8))
        .map(|i| encoded_row(ty, cols, i as u64 + 1))
        .collect();
    let data: Vec<u8> = (0..rows)
        .flat_map(|i| distinct[i % distinct.len()].iter().copied())
        .collect();
    let bytes = data.len();
    let mut w = GgufWriter::new();
    w.add_tensor("w", ty, &[cols as u64, rows as u64], data)
        .expect("valid tensor");
    let file = Arc::new(Gguf::from_bytes(w.to_bytes().expect("encodes")).expect("parses"));
    let info = file.tensor("w").expect("tensor w").clone();
    let weight = backend
        .load_weight(WeightSource {
            file: &file,
            info: &info,
        })
        .expect("loads");
    Some((weight, bytes))
}

/// Seconds per call of `f`, after one warm-up call.
fn time(reps: Reps, mut f: impl FnMut()) -> f64 {
    f();
    let (start, mut iters) = (Instant::now(), 0u32);
    while start.elapsed() < reps.min_time || iters < reps.min_iters {
        f();
        iters += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(iters)
}

/// Seconds per `n`-row matmul of `w` (rows × cols) on `backend`.
fn time_matmul(
    backend: &mut CpuBackend,
    w: &CpuWeight,
    (rows, cols, n): (usize, usize, usize),
    reps: Reps,
) -> f64 {
    let x = floats(n * cols, 99);
    let mut y = vec![0.0f32; n * rows];
    time(reps, || backend.matmul(w, &x, n, &mut y).expect("matmul"))
}

/// One table row per thread count for weight type `ty`.
fn bench_type(backends: &mut [CpuBackend], ty: GgmlType, reps: Reps) -> Vec<String> {
    let mark = if can_quantize(ty) { ' ' } else { '*' };
    let isa = kernels().isa(ty).unwrap_or("-");
    let mut lines: Vec<String> = backends
        .iter()
        .map(|_| format!("{:<8}{mark}{isa:<11}", ty.name()))
        .collect();
    for (rows, cols) in MATVEC {
        let w = weight(&mut backends[0], ty, rows, cols);
        for (b, line) in backends.iter_mut().zip(&mut lines) {
            *line += &match &w {
                Some((w, bytes)) => {
                    let s = time_matmul(b, w, (rows, cols, 1), reps);
                    format!(" {:>8.1}GB/s", *bytes as f64 / s / 1e9)
                }
                None => format!(" {:>12}", "n/a"),
            };
        }
    }
    let (rows, cols, n) = PREFILL;
    let w = weight(&mut backends[0], ty, rows, cols);
    for (b, line) in backends.iter_mut().zip(&mut lines) {
        *line += &match &w {
            Some((w, _)) => {
                let s = time_matmul(b, w, PREFILL, reps);
                let flops = 2.0 * (rows * cols * n) as f64;
                format!(" {:>8.1}GFLOP/s", flops / s / 1e9)
            }
            None => format!(" {:>15}", "n/a"),
        };
    }
    lines
}

fn main() {
    use GgmlType::*;
    let all = [
        Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS, IQ3_XXS, IQ3_S,
        TQ1_0, TQ2_0, F32, F16, BF16,
    ];
    // `cargo bench` passes `--bench`; other `--` flags are ignored too.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let wanted: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if let Some(bad) = wanted
        .iter()
        .find(|w| !all.iter().any(|t| w.eq_ignore_ascii_case(t.name())))
    {
        eprintln!("kernels: unknown type {bad:?}");
        std::process::exit(2);
    }
    let types: Vec<GgmlType> = all
        .into_iter()
        .filter(|t| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(t.name())))
        .collect();
    let reps = if quick {
        Reps {
            min_time: Duration::from_millis(40),
            min_iters: 2,
        }
    } else {
        Reps {
            min_time: Duration::from_millis(300),
            min_iters: 5,
        }
    };
    let mut backends: Vec<CpuBackend> = THREADS
        .iter()
        .map(|&t| CpuBackend::new(t, MatmulMode::Native).expect("thread pool"))
        .collect();
    if args.iter().any(|a| a == "--dram") {
        dram(&mut backends, &types, quick);
        return;
    }
    let mut tables: Vec<Vec<String>> = vec![Vec::new(); THREADS.len()];
    for &ty in &types {
        for (table, line) in tables.iter_mut().zip(bench_type(&mut backends, ty, reps)) {
            table.push(line);
        }
    }
    let (pr, pc, pn) = PREFILL;
    for (threads, table) in THREADS.iter().zip(&tables) {
        println!(
            "== {threads} thread(s){} ==",
            if quick { ", quick" } else { "" }
        );
        let mut header = format!("{:<8} {:<11}", "type", "isa");
        for (r, c) in MATVEC {
            header += &format!(" {:>12}", format!("{r}x{c}"));
        }
        header += &format!(" {:>15}", format!("mm{pn}x{pr}x{pc}"));
        println!("{header}");
        for line in table {
            println!("{line}");
        }
    }
    println!("matvec columns: GB/s of weight bytes; last column: GFLOP/s; * = random blocks");
    for threads in THREADS {
        match int8_peak(threads, quick) {
            Some(g) => println!("int8 peak, {threads} thread(s): {g:.0} GMAC/s (vpdpbusd zmm)"),
            None => println!("int8 peak, {threads} thread(s): n/a (no AVX-512 VNNI)"),
        }
    }
}

/// Weight bytes cycled through by `--dram`: far past any last-level cache.
const DRAM_BYTES: usize = 512 << 20;

/// The `--dram` table: per type and thread count, GB/s of weight bytes of matvecs cycling
/// through [`DRAM_BYTES`] of 1B-shaped FFN weights, and the read bandwidth beside it.
fn dram(backends: &mut [CpuBackend], types: &[GgmlType], quick: bool) {
    let rounds = if quick { 2 } else { 5 };
    println!("== decode from memory: GB/s of weight bytes, best of {rounds} passes ==");
    let mut header = format!("{:<8}", "type");
    for t in THREADS {
        header += &format!(" {:>10}", format!("{t} thread(s)"));
    }
    println!("{header}");
    for &ty in types {
        let shapes = [(8192, 2048), (2048, 8192)];
        let (mut ws, mut total) = (Vec::new(), 0);
        while total < DRAM_BYTES {
            let (rows, cols) = shapes[ws.len() % 2];
            let Some((w, bytes)) = weight(&mut backends[0], ty, rows, cols) else {
                break;
            };
            ws.push(w);
            total += bytes;
        }
        if ws.is_empty() {
            continue;
        }
        // Inputs and outputs by shape, as `ws` alternates them (the backend's matmul sizes its
        // output vector).
        let xs = shapes.map(|(_, cols)| floats(cols, 7));
        let mut ys = shapes.map(|(rows, _)| vec![0.0f32; rows]);
        let mut line = format!("{:<8}", ty.name());
        for b in backends.iter_mut() {
            let best = (0..rounds)
                .map(|_| {
                    let start = Instant::now();
                    for (i, w) in ws.iter().enumerate() {
                        b.matmul(w, &xs[i % 2], 1, &mut ys[i % 2]).expect("matmul");
                    }
                    start.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min);
            line += &format!(" {:>10.1}", total as f64 / best / 1e9);
        }
        println!("{line}");
    }
    let mut line = format!("{:<8}", "read");
    for threads in THREADS {
        line += &format!(" {:>10.1}", read_bandwidth(threads, rounds));
    }
    println!("{line}");
}

/// GB/s of `threads` threads each summing its share of a 1 GiB buffer, best of `rounds`, each
/// cache line asked for 16 KiB ahead as decode's stream does (without it the hardware
/// prefetchers alone read ~10 % less on Zen 5).
fn read_bandwidth(threads: usize, rounds: usize) -> f64 {
    let buf: Vec<u64> = (0..(1usize << 27)).map(|i| i as u64).collect();
    let share = buf.len() / threads;
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for part in buf.chunks(share) {
                    s.spawn(move || {
                        let mut lanes = [0u64; 8];
                        for c in part.chunks_exact(8) {
                            #[cfg(target_arch = "x86_64")]
                            // SAFETY: a prefetch is only a hint and cannot fault; the pointer
                            // is made with `wrapping_add` and never dereferenced.
                            unsafe {
                                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                                let at = c.as_ptr().wrapping_add(2048).cast();
                                _mm_prefetch::<_MM_HINT_T0>(at);
                            }
                            for (l, v) in lanes.iter_mut().zip(c) {
                                *l = l.wrapping_add(*v);
                            }
                        }
                        std::hint::black_box(lanes)
                    });
                }
            });
            (buf.len() * 8) as f64 / start.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

/// GMAC/s of `threads` threads each running [`vnni_chains`], or `None` without AVX-512 VNNI.
fn int8_peak(threads: usize, quick: bool) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni") {
        // Best of three runs of ~0.2 s (0.02 s quick): the first also wakes the 512-bit units.
        let iters: u64 = if quick { 10_000_000 } else { 100_000_000 };
        let macs = threads as f64 * iters as f64 * (CHAINS * 64) as f64;
        let best = (0..3)
            .map(|_| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        // SAFETY: the features were detected above.
                        s.spawn(move || std::hint::black_box(unsafe { vnni_chains(iters) }));
                    }
                });
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        return Some(macs / best / 1e9);
    }
    let _ = (threads, quick);
    None
}

/// Independent `vpdpbusd` chains per thread: enough to cover the instruction's latency on two
/// ports.
const CHAINS: usize = 10;

/// `iters` rounds of one `vpdpbusd` (64 multiply-adds) on each of [`CHAINS`] accumulators.
///
/// # Safety
/// The CPU must have AVX-512 F and VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn vnni_chains(iters: u64) -> i32 {
    use std::arch::x86_64::*;
    let (a, b) = std::hint::black_box((_mm512_set1_epi8(1), _mm512_set1_epi8(2)));
    let mut acc: [__m512i; CHAINS] = std::array::from_fn(|i| _mm512_set1_epi32(i as i32));
    for _ in 0..iters {
        for x in &mut acc {
            *x = _mm512_dpbusd_epi32(*x, a, b);
        }
    }
    _mm512_reduce_add_epi32(
        acc.iter()
            .fold(_mm512_setzero_si512(), |s, x| _mm512_add_epi32(s, *x)),
    )
}
