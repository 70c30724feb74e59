//! `pine-quant`: GGML block formats (dequantize, quantize), llama.cpp's weight × activation
//! dot products with scalar references and runtime-selected SIMD, and the matmul engine.

pub mod activation;
#[cfg(target_arch = "x86_64")]
mod activation_x86;
pub mod blocks;
pub mod dequant;
pub mod dot;
pub mod error;
mod huge;
pub mod matmul;
pub mod quantize;
#[cfg(test)]
mod testutil;

pub use dequant::{dequantize_row, dequantize_tensor};
pub use error::QuantError;
pub use quantize::quantize_row;
