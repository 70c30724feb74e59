//! `pine-vulkan`: the [`pine_backend::Backend`] trait on any Vulkan 1.1 device with 16-bit
//! storage buffers (NVIDIA, AMD, Intel, Apple through MoltenVK, Mesa lavapipe on the CPU).
//! Weights stay in their GGUF block layout on the device; the shaders come precompiled from
//! `shaders/spv/`, so building needs no Vulkan SDK, and a missing loader is a clear error at
//! run time.

mod backend;
mod buffer_pool;
mod counters;
mod device;
mod error;
mod fma_probe;
mod gpu_timer;
mod kernels;
mod memory;
mod plan_encoding;
mod recorder;
mod replay;
mod rope_table;
mod spirv_patch;
mod step_data;
mod weight;

#[cfg(test)]
mod attention_tests;
#[cfg(test)]
mod importance_tests;
#[cfg(test)]
mod ops_tests;
#[cfg(test)]
mod test_support;

pub use backend::{VkBuffer, VkCache, VulkanBackend};
pub use counters::{profile_since, ShaderTime, VkCounters};
pub use device::{list_devices, DeviceChoice, DeviceInfo, DeviceKind};
pub use error::VkError;
pub use replay::ReplayStats;
pub use weight::{VkWeight, NATIVE_TYPES};

/// For test suites: a backend on any Vulkan device (lavapipe included) in `mode` and
/// `numerics` (tests that hold Vulkan to the CPU's bits ask for
/// [`pine_backend::VulkanNumerics::Exact`]), or `None` after printing why there is none. With
/// `REQUIRE_VULKAN=1` (as CI sets it) a missing device panics instead, so Vulkan tests never
/// skip silently where a device is expected.
pub fn device_for_tests(
    mode: pine_backend::MatmulMode,
    numerics: pine_backend::VulkanNumerics,
) -> Option<VulkanBackend> {
    match VulkanBackend::new(DeviceChoice::Any, mode, numerics) {
        Ok(b) => Some(b),
        Err(e) if std::env::var("REQUIRE_VULKAN").is_ok_and(|v| v == "1") => {
            panic!("REQUIRE_VULKAN=1 but no Vulkan device: {e}")
        }
        Err(e) => {
            eprintln!("skipping a Vulkan test: {e}");
            None
        }
    }
}
