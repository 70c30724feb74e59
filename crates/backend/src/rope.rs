//! Rotary position embedding in llama.cpp's NORM style (adjacent pairs 2i, 2i+1 rotated).
//! Angles are computed in f64 and only the rotation runs in f32: at long positions f32 angle
//! arithmetic visibly drifts (the AnchorAttention paper's finding for bf16 is the extreme case).

use std::sync::Arc;

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

/// A RoPE configuration with its per-pair inverse frequencies precomputed in f64, and
/// optionally a table of (cos, sin) per position (computed in f64, stored in f32: identical to
/// computing them on the fly, and far cheaper when PINE rotates a query once per segment).
#[derive(Clone, Debug, PartialEq)]
pub struct Rope {
    /// Rotated dimensions per head (`rope.dimension_count`, normally the head dim).
    pub n_rot: usize,
    /// Inverse frequency of each pair, scaling already applied.
    pub inv_freq: Vec<f64>,
    /// `table[pos * n_pairs + i]` = (cos, sin) of pair i at `pos`, for `pos < table_positions`.
    table: Arc<Vec<(f32, f32)>>,
    table_positions: usize,
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
        Rope {
            n_rot,
            inv_freq,
            table: Arc::new(Vec::new()),
            table_positions: 0,
        }
    }

    /// The same rotation with (cos, sin) tabulated for positions `0..positions`.
    pub fn with_table(mut self, positions: usize) -> Rope {
        let table = (0..positions)
            .flat_map(|p| self.inv_freq.iter().map(move |&f| angle(p as i64, f)))
            .collect();
        self.table = Arc::new(table);
        self.table_positions = positions;
        self
    }

    /// Rotates one head vector `x` (at least `n_rot` long) to position `pos`.
    pub fn rotate(&self, x: &mut [f32], pos: i64) {
        let n = self.inv_freq.len();
        match usize::try_from(pos) {
            Ok(p) if p < self.table_positions => {
                for (i, &(c, s)) in self.table[p * n..(p + 1) * n].iter().enumerate() {
                    turn(x, i, c, s);
                }
            }
            _ => {
                for (i, &f) in self.inv_freq.iter().enumerate() {
                    let (c, s) = angle(pos, f);
                    turn(x, i, c, s);
                }
            }
        }
    }
}

/// (cos, sin) of `pos · inv_freq`, computed in f64 and rounded to f32: public so a GPU backend
/// can tabulate exactly the values the CPU rotates with.
pub fn angle(pos: i64, inv_freq: f64) -> (f32, f32) {
    let (s, c) = (pos as f64 * inv_freq).sin_cos();
    (c as f32, s as f32)
}

/// Rotates pair i of `x` by the angle whose cosine and sine are `c` and `s`.
#[inline]
fn turn(x: &mut [f32], i: usize, c: f32, s: f32) {
    let (x0, x1) = (x[2 * i], x[2 * i + 1]);
    x[2 * i] = x0 * c - x1 * s;
    x[2 * i + 1] = x0 * s + x1 * c;
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
    fn table_gives_the_same_bits_as_direct_computation() {
        let direct = Rope::new(64, 100000.0, &RopeScaling::None, None);
        let table = direct.clone().with_table(300);
        for pos in [0, 1, 17, 299, 300, 5000, -3] {
            let mut a: Vec<f32> = (0..64).map(|i| (i as f32 * 0.77).sin()).collect();
            let mut b = a.clone();
            direct.rotate(&mut a, pos);
            table.rotate(&mut b, pos);
            assert_eq!(a, b, "pos {pos}");
        }
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
