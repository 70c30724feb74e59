//! `pine-quant`: GGML block formats (dequantize, quantize), llama.cpp's weight × activation
//! dot products with scalar references and runtime-selected SIMD, and the matmul engine.
