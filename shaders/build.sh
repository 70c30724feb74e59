#!/usr/bin/env bash
# Regenerates the committed SPIR-V in shaders/spv/ from the GLSL sources with glslc (Debian
# package `glslc`). `cargo build` never runs this: the crate embeds the .spv files, so no shader
# compiler is needed to build pine. CI runs it and fails when the committed files are stale:
#   shaders/build.sh          regenerate
#   shaders/build.sh --check  regenerate into a temporary folder and compare
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/spv"
check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
command -v glslc >/dev/null || { echo "shaders/build.sh: glslc not found (apt-get install glslc)" >&2; exit 1; }
mkdir -p "$out"
compile() { # NAME SOURCE [DEFINES...]
  local name="$1" src="$2"
  shift 2
  glslc --target-env=vulkan1.1 -O -Werror -fshader-stage=compute "$@" "$here/$src" -o "$out/$name.spv"
}
roundings() { # BASE SOURCE WIDE [DEFINES...]: a build per activation rounding (ACT_*), float
  # and, for the 8-bit ones, integer output (INT_OUT): BASE_q8_0, …, BASE_q8_0_int, …
  local base="$1" src="$2" wide="$3" act lower
  shift 3
  for act in Q8_0 Q8_1 Q8_K F16 BF16; do
    lower="$(echo "$act" | tr 'A-Z' 'a-z')"
    compile "${base}_$lower$wide" "$src" "-DACT_$act" "$@"
  done
  for act in Q8_0 Q8_1 Q8_K; do
    lower="$(echo "$act" | tr 'A-Z' 'a-z')"
    compile "${base}_${lower}_int$wide" "$src" "-DACT_$act" -DINT_OUT "$@"
  done
}
# Shaders that copy the CPU's float order use f64 in exact numerics where the device has it
# (suffix _f64); those with fused multiply-adds also get a build that uses the device's fma()
# (suffix _f64fma), for devices whose fma() the start-up probe (fma_probe.comp) finds fused.
# The plain builds are fast numerics' (the default): no Float64 or Int64, which a unit test
# checks in every embedded module (crates/vulkan/src/kernels.rs).
for wide in "" "_f64" "_f64fma"; do
  f64=()
  [ "$wide" = "_f64" ] && f64=(-DHAVE_F64)
  [ "$wide" = "_f64fma" ] && f64=(-DHAVE_F64 -DFUSED_FMA)
  for c in f16 f32; do
    upper="$(echo "$c" | tr 'a-z' 'A-Z')"
    compile "attention_$c$wide" attention.comp "-DCACHE_$upper" "${f64[@]}"
    # The attention output also rounded for the integer matmul after it (QUANT_OUT).
    for act in Q8_0 Q8_1 Q8_K; do
      lower="$(echo "$act" | tr 'A-Z' 'a-z')"
      compile "attention_${c}_quant_${lower}_int$wide" attention.comp "-DCACHE_$upper" "-DACT_$act" -DINT_OUT -DQUANT_OUT "${f64[@]}"
    done
    compile "pine_importance_$c$wide" pine_importance.comp "-DCACHE_$upper" "${f64[@]}"
  done
  compile "swiglu$wide" swiglu.comp "${f64[@]}"
  # swiglu and the activation rounding in one dispatch (swiglu_quant.comp).
  roundings swiglu_quant swiglu_quant.comp "$wide" "${f64[@]}"
  compile "geglu$wide" geglu.comp "${f64[@]}"
  # The integer matmuls also get builds that run up to three weights of one type and width in
  # one dispatch (suffix _multi; matmul_rows.glsl), and builds that sum each row's eight lanes by subgroup
  # shuffles (suffix _sg; reduce8.glsl, or for Q4_0 the block order's integer block sums), for
  # devices with subgroups of eight or more.
  for ty in Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL; do
    lower="$(echo "$ty" | tr 'A-Z' 'a-z')"
    compile "mul_mat_q8_$lower$wide" mul_mat_q8.comp "-DDATA_$ty" "${f64[@]}"
    compile "mul_mat_q8_$lower${wide}_sg" mul_mat_q8.comp "-DDATA_$ty" -DSUBGROUP_SHUFFLE "${f64[@]}"
    compile "mul_mat_q8_$lower${wide}_multi" mul_mat_q8.comp "-DDATA_$ty" -DMULTI "${f64[@]}"
    compile "mul_mat_q8_$lower${wide}_sg_multi" mul_mat_q8.comp "-DDATA_$ty" -DSUBGROUP_SHUFFLE -DMULTI "${f64[@]}"
  done
  for ty in Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_XS; do
    lower="$(echo "$ty" | tr 'A-Z' 'a-z')"
    compile "mul_mat_k_$lower$wide" mul_mat_k.comp "-DDATA_$ty" "${f64[@]}"
    compile "mul_mat_k_$lower${wide}_multi" mul_mat_k.comp "-DDATA_$ty" -DMULTI "${f64[@]}"
  done
  # (Q2_K and IQ4_XS sum their lanes inside the block loop, through shared memory.)
  for ty in Q3_K Q4_K Q5_K Q6_K; do
    lower="$(echo "$ty" | tr 'A-Z' 'a-z')"
    compile "mul_mat_k_$lower${wide}_sg" mul_mat_k.comp "-DDATA_$ty" -DSUBGROUP_SHUFFLE "${f64[@]}"
    compile "mul_mat_k_$lower${wide}_sg_multi" mul_mat_k.comp "-DDATA_$ty" -DSUBGROUP_SHUFFLE -DMULTI "${f64[@]}"
  done
done
# The shaders without multiply-adds: plain and f64 builds.
for wide in "" "_f64"; do
  f64=()
  [ -n "$wide" ] && f64=(-DHAVE_F64)
  roundings quantize_act quantize_act.comp "$wide" "${f64[@]}"
  compile "rms_norm$wide" rms_norm.comp "${f64[@]}"
  # rms_norm and the activation rounding in one dispatch (rms_norm_quant.comp).
  roundings rms_norm_quant rms_norm_quant.comp "$wide" "${f64[@]}"
  compile "mul_mat_bf16_single$wide" mul_mat_bf16.comp "${f64[@]}"
  compile "mul_mat_bf16_batch$wide" mul_mat_bf16.comp -DBATCH "${f64[@]}"
done
for ty in F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS; do
  lower="$(echo "$ty" | tr 'A-Z' 'a-z')"
  compile "mul_mat_$lower" mul_mat.comp "-DDATA_$ty"
  compile "get_rows_$lower" get_rows.comp "-DDATA_$ty"
done
# The tiled matmul of fast numerics' prefill (mul_mm.comp): float activations for every type,
# and for the integer types the rounded activations' integers and scales (_int); for those also
# the integer-dot form (mul_mmq.comp), for devices with integer dot products. TILE 8 (_l) for
# large products. Fast numerics only: no f64 builds.
for ty in F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS; do
  lower="$(echo "$ty" | tr 'A-Z' 'a-z')"
  compile "mul_mm_$lower" mul_mm.comp "-DDATA_$ty"
  compile "mul_mm_${lower}_l" mul_mm.comp "-DDATA_$ty" -DTILE=8u
  case "$ty" in
    Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | IQ4_NL) act=(-DINT_IN) ;;
    Q2_K | Q3_K | Q4_K | Q5_K | Q6_K | IQ4_XS) act=(-DINT_IN -DACT_Q8_K) ;;
    *) continue ;;
  esac
  compile "mul_mm_${lower}_int" mul_mm.comp "-DDATA_$ty" "${act[@]}"
  compile "mul_mm_${lower}_int_l" mul_mm.comp "-DDATA_$ty" "${act[@]}" -DTILE=8u
  compile "mul_mmq_$lower" mul_mmq.comp "-DDATA_$ty" "${act[@]}"
  compile "mul_mmq_${lower}_l" mul_mmq.comp "-DDATA_$ty" "${act[@]}" -DTILE=8u
  # Fast numerics' row kernel for decode and small batches (mul_mv.comp), with the exact
  # order's _sg and _multi variants.
  for v in "" _sg _multi _sg_multi; do
    flags=()
    case "$v" in *sg*) flags+=(-DSUBGROUP_SHUFFLE) ;; esac
    case "$v" in *multi*) flags+=(-DMULTI) ;; esac
    compile "mul_mv_$lower$v" mul_mv.comp "-DDATA_$ty" "${act[@]}" "${flags[@]}"
  done
done
for c in f16 f32; do
  upper="$(echo "$c" | tr 'a-z' 'A-Z')"
  compile "store_kv_$c" store_kv.comp "-DCACHE_$upper"
  compile "pine_region_keys_$c" pine_region_keys.comp "-DCACHE_$upper"
done
for s in add add_bias argmax top_k scale select_rows fma_probe pine_importance_sum; do
  compile "$s" "$s.comp"
done
if [ "$check" = 1 ]; then
  if ! diff -r "$out" "$here/spv" >/dev/null; then
    echo "shaders/spv is stale: run shaders/build.sh and commit the result" >&2
    diff -rq "$out" "$here/spv" >&2 || true
    exit 1
  fi
  echo "shaders/spv is up to date"
fi
