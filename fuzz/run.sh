#!/usr/bin/env bash
# Fuzzes one of pine's parsers for SECONDS seconds (default 60) with cargo-fuzz:
#   fuzz/run.sh [TARGET] [SECONDS]     TARGET: parse (default), model, tokenizer, template, layout
#   fuzz/run.sh repro TARGET FILE      re-runs one input
# parse: the GGUF reader; model: hyper-parameter validation and model set-up from a file (CPU,
# two tokens); tokenizer: llama.cpp's test vocabularies; template: chat-template compile and
# render; layout: the --layout / --segments-file parsers.
#
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its `-Z` flags on a stable toolchain, and
# `--sanitizer none` avoids needing a sanitizer runtime: panics (including arithmetic overflow
# and debug assertions, enabled in fuzz/Cargo.toml), timeouts and out-of-memory are what it
# finds. Each corpus is seeded with small valid inputs; crashes land in fuzz/artifacts/TARGET/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/target-fuzz}"
# The fixtures (tiny-llama/, llamacpp-vocab/): the repository's tests/fixtures unless PINE_FIXTURES says.
export PINE_FIXTURES="${PINE_FIXTURES:-$root/tests/fixtures}"
max_len="${MAX_LEN:-65536}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz
fi

cd "$here"
if [ "${1:-}" = "repro" ]; then
  exec cargo fuzz run --sanitizer none "$2" "$3"
fi
target=parse
if [ $# -gt 0 ] && ! [[ "$1" =~ ^[0-9]+$ ]]; then
  target="$1"
  shift
fi
seconds="${1:-60}"
corpus="$here/corpus/$target"
mkdir -p "$corpus"
echo "fuzz: seeding $corpus" >&2
case "$target" in
  parse)
    PINE_FUZZ_SEEDS="$corpus" PINE_FIXTURES="$PINE_FIXTURES/tiny-llama" cargo test \
      --manifest-path "$root/Cargo.toml" -p pine-gguf --lib \
      reader_tests::write_fuzz_seeds -- --ignored --exact >&2
    if compgen -G "$PINE_FIXTURES/tiny-llama/*.gguf" >/dev/null; then
      # Seeds longer than -max_len are truncated by libFuzzer; keep the header-heavy prefixes.
      for f in "$PINE_FIXTURES"/tiny-llama/*.gguf; do
        head -c "$max_len" "$f" >"$corpus/fixture-$(basename "$f")"
      done
    fi
    ;;
  model)
    PINE_FUZZ_SEEDS="$corpus" cargo test --manifest-path "$root/Cargo.toml" -p pine-model \
      --lib fuzz_seeds::write_fuzz_seeds -- --ignored --exact >&2
    ;;
  tokenizer)
    for f in "$PINE_FIXTURES"/llamacpp-vocab/*.inp; do
      # One seed per test string of llama.cpp's vocabulary tests.
      awk -v d="$corpus" -v b="$(basename "$f")" \
        'BEGIN{RS="\n__ggml_vocab_test__\n"} {printf "%s", $0 > (d "/" b "-" NR)}' "$f"
    done
    ;;
  template)
    printf '%s' "{% for m in messages %}<|im_start|>{{ m['role'] }}
{{ m['content'] }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}" >"$corpus/chatml"
    printf '%s' "{{ bos_token }}{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('roles must alternate') }}{% endif %}{% if m['role'] == 'user' %}{{ '[INST] ' + m['content'].strip() + ' [/INST]' }}{% else %}{{ ' ' + m['content'].strip() + eos_token }}{% endif %}{% endfor %}" >"$corpus/llama2"
    printf '%s' "{% set ns = namespace(n=0) %}{% for m in messages|selectattr('role','equalto','user') %}{% set ns.n = ns.n + 1 %}{{ m.content|upper|replace('A','b') }}{% endfor %}{{ ns.n }}{{ strftime_now('%Y') }}" >"$corpus/filters"
    ;;
  layout)
    printf '%s' '{"prefix": "Question:", "segments": ["a", [1, 2, 3]], "suffix": "Answer:"}' >"$corpus/full"
    printf '%s' '{"segments": [[5], "x y"]}' >"$corpus/segments-only"
    printf '%s' '["one", "two", "three"]' >"$corpus/segments-file"
    ;;
  *)
    echo "fuzz: unknown target $target (parse, model, tokenizer, template, layout)" >&2
    exit 2
    ;;
esac

cargo fuzz run --sanitizer none "$target" "$corpus" -- \
  -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1
