//! The Vulkan helpers of the tests (`#[path = "common/vulkan.rs"] mod vk;` beside `mod
//! common;`): only tests of a build with Vulkan include them.

#![allow(dead_code)]

/// A Vulkan backend in `mode` on any device, or `None` (see `pine::vulkan::device_for_tests`).
pub fn vulkan_backend(mode: pine::backend::MatmulMode) -> Option<pine::vulkan::VulkanBackend> {
    pine::vulkan::device_for_tests(mode)
}

/// Loads a model on a Vulkan device and opens a session, or `None` as [`vulkan_backend`] says.
pub fn vulkan_session(
    path: &std::path::Path,
    mode: pine::backend::MatmulMode,
    cache: pine::backend::CacheType,
    n_ctx: usize,
) -> Option<pine::model::Session<pine::vulkan::VulkanBackend>> {
    let file = std::sync::Arc::new(pine::gguf::Gguf::open(path).unwrap());
    let model = pine::model::Transformer::load(file, vulkan_backend(mode)?).unwrap();
    Some(pine::model::Session::new(model, n_ctx, cache).unwrap())
}
