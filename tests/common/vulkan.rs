//! The Vulkan helpers of the tests (`#[path = "common/vulkan.rs"] mod vk;` beside `mod
//! common;`): only tests of a build with Vulkan include them.

#![allow(dead_code)]

use pine::backend::VulkanNumerics;

/// A Vulkan backend in `mode` and `numerics` on any device, or `None` (see
/// `pine::vulkan::device_for_tests`). Tests that hold Vulkan to the CPU's bits ask for
/// [`VulkanNumerics::Exact`].
pub fn vulkan_backend(
    mode: pine::backend::MatmulMode,
    numerics: VulkanNumerics,
) -> Option<pine::vulkan::VulkanBackend> {
    pine::vulkan::device_for_tests(mode, numerics)
}

/// Loads a model on a Vulkan device and opens a session, or `None` as [`vulkan_backend`] says.
pub fn vulkan_session(
    path: &std::path::Path,
    mode: pine::backend::MatmulMode,
    numerics: VulkanNumerics,
    cache: pine::backend::CacheType,
    n_ctx: usize,
) -> Option<pine::model::Session<pine::vulkan::VulkanBackend>> {
    let file = std::sync::Arc::new(pine::gguf::Gguf::open(path).unwrap());
    let model = pine::model::Transformer::load(file, vulkan_backend(mode, numerics)?).unwrap();
    Some(pine::model::Session::new(model, n_ctx, cache).unwrap())
}
