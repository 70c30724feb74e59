#!/usr/bin/env bash
# PINE and anchor attention overhead against causal attention on the same ~512-token prompt:
# pine-bench pp512/tg128 with 2, 5 and 20 segments, medians, and the ratios the PINE issue
# targets (prefill ≤ 1.3× causal, decode ≤ 1.1× causal per token).
#   benches/pine-overhead.sh [-m MODEL] [-t THREADS] [-r REPS] [-p N] [-n N]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
model="" t=2 r=5 p=512 n=128
while [ $# -gt 0 ]; do
  case "$1" in
    -m) model="$2"; shift 2 ;;
    -t) t="$2"; shift 2 ;;
    -r) r="$2"; shift 2 ;;
    -p) p="$2"; shift 2 ;;
    -n) n="$2"; shift 2 ;;
    *) echo "pine-overhead: unknown argument $1" >&2; exit 2 ;;
  esac
done
bench="${PINE_BENCH:-}"
if [ -z "$bench" ]; then
  cargo build --release --quiet --bin pine-bench
  bench="$root/target/release/pine-bench"
fi
margs=()
[ -n "$model" ] && margs=(-m "$model")
pin=()
command -v taskset >/dev/null && pin=(taskset -c "0-$((t - 1))")
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for segs in 2 5 20; do
  "${pin[@]}" "$bench" "${margs[@]}" -p "$p" -n "$n" -t "$t" -r "$r" \
    --attention causal,pine,anchor --segments "$segs" -o json --json-out "$out/s$segs.json" >/dev/null
done
python3 - "$out" <<'PY'
import json, sys, glob, os, statistics
rows = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "s*.json"))):
    segs = int(os.path.basename(f)[1:-5])
    data = json.load(open(f))
    med = {}
    for r in data["results"]:
        med[(r["attention"], r["test"])] = r["median_ts"]
    for test in sorted({k[1] for k in med}):
        base = med.get(("causal", test))
        for mode in ("pine", "anchor"):
            if (mode, test) in med and base:
                rows.append((segs, test, mode, med[(mode, test)], base, base / med[(mode, test)]))
print("| segments | test | mode | t/s (median) | causal t/s | time ratio vs causal |")
print("|---|---|---|---|---|---|")
for s, test, mode, v, b, ratio in sorted(rows):
    print(f"| {s} | {test} | {mode} | {v:.1f} | {b:.1f} | {ratio:.2f}× |")
PY
