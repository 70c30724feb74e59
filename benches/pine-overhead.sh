#!/usr/bin/env bash
# PINE and anchor attention overhead against causal attention on the same ~512-token prompt:
# pine-bench pp512/tg128 with 2, 5 and 20 segments, and the ratios the PINE issue targets
# (prefill ≤ 1.3× causal, decode ≤ 1.1× causal per token). The machine is shared and its speed
# drifts, so each round runs every mode in one pine-bench invocation, which interleaves the
# modes' repetitions (the order reversed every other round): repetition i of a mode and of
# causal run back to back, and the table gives the median over every round's pairs of their
# time ratio.
#   benches/pine-overhead.sh [-m MODEL] [-t THREADS] [-r REPS] [-p N] [-n N] [-k ROUNDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
model="" t=2 r=5 p=512 n=128 k=3
while [ $# -gt 0 ]; do
  case "$1" in
    -m) model="$2"; shift 2 ;;
    -t) t="$2"; shift 2 ;;
    -r) r="$2"; shift 2 ;;
    -p) p="$2"; shift 2 ;;
    -n) n="$2"; shift 2 ;;
    -k) k="$2"; shift 2 ;;
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
for round in $(seq 1 "$k"); do
  order=causal,pine,anchor
  [ $((round % 2)) = 0 ] && order=anchor,pine,causal
  for segs in 2 5 20; do
    "${pin[@]}" "$bench" "${margs[@]}" -p "$p" -n "$n" -t "$t" -r "$r" \
      --attention "$order" --segments "$segs" -o json --json-out "$out/s${segs}_r$round.json" >/dev/null
  done
done
python3 - "$out" <<'PY'
import json, sys, glob, os, statistics
ratios = {}
for f in sorted(glob.glob(os.path.join(sys.argv[1], "s*_r*.json"))):
    segs = int(os.path.basename(f)[1:].split("_")[0])
    data = json.load(open(f))
    rows = {(r["attention"], r["test"]): r for r in data["results"]}
    for (mode, test), r in rows.items():
        base = rows.get(("causal", test))
        if mode == "causal" or base is None:
            continue
        pairs = zip(r["samples_ns"], base["samples_ns"])
        ratios.setdefault((segs, test, mode), []).append(
            ([m / c for m, c in pairs], r["median_ts"], base["median_ts"]))
print("| segments | test | mode | t/s (median) | causal t/s | time ratio vs causal (median of pairs; range of round medians) |")
print("|---|---|---|---|---|---|")
for (s, test, mode), rs in sorted(ratios.items()):
    ratio = statistics.median(x for r in rs for x in r[0])
    v = statistics.median(x[1] for x in rs)
    b = statistics.median(x[2] for x in rs)
    rounds = [statistics.median(r[0]) for r in rs]
    print(f"| {s} | {test} | {mode} | {v:.1f} | {b:.1f} | {ratio:.2f}× ({min(rounds):.2f}–{max(rounds):.2f}) |")
PY
