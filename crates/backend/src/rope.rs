//! Rotary position embedding in llama.cpp's NORM style (adjacent pairs 2i, 2i+1 rotated).
//! Angles are computed in f64 and only the rotation runs in f32: at long positions f32 angle
//! arithmetic visibly drifts (the AnchorAttention paper's finding for bf16 is the extreme case).

/// How the model stretches RoPE frequencies for longer contexts (`llama.rope.scaling.*`).
#[derive(Clone, Debug, PartialEq)]
pub enum RopeScaling {
    /// Plain RoPE.
    None,
    /// Positions divided by `factor` (`rope.scaling.type = linear`).
    Linear { factor: f64 },
    /// Llama 3.1's per-frequency scaling.
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_context: f64,
    },
}

/// A RoPE configuration with its per-pair inverse frequencies precomputed in f64.
#[derive(Clone, Debug, PartialEq)]
pub struct Rope {
    /// Rotated dimensions per head (`rope.dimension_count`, normally the head dim).
    pub n_rot: usize,
    /// Inverse frequency of each pair, scaling already applied.
    pub inv_freq: Vec<f64>,
}

impl Rope {
    /// Builds the table for `n_rot` rotated dims, base `freq_base`, and a scaling rule.
    /// `freq_factors` (the optional `rope_freqs.weight` tensor) divides each frequency's angle,
    /// as llama.cpp does for Llama 3.1 files that carry it.
    pub fn new(
        n_rot: usize,
        freq_base: f64,
        scaling: &RopeScaling,
        freq_factors: Option<&[f32]>,
    ) -> Rope {
        let inv_freq = (0..n_rot / 2)
            .map(|i| {
                let f = freq_base.powf(-2.0 * i as f64 / n_rot as f64);
                let f = match scaling {
                    RopeScaling::None => f,
                    RopeScaling::Linear { factor } => f / factor,
                    RopeScaling::Llama3 {
                        factor,
                        low_freq_factor,
                        high_freq_factor,
                        original_context,
                    } => llama3_scale(
                        f,
                        *factor,
                        *low_freq_factor,
                        *high_freq_factor,
                        *original_context,
                    ),
                };
                match freq_factors.and_then(|ff| ff.get(i)) {
                    Some(&ff) => f / ff as f64,
                    None => f,
                }
            })
            .collect();
        Rope { n_rot, inv_freq }
    }

    /// Rotates one head vector `x` (at least `n_rot` long) to position `pos`.
    pub fn rotate(&self, x: &mut [f32], pos: i64) {
        for (i, &f) in self.inv_freq.iter().enumerate() {
            let theta = pos as f64 * f;
            let (s, c) = theta.sin_cos();
            let (s, c) = (s as f32, c as f32);
            let (x0, x1) = (x[2 * i], x[2 * i + 1]);
            x[2 * i] = x0 * c - x1 * s;
            x[2 * i + 1] = x0 * s + x1 * c;
        }
    }
}

fn llama3_scale(f: f64, factor: f64, low: f64, high: f64, orig: f64) -> f64 {
    let wavelen = 2.0 * std::f64::consts::PI / f;
    let low_wavelen = orig / low;
    let high_wavelen = orig / high;
    if wavelen < high_wavelen {
        f
    } else if wavelen > low_wavelen {
        f / factor
    } else {
        let smooth = (orig / wavelen - low) / (high - low);
        (1.0 - smooth) * f / factor + smooth * f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_composes_and_preserves_norm() {
        let rope = Rope::new(8, 10000.0, &RopeScaling::None, None);
        let x: Vec<f32> = (0..8).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut a = x.clone();
        rope.rotate(&mut a, 5);
        rope.rotate(&mut a, 7);
        let mut b = x.clone();
        rope.rotate(&mut b, 12);
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-5);
        }
        let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>();
        assert!((n(&a) - n(&x)).abs() < 1e-5);
    }

    #[test]
    fn dot_of_rotated_pair_depends_only_on_relative_position() {
        let rope = Rope::new(16, 10000.0, &RopeScaling::None, None);
        let q: Vec<f32> = (0..16).map(|i| (i as f32).cos()).collect();
        let k: Vec<f32> = (0..16).map(|i| (i as f32 * 1.3).sin()).collect();
        let dot = |pq: i64, pk: i64| {
            let (mut a, mut b) = (q.clone(), k.clone());
            rope.rotate(&mut a, pq);
            rope.rotate(&mut b, pk);
            a.iter().zip(&b).map(|(x, y)| x * y).sum::<f32>()
        };
        assert!((dot(10, 3) - dot(107, 100)).abs() < 1e-4);
    }
}
