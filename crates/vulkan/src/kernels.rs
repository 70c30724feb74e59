//! The compute pipelines, built lazily from the SPIR-V committed under `shaders/spv/` (made by
//! `shaders/build.sh` with glslc), so building pine needs no shader compiler.

use std::collections::HashMap;
use std::sync::Arc;

use vulkano::pipeline::compute::ComputePipelineCreateInfo;
use vulkano::pipeline::layout::PipelineDescriptorSetLayoutCreateInfo;
use vulkano::pipeline::{ComputePipeline, PipelineLayout, PipelineShaderStageCreateInfo};
use vulkano::shader::{spirv::bytes_to_words, ShaderModule, ShaderModuleCreateInfo};

use crate::device::Context;
use crate::error::VkError;

/// Every shader binary, by name (`mul_mat_q4_0`, `attention_f16`, …).
const SPIRV: &[(&str, &[u8])] = &[
    ("add", include_bytes!("../../../shaders/spv/add.spv")),
    (
        "add_bias",
        include_bytes!("../../../shaders/spv/add_bias.spv"),
    ),
    ("argmax", include_bytes!("../../../shaders/spv/argmax.spv")),
    (
        "attention_f16",
        include_bytes!("../../../shaders/spv/attention_f16.spv"),
    ),
    (
        "attention_f16_f64",
        include_bytes!("../../../shaders/spv/attention_f16_f64.spv"),
    ),
    (
        "attention_f16_f64fma",
        include_bytes!("../../../shaders/spv/attention_f16_f64fma.spv"),
    ),
    (
        "attention_f16_quant_q8_0_int",
        include_bytes!("../../../shaders/spv/attention_f16_quant_q8_0_int.spv"),
    ),
    (
        "attention_f16_quant_q8_0_int_f64",
        include_bytes!("../../../shaders/spv/attention_f16_quant_q8_0_int_f64.spv"),
    ),
    (
        "attention_f16_quant_q8_0_int_f64fma",
        include_bytes!("../../../shaders/spv/attention_f16_quant_q8_0_int_f64fma.spv"),
    ),
    (
        "attention_f16_quant_q8_1_int",
        include_bytes!("../../../shaders/spv/attention_f16_quant_q8_1_int.spv"),
    ),
    (
        "attention_f16_quant_q8_1_int_f64",
        include_bytes!("../../../shaders/spv/attention_f16_quant_q8_1_int_f64.spv"),
    ),
    (
        "attention_f16_quant_q8_1_int_f64fma",
        include_bytes!("../../../shaders/spv/attention_f16_quant_q8_1_int_f64fma.spv"),
    ),
    (
        "attention_f32",
        include_bytes!("../../../shaders/spv/attention_f32.spv"),
    ),
    (
        "attention_f32_f64",
        include_bytes!("../../../shaders/spv/attention_f32_f64.spv"),
    ),
    (
        "attention_f32_f64fma",
        include_bytes!("../../../shaders/spv/attention_f32_f64fma.spv"),
    ),
    (
        "attention_f32_quant_q8_0_int",
        include_bytes!("../../../shaders/spv/attention_f32_quant_q8_0_int.spv"),
    ),
    (
        "attention_f32_quant_q8_0_int_f64",
        include_bytes!("../../../shaders/spv/attention_f32_quant_q8_0_int_f64.spv"),
    ),
    (
        "attention_f32_quant_q8_0_int_f64fma",
        include_bytes!("../../../shaders/spv/attention_f32_quant_q8_0_int_f64fma.spv"),
    ),
    (
        "attention_f32_quant_q8_1_int",
        include_bytes!("../../../shaders/spv/attention_f32_quant_q8_1_int.spv"),
    ),
    (
        "attention_f32_quant_q8_1_int_f64",
        include_bytes!("../../../shaders/spv/attention_f32_quant_q8_1_int_f64.spv"),
    ),
    (
        "attention_f32_quant_q8_1_int_f64fma",
        include_bytes!("../../../shaders/spv/attention_f32_quant_q8_1_int_f64fma.spv"),
    ),
    (
        "fma_probe",
        include_bytes!("../../../shaders/spv/fma_probe.spv"),
    ),
    ("geglu", include_bytes!("../../../shaders/spv/geglu.spv")),
    (
        "geglu_f64",
        include_bytes!("../../../shaders/spv/geglu_f64.spv"),
    ),
    (
        "geglu_f64fma",
        include_bytes!("../../../shaders/spv/geglu_f64fma.spv"),
    ),
    (
        "get_rows_bf16",
        include_bytes!("../../../shaders/spv/get_rows_bf16.spv"),
    ),
    (
        "get_rows_f16",
        include_bytes!("../../../shaders/spv/get_rows_f16.spv"),
    ),
    (
        "get_rows_f32",
        include_bytes!("../../../shaders/spv/get_rows_f32.spv"),
    ),
    (
        "get_rows_iq4_nl",
        include_bytes!("../../../shaders/spv/get_rows_iq4_nl.spv"),
    ),
    (
        "get_rows_iq4_xs",
        include_bytes!("../../../shaders/spv/get_rows_iq4_xs.spv"),
    ),
    (
        "get_rows_q2_k",
        include_bytes!("../../../shaders/spv/get_rows_q2_k.spv"),
    ),
    (
        "get_rows_q3_k",
        include_bytes!("../../../shaders/spv/get_rows_q3_k.spv"),
    ),
    (
        "get_rows_q4_0",
        include_bytes!("../../../shaders/spv/get_rows_q4_0.spv"),
    ),
    (
        "get_rows_q4_1",
        include_bytes!("../../../shaders/spv/get_rows_q4_1.spv"),
    ),
    (
        "get_rows_q4_k",
        include_bytes!("../../../shaders/spv/get_rows_q4_k.spv"),
    ),
    (
        "get_rows_q5_0",
        include_bytes!("../../../shaders/spv/get_rows_q5_0.spv"),
    ),
    (
        "get_rows_q5_1",
        include_bytes!("../../../shaders/spv/get_rows_q5_1.spv"),
    ),
    (
        "get_rows_q5_k",
        include_bytes!("../../../shaders/spv/get_rows_q5_k.spv"),
    ),
    (
        "get_rows_q6_k",
        include_bytes!("../../../shaders/spv/get_rows_q6_k.spv"),
    ),
    (
        "get_rows_q8_0",
        include_bytes!("../../../shaders/spv/get_rows_q8_0.spv"),
    ),
    (
        "mul_mat_bf16",
        include_bytes!("../../../shaders/spv/mul_mat_bf16.spv"),
    ),
    (
        "mul_mat_bf16_batch",
        include_bytes!("../../../shaders/spv/mul_mat_bf16_batch.spv"),
    ),
    (
        "mul_mat_bf16_batch_f64",
        include_bytes!("../../../shaders/spv/mul_mat_bf16_batch_f64.spv"),
    ),
    (
        "mul_mat_bf16_single",
        include_bytes!("../../../shaders/spv/mul_mat_bf16_single.spv"),
    ),
    (
        "mul_mat_bf16_single_f64",
        include_bytes!("../../../shaders/spv/mul_mat_bf16_single_f64.spv"),
    ),
    (
        "mul_mat_f16",
        include_bytes!("../../../shaders/spv/mul_mat_f16.spv"),
    ),
    (
        "mul_mat_f32",
        include_bytes!("../../../shaders/spv/mul_mat_f32.spv"),
    ),
    (
        "mul_mat_iq4_nl",
        include_bytes!("../../../shaders/spv/mul_mat_iq4_nl.spv"),
    ),
    (
        "mul_mat_iq4_xs",
        include_bytes!("../../../shaders/spv/mul_mat_iq4_xs.spv"),
    ),
    (
        "mul_mat_k_iq4_xs",
        include_bytes!("../../../shaders/spv/mul_mat_k_iq4_xs.spv"),
    ),
    (
        "mul_mat_k_iq4_xs_f64",
        include_bytes!("../../../shaders/spv/mul_mat_k_iq4_xs_f64.spv"),
    ),
    (
        "mul_mat_k_iq4_xs_f64_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_iq4_xs_f64_multi.spv"),
    ),
    (
        "mul_mat_k_iq4_xs_f64fma",
        include_bytes!("../../../shaders/spv/mul_mat_k_iq4_xs_f64fma.spv"),
    ),
    (
        "mul_mat_k_iq4_xs_f64fma_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_iq4_xs_f64fma_multi.spv"),
    ),
    (
        "mul_mat_k_iq4_xs_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_iq4_xs_multi.spv"),
    ),
    (
        "mul_mat_k_q2_k",
        include_bytes!("../../../shaders/spv/mul_mat_k_q2_k.spv"),
    ),
    (
        "mul_mat_k_q2_k_f64",
        include_bytes!("../../../shaders/spv/mul_mat_k_q2_k_f64.spv"),
    ),
    (
        "mul_mat_k_q2_k_f64_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q2_k_f64_multi.spv"),
    ),
    (
        "mul_mat_k_q2_k_f64fma",
        include_bytes!("../../../shaders/spv/mul_mat_k_q2_k_f64fma.spv"),
    ),
    (
        "mul_mat_k_q2_k_f64fma_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q2_k_f64fma_multi.spv"),
    ),
    (
        "mul_mat_k_q2_k_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q2_k_multi.spv"),
    ),
    (
        "mul_mat_k_q3_k",
        include_bytes!("../../../shaders/spv/mul_mat_k_q3_k.spv"),
    ),
    (
        "mul_mat_k_q3_k_f64",
        include_bytes!("../../../shaders/spv/mul_mat_k_q3_k_f64.spv"),
    ),
    (
        "mul_mat_k_q3_k_f64_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q3_k_f64_multi.spv"),
    ),
    (
        "mul_mat_k_q3_k_f64_sg",
        include_bytes!("../../../shaders/spv/mul_mat_k_q3_k_f64_sg.spv"),
    ),
    (
        "mul_mat_k_q3_k_f64_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q3_k_f64_sg_multi.spv"),
    ),
    (
        "mul_mat_k_q3_k_f64fma",
        include_bytes!("../../../shaders/spv/mul_mat_k_q3_k_f64fma.spv"),
    ),
    (
        "mul_mat_k_q3_k_f64fma_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q3_k_f64fma_multi.spv"),
    ),
    (
        "mul_mat_k_q3_k_f64fma_sg",
        include_bytes!("../../../shaders/spv/mul_mat_k_q3_k_f64fma_sg.spv"),
    ),
    (
        "mul_mat_k_q3_k_f64fma_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q3_k_f64fma_sg_multi.spv"),
    ),
    (
        "mul_mat_k_q3_k_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q3_k_multi.spv"),
    ),
    (
        "mul_mat_k_q3_k_sg",
        include_bytes!("../../../shaders/spv/mul_mat_k_q3_k_sg.spv"),
    ),
    (
        "mul_mat_k_q3_k_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q3_k_sg_multi.spv"),
    ),
    (
        "mul_mat_k_q4_k",
        include_bytes!("../../../shaders/spv/mul_mat_k_q4_k.spv"),
    ),
    (
        "mul_mat_k_q4_k_f64",
        include_bytes!("../../../shaders/spv/mul_mat_k_q4_k_f64.spv"),
    ),
    (
        "mul_mat_k_q4_k_f64_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q4_k_f64_multi.spv"),
    ),
    (
        "mul_mat_k_q4_k_f64_sg",
        include_bytes!("../../../shaders/spv/mul_mat_k_q4_k_f64_sg.spv"),
    ),
    (
        "mul_mat_k_q4_k_f64_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q4_k_f64_sg_multi.spv"),
    ),
    (
        "mul_mat_k_q4_k_f64fma",
        include_bytes!("../../../shaders/spv/mul_mat_k_q4_k_f64fma.spv"),
    ),
    (
        "mul_mat_k_q4_k_f64fma_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q4_k_f64fma_multi.spv"),
    ),
    (
        "mul_mat_k_q4_k_f64fma_sg",
        include_bytes!("../../../shaders/spv/mul_mat_k_q4_k_f64fma_sg.spv"),
    ),
    (
        "mul_mat_k_q4_k_f64fma_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q4_k_f64fma_sg_multi.spv"),
    ),
    (
        "mul_mat_k_q4_k_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q4_k_multi.spv"),
    ),
    (
        "mul_mat_k_q4_k_sg",
        include_bytes!("../../../shaders/spv/mul_mat_k_q4_k_sg.spv"),
    ),
    (
        "mul_mat_k_q4_k_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q4_k_sg_multi.spv"),
    ),
    (
        "mul_mat_k_q5_k",
        include_bytes!("../../../shaders/spv/mul_mat_k_q5_k.spv"),
    ),
    (
        "mul_mat_k_q5_k_f64",
        include_bytes!("../../../shaders/spv/mul_mat_k_q5_k_f64.spv"),
    ),
    (
        "mul_mat_k_q5_k_f64_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q5_k_f64_multi.spv"),
    ),
    (
        "mul_mat_k_q5_k_f64_sg",
        include_bytes!("../../../shaders/spv/mul_mat_k_q5_k_f64_sg.spv"),
    ),
    (
        "mul_mat_k_q5_k_f64_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q5_k_f64_sg_multi.spv"),
    ),
    (
        "mul_mat_k_q5_k_f64fma",
        include_bytes!("../../../shaders/spv/mul_mat_k_q5_k_f64fma.spv"),
    ),
    (
        "mul_mat_k_q5_k_f64fma_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q5_k_f64fma_multi.spv"),
    ),
    (
        "mul_mat_k_q5_k_f64fma_sg",
        include_bytes!("../../../shaders/spv/mul_mat_k_q5_k_f64fma_sg.spv"),
    ),
    (
        "mul_mat_k_q5_k_f64fma_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q5_k_f64fma_sg_multi.spv"),
    ),
    (
        "mul_mat_k_q5_k_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q5_k_multi.spv"),
    ),
    (
        "mul_mat_k_q5_k_sg",
        include_bytes!("../../../shaders/spv/mul_mat_k_q5_k_sg.spv"),
    ),
    (
        "mul_mat_k_q5_k_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q5_k_sg_multi.spv"),
    ),
    (
        "mul_mat_k_q6_k",
        include_bytes!("../../../shaders/spv/mul_mat_k_q6_k.spv"),
    ),
    (
        "mul_mat_k_q6_k_f64",
        include_bytes!("../../../shaders/spv/mul_mat_k_q6_k_f64.spv"),
    ),
    (
        "mul_mat_k_q6_k_f64_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q6_k_f64_multi.spv"),
    ),
    (
        "mul_mat_k_q6_k_f64_sg",
        include_bytes!("../../../shaders/spv/mul_mat_k_q6_k_f64_sg.spv"),
    ),
    (
        "mul_mat_k_q6_k_f64_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q6_k_f64_sg_multi.spv"),
    ),
    (
        "mul_mat_k_q6_k_f64fma",
        include_bytes!("../../../shaders/spv/mul_mat_k_q6_k_f64fma.spv"),
    ),
    (
        "mul_mat_k_q6_k_f64fma_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q6_k_f64fma_multi.spv"),
    ),
    (
        "mul_mat_k_q6_k_f64fma_sg",
        include_bytes!("../../../shaders/spv/mul_mat_k_q6_k_f64fma_sg.spv"),
    ),
    (
        "mul_mat_k_q6_k_f64fma_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q6_k_f64fma_sg_multi.spv"),
    ),
    (
        "mul_mat_k_q6_k_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q6_k_multi.spv"),
    ),
    (
        "mul_mat_k_q6_k_sg",
        include_bytes!("../../../shaders/spv/mul_mat_k_q6_k_sg.spv"),
    ),
    (
        "mul_mat_k_q6_k_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_k_q6_k_sg_multi.spv"),
    ),
    (
        "mul_mat_q2_k",
        include_bytes!("../../../shaders/spv/mul_mat_q2_k.spv"),
    ),
    (
        "mul_mat_q3_k",
        include_bytes!("../../../shaders/spv/mul_mat_q3_k.spv"),
    ),
    (
        "mul_mat_q4_0",
        include_bytes!("../../../shaders/spv/mul_mat_q4_0.spv"),
    ),
    (
        "mul_mat_q4_1",
        include_bytes!("../../../shaders/spv/mul_mat_q4_1.spv"),
    ),
    (
        "mul_mat_q4_k",
        include_bytes!("../../../shaders/spv/mul_mat_q4_k.spv"),
    ),
    (
        "mul_mat_q5_0",
        include_bytes!("../../../shaders/spv/mul_mat_q5_0.spv"),
    ),
    (
        "mul_mat_q5_1",
        include_bytes!("../../../shaders/spv/mul_mat_q5_1.spv"),
    ),
    (
        "mul_mat_q5_k",
        include_bytes!("../../../shaders/spv/mul_mat_q5_k.spv"),
    ),
    (
        "mul_mat_q6_k",
        include_bytes!("../../../shaders/spv/mul_mat_q6_k.spv"),
    ),
    (
        "mul_mat_q8_0",
        include_bytes!("../../../shaders/spv/mul_mat_q8_0.spv"),
    ),
    (
        "mul_mat_q8_iq4_nl",
        include_bytes!("../../../shaders/spv/mul_mat_q8_iq4_nl.spv"),
    ),
    (
        "mul_mat_q8_iq4_nl_f64",
        include_bytes!("../../../shaders/spv/mul_mat_q8_iq4_nl_f64.spv"),
    ),
    (
        "mul_mat_q8_iq4_nl_f64_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_iq4_nl_f64_multi.spv"),
    ),
    (
        "mul_mat_q8_iq4_nl_f64_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_iq4_nl_f64_sg.spv"),
    ),
    (
        "mul_mat_q8_iq4_nl_f64_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_iq4_nl_f64_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_iq4_nl_f64fma",
        include_bytes!("../../../shaders/spv/mul_mat_q8_iq4_nl_f64fma.spv"),
    ),
    (
        "mul_mat_q8_iq4_nl_f64fma_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_iq4_nl_f64fma_multi.spv"),
    ),
    (
        "mul_mat_q8_iq4_nl_f64fma_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_iq4_nl_f64fma_sg.spv"),
    ),
    (
        "mul_mat_q8_iq4_nl_f64fma_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_iq4_nl_f64fma_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_iq4_nl_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_iq4_nl_multi.spv"),
    ),
    (
        "mul_mat_q8_iq4_nl_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_iq4_nl_sg.spv"),
    ),
    (
        "mul_mat_q8_iq4_nl_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_iq4_nl_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q4_0",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_0.spv"),
    ),
    (
        "mul_mat_q8_q4_0_f64",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_0_f64.spv"),
    ),
    (
        "mul_mat_q8_q4_0_f64_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_0_f64_multi.spv"),
    ),
    (
        "mul_mat_q8_q4_0_f64_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_0_f64_sg.spv"),
    ),
    (
        "mul_mat_q8_q4_0_f64_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_0_f64_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q4_0_f64fma",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_0_f64fma.spv"),
    ),
    (
        "mul_mat_q8_q4_0_f64fma_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_0_f64fma_multi.spv"),
    ),
    (
        "mul_mat_q8_q4_0_f64fma_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_0_f64fma_sg.spv"),
    ),
    (
        "mul_mat_q8_q4_0_f64fma_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_0_f64fma_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q4_0_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_0_multi.spv"),
    ),
    (
        "mul_mat_q8_q4_0_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_0_sg.spv"),
    ),
    (
        "mul_mat_q8_q4_0_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_0_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q4_1",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_1.spv"),
    ),
    (
        "mul_mat_q8_q4_1_f64",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_1_f64.spv"),
    ),
    (
        "mul_mat_q8_q4_1_f64_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_1_f64_multi.spv"),
    ),
    (
        "mul_mat_q8_q4_1_f64_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_1_f64_sg.spv"),
    ),
    (
        "mul_mat_q8_q4_1_f64_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_1_f64_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q4_1_f64fma",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_1_f64fma.spv"),
    ),
    (
        "mul_mat_q8_q4_1_f64fma_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_1_f64fma_multi.spv"),
    ),
    (
        "mul_mat_q8_q4_1_f64fma_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_1_f64fma_sg.spv"),
    ),
    (
        "mul_mat_q8_q4_1_f64fma_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_1_f64fma_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q4_1_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_1_multi.spv"),
    ),
    (
        "mul_mat_q8_q4_1_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_1_sg.spv"),
    ),
    (
        "mul_mat_q8_q4_1_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q4_1_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q5_0",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_0.spv"),
    ),
    (
        "mul_mat_q8_q5_0_f64",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_0_f64.spv"),
    ),
    (
        "mul_mat_q8_q5_0_f64_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_0_f64_multi.spv"),
    ),
    (
        "mul_mat_q8_q5_0_f64_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_0_f64_sg.spv"),
    ),
    (
        "mul_mat_q8_q5_0_f64_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_0_f64_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q5_0_f64fma",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_0_f64fma.spv"),
    ),
    (
        "mul_mat_q8_q5_0_f64fma_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_0_f64fma_multi.spv"),
    ),
    (
        "mul_mat_q8_q5_0_f64fma_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_0_f64fma_sg.spv"),
    ),
    (
        "mul_mat_q8_q5_0_f64fma_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_0_f64fma_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q5_0_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_0_multi.spv"),
    ),
    (
        "mul_mat_q8_q5_0_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_0_sg.spv"),
    ),
    (
        "mul_mat_q8_q5_0_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_0_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q5_1",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_1.spv"),
    ),
    (
        "mul_mat_q8_q5_1_f64",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_1_f64.spv"),
    ),
    (
        "mul_mat_q8_q5_1_f64_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_1_f64_multi.spv"),
    ),
    (
        "mul_mat_q8_q5_1_f64_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_1_f64_sg.spv"),
    ),
    (
        "mul_mat_q8_q5_1_f64_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_1_f64_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q5_1_f64fma",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_1_f64fma.spv"),
    ),
    (
        "mul_mat_q8_q5_1_f64fma_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_1_f64fma_multi.spv"),
    ),
    (
        "mul_mat_q8_q5_1_f64fma_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_1_f64fma_sg.spv"),
    ),
    (
        "mul_mat_q8_q5_1_f64fma_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_1_f64fma_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q5_1_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_1_multi.spv"),
    ),
    (
        "mul_mat_q8_q5_1_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_1_sg.spv"),
    ),
    (
        "mul_mat_q8_q5_1_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q5_1_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q8_0",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q8_0.spv"),
    ),
    (
        "mul_mat_q8_q8_0_f64",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q8_0_f64.spv"),
    ),
    (
        "mul_mat_q8_q8_0_f64_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q8_0_f64_multi.spv"),
    ),
    (
        "mul_mat_q8_q8_0_f64_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q8_0_f64_sg.spv"),
    ),
    (
        "mul_mat_q8_q8_0_f64_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q8_0_f64_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q8_0_f64fma",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q8_0_f64fma.spv"),
    ),
    (
        "mul_mat_q8_q8_0_f64fma_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q8_0_f64fma_multi.spv"),
    ),
    (
        "mul_mat_q8_q8_0_f64fma_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q8_0_f64fma_sg.spv"),
    ),
    (
        "mul_mat_q8_q8_0_f64fma_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q8_0_f64fma_sg_multi.spv"),
    ),
    (
        "mul_mat_q8_q8_0_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q8_0_multi.spv"),
    ),
    (
        "mul_mat_q8_q8_0_sg",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q8_0_sg.spv"),
    ),
    (
        "mul_mat_q8_q8_0_sg_multi",
        include_bytes!("../../../shaders/spv/mul_mat_q8_q8_0_sg_multi.spv"),
    ),
    (
        "mul_mm_bf16",
        include_bytes!("../../../shaders/spv/mul_mm_bf16.spv"),
    ),
    (
        "mul_mm_bf16_l",
        include_bytes!("../../../shaders/spv/mul_mm_bf16_l.spv"),
    ),
    (
        "mul_mm_f16",
        include_bytes!("../../../shaders/spv/mul_mm_f16.spv"),
    ),
    (
        "mul_mm_f16_l",
        include_bytes!("../../../shaders/spv/mul_mm_f16_l.spv"),
    ),
    (
        "mul_mm_f32",
        include_bytes!("../../../shaders/spv/mul_mm_f32.spv"),
    ),
    (
        "mul_mm_f32_l",
        include_bytes!("../../../shaders/spv/mul_mm_f32_l.spv"),
    ),
    (
        "mul_mm_iq4_nl",
        include_bytes!("../../../shaders/spv/mul_mm_iq4_nl.spv"),
    ),
    (
        "mul_mm_iq4_nl_int",
        include_bytes!("../../../shaders/spv/mul_mm_iq4_nl_int.spv"),
    ),
    (
        "mul_mm_iq4_nl_int_l",
        include_bytes!("../../../shaders/spv/mul_mm_iq4_nl_int_l.spv"),
    ),
    (
        "mul_mm_iq4_nl_l",
        include_bytes!("../../../shaders/spv/mul_mm_iq4_nl_l.spv"),
    ),
    (
        "mul_mm_iq4_xs",
        include_bytes!("../../../shaders/spv/mul_mm_iq4_xs.spv"),
    ),
    (
        "mul_mm_iq4_xs_int",
        include_bytes!("../../../shaders/spv/mul_mm_iq4_xs_int.spv"),
    ),
    (
        "mul_mm_iq4_xs_int_l",
        include_bytes!("../../../shaders/spv/mul_mm_iq4_xs_int_l.spv"),
    ),
    (
        "mul_mm_iq4_xs_l",
        include_bytes!("../../../shaders/spv/mul_mm_iq4_xs_l.spv"),
    ),
    (
        "mul_mm_q2_k",
        include_bytes!("../../../shaders/spv/mul_mm_q2_k.spv"),
    ),
    (
        "mul_mm_q2_k_int",
        include_bytes!("../../../shaders/spv/mul_mm_q2_k_int.spv"),
    ),
    (
        "mul_mm_q2_k_int_l",
        include_bytes!("../../../shaders/spv/mul_mm_q2_k_int_l.spv"),
    ),
    (
        "mul_mm_q2_k_l",
        include_bytes!("../../../shaders/spv/mul_mm_q2_k_l.spv"),
    ),
    (
        "mul_mm_q3_k",
        include_bytes!("../../../shaders/spv/mul_mm_q3_k.spv"),
    ),
    (
        "mul_mm_q3_k_int",
        include_bytes!("../../../shaders/spv/mul_mm_q3_k_int.spv"),
    ),
    (
        "mul_mm_q3_k_int_l",
        include_bytes!("../../../shaders/spv/mul_mm_q3_k_int_l.spv"),
    ),
    (
        "mul_mm_q3_k_l",
        include_bytes!("../../../shaders/spv/mul_mm_q3_k_l.spv"),
    ),
    (
        "mul_mm_q4_0",
        include_bytes!("../../../shaders/spv/mul_mm_q4_0.spv"),
    ),
    (
        "mul_mm_q4_0_int",
        include_bytes!("../../../shaders/spv/mul_mm_q4_0_int.spv"),
    ),
    (
        "mul_mm_q4_0_int_l",
        include_bytes!("../../../shaders/spv/mul_mm_q4_0_int_l.spv"),
    ),
    (
        "mul_mm_q4_0_l",
        include_bytes!("../../../shaders/spv/mul_mm_q4_0_l.spv"),
    ),
    (
        "mul_mm_q4_1",
        include_bytes!("../../../shaders/spv/mul_mm_q4_1.spv"),
    ),
    (
        "mul_mm_q4_1_int",
        include_bytes!("../../../shaders/spv/mul_mm_q4_1_int.spv"),
    ),
    (
        "mul_mm_q4_1_int_l",
        include_bytes!("../../../shaders/spv/mul_mm_q4_1_int_l.spv"),
    ),
    (
        "mul_mm_q4_1_l",
        include_bytes!("../../../shaders/spv/mul_mm_q4_1_l.spv"),
    ),
    (
        "mul_mm_q4_k",
        include_bytes!("../../../shaders/spv/mul_mm_q4_k.spv"),
    ),
    (
        "mul_mm_q4_k_int",
        include_bytes!("../../../shaders/spv/mul_mm_q4_k_int.spv"),
    ),
    (
        "mul_mm_q4_k_int_l",
        include_bytes!("../../../shaders/spv/mul_mm_q4_k_int_l.spv"),
    ),
    (
        "mul_mm_q4_k_l",
        include_bytes!("../../../shaders/spv/mul_mm_q4_k_l.spv"),
    ),
    (
        "mul_mm_q5_0",
        include_bytes!("../../../shaders/spv/mul_mm_q5_0.spv"),
    ),
    (
        "mul_mm_q5_0_int",
        include_bytes!("../../../shaders/spv/mul_mm_q5_0_int.spv"),
    ),
    (
        "mul_mm_q5_0_int_l",
        include_bytes!("../../../shaders/spv/mul_mm_q5_0_int_l.spv"),
    ),
    (
        "mul_mm_q5_0_l",
        include_bytes!("../../../shaders/spv/mul_mm_q5_0_l.spv"),
    ),
    (
        "mul_mm_q5_1",
        include_bytes!("../../../shaders/spv/mul_mm_q5_1.spv"),
    ),
    (
        "mul_mm_q5_1_int",
        include_bytes!("../../../shaders/spv/mul_mm_q5_1_int.spv"),
    ),
    (
        "mul_mm_q5_1_int_l",
        include_bytes!("../../../shaders/spv/mul_mm_q5_1_int_l.spv"),
    ),
    (
        "mul_mm_q5_1_l",
        include_bytes!("../../../shaders/spv/mul_mm_q5_1_l.spv"),
    ),
    (
        "mul_mm_q5_k",
        include_bytes!("../../../shaders/spv/mul_mm_q5_k.spv"),
    ),
    (
        "mul_mm_q5_k_int",
        include_bytes!("../../../shaders/spv/mul_mm_q5_k_int.spv"),
    ),
    (
        "mul_mm_q5_k_int_l",
        include_bytes!("../../../shaders/spv/mul_mm_q5_k_int_l.spv"),
    ),
    (
        "mul_mm_q5_k_l",
        include_bytes!("../../../shaders/spv/mul_mm_q5_k_l.spv"),
    ),
    (
        "mul_mm_q6_k",
        include_bytes!("../../../shaders/spv/mul_mm_q6_k.spv"),
    ),
    (
        "mul_mm_q6_k_int",
        include_bytes!("../../../shaders/spv/mul_mm_q6_k_int.spv"),
    ),
    (
        "mul_mm_q6_k_int_l",
        include_bytes!("../../../shaders/spv/mul_mm_q6_k_int_l.spv"),
    ),
    (
        "mul_mm_q6_k_l",
        include_bytes!("../../../shaders/spv/mul_mm_q6_k_l.spv"),
    ),
    (
        "mul_mm_q8_0",
        include_bytes!("../../../shaders/spv/mul_mm_q8_0.spv"),
    ),
    (
        "mul_mm_q8_0_int",
        include_bytes!("../../../shaders/spv/mul_mm_q8_0_int.spv"),
    ),
    (
        "mul_mm_q8_0_int_l",
        include_bytes!("../../../shaders/spv/mul_mm_q8_0_int_l.spv"),
    ),
    (
        "mul_mm_q8_0_l",
        include_bytes!("../../../shaders/spv/mul_mm_q8_0_l.spv"),
    ),
    (
        "mul_mmq_iq4_nl",
        include_bytes!("../../../shaders/spv/mul_mmq_iq4_nl.spv"),
    ),
    (
        "mul_mmq_iq4_nl_l",
        include_bytes!("../../../shaders/spv/mul_mmq_iq4_nl_l.spv"),
    ),
    (
        "mul_mmq_iq4_xs",
        include_bytes!("../../../shaders/spv/mul_mmq_iq4_xs.spv"),
    ),
    (
        "mul_mmq_iq4_xs_l",
        include_bytes!("../../../shaders/spv/mul_mmq_iq4_xs_l.spv"),
    ),
    (
        "mul_mmq_q2_k",
        include_bytes!("../../../shaders/spv/mul_mmq_q2_k.spv"),
    ),
    (
        "mul_mmq_q2_k_l",
        include_bytes!("../../../shaders/spv/mul_mmq_q2_k_l.spv"),
    ),
    (
        "mul_mmq_q3_k",
        include_bytes!("../../../shaders/spv/mul_mmq_q3_k.spv"),
    ),
    (
        "mul_mmq_q3_k_l",
        include_bytes!("../../../shaders/spv/mul_mmq_q3_k_l.spv"),
    ),
    (
        "mul_mmq_q4_0",
        include_bytes!("../../../shaders/spv/mul_mmq_q4_0.spv"),
    ),
    (
        "mul_mmq_q4_0_l",
        include_bytes!("../../../shaders/spv/mul_mmq_q4_0_l.spv"),
    ),
    (
        "mul_mmq_q4_1",
        include_bytes!("../../../shaders/spv/mul_mmq_q4_1.spv"),
    ),
    (
        "mul_mmq_q4_1_l",
        include_bytes!("../../../shaders/spv/mul_mmq_q4_1_l.spv"),
    ),
    (
        "mul_mmq_q4_k",
        include_bytes!("../../../shaders/spv/mul_mmq_q4_k.spv"),
    ),
    (
        "mul_mmq_q4_k_l",
        include_bytes!("../../../shaders/spv/mul_mmq_q4_k_l.spv"),
    ),
    (
        "mul_mmq_q5_0",
        include_bytes!("../../../shaders/spv/mul_mmq_q5_0.spv"),
    ),
    (
        "mul_mmq_q5_0_l",
        include_bytes!("../../../shaders/spv/mul_mmq_q5_0_l.spv"),
    ),
    (
        "mul_mmq_q5_1",
        include_bytes!("../../../shaders/spv/mul_mmq_q5_1.spv"),
    ),
    (
        "mul_mmq_q5_1_l",
        include_bytes!("../../../shaders/spv/mul_mmq_q5_1_l.spv"),
    ),
    (
        "mul_mmq_q5_k",
        include_bytes!("../../../shaders/spv/mul_mmq_q5_k.spv"),
    ),
    (
        "mul_mmq_q5_k_l",
        include_bytes!("../../../shaders/spv/mul_mmq_q5_k_l.spv"),
    ),
    (
        "mul_mmq_q6_k",
        include_bytes!("../../../shaders/spv/mul_mmq_q6_k.spv"),
    ),
    (
        "mul_mmq_q6_k_l",
        include_bytes!("../../../shaders/spv/mul_mmq_q6_k_l.spv"),
    ),
    (
        "mul_mmq_q8_0",
        include_bytes!("../../../shaders/spv/mul_mmq_q8_0.spv"),
    ),
    (
        "mul_mmq_q8_0_l",
        include_bytes!("../../../shaders/spv/mul_mmq_q8_0_l.spv"),
    ),
    (
        "pine_importance_f16",
        include_bytes!("../../../shaders/spv/pine_importance_f16.spv"),
    ),
    (
        "pine_importance_f16_f64",
        include_bytes!("../../../shaders/spv/pine_importance_f16_f64.spv"),
    ),
    (
        "pine_importance_f16_f64fma",
        include_bytes!("../../../shaders/spv/pine_importance_f16_f64fma.spv"),
    ),
    (
        "pine_importance_f32",
        include_bytes!("../../../shaders/spv/pine_importance_f32.spv"),
    ),
    (
        "pine_importance_f32_f64",
        include_bytes!("../../../shaders/spv/pine_importance_f32_f64.spv"),
    ),
    (
        "pine_importance_f32_f64fma",
        include_bytes!("../../../shaders/spv/pine_importance_f32_f64fma.spv"),
    ),
    (
        "pine_importance_sum",
        include_bytes!("../../../shaders/spv/pine_importance_sum.spv"),
    ),
    (
        "pine_region_keys_f16",
        include_bytes!("../../../shaders/spv/pine_region_keys_f16.spv"),
    ),
    (
        "pine_region_keys_f32",
        include_bytes!("../../../shaders/spv/pine_region_keys_f32.spv"),
    ),
    (
        "quantize_act_bf16",
        include_bytes!("../../../shaders/spv/quantize_act_bf16.spv"),
    ),
    (
        "quantize_act_bf16_f64",
        include_bytes!("../../../shaders/spv/quantize_act_bf16_f64.spv"),
    ),
    (
        "quantize_act_f16",
        include_bytes!("../../../shaders/spv/quantize_act_f16.spv"),
    ),
    (
        "quantize_act_f16_f64",
        include_bytes!("../../../shaders/spv/quantize_act_f16_f64.spv"),
    ),
    (
        "quantize_act_q8_0",
        include_bytes!("../../../shaders/spv/quantize_act_q8_0.spv"),
    ),
    (
        "quantize_act_q8_0_f64",
        include_bytes!("../../../shaders/spv/quantize_act_q8_0_f64.spv"),
    ),
    (
        "quantize_act_q8_0_int",
        include_bytes!("../../../shaders/spv/quantize_act_q8_0_int.spv"),
    ),
    (
        "quantize_act_q8_0_int_f64",
        include_bytes!("../../../shaders/spv/quantize_act_q8_0_int_f64.spv"),
    ),
    (
        "quantize_act_q8_1",
        include_bytes!("../../../shaders/spv/quantize_act_q8_1.spv"),
    ),
    (
        "quantize_act_q8_1_f64",
        include_bytes!("../../../shaders/spv/quantize_act_q8_1_f64.spv"),
    ),
    (
        "quantize_act_q8_1_int",
        include_bytes!("../../../shaders/spv/quantize_act_q8_1_int.spv"),
    ),
    (
        "quantize_act_q8_1_int_f64",
        include_bytes!("../../../shaders/spv/quantize_act_q8_1_int_f64.spv"),
    ),
    (
        "quantize_act_q8_k",
        include_bytes!("../../../shaders/spv/quantize_act_q8_k.spv"),
    ),
    (
        "quantize_act_q8_k_f64",
        include_bytes!("../../../shaders/spv/quantize_act_q8_k_f64.spv"),
    ),
    (
        "quantize_act_q8_k_int",
        include_bytes!("../../../shaders/spv/quantize_act_q8_k_int.spv"),
    ),
    (
        "quantize_act_q8_k_int_f64",
        include_bytes!("../../../shaders/spv/quantize_act_q8_k_int_f64.spv"),
    ),
    (
        "rms_norm",
        include_bytes!("../../../shaders/spv/rms_norm.spv"),
    ),
    (
        "rms_norm_f64",
        include_bytes!("../../../shaders/spv/rms_norm_f64.spv"),
    ),
    (
        "rms_norm_quant_bf16",
        include_bytes!("../../../shaders/spv/rms_norm_quant_bf16.spv"),
    ),
    (
        "rms_norm_quant_bf16_f64",
        include_bytes!("../../../shaders/spv/rms_norm_quant_bf16_f64.spv"),
    ),
    (
        "rms_norm_quant_f16",
        include_bytes!("../../../shaders/spv/rms_norm_quant_f16.spv"),
    ),
    (
        "rms_norm_quant_f16_f64",
        include_bytes!("../../../shaders/spv/rms_norm_quant_f16_f64.spv"),
    ),
    (
        "rms_norm_quant_q8_0",
        include_bytes!("../../../shaders/spv/rms_norm_quant_q8_0.spv"),
    ),
    (
        "rms_norm_quant_q8_0_f64",
        include_bytes!("../../../shaders/spv/rms_norm_quant_q8_0_f64.spv"),
    ),
    (
        "rms_norm_quant_q8_0_int",
        include_bytes!("../../../shaders/spv/rms_norm_quant_q8_0_int.spv"),
    ),
    (
        "rms_norm_quant_q8_0_int_f64",
        include_bytes!("../../../shaders/spv/rms_norm_quant_q8_0_int_f64.spv"),
    ),
    (
        "rms_norm_quant_q8_1",
        include_bytes!("../../../shaders/spv/rms_norm_quant_q8_1.spv"),
    ),
    (
        "rms_norm_quant_q8_1_f64",
        include_bytes!("../../../shaders/spv/rms_norm_quant_q8_1_f64.spv"),
    ),
    (
        "rms_norm_quant_q8_1_int",
        include_bytes!("../../../shaders/spv/rms_norm_quant_q8_1_int.spv"),
    ),
    (
        "rms_norm_quant_q8_1_int_f64",
        include_bytes!("../../../shaders/spv/rms_norm_quant_q8_1_int_f64.spv"),
    ),
    (
        "rms_norm_quant_q8_k",
        include_bytes!("../../../shaders/spv/rms_norm_quant_q8_k.spv"),
    ),
    (
        "rms_norm_quant_q8_k_f64",
        include_bytes!("../../../shaders/spv/rms_norm_quant_q8_k_f64.spv"),
    ),
    (
        "rms_norm_quant_q8_k_int",
        include_bytes!("../../../shaders/spv/rms_norm_quant_q8_k_int.spv"),
    ),
    (
        "rms_norm_quant_q8_k_int_f64",
        include_bytes!("../../../shaders/spv/rms_norm_quant_q8_k_int_f64.spv"),
    ),
    ("scale", include_bytes!("../../../shaders/spv/scale.spv")),
    (
        "select_rows",
        include_bytes!("../../../shaders/spv/select_rows.spv"),
    ),
    (
        "store_kv_f16",
        include_bytes!("../../../shaders/spv/store_kv_f16.spv"),
    ),
    (
        "store_kv_f32",
        include_bytes!("../../../shaders/spv/store_kv_f32.spv"),
    ),
    ("swiglu", include_bytes!("../../../shaders/spv/swiglu.spv")),
    (
        "swiglu_f64",
        include_bytes!("../../../shaders/spv/swiglu_f64.spv"),
    ),
    (
        "swiglu_f64fma",
        include_bytes!("../../../shaders/spv/swiglu_f64fma.spv"),
    ),
    (
        "swiglu_quant_bf16",
        include_bytes!("../../../shaders/spv/swiglu_quant_bf16.spv"),
    ),
    (
        "swiglu_quant_bf16_f64",
        include_bytes!("../../../shaders/spv/swiglu_quant_bf16_f64.spv"),
    ),
    (
        "swiglu_quant_bf16_f64fma",
        include_bytes!("../../../shaders/spv/swiglu_quant_bf16_f64fma.spv"),
    ),
    (
        "swiglu_quant_f16",
        include_bytes!("../../../shaders/spv/swiglu_quant_f16.spv"),
    ),
    (
        "swiglu_quant_f16_f64",
        include_bytes!("../../../shaders/spv/swiglu_quant_f16_f64.spv"),
    ),
    (
        "swiglu_quant_f16_f64fma",
        include_bytes!("../../../shaders/spv/swiglu_quant_f16_f64fma.spv"),
    ),
    (
        "swiglu_quant_q8_0",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_0.spv"),
    ),
    (
        "swiglu_quant_q8_0_f64",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_0_f64.spv"),
    ),
    (
        "swiglu_quant_q8_0_f64fma",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_0_f64fma.spv"),
    ),
    (
        "swiglu_quant_q8_0_int",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_0_int.spv"),
    ),
    (
        "swiglu_quant_q8_0_int_f64",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_0_int_f64.spv"),
    ),
    (
        "swiglu_quant_q8_0_int_f64fma",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_0_int_f64fma.spv"),
    ),
    (
        "swiglu_quant_q8_1",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_1.spv"),
    ),
    (
        "swiglu_quant_q8_1_f64",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_1_f64.spv"),
    ),
    (
        "swiglu_quant_q8_1_f64fma",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_1_f64fma.spv"),
    ),
    (
        "swiglu_quant_q8_1_int",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_1_int.spv"),
    ),
    (
        "swiglu_quant_q8_1_int_f64",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_1_int_f64.spv"),
    ),
    (
        "swiglu_quant_q8_1_int_f64fma",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_1_int_f64fma.spv"),
    ),
    (
        "swiglu_quant_q8_k",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_k.spv"),
    ),
    (
        "swiglu_quant_q8_k_f64",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_k_f64.spv"),
    ),
    (
        "swiglu_quant_q8_k_f64fma",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_k_f64fma.spv"),
    ),
    (
        "swiglu_quant_q8_k_int",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_k_int.spv"),
    ),
    (
        "swiglu_quant_q8_k_int_f64",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_k_int_f64.spv"),
    ),
    (
        "swiglu_quant_q8_k_int_f64fma",
        include_bytes!("../../../shaders/spv/swiglu_quant_q8_k_int_f64fma.spv"),
    ),
];

/// Names of every embedded shader (for tests that check they all load).
#[cfg(test)]
pub fn names() -> impl Iterator<Item = &'static str> {
    SPIRV.iter().map(|(n, _)| *n)
}

/// Whether a shader named `name` is embedded (not every shader has every build).
pub fn exists(name: &str) -> bool {
    find(name).is_some()
}

/// The SPIR-V of shader `name`, as embedded (for tests of what is done to it at load).
#[cfg(test)]
pub fn bytes(name: &str) -> Option<&'static [u8]> {
    find(name).map(|(_, b)| *b)
}

/// The entry of shader `name`: a binary search, as the table is sorted by name (a test checks
/// it), since every dispatch looks its shader up.
fn find(name: &str) -> Option<&'static (&'static str, &'static [u8])> {
    SPIRV
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| &SPIRV[i])
}

/// A shader's pipeline and its name (for profiles).
#[derive(Clone)]
pub struct Kernel {
    /// The compute pipeline.
    pub pipeline: Arc<ComputePipeline>,
    /// The shader build's name.
    pub name: &'static str,
}

/// Pipelines created on first use and kept for the backend's lifetime.
#[derive(Default)]
pub struct Pipelines {
    built: HashMap<&'static str, Arc<ComputePipeline>>,
    denorm_preserve: bool,
}

impl Pipelines {
    /// Pipelines whose shaders declare fp32 denormal preservation when `denorm_preserve` is
    /// set (exact numerics on a device with `shaderDenormPreserveFloat32`; see
    /// [`crate::spirv_patch`]), as glslc compiled them otherwise.
    pub fn new(denorm_preserve: bool) -> Pipelines {
        Pipelines {
            built: HashMap::new(),
            denorm_preserve,
        }
    }

    /// The pipeline of shader `name`, building it the first time.
    pub fn get(&mut self, ctx: &Context, name: &str) -> Result<Kernel, VkError> {
        if let Some((&name, p)) = self.built.get_key_value(name) {
            return Ok(Kernel {
                pipeline: p.clone(),
                name,
            });
        }
        let (key, bytes) =
            find(name).ok_or_else(|| VkError::Device(format!("no shader named {name}")))?;
        let p = build(ctx, key, bytes, self.denorm_preserve)?;
        self.built.insert(key, p.clone());
        Ok(Kernel {
            pipeline: p,
            name: key,
        })
    }

    /// Names of the shaders loaded so far, sorted (for checking which builds a mode uses).
    pub fn loaded(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.built.keys().copied().collect();
        names.sort_unstable();
        names
    }
}

fn build(
    ctx: &Context,
    name: &str,
    bytes: &[u8],
    denorm_preserve: bool,
) -> Result<Arc<ComputePipeline>, VkError> {
    let fail = |what: String| VkError::Device(format!("shader {name}: {what}"));
    let mut words = bytes_to_words(bytes).map_err(|e| fail(e.to_string()))?;
    if denorm_preserve {
        words = crate::spirv_patch::with_denorm_preserve(&words)
            .map_err(fail)?
            .into();
    }
    // SAFETY: the words are SPIR-V produced by glslc from shaders/*.comp; vulkano validates the
    // module's capabilities against the device's enabled features.
    let module =
        unsafe { ShaderModule::new(ctx.device.clone(), ShaderModuleCreateInfo::new(&words)) }
            .map_err(|e| fail(e.to_string()))?;
    let entry = module
        .entry_point("main")
        .ok_or_else(|| fail("no main entry point".into()))?;
    let stage = PipelineShaderStageCreateInfo::new(entry);
    let layout_info = PipelineDescriptorSetLayoutCreateInfo::from_stages([&stage])
        .into_pipeline_layout_create_info(ctx.device.clone())
        .map_err(|e| fail(format!("{e:?}")))?;
    let layout =
        PipelineLayout::new(ctx.device.clone(), layout_info).map_err(|e| fail(e.to_string()))?;
    ComputePipeline::new(
        ctx.device.clone(),
        None,
        ComputePipelineCreateInfo::stage_layout(stage, layout),
    )
    .map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shader_table_is_sorted_so_lookups_can_bisect() {
        assert!(SPIRV.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(exists("mul_mat_q8_q4_0_f64_sg") && exists("add") && !exists("nope"));
    }

    /// SPIR-V's OpCapability opcode and the Float64 and Int64 capabilities.
    const OP_CAPABILITY: u32 = 17;
    const FLOAT64: u32 = 10;
    const INT64: u32 = 11;

    /// The capabilities a SPIR-V module declares: after the 5-word header, each instruction's
    /// first word holds its word count (high 16 bits) and opcode (low 16).
    fn capabilities(name: &str, bytes: &[u8]) -> Vec<u32> {
        assert_eq!(bytes.len() % 4, 0, "{name}: not whole words");
        let words: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert!(words.len() > 5, "{name}: no instructions");
        assert_eq!(words[0], 0x0723_0203, "{name}: not little-endian SPIR-V");
        let mut caps = Vec::new();
        let mut at = 5;
        while at < words.len() {
            let (count, opcode) = ((words[at] >> 16) as usize, words[at] & 0xffff);
            assert!(
                count > 0 && at + count <= words.len(),
                "{name}: malformed instruction at word {at}"
            );
            if opcode == OP_CAPABILITY {
                caps.push(words[at + 1]);
            }
            at += count;
        }
        caps
    }

    /// Issue #16's audit: no shader that fast numerics can load (every build without `_f64` in
    /// its name) declares Float64 or Int64, so fast mode never needs the slow f64 units; and
    /// every `_f64*` build declares Float64, except where glslc compiled the f64 build to the
    /// very bytes of its plain build (a shader whose only float work the f64 defines leave as
    /// it was, such as the k-quant kernels' `_f64fma` builds): then loading it is loading the
    /// plain build, which the first half checks. Counted, so the split the backend relies on is
    /// real and the test cannot pass on a table without f64 builds.
    #[test]
    fn no_fast_shader_declares_float64_or_int64_and_every_f64_build_declares_float64() {
        let (mut fast, mut wide, mut same) = (0, 0, 0);
        for (name, bytes) in SPIRV {
            let caps = capabilities(name, bytes);
            if let Some(at) = name.find("_f64") {
                let plain_name = format!(
                    "{}{}",
                    &name[..at],
                    name[at..]
                        .trim_start_matches("_f64")
                        .trim_start_matches("fma")
                );
                let plain = find(&plain_name)
                    .unwrap_or_else(|| panic!("{name}: no plain build {plain_name}"));
                if caps.contains(&FLOAT64) {
                    wide += 1;
                } else {
                    assert_eq!(
                        plain.1, *bytes,
                        "{name}: an f64 build without Float64 that differs from {plain_name}"
                    );
                    same += 1;
                }
            } else {
                fast += 1;
                assert!(
                    !caps.contains(&FLOAT64) && !caps.contains(&INT64),
                    "{name}: a fast-set shader declares Float64 or Int64 ({caps:?})"
                );
            }
        }
        eprintln!("{fast} fast-set shaders; {wide} f64 builds declare Float64, {same} equal their plain build");
        assert!(
            fast >= 50 && wide >= 30,
            "{fast} fast and {wide} f64 builds"
        );
    }
}
