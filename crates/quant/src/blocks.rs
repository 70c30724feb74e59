//! Block layouts of the GGML quantized types.
