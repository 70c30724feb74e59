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
for ty in F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS; do
  lower="$(echo "$ty" | tr 'A-Z' 'a-z')"
  compile "mul_mat_$lower" mul_mat.comp "-DDATA_$ty"
  compile "get_rows_$lower" get_rows.comp "-DDATA_$ty"
done
for ty in Q4_1 Q5_1; do
  lower="$(echo "$ty" | tr 'A-Z' 'a-z')"
  compile "mul_mat_${lower}_q8_1" mul_mat.comp "-DDATA_$ty" -DMIN_FROM_SUMS
done
for act in Q8_0 Q8_1 Q8_K F16 BF16; do
  lower="$(echo "$act" | tr 'A-Z' 'a-z')"
  compile "quantize_act_$lower" quantize_act.comp "-DACT_$act"
done
for c in f16 f32; do
  upper="$(echo "$c" | tr 'a-z' 'A-Z')"
  compile "store_kv_$c" store_kv.comp "-DCACHE_$upper"
  compile "attention_$c" attention.comp "-DCACHE_$upper"
done
for s in rms_norm swiglu add select_rows; do
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
