// Shared by every pine compute shader: 16-bit storage for the raw GGUF blocks and the f16
// cache (storage and conversion only, so devices without f16 arithmetic work too), and one push-constant block (eight words) so the host pushes the same struct
// everywhere. Each shader names the words it uses with #defines.
#extension GL_EXT_shader_16bit_storage : require

layout(push_constant) uniform Params {
    uint p0, p1, p2, p3, p4, p5, p6, p7;
} pc;
