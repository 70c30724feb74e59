// The KV cache element type: f16 (stored as raw halves, converted on load and store; macros,
// since 16-bit storage types cannot be function parameters) or f32.
#if defined(CACHE_F16)
#define CACHE_T uint16_t
#define cache_load(v) unpackHalf2x16(uint(v)).x
#define cache_store(x) uint16_t(packHalf2x16(vec2((x), 0.0)) & 0xFFFFu)
// llama.cpp rounds the query to f16 before the K·q product when the cache is f16.
float cache_round(float x) { return unpackHalf2x16(packHalf2x16(vec2(x, 0.0))).x; }
#else
#define CACHE_T float
#define cache_load(v) (v)
#define cache_store(x) (x)
float cache_round(float x) { return x; }
#endif
