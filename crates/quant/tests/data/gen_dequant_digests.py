#!/usr/bin/env python3
"""Independent reference digests for `tests/fixture_dequant.rs`.

For every tiny-llama fixture (`*.gguf` in $PINE_FIXTURES, the tiny-llama directory or the
fixtures directory holding it; default the repository's tests/fixtures/tiny-llama) and every tensor, dequantizes the tensor with gguf-py
(`gguf.quants.dequantize`, gguf 0.19.0 + numpy) and records the FNV-1a-64 digest of the
little-endian f32 values in ggml element order (ne0 fastest), plus the element count.

Rounding order: for every type present in the fixtures (F32, F16, BF16, Q4_0, Q4_1, Q5_0,
Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, IQ3_S, IQ3_XXS, TQ1_0, TQ2_0) gguf-py
evaluates the same f32 operations in the same order as llama.cpp's `dequantize_row_*`
(sub-block scale `d*sc` first, then `scale*q`, then `- min` / `+ m` / `* sign`), so its
output is bit-identical to llama.cpp's scalar reference and no type needs a llama.cpp-ordered
override here. (The only way llama.cpp could differ is if its C compiler contracted
`d1*q - m1` into an FMA; the pine Rust code never fuses, like gguf-py.) If a future gguf-py
changes an order, add the type to OVERRIDES with a numpy function that follows llama.cpp.

Usage: python3 crates/quant/tests/data/gen_dequant_digests.py
       (writes crates/quant/tests/data/dequant_digests.json next to this script)
"""
import json
import os
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf.quants import dequantize

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]
FIXTURES = Path(os.environ.get("PINE_FIXTURES", REPO / "tests" / "fixtures" / "tiny-llama"))
if (FIXTURES / "tiny-llama").is_dir():
    FIXTURES = FIXTURES / "tiny-llama"

# ggml type name -> function(raw uint8 bytes, n_elements) -> float32 values, for types where
# gguf-py's float order differs from llama.cpp's. Empty: see the module docstring.
OVERRIDES = {}

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK = 0xFFFFFFFFFFFFFFFF


def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK
    return h


def main() -> int:
    files = sorted(FIXTURES.glob("*.gguf"))
    if not files:
        print(f"no fixtures under {FIXTURES}", file=sys.stderr)
        return 1
    out = {
        "about": "FNV-1a-64 of little-endian f32 dequantized values per tensor; see gen_dequant_digests.py",
        "gguf_py": getattr(gguf, "__version__", "0.19.0"),
        "numpy": np.__version__,
        "files": {},
    }
    for path in files:
        reader = gguf.GGUFReader(str(path))
        entry = {}
        for t in reader.tensors:
            ty = t.tensor_type.name
            n = int(t.n_elements)
            if ty in OVERRIDES:
                vals = OVERRIDES[ty](np.asarray(t.data).view(np.uint8).reshape(-1), n)
            else:
                vals = dequantize(t.data, t.tensor_type)
            vals = np.ascontiguousarray(vals, dtype="<f4").reshape(-1)
            assert vals.size == n, (path.name, t.name, vals.size, n)
            entry[t.name] = {"type": ty, "n": n, "fnv1a64": f"{fnv1a64(vals.tobytes()):016x}"}
        out["files"][path.name] = entry
        print(f"{path.name}: {len(entry)} tensors", file=sys.stderr)
    (HERE / "dequant_digests.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
