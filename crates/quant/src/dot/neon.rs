//! aarch64 NEON kernels for Q4_0, Q4_1 and Q8_0 (plain NEON, no dotprod: `vdotq_s32` is not
//! stable in Rust yet). Each block's integer sum comes from widening multiplies; the float part
//! is the scalar reference's expression (for Q4_0 its fused block order), so results are
//! bit-identical to it. Untested on real hardware here (no aarch64 machine); kept deliberately
//! small.

use super::bytes::f16_at;
use super::{DotFn, Kernels};
use pine_gguf::GgmlType;
use std::arch::aarch64::*;

/// Σ x·y over two 16-byte halves of a 32-element block, in i32.
#[inline]
#[target_feature(enable = "neon")]
fn dot32(x0: int8x16_t, x1: int8x16_t, y0: int8x16_t, y1: int8x16_t) -> i32 {
    let p0 = vmlal_s8(
        vmull_s8(vget_low_s8(x0), vget_low_s8(y0)),
        vget_high_s8(x0),
        vget_high_s8(y0),
    );
    let p1 = vmlal_s8(
        vmull_s8(vget_low_s8(x1), vget_low_s8(y1)),
        vget_high_s8(x1),
        vget_high_s8(y1),
    );
    vaddvq_s32(vaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1)))
}

/// The two nibble halves of the 16 bytes at `p`, as signed bytes (low nibbles first).
///
/// # Safety
/// `p` must be valid for reading 16 bytes.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn nibbles(p: *const u8) -> (int8x16_t, int8x16_t) {
    let q = vld1q_u8(p);
    (
        vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))),
        vreinterpretq_s8_u8(vshrq_n_u8::<4>(q)),
    )
}

/// Q4_0 × Q8_0.
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn q4_0(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(18).zip(a.chunks_exact(34)) {
        let (lo, hi) = nibbles(x.as_ptr().add(2));
        let eight = vdupq_n_s8(8);
        let (y0, y1) = (
            vld1q_s8(y.as_ptr().add(2).cast()),
            vld1q_s8(y.as_ptr().add(18).cast()),
        );
        let sumi = dot32(vsubq_s8(lo, eight), vsubq_s8(hi, eight), y0, y1);
        sumf = (f16_at(x, 0) * f16_at(y, 0)).mul_add(sumi as f32, sumf);
    }
    sumf
}

/// Q4_1 × Q8_1.
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn q4_1(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(20).zip(a.chunks_exact(36)) {
        let (lo, hi) = nibbles(x.as_ptr().add(4));
        let (y0, y1) = (
            vld1q_s8(y.as_ptr().add(4).cast()),
            vld1q_s8(y.as_ptr().add(20).cast()),
        );
        let sumi = dot32(lo, hi, y0, y1);
        sumf += f16_at(x, 0) * f16_at(y, 0) * sumi as f32 + f16_at(x, 2) * f16_at(y, 2);
    }
    sumf
}

/// Q8_0 × Q8_0.
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn q8_0(w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.chunks_exact(34).zip(a.chunks_exact(34)) {
        let ld = |b: &[u8], o: usize| vld1q_s8(b.as_ptr().add(o).cast());
        let sumi = dot32(ld(x, 2), ld(x, 18), ld(y, 2), ld(y, 18));
        sumf += sumi as f32 * (f16_at(x, 0) * f16_at(y, 0));
    }
    sumf
}

/// Wraps a NEON kernel as a safe [`DotFn`].
macro_rules! wrap {
    ($f:ident) => {{
        fn kernel(w: &[u8], a: &[u8]) -> f32 {
            // SAFETY: installed only after NEON was detected; reads stay inside the slices.
            unsafe { $f(w, a) }
        }
        kernel as DotFn
    }};
}

/// Installs the NEON kernels when the CPU has NEON (every aarch64 Linux CPU does).
pub(crate) fn install(k: &mut Kernels) {
    if std::arch::is_aarch64_feature_detected!("neon") {
        k.set(GgmlType::Q4_0, wrap!(q4_0), "neon");
        k.set(GgmlType::Q4_1, wrap!(q4_1), "neon");
        k.set(GgmlType::Q8_0, wrap!(q8_0), "neon");
    }
}
