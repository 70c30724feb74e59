//! Errors of the Vulkan backend, worded for the person running pine.

use std::fmt;

/// Why the Vulkan backend could not start or run.
#[derive(Debug, Clone)]
pub enum VkError {
    /// No Vulkan loader library on this system.
    NoLoader(String),
    /// A loader but no usable driver (ICD).
    NoDriver(String),
    /// No device matching the request.
    NoDevice(String),
    /// A device call failed (out of memory, device lost, …).
    Device(String),
}

impl fmt::Display for VkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VkError::NoLoader(m) | VkError::NoDriver(m) => {
                write!(f, "Vulkan is not available: {m}")
            }
            VkError::NoDevice(m) | VkError::Device(m) => write!(f, "Vulkan: {m}"),
        }
    }
}

impl std::error::Error for VkError {}

impl From<VkError> for pine_backend::BackendError {
    fn from(e: VkError) -> Self {
        pine_backend::BackendError::Device(e.to_string())
    }
}
