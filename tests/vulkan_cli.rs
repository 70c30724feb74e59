//! `pine-run` on the Vulkan backend (lavapipe in CI): device listing, and llama.cpp's greedy
//! text for "The capital of France is", the same as the CPU prints.

#[path = "common/cli.rs"]
mod cli;
mod common;
#[path = "common/vulkan.rs"]
mod vk;

use pine::backend::{MatmulMode, VulkanNumerics};

#[test]
fn list_devices_describes_the_device() {
    let Some(vk) = vk::vulkan_backend(MatmulMode::Native, VulkanNumerics::Exact) else {
        return;
    };
    let out = cli::pine_run(&["--list-devices"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&vk.device().name), "{text}");
    for what in [
        "driver:",
        "memory heaps:",
        "subgroup size:",
        "fp16:",
        "cooperative matrix:",
    ] {
        assert!(text.contains(what), "{what} missing from {text}");
    }
}

#[test]
fn greedy_text_on_vulkan_matches_llama_cpp() {
    if vk::vulkan_backend(MatmulMode::Native, VulkanNumerics::Exact).is_none() {
        return;
    }
    // The CPU's text: exact numerics (fast ones are held to accuracy bounds elsewhere).
    let out = cli::pine_run_france(&["--backend", "vulkan", "--vk-exact"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("vulkan backend") && err.contains("exact numerics"),
        "the log names the backend and its numerics: {err}"
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        common::FRANCE_GREEDY_32
    );
}
