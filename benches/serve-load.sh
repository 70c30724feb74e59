#!/usr/bin/env bash
# Load test of pine-serve: starts it with 8 slots on the default model (or MODEL=...), runs
# benches/serve-load.py against it (8 streaming clients x 20 requests, 100 malformed requests
# interleaved; every answer checked against the solo greedy output), then stops it with SIGTERM
# and checks that it exits 0. Extra arguments go to serve-load.py. THREADS (default 2) sets -t.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p pine-server
model="${MODEL:-${PINE_MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
target/release/pine-serve "$model" --port 0 --parallel 8 -c 8192 -t "${THREADS:-2}" >"$out" &
pid=$!
for _ in $(seq 300); do
  grep -q "listening on" "$out" && break
  kill -0 "$pid" 2>/dev/null || { echo "pine-serve exited before listening" >&2; exit 1; }
  sleep 0.1
done
url="$(sed -n 's/^pine-serve: listening on //p' "$out")"
status=0
python3 benches/serve-load.py "$url" "$pid" "$@" || status=$?
kill -TERM "$pid"
wait "$pid" || { echo "pine-serve exited with $? after SIGTERM" >&2; exit 1; }
exit "$status"
