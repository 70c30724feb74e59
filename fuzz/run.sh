#!/usr/bin/env bash
# Fuzzes pine's GGUF reader for SECONDS seconds (default 60) with cargo-fuzz's target `parse`.
#
# Only a stable toolchain is available, so RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its `-Z`
# flags, and `--sanitizer none` avoids needing a sanitizer runtime: panics (including
# arithmetic overflow and debug assertions, enabled in fuzz/Cargo.toml) are what it finds.
# The corpus is seeded with writer-built files (a pine-gguf test writes them) and the tiny-llama
# fixtures; `-max_len` keeps libFuzzer's inputs small even though fixtures are megabytes.
# Crashes land in fuzz/artifacts/parse/; reproduce one with `fuzz/run.sh repro FILE`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/target-gguf}"
fixtures="${PINE_FIXTURES:-$root/../shared/fixtures}/tiny-llama"
max_len="${MAX_LEN:-65536}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz
fi

cd "$here"
if [ "${1:-}" = "repro" ]; then
  exec cargo fuzz run --sanitizer none parse "$2"
fi
seconds="${1:-60}"

corpus="$here/corpus/parse"
mkdir -p "$corpus"
echo "fuzz: writing seed files into $corpus" >&2
PINE_FUZZ_SEEDS="$corpus" PINE_FIXTURES="$fixtures" cargo test --manifest-path "$root/Cargo.toml" -p pine-gguf --lib \
  reader_tests::write_fuzz_seeds -- --ignored --exact >&2
if compgen -G "$fixtures/*.gguf" >/dev/null; then
  # Seeds longer than -max_len are truncated by libFuzzer; keep the header-heavy prefixes.
  for f in "$fixtures"/*.gguf; do
    head -c "$max_len" "$f" >"$corpus/fixture-$(basename "$f")"
  done
else
  echo "fuzz: no fixtures under $fixtures (set PINE_FIXTURES); seeding with writer files only" >&2
fi

cargo fuzz run --sanitizer none parse "$corpus" -- \
  -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1
