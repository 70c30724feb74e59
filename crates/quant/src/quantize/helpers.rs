//! The scalar search helpers of ggml-quants.c that the k-quant and IQ4 quantizers share.
//!
//! Every expression keeps ggml's evaluation order and f32 rounding steps (no fused
//! multiply-add), because a single ulp in a scale search can flip a chosen level and change
//! the output bytes.

/// Groups whose absolute maximum is below this are treated as all zero (`GROUP_MAX_EPS`).
pub const GROUP_MAX_EPS: f32 = 1e-15;

/// Round to nearest, ties to even, via ggml's magic-number trick (`nearest_int`). Valid for
/// |x| ≤ 4194303, which every caller guarantees.
#[inline(always)]
pub fn nearest_int(fval: f32) -> i32 {
    let val = fval + 12_582_912.0;
    (val.to_bits() as i32 & 0x007f_ffff) - 0x0040_0000
}

/// The largest magnitude in `x` and the value that has it, sign kept (the first one on ties):
/// the symmetric quantizers' starting scale.
fn signed_absmax(x: &[f32]) -> (f32, f32) {
    let (mut amax, mut max) = (0f32, 0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    (amax, max)
}

/// Symmetric quantization of `x` to levels −nmax..nmax−1 with a weighted least-squares scale
/// search (ggml `make_qx_quants` with `rmse_type = 1` and no importance weights: w = x²).
/// Writes `l + nmax` into `out` and returns the scale.
pub fn make_qx_quants(nmax: i32, x: &[f32], out: &mut [i8]) -> f32 {
    let (amax, max) = signed_absmax(x);
    if amax < GROUP_MAX_EPS {
        out.fill(0);
        return 0.0;
    }
    let clamp = |l: i32| l.clamp(-nmax, nmax - 1);
    let mut iscale = -(nmax as f32) / max;
    let mut sumlx = 0f32;
    let mut suml2 = 0f32;
    for (o, &xi) in out.iter_mut().zip(x) {
        let l = clamp(nearest_int(iscale * xi));
        *o = (l + nmax) as i8;
        let w = xi * xi;
        sumlx += w * xi * l as f32;
        suml2 += w * l as f32 * l as f32;
    }
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in -9i32..=9 {
        if is == 0 {
            continue;
        }
        iscale = -(nmax as f32 + 0.1f32 * is as f32) / max;
        sumlx = 0.0;
        suml2 = 0.0;
        for &xi in x {
            let l = clamp(nearest_int(iscale * xi));
            let w = xi * xi;
            sumlx += w * xi * l as f32;
            suml2 += w * l as f32 * l as f32;
        }
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for (o, &xi) in out.iter_mut().zip(x) {
                *o = (nmax + clamp(nearest_int(iscale * xi))) as i8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// Symmetric quantization of `x` to levels −nmax..nmax−1 for Q3_K (ggml `make_q3_quants` with
/// `do_rmse`): a first rounding at inverse scale −nmax/max, then up to 5 passes that move one
/// level at a time whenever that improves the weighted (w = x²) fit (Σwxl)²/Σwl². Writes
/// `l + nmax` into `out` (all 0 for an all-zero group) and returns the least-squares scale.
pub fn make_q3_quants(nmax: i32, x: &[f32], out: &mut [i8]) -> f32 {
    let (amax, max) = signed_absmax(x);
    if amax < GROUP_MAX_EPS {
        out.fill(0);
        return 0.0;
    }
    let clamp = |l: i32| l.clamp(-nmax, nmax - 1);
    let iscale = -(nmax as f32) / max;
    let mut sumlx = 0f32;
    let mut suml2 = 0f32;
    for (o, &xi) in out.iter_mut().zip(x) {
        let l = clamp(nearest_int(iscale * xi));
        *o = l as i8;
        let w = xi * xi;
        sumlx += w * xi * l as f32;
        suml2 += w * l as f32 * l as f32;
    }
    for _ in 0..5 {
        let mut changed = false;
        for (o, &xi) in out.iter_mut().zip(x) {
            let w = xi * xi;
            let old = *o as f32;
            let mut slx = sumlx - w * xi * old;
            if slx > 0.0 {
                let mut sl2 = suml2 - w * old * old;
                let new_l = clamp(nearest_int(xi * sl2 / slx));
                if new_l != *o as i32 {
                    let nl = new_l as f32;
                    slx += w * xi * nl;
                    sl2 += w * nl * nl;
                    if sl2 > 0.0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                        *o = new_l as i8;
                        sumlx = slx;
                        suml2 = sl2;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    for o in out.iter_mut() {
        *o += nmax as i8;
    }
    if suml2 > 0.0 {
        sumlx / suml2
    } else {
        0.0
    }
}

/// Search parameters of [`make_qkx2_quants`]: the scale grid `(rmin + rdelta·is + nmax)`,
/// is = 0..=nstep, and whether to minimize absolute instead of squared error.
#[derive(Clone, Copy)]
pub struct Qkx2Search {
    /// Offset of the first trial inverse scale.
    pub rmin: f32,
    /// Step between trials.
    pub rdelta: f32,
    /// Number of steps.
    pub nstep: i32,
    /// Minimize Σw·|err| instead of Σw·err².
    pub use_mad: bool,
}

/// Asymmetric quantization of `x` to levels 0..=nmax with a min (ggml `make_qkx2_quants`):
/// value ≈ scale·l − min. Writes levels into `out`; returns `(scale, min)` where `min` is the
/// positive amount subtracted (ggml's `*the_min`).
pub fn make_qkx2_quants(
    nmax: i32,
    x: &[f32],
    weights: &[f32],
    out: &mut [u8],
    aux: &mut [u8],
    p: Qkx2Search,
) -> (f32, f32) {
    let n = x.len();
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..n {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        out[..n].fill(0);
        return (0.0, -min);
    }
    let err = |d: f32| if p.use_mad { d.abs() } else { d * d };
    let mut iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0f32;
    for i in 0..n {
        let l = nearest_int(iscale * (x[i] - min));
        out[i] = l.clamp(0, nmax) as u8;
        let diff = scale * out[i] as f32 + min - x[i];
        best_error += weights[i] * err(diff);
    }
    if p.nstep < 1 {
        return (scale, -min);
    }
    for is in 0..=p.nstep {
        iscale = (p.rmin + p.rdelta * is as f32 + nmax as f32) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0f32, 0f32, 0f32);
        for i in 0..n {
            let l = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
            aux[i] = l as u8;
            let w = weights[i];
            let lf = l as f32;
            sum_l += w * lf;
            sum_l2 += w * lf * lf;
            sum_xl += w * lf * x[i];
        }
        let d = sum_w * sum_l2 - sum_l * sum_l;
        if d > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / d;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / d;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0f32;
            for i in 0..n {
                let diff = this_scale * aux[i] as f32 + this_min - x[i];
                cur_error += weights[i] * err(diff);
            }
            if cur_error < best_error {
                out[..n].copy_from_slice(&aux[..n]);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// Index of the level in the sorted table `val` nearest to `x`, ties to the upper level
/// (ggml `best_index_int8`, the bisection version of build b4748).
#[inline]
pub fn best_index_int8(val: &[i8], x: f32) -> usize {
    let n = val.len();
    if x <= val[0] as f32 {
        return 0;
    }
    if x >= val[n - 1] as f32 {
        return n - 1;
    }
    let (mut ml, mut mu) = (0usize, n - 1);
    while mu - ml > 1 {
        let mav = (ml + mu) / 2;
        if x < val[mav] as f32 {
            mu = mav;
        } else {
            ml = mav;
        }
    }
    if x - (val[mu - 1] as f32) < val[mu] as f32 - x {
        mu - 1
    } else {
        mu
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_int_rounds_half_to_even() {
        assert_eq!(nearest_int(0.5), 0);
        assert_eq!(nearest_int(1.5), 2);
        assert_eq!(nearest_int(2.5), 2);
        assert_eq!(nearest_int(-1.5), -2);
        assert_eq!(nearest_int(-0.4), 0);
        assert_eq!(nearest_int(31.49), 31);
    }

    #[test]
    fn best_index_picks_the_nearest_level() {
        let v: [i8; 4] = [-10, -1, 3, 20];
        assert_eq!(best_index_int8(&v, -50.0), 0);
        assert_eq!(best_index_int8(&v, 1.1), 2);
        assert_eq!(best_index_int8(&v, 1.0), 2); // tie between -1 and 3 goes up
        assert_eq!(best_index_int8(&v, 0.0), 1);
        assert_eq!(best_index_int8(&v, 99.0), 3);
    }
}
