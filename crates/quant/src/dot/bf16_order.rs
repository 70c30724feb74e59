//! BF16 · BF16 dot products in the two summation orders llama.cpp's x86 build uses, so BF16
//! models reproduce its logits: bf16 activations are rounded to 8 mantissa bits, so a last-bit
//! difference in a dot product often flips the next rounding and moves logits by ~1e-3.
//!
//! - batches (tinyBLAS, 16 lanes): lane l sums the products l, l+16, l+32, … in order, then the
//!   lanes are reduced as `_mm512_reduce_add_ps` does;
//! - single rows (`ggml_vec_dot_bf16`, AVX-512F): two 16-lane accumulators over 32-element
//!   steps, each reduced, then added in f64 with any tail.
//!
//! Products of two bf16 values are exact in f32, so only the addition order matters.

use crate::blocks::bf16_at;

/// `_mm512_reduce_add_ps`'s tree: halves, then quarters, then pairs.
fn reduce16(v: &[f32; 16]) -> f32 {
    let t3: [f32; 8] = std::array::from_fn(|i| v[i + 8] + v[i]);
    let t6: [f32; 4] = std::array::from_fn(|i| t3[i + 4] + t3[i]);
    (t6[0] + t6[2]) + (t6[1] + t6[3])
}

fn product(w: &[u8], a: &[u8], i: usize) -> f32 {
    bf16_at(w, 2 * i) * bf16_at(a, 2 * i)
}

/// tinyBLAS order (llama.cpp's batched BF16 matmul); `n` must be a multiple of 16.
pub fn bf16_batch(w: &[u8], a: &[u8]) -> f32 {
    let n = (w.len() / 2).min(a.len() / 2);
    let mut acc = [0.0f32; 16];
    for base in (0..n - n % 16).step_by(16) {
        for (l, s) in acc.iter_mut().enumerate() {
            *s += product(w, a, base + l);
        }
    }
    let mut tail = 0.0f64;
    for i in n - n % 16..n {
        tail += product(w, a, i) as f64;
    }
    (reduce16(&acc) as f64 + tail) as f32
}

/// `ggml_vec_dot_bf16` order (llama.cpp's single-row BF16 matmul).
pub fn bf16_single(w: &[u8], a: &[u8]) -> f32 {
    let n = (w.len() / 2).min(a.len() / 2);
    let main = n - n % 32;
    let (mut c1, mut c2) = ([0.0f32; 16], [0.0f32; 16]);
    for base in (0..main).step_by(32) {
        for l in 0..16 {
            c1[l] += product(w, a, base + l);
            c2[l] += product(w, a, base + 16 + l);
        }
    }
    let mut sum = reduce16(&c1) as f64 + reduce16(&c2) as f64;
    for i in main..n {
        sum += product(w, a, i) as f64;
    }
    sum as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seed: u32, n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                let v = ((seed as f32 + i as f32) * 0.7).sin();
                ((v.to_bits() >> 16) as u16).to_le_bytes()
            })
            .collect()
    }

    #[test]
    fn both_orders_agree_with_an_f64_sum() {
        for n in [16, 32, 48, 256, 270] {
            let (w, a) = (row(1, n), row(2, n));
            let exact: f64 = (0..n).map(|i| product(&w, &a, i) as f64).sum();
            for f in [bf16_batch, bf16_single] {
                assert!((f(&w, &a) as f64 - exact).abs() < 1e-5, "n={n}");
            }
        }
    }
}
