//! The llama.cpp-style path: quantize activations once, then integer dot products, split
//! across the pool (decode: by output rows; prefill: by tiles of output rows).

use std::sync::Mutex;

use pine_pool::Pool;

use super::{MatmulScratch, WeightView};
use crate::activation::{activation_type, quantize_activation_row};
use crate::dot::{kernels, DotFn};
use crate::QuantError;

#[cfg(target_arch = "x86_64")]
use super::tile_x86 as tile;

/// The prefill micro-kernels for `ty`, when this CPU has them and the per-pair kernel they must
/// match bit for bit is the x86 SIMD one (not the scalar reference, e.g. under
/// `PINE_CPU_KERNELS=scalar`).
#[cfg(target_arch = "x86_64")]
fn tile_kernels(ty: pine_gguf::GgmlType) -> Option<tile::Tile> {
    use std::sync::OnceLock;
    static T: OnceLock<Vec<(pine_gguf::GgmlType, tile::Tile)>> = OnceLock::new();
    let table = T.get_or_init(|| {
        use pine_gguf::GgmlType::*;
        [Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL]
            .into_iter()
            .filter(|&t| matches!(kernels().isa(t), Some("avx2" | "avxvnni" | "avx512vnni")))
            .filter_map(|t| tile::detect(t).map(|k| (t, k)))
            .collect()
    });
    table.iter().find(|(t, _)| *t == ty).map(|(_, k)| *k)
}

#[cfg(not(target_arch = "x86_64"))]
mod tile {
    pub const NR: usize = 4;
    #[derive(Clone, Copy)]
    pub struct Tile {
        pub fmt: Format,
    }
    #[derive(Clone, Copy)]
    pub struct Format;
    impl Format {
        pub fn panel_block(&self) -> usize {
            0
        }
        pub fn pack(&self, _: &[&[u8]], _: usize, _: &mut [u8]) {}
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn tile_kernels(_: pine_gguf::GgmlType) -> Option<tile::Tile> {
    None
}

/// Weight rows per prefill tile: their bytes stay in L1/L2 while every activation row of the
/// tile passes over them.
const TILE_ROWS: usize = 16;
/// Activation rows per prefill tile: quantized rows reused across the tile's weight rows.
const TILE_ACTS: usize = 64;

/// The dot kernel for weights of type `ty` in a product with `n` activation rows. llama.cpp
/// sums batched BF16 products in another order than single rows; pine follows it.
pub(super) fn row_kernel(ty: pine_gguf::GgmlType, n: usize) -> Result<DotFn, QuantError> {
    match (ty, n) {
        (pine_gguf::GgmlType::BF16, 2..) => Ok(crate::dot::bf16_order::bf16_batch),
        _ => kernels()
            .get(ty)
            .ok_or(QuantError::Unsupported { ty, op: "matmul" }),
    }
}

/// Runs the native product; `validate` has checked every length.
pub(super) fn matmul(
    pool: &Pool,
    w: &WeightView,
    x: &[f32],
    n: usize,
    y: &mut [f32],
    scratch: &mut MatmulScratch,
) -> Result<(), QuantError> {
    let aty = activation_type(w.ty).ok_or(QuantError::Unsupported {
        ty: w.ty,
        op: "matmul",
    })?;
    let f = row_kernel(w.ty, n)?;
    let arow = w.cols / aty.block_size() * aty.block_bytes();
    scratch.act.resize(n * arow, 0);
    let act = &mut scratch.act[..n * arow];
    if n == 1 {
        quantize_activation_row(aty, x, act)?;
        match tile_kernels(w.ty) {
            Some(t) => {
                let nb = w.cols / 32;
                let pbytes = nb * t.fmt.panel_block();
                scratch.panels.resize(pbytes, 0);
                let pan = &mut scratch.panels[..pbytes];
                t.fmt.pack(&[&act[..]], nb, pan);
                decode_tiled(pool, w, &t, pan, y);
            }
            None => decode(pool, w, f, act, y),
        }
        return Ok(());
    }
    let failed = Mutex::new(None);
    pool.chunks_mut(act, arow, |r, a| {
        if let Err(e) = quantize_activation_row(aty, &x[r * w.cols..(r + 1) * w.cols], a) {
            *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    scratch.yt.resize(n * w.rows, 0.0);
    match tile_kernels(w.ty) {
        Some(t) => {
            let nb = w.cols / 32;
            let pbytes = nb * t.fmt.panel_block();
            let panels = n.div_ceil(tile::NR);
            scratch.panels.resize(panels * pbytes, 0);
            let pan = &mut scratch.panels[..panels * pbytes];
            pool.chunks_mut(pan, pbytes, |p, dst| {
                let r0 = p * tile::NR;
                let r1 = (r0 + tile::NR).min(n);
                let rows: Vec<&[u8]> = act[r0 * arow..r1 * arow].chunks_exact(arow).collect();
                t.fmt.pack(&rows, nb, dst);
            });
            prefill_tiled(pool, w, &t, pan, pbytes, n, &mut scratch.yt[..n * w.rows]);
        }
        None => prefill(pool, w, f, act, arow, n, &mut scratch.yt[..n * w.rows]),
    }
    for (o, col) in scratch.yt[..n * w.rows].chunks_exact(n).enumerate() {
        for (r, v) in col.iter().enumerate() {
            y[r * w.rows + o] = *v;
        }
    }
    Ok(())
}

/// One activation row: every weight row streamed once, output rows split in chunks sized for
/// a few chunks per thread (work stealing evens out uneven cores).
fn decode(pool: &Pool, w: &WeightView, f: DotFn, act: &[u8], y: &mut [f32]) {
    let rb = w.row_bytes();
    let chunk = (w.rows / (pool.threads() * 4)).clamp(8, 4096);
    pool.chunks_mut(y, chunk, |c, ys| {
        let base = c * chunk;
        for (i, yo) in ys.iter_mut().enumerate() {
            let o = base + i;
            *yo = f(&w.data[o * rb..(o + 1) * rb], act);
        }
    });
}

/// Many activation rows: `yt` is rows × n (weight-row-major). Each task owns `TILE_ROWS`
/// weight rows and walks the activation rows in groups of `TILE_ACTS`.
fn prefill(
    pool: &Pool,
    w: &WeightView,
    f: DotFn,
    act: &[u8],
    arow: usize,
    n: usize,
    yt: &mut [f32],
) {
    let rb = w.row_bytes();
    pool.chunks_mut(yt, TILE_ROWS * n, |t, out| {
        let o0 = t * TILE_ROWS;
        let nrows = out.len() / n;
        for r0 in (0..n).step_by(TILE_ACTS) {
            let r1 = (r0 + TILE_ACTS).min(n);
            for i in 0..nrows {
                let wr = &w.data[(o0 + i) * rb..(o0 + i + 1) * rb];
                let dst = &mut out[i * n + r0..i * n + r1];
                for (d, a) in dst
                    .iter_mut()
                    .zip(act[r0 * arow..r1 * arow].chunks_exact(arow))
                {
                    *d = f(wr, a);
                }
            }
        }
    });
}

/// Decode with the micro-kernels: four weight rows per call against the one packed row.
#[cfg(target_arch = "x86_64")]
fn decode_tiled(pool: &Pool, w: &WeightView, t: &tile::Tile, pan: &[u8], y: &mut [f32]) {
    let rb = w.row_bytes();
    let nb = w.cols / 32;
    let chunk = (w.rows / (pool.threads() * 4))
        .clamp(8, 4096)
        .next_multiple_of(4);
    let run = |c: usize, ys: &mut [f32]| {
        let o0 = c * chunk;
        let wc = &w.data[o0 * rb..(o0 + ys.len()) * rb];
        let mut i = 0;
        while i + 4 <= ys.len() {
            let v = (t.d4)(&wc[i * rb..], rb, pan, nb);
            for k in 0..4 {
                ys[i + k] = v[k][0];
            }
            i += 4;
        }
        while i < ys.len() {
            ys[i] = (t.d1)(&wc[i * rb..], rb, pan, nb)[0][0];
            i += 1;
        }
    };
    pool.chunks_mut(y, chunk, run);
}

#[cfg(not(target_arch = "x86_64"))]
fn decode_tiled(_: &Pool, _: &WeightView, _: &tile::Tile, _: &[u8], _: &mut [f32]) {
    unreachable!("no tile kernels on this architecture")
}

/// Weight rows per task of the tiled prefill: as many as keep their bytes within half of L1,
/// at least four tasks per thread when the matrix allows, a multiple of the kernel's `mr` rows.
fn tile_task_rows(rows: usize, row_bytes: usize, threads: usize, mr: usize) -> usize {
    let by_cache = (24 * 1024 / row_bytes.max(1)).max(mr);
    let by_threads = rows.div_ceil(threads * 4).max(mr);
    by_cache.min(by_threads).div_ceil(mr) * mr
}

/// Weight rows per prefill-kernel call: a multiple of every kernel's `mr` (3, 6), small enough
/// for a stack buffer.
const GROUP_ROWS: usize = 24;

/// Prefill with the micro-kernels: `pan` holds the packed activation panels (`tile::NR` rows
/// each, `pbytes` bytes); `yt` is rows × n. Each task owns a chunk of weight rows and passes
/// every panel over them.
#[cfg(target_arch = "x86_64")]
fn prefill_tiled(
    pool: &Pool,
    w: &WeightView,
    t: &tile::Tile,
    pan: &[u8],
    pbytes: usize,
    n: usize,
    yt: &mut [f32],
) {
    let rb = w.row_bytes();
    let nb = w.cols / 32;
    let chunk = tile_task_rows(w.rows, rb, pool.threads(), t.mr);
    pool.chunks_mut(yt, chunk * n, |c, out| {
        let o0 = c * chunk;
        let nrows = out.len() / n;
        let wc = &w.data[o0 * rb..(o0 + nrows) * rb];
        let mut buf = [[0.0f32; tile::NR]; GROUP_ROWS];
        for (p, panel) in pan.chunks_exact(pbytes).enumerate() {
            let r0 = p * tile::NR;
            let live = (n - r0).min(tile::NR);
            for g in (0..nrows).step_by(GROUP_ROWS) {
                let v = &mut buf[..(nrows - g).min(GROUP_ROWS)];
                (t.prefill)(&wc[g * rb..], rb, panel, nb, v);
                for (k, vr) in v.iter().enumerate() {
                    out[(g + k) * n + r0..][..live].copy_from_slice(&vr[..live]);
                }
            }
        }
    });
}

#[cfg(not(target_arch = "x86_64"))]
fn prefill_tiled(
    _: &Pool,
    _: &WeightView,
    _: &tile::Tile,
    _: &[u8],
    _: usize,
    _: usize,
    _: &mut [f32],
) {
    unreachable!("no tile kernels on this architecture")
}
