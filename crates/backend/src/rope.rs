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

    /// Positions the table covers (`0..table_positions()`); later ones are computed directly,
    /// to the same bits but far slower.
    pub fn table_positions(&self) -> usize {
        self.table_positions
    }

    /// Rotates one head vector `x` (at least `n_rot` long) to position `pos`.
    pub fn rotate(&self, x: &mut [f32], pos: i64) {
        let n = self.inv_freq.len();
        match usize::try_from(pos) {
            Ok(p) if p < self.table_positions => turn_all(x, &self.table[p * n..(p + 1) * n]),
            _ => {
                for (i, &f) in self.inv_freq.iter().enumerate() {
                    let (c, s) = angle(pos, f);
                    turn(x, i, c, s);
                }
            }
        }
    }
}

impl Rope {
    /// `dst` = `src` rotated to `pos` ([`Rope::rotate`] after a copy) and then, when
    /// `round_f16`, every element rounded to f16 and back (to nearest even): the attention
    /// kernel's query for a key range, made in one pass (PINE makes one per segment a query
    /// reads). Same bits as those steps one after the other ([`Rope::rotate_into_plain`]).
    pub fn rotate_into(&self, src: &[f32], dst: &mut [f32], pos: i64, round_f16: bool) {
        assert_eq!(src.len(), dst.len(), "a query and its rotated copy");
        #[cfg(target_arch = "x86_64")]
        {
            let n = self.inv_freq.len();
            let whole = 2 * n == dst.len() && n.is_multiple_of(8);
            if let (true, Ok(p)) = (whole && crate::simd8::avx512(), usize::try_from(pos)) {
                if p < self.table_positions {
                    let cs = &self.table[p * n..(p + 1) * n];
                    // SAFETY: AVX-512F was detected; `src`, `dst` and `cs` hold 2n values each,
                    // n a multiple of 8.
                    return unsafe { rotate_into_avx512(src, dst, cs, round_f16) };
                }
            }
        }
        self.rotate_into_plain(src, dst, pos, round_f16);
    }

    /// Asks the CPU to fetch the (cos, sin) row of `pos` into its nearest cache (a hint: no
    /// effect on any result), ahead of a rotation to `pos`.
    pub fn prefetch(&self, pos: i64) {
        #[cfg(target_arch = "x86_64")]
        if let Ok(p) = usize::try_from(pos) {
            let n = self.inv_freq.len();
            if p < self.table_positions {
                let row = self.table[p * n..(p + 1) * n].as_ptr().cast::<i8>();
                for line in (0..n * 8).step_by(64) {
                    // SAFETY: a prefetch never faults, and `row + line` lies inside the row.
                    unsafe {
                        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                            row.add(line),
                        )
                    };
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = pos;
    }

    /// The plain form of [`Rope::rotate_into`].
    pub fn rotate_into_plain(&self, src: &[f32], dst: &mut [f32], pos: i64, round_f16: bool) {
        dst.copy_from_slice(src);
        self.rotate(dst, pos);
        if round_f16 {
            dst.iter_mut()
                .for_each(|x| *x = half::f16::from_f32(*x).to_f32());
        }
    }
}

/// [`Rope::rotate_into`] eight pairs per step: with x = (x0, x1, …) and cs = (c0, s0, …),
/// `x·c ∓ swap(x)·s` (subtracted in even lanes, added in odd ones) gives (x0·c0 − x1·s0,
/// x1·c0 + x0·s0, …), the scalar form's values; then the f16 round trip of F16C.
///
/// # Safety
/// AVX-512F (with F16C) must be present; `src` and `dst` hold `2 · cs.len()` values and
/// `cs.len()` is a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,f16c")]
unsafe fn rotate_into_avx512(src: &[f32], dst: &mut [f32], cs: &[(f32, f32)], round_f16: bool) {
    use std::arch::x86_64::*;
    assert!(src.len() == 2 * cs.len() && dst.len() == src.len() && cs.len().is_multiple_of(8));
    for i in (0..src.len()).step_by(16) {
        // SAFETY: i + 16 <= 2 · cs.len() for all three slices ((f32, f32) is two packed f32).
        unsafe {
            let v = _mm512_loadu_ps(src.as_ptr().add(i));
            let tab = _mm512_loadu_ps(cs.as_ptr().cast::<f32>().add(i));
            let a = _mm512_mul_ps(v, _mm512_moveldup_ps(tab));
            let b = _mm512_mul_ps(_mm512_permute_ps(v, 0b1011_0001), _mm512_movehdup_ps(tab));
            let mut r = _mm512_mask_add_ps(_mm512_sub_ps(a, b), 0xaaaa, a, b);
            if round_f16 {
                let h = _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(r);
                r = _mm512_cvtph_ps(h);
            }
            _mm512_storeu_ps(dst.as_mut_ptr().add(i), r);
        }
    }
}

/// (cos, sin) of `pos · inv_freq`, computed in f64 and rounded to f32: public so a GPU backend
/// can tabulate exactly the values the CPU rotates with.
pub fn angle(pos: i64, inv_freq: f64) -> (f32, f32) {
    let (s, c) = (pos as f64 * inv_freq).sin_cos();
    (c as f32, s as f32)
}

/// Rotates pair i of `x` by `cs[i]` for every i, four pairs at a time where AVX2 is present
/// (the same products and sums, unfused: the same bits).
fn turn_all(x: &mut [f32], cs: &[(f32, f32)]) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd8::available() {
        let main = cs.len() - cs.len() % 4;
        // SAFETY: AVX2 is present; `x` holds 2 · cs.len() values (callers pass n_rot ≥ 2·pairs).
        unsafe { turn4_avx2(&mut x[..2 * main], &cs[..main]) };
        for (i, &(c, s)) in cs.iter().enumerate().skip(main) {
            turn(x, i, c, s);
        }
        return;
    }
    turn_all_scalar(x, cs);
}

/// The plain form of [`turn_all`].
fn turn_all_scalar(x: &mut [f32], cs: &[(f32, f32)]) {
    for (i, &(c, s)) in cs.iter().enumerate() {
        turn(x, i, c, s);
    }
}

/// Four pairs per step: with x = (x0, x1, …) and cs = (c0, s0, …), `addsub(x·c, swap(x)·s)`
/// gives (x0·c0 − x1·s0, x1·c0 + x0·s0, …), the scalar form's values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn turn4_avx2(x: &mut [f32], cs: &[(f32, f32)]) {
    use std::arch::x86_64::*;
    assert!(x.len() == 2 * cs.len() && cs.len().is_multiple_of(4));
    for (xc, t) in x.chunks_exact_mut(8).zip(cs.chunks_exact(4)) {
        // SAFETY: both chunks hold eight f32 ((f32, f32) is two packed f32).
        unsafe {
            let v = _mm256_loadu_ps(xc.as_ptr());
            let tab = _mm256_loadu_ps(t.as_ptr().cast());
            let c = _mm256_moveldup_ps(tab);
            let s = _mm256_movehdup_ps(tab);
            let swapped = _mm256_permute_ps(v, 0b1011_0001);
            let r = _mm256_addsub_ps(_mm256_mul_ps(v, c), _mm256_mul_ps(swapped, s));
            _mm256_storeu_ps(xc.as_mut_ptr(), r);
        }
    }
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
    fn vector_rotation_equals_the_scalar_form() {
        let rope = Rope::new(64, 10000.0, &RopeScaling::None, None).with_table(64);
        for pairs in [32usize, 30, 3] {
            let cs: Vec<(f32, f32)> = rope.table[37 * 32..37 * 32 + pairs].to_vec();
            let x: Vec<f32> = (0..64).map(|i| (i as f32 * 1.91).sin() * 7.0).collect();
            let (mut a, mut b) = (x.clone(), x.clone());
            turn_all(&mut a, &cs);
            turn_all_scalar(&mut b, &cs);
            assert_eq!(a, b, "{pairs} pairs");
        }
    }

    /// The one-pass rotated copy equals copy, rotate and round one after the other, bit for
    /// bit: tabulated positions and positions past the table, with and without the f16 round
    /// trip (halfway cases, subnormals, overflow to infinity), whole and partial rotations.
    #[test]
    fn rotate_into_equals_copy_rotate_round() {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (n_rot, hd) in [(64, 64), (128, 128), (16, 16), (32, 64), (8, 8)] {
            let rope = Rope::new(n_rot, 10000.0, &RopeScaling::None, None).with_table(600);
            let mut src: Vec<f32> = (0..hd).map(|i| (i as f32 * 1.91).sin() * 7.0).collect();
            src[0] = 65520.0;
            src[1] = 1e-6;
            src[2] = 1.0 + 1.0 / 2048.0;
            src[3] = -3e-8;
            for pos in [0i64, 1, 37, 599, 600, 5000, -4] {
                for round in [false, true] {
                    let mut got = vec![0.0; hd];
                    rope.rotate_into(&src, &mut got, pos, round);
                    let mut want = vec![0.0; hd];
                    rope.rotate_into_plain(&src, &mut want, pos, round);
                    assert_eq!(bits(&got), bits(&want), "{n_rot}/{hd} pos {pos} {round}");
                    let mut steps = src.clone();
                    rope.rotate(&mut steps, pos);
                    if round {
                        steps
                            .iter_mut()
                            .for_each(|x| *x = half::f16::from_f32(*x).to_f32());
                    }
                    assert_eq!(bits(&got), bits(&steps));
                }
            }
        }
    }

    #[test]
    fn prefetch_is_only_a_hint() {
        let rope = Rope::new(64, 10000.0, &RopeScaling::None, None).with_table(10);
        for pos in [-5, 0, 9, 10, 1 << 40] {
            rope.prefetch(pos);
        }
        Rope::new(64, 10000.0, &RopeScaling::None, None).prefetch(3);
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
