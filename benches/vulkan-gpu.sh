#!/usr/bin/env bash
# The device check for a lent GPU (the `device` tool): build, the Vulkan tests on the real
# device, and pine-bench of SmolLM2 Q4_1 on Vulkan (pp512, tg128) next to the CPU, in one run.
# Run it from the repository root on the device machine, e.g. with `.gl` carried:
#   for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; benches/vulkan-gpu.sh [REPS]
# Results go to stdout and, when $OUT is set, to $OUT/vulkan-gpu.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
reps="${1:-5}"
if [ -z "$(ldconfig -p | grep libvulkan.so.1 || true)" ]; then
  echo "vulkan-gpu: no Vulkan loader (libvulkan.so.1); carry .gl as ../.library/device/README.md says" >&2
  exit 1
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
[ -f models/SmolLM2-135M-Instruct.Q4_1.gguf ] || ./models/fetch.sh
cargo build --release --bins
./target/release/pine-run --list-devices
REQUIRE_VULKAN=1 cargo test --release -p pine-vulkan
REQUIRE_VULKAN=1 cargo test --release --test vulkan_model --test vulkan_fixture_logits
out="${OUT:-$(mktemp -d)}"
./target/release/pine-bench -p 512 -n 128 -r "$reps" --backend vulkan -o md --json-out "$out/vulkan-gpu.json" \
  | tee "$out/vulkan-gpu.md"
./target/release/pine-bench -p 512 -n 128 -r "$reps" --backend vulkan --attention causal,pine,anchor --segments 5 -o md \
  | tee -a "$out/vulkan-gpu.md"
./target/release/pine-bench -p 512 -n 128 -r "$reps" -t "$(nproc)" --backend cpu -o md | tee -a "$out/vulkan-gpu.md"
