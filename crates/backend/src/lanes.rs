//! Reductions in 16 interleaved lanes (lane l takes elements l, l + 16, …; then the lanes
//! pairwise: l + 8, l + 4, l + 2, l + 1). The order is fixed, so the result does not depend on
//! the CPU, and the lane loop is independent per lane, so the compiler turns it into vector
//! adds without reassociating anything.

const LANES: usize = 16;

/// `xs` folded into 16 lanes by `op`, then the lanes pairwise; `init` for an empty slice.
fn fold16(xs: &[f32], init: f32, op: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in chunks.by_ref() {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = op(*a, x);
        }
    }
    for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
        *a = op(*a, x);
    }
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            acc[l] = op(acc[l], acc[l + width]);
        }
        width /= 2;
    }
    acc[0]
}

/// The sum of `xs` in the fixed 16-lane order (−0.0 for an empty slice).
pub fn sum16(xs: &[f32]) -> f32 {
    fold16(xs, -0.0, |a, b| a + b)
}

/// The largest element of `xs` (−∞ for an empty slice); exact, so any order gives it.
pub fn max16(xs: &[f32]) -> f32 {
    fold16(xs, f32::NEG_INFINITY, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum16_follows_the_stated_lane_order() {
        let xs: Vec<f32> = (0..53).map(|i| (i as f32 * 0.61).sin() * 1e3).collect();
        let mut lanes = [-0.0f32; 16];
        for (i, &x) in xs.iter().enumerate() {
            lanes[i % 16] += x;
        }
        for w in [8, 4, 2, 1] {
            for l in 0..w {
                lanes[l] += lanes[l + w];
            }
        }
        assert_eq!(sum16(&xs).to_bits(), lanes[0].to_bits());
        assert_eq!(sum16(&[]).to_bits(), (-0.0f32).to_bits());
        assert_eq!(sum16(&[2.5]), 2.5);
    }

    #[test]
    fn max16_is_the_maximum() {
        let xs: Vec<f32> = (0..37).map(|i| ((i * 7919) % 101) as f32 - 50.0).collect();
        assert_eq!(max16(&xs), 50.0);
        assert_eq!(max16(&[]), f32::NEG_INFINITY);
        assert_eq!(max16(&[-3.0]), -3.0);
    }
}
