//! The start-up fma probe. The shaders that copy the CPU's float order need a correctly rounded
//! fused multiply-add; Vulkan lets `fma()` round twice (lavapipe does), so on devices with f64
//! they build it from double operations (`exact.glsl`), which costs a dozen double operations
//! per multiply-add. Devices whose `fma()` is fused (NVIDIA, AMD) need none of that: the probe
//! runs `fma()` on triples whose fused and unfused results differ (products whose low bits
//! decide the rounding, cancellations, subnormal and overflowing results) and compares every
//! result with the host's correctly rounded `f32::mul_add`. Only an exact match on all of them
//! selects the `_f64fma` shader builds, whose `fma_rn` is the device's `fma()`.

use crate::device::Context;
use crate::error::VkError;
use crate::kernels::Pipelines;
use crate::memory;
use crate::recorder::Recorder;

/// Pseudo-random floats in [-1, 1) (a fixed LCG, so every run probes the same triples).
fn values(n: usize) -> impl Iterator<Item = f32> {
    let mut s: u64 = 0x7069_6e65_666d_6121;
    (0..n).map(move |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    })
}

/// The probe's triples `(a, b, c, 0)`: hand-made cases where one rounding and two differ, and
/// pseudo-random ones over a wide exponent range.
pub fn triples() -> Vec<[f32; 4]> {
    let e = |k: i32| 2f32.powi(k);
    let mut t = vec![
        // (1 + 2⁻¹²)² − 1: the product's 2⁻²⁴ bit is lost when it is rounded first.
        [1.0 + e(-12), 1.0 + e(-12), -1.0, 0.0],
        // The same with the opposite sign and a non-power-of-two addend.
        [1.0 + e(-12), -(1.0 + e(-12)), 1.5, 0.0],
        // A product just below a rounding tie, cancelled.
        [1.0 + e(-23), 1.0 - e(-23), -1.0, 0.0],
        // Cancellation to a subnormal result (a device flushing subnormals fails here).
        [e(-63) * (1.0 + e(-20)), e(-63), -e(-126), 0.0],
        // Products whose rounding error is all that is left after cancellation.
        [3.0, 1.0 / 3.0, -1.0, 0.0],
        [0.1, 10.0, -1.0, 0.0],
    ];
    // Random products minus their rounded value (the fused result is the rounding error, the
    // unfused one zero), over a range of scales.
    let v: Vec<f32> = values(2 * 256).collect();
    for (i, w) in v.chunks_exact(2).enumerate() {
        let s = e((i % 40) as i32 - 20);
        let (a, b) = (w[0] * s, w[1] / s);
        t.push([a, b, -(a * b), 0.0]);
    }
    t
}

/// Whether the device's results `got` for [`triples`] are the correctly rounded fused values.
pub fn fused(got: &[f32]) -> Result<bool, VkError> {
    let t = triples();
    if got.len() != t.len() {
        return Err(VkError::Device(format!(
            "the fma probe returned {} results for {} triples",
            got.len(),
            t.len()
        )));
    }
    Ok(t.iter()
        .zip(got)
        .all(|(x, r)| x[0].mul_add(x[1], x[2]).to_bits() == r.to_bits()))
}

/// Runs the probe on the device: whether its `fma()` is fused and correctly rounded.
pub fn probe(
    ctx: &Context,
    rec: &mut Recorder,
    pipelines: &mut Pipelines,
) -> Result<bool, VkError> {
    let t = triples();
    let n = t.len();
    let input = rec.data(t.iter().flatten().map(|v| v.to_bits()));
    let out = memory::device::<f32>(&ctx.memory, n)?;
    let back = memory::readback(&ctx.memory, n)?;
    let pipeline = pipelines.get(ctx, "fma_probe")?;
    let push = [n as u32, 0, 0, 0, 0, 0, 0, 0];
    let groups = [n.div_ceil(64) as u32, 1, 1];
    rec.dispatch(
        &pipeline,
        vec![input, out.clone().into_bytes().into()],
        push,
        groups,
    );
    rec.copy(out.into_bytes().into(), back.clone().into_bytes());
    rec.flush()?;
    let got = back
        .read()
        .map_err(|e| VkError::Device(format!("reading the fma probe: {e}")))?;
    fused(&got[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe can tell the two behaviours apart: rounding the product first (what a device
    /// with an unfused `fma()` computes) fails it, the fused value passes.
    #[test]
    fn the_probe_rejects_double_rounding_and_accepts_fusion() {
        let t = triples();
        let split: Vec<f32> = t.iter().map(|x| x[0] * x[1] + x[2]).collect();
        let fusedv: Vec<f32> = t.iter().map(|x| x[0].mul_add(x[1], x[2])).collect();
        assert!(!fused(&split).unwrap());
        assert!(fused(&fusedv).unwrap());
        assert!(fused(&fusedv[1..]).is_err());
    }

    /// SiLU in the CPU's exact operations (ggml's expf: seven multiply-adds) with the shaders
    /// built on the device's fma(): bit-identical to the CPU where the probe found fma() fused,
    /// not where it found it rounding twice (lavapipe). So the probe's verdict is the one the
    /// shaders bear out, and the backend's choice keeps the CPU's bits.
    #[test]
    fn the_probe_predicts_whether_the_fused_builds_match_the_cpu() {
        use pine_backend::{Backend, CpuBackend, MatmulMode, VulkanNumerics};
        let Some(mut vk) = crate::test_support::backend(MatmulMode::Native, VulkanNumerics::Exact)
        else {
            return;
        };
        if !vk.cpu_float_order() {
            return;
        }
        let verdict = vk.fused_fma();
        eprintln!("fma probe on {}: fused = {verdict}", vk.device().name);
        let mut cpu = CpuBackend::new(1, MatmulMode::Native).unwrap();
        let x: Vec<f32> = crate::test_support::values(4096, 5)
            .iter()
            .map(|v| v * 12.0)
            .collect();
        let up = crate::test_support::values(4096, 6);
        fn silu<B: Backend>(b: &mut B, x: &[f32], up: &[f32]) -> Vec<f32> {
            let (mut g, mut u) = (b.buffer(x.len()), b.buffer(up.len()));
            b.write(&mut g, x);
            b.write(&mut u, up);
            b.swiglu(&mut g, &u, x.len());
            let mut out = vec![0.0; x.len()];
            b.read(&g, &mut out);
            b.take_error().unwrap();
            out
        }
        let want = silu(&mut cpu, &x, &up);
        assert_eq!(silu(&mut vk, &x, &up), want, "the chosen build differs");
        vk.force_fused_fma(true);
        let on_device_fma = silu(&mut vk, &x, &up);
        assert_eq!(on_device_fma == want, verdict, "probe verdict {verdict}");
    }

    /// Fast numerics never run the probe (it only chooses between f64 builds) and so never
    /// load its shader; exact numerics on a device with f64 do.
    #[test]
    fn only_exact_numerics_run_the_probe() {
        use pine_backend::{MatmulMode, VulkanNumerics};
        let Some(fast) = crate::test_support::backend(MatmulMode::Native, VulkanNumerics::Fast)
        else {
            return;
        };
        assert!(!fast.fused_fma() && !fast.cpu_float_order());
        assert!(
            fast.loaded_shaders().is_empty(),
            "{:?}",
            fast.loaded_shaders()
        );
        let exact = crate::test_support::backend(MatmulMode::Native, VulkanNumerics::Exact)
            .expect("a device for fast numerics serves exact ones too");
        assert_eq!(exact.cpu_float_order(), exact.device().fp64);
        assert_eq!(
            exact.loaded_shaders().contains(&"fma_probe"),
            exact.device().fp64
        );
    }
}
