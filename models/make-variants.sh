#!/usr/bin/env bash
# Makes the Q4_0 and Q8_0 variants of the default model next to it, from the fetched Q4_1 file:
#   models/SmolLM2-135M-Instruct.Q4_0.gguf, models/SmolLM2-135M-Instruct.Q8_0.gguf
# with pine-quantize --via-f16 (decode Q4_1 -> round to F16 -> quantize, the way llama.cpp's
# own variants were requantized through an F16 file). Run ./models/fetch.sh first.
# PINE_QUANTIZE=path/to/pine-quantize uses a built binary instead of `cargo run --release`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/SmolLM2-135M-Instruct.Q4_1.gguf"

if [ ! -f "$src" ]; then
  echo "make-variants: $src is missing: run ./models/fetch.sh" >&2
  exit 1
fi

if [ -n "${PINE_QUANTIZE:-}" ]; then
  quantize=("$PINE_QUANTIZE")
else
  quantize=(cargo run --quiet --release --manifest-path "$here/../Cargo.toml" --bin pine-quantize --)
fi

for ty in Q4_0 Q8_0; do
  "${quantize[@]}" "$src" "$here/SmolLM2-135M-Instruct.$ty.gguf" "$ty" --via-f16
done
