//! x86-64 SIMD dot kernels. Every function here carries `#[target_feature]` and is reachable only
//! through `Kernels::detect`, which installs it after `is_x86_feature_detected!` succeeded.

pub(crate) mod float;
pub(crate) mod kquants;
pub(crate) mod legacy;
pub(crate) mod prims;

use super::{DotFn, Kernels};
use pine_gguf::GgmlType;

/// Wraps a `#[target_feature]` kernel as a safe [`DotFn`].
macro_rules! wrap {
    ($path:path) => {{
        fn kernel(w: &[u8], a: &[u8]) -> f32 {
            // SAFETY: `install` creates this wrapper only after detecting every feature the
            // wrapped kernel enables; the kernels bound all reads by the slice lengths.
            unsafe { $path(w, a) }
        }
        kernel as DotFn
    }};
}

/// Installs the x86 kernels this CPU supports over the scalar ones, best last.
pub(crate) fn install(k: &mut Kernels) {
    use GgmlType::*;
    let avx2 = is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c");
    if !avx2 {
        return;
    }
    k.set(Q4_0, wrap!(legacy::avx2::q4_0), "avx2");
    k.set(Q4_1, wrap!(legacy::avx2::q4_1), "avx2");
    k.set(Q5_0, wrap!(legacy::avx2::q5_0), "avx2");
    k.set(Q5_1, wrap!(legacy::avx2::q5_1), "avx2");
    k.set(Q8_0, wrap!(legacy::avx2::q8_0), "avx2");
    k.set(IQ4_NL, wrap!(legacy::avx2::iq4_nl), "avx2");
    k.set(Q4_K, wrap!(kquants::q4_k), "avx2");
    k.set(Q6_K, wrap!(kquants::q6_k), "avx2");
    k.set(IQ4_XS, wrap!(kquants::iq4_xs), "avx2");
    k.set(F32, wrap!(float::f32_f32), "avx2");
    k.set(F16, wrap!(float::f16_f16), "avx2");
    if is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512vl") {
        k.set(Q4_0, wrap!(legacy::avx512vnni::q4_0), "avx512vnni");
        k.set(Q4_1, wrap!(legacy::avx512vnni::q4_1), "avx512vnni");
        k.set(Q5_0, wrap!(legacy::avx512vnni::q5_0), "avx512vnni");
        k.set(Q5_1, wrap!(legacy::avx512vnni::q5_1), "avx512vnni");
        k.set(Q8_0, wrap!(legacy::avx512vnni::q8_0), "avx512vnni");
        k.set(IQ4_NL, wrap!(legacy::avx512vnni::iq4_nl), "avx512vnni");
    } else if is_x86_feature_detected!("avxvnni") {
        k.set(Q4_0, wrap!(legacy::avxvnni::q4_0), "avxvnni");
        k.set(Q4_1, wrap!(legacy::avxvnni::q4_1), "avxvnni");
        k.set(Q5_0, wrap!(legacy::avxvnni::q5_0), "avxvnni");
        k.set(Q5_1, wrap!(legacy::avxvnni::q5_1), "avxvnni");
        k.set(Q8_0, wrap!(legacy::avxvnni::q8_0), "avxvnni");
        k.set(IQ4_NL, wrap!(legacy::avxvnni::iq4_nl), "avxvnni");
    }
}
