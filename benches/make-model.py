#!/usr/bin/env python3
"""Writes an F16 GGUF of a Llama- or Gemma-3-architecture model with random weights of a real model's shape.

    benches/make-model.py --shape smollm2|1b|3b|8b|gemma3-1b [-o OUT.gguf] [--vocab-from models/SmolLM2-135M-Instruct.Q4_1.gguf]
                          [--layers N] [--std 0.02] [--seed 0] [--force]
    benches/make-model.py --vocab-only -o OUT.gguf [--vocab-from ...]

For speed comparisons at realistic sizes (benches/scale-models.sh quantizes the result with
llama-quantize): the weights are N(0, std) noise, so the model says nothing sensible, but every
kernel sees the shapes and value ranges of the real model.
  smollm2 = SmolLM2-135M: 30 layers, n_embd 576, 9/3 heads, head_dim 64, ffn 1536, tied embeddings
(a stand-in for models/SmolLM2-135M-Instruct.*.gguf where that file cannot travel)
  1b = Llama-3.2-1B: 16 layers, n_embd 2048, 32/8 heads, head_dim 64, ffn 8192, tied embeddings
  3b = Llama-3.2-3B: 28 layers, n_embd 3072, 24/8 heads, head_dim 128, ffn 8192, tied embeddings
  8b = Llama-3.1-8B: 32 layers, n_embd 4096, 32/8 heads, head_dim 128, ffn 14336, untied output.weight
rope theta 500000, rms eps 1e-5, context 131072.
  gemma3-1b = Gemma-3-1B (architecture gemma3): 26 layers, n_embd 1152, 4/1 heads, head_dim 256,
ffn 6912, tied embeddings, per-head Q/K norms and post-norms, sliding window 512 on five layers
of six (local rope theta 10000), global rope theta 1e6, rms eps 1e-6, context 32768. The vocabulary is not Llama 3's: the tokenizer.*
keys (49152 tokens) are copied from --vocab-from (SmolLM2) so that pine and llama.cpp both
tokenize. Matrices are F16, norm weights are F32 ones. --layers N overrides the layer count
(quick tests). Needs numpy and the PyPI `gguf` package. The file is written streaming, one
chunk of rows at a time (a few hundred MB of RAM at most, whatever the shape).
--vocab-only writes only --vocab-from's tokenizer.* keys (no tensors, ~1 MB for SmolLM2's): a
file that travels where the model cannot, to be given as --vocab-from there
(benches/vulkan-gpu.sh --pack).
"""
import argparse
import os
import sys
import time

import numpy as np

try:
    import gguf
except ImportError:
    sys.exit("make-model: needs the PyPI package gguf (pip install gguf numpy)")

SHAPES = {
    "smollm2": dict(n_layer=30, n_embd=576, n_head=9, n_head_kv=3, head_dim=64, n_ff=1536, tied=True,
                    name="SmolLM2-135M"),
    "1b": dict(n_layer=16, n_embd=2048, n_head=32, n_head_kv=8, head_dim=64, n_ff=8192, tied=True,
               name="Llama-3.2-1B"),
    "3b": dict(n_layer=28, n_embd=3072, n_head=24, n_head_kv=8, head_dim=128, n_ff=8192, tied=True,
               name="Llama-3.2-3B"),
    "8b": dict(n_layer=32, n_embd=4096, n_head=32, n_head_kv=8, head_dim=128, n_ff=14336, tied=False,
               name="Llama-3.1-8B"),
    "gemma3-1b": dict(n_layer=26, n_embd=1152, n_head=4, n_head_kv=1, head_dim=256, n_ff=6912,
                      tied=True, name="Gemma-3-1B", arch="gemma3"),
}
CHUNK_ELEMS = 32 << 20  # per generated chunk: 128 MiB of f32 + 64 MiB of f16


def copy_tokenizer(writer, path):
    """Copies every tokenizer.* key of GGUF `path` into `writer`; returns the vocabulary size."""
    reader = gguf.GGUFReader(path)
    n_vocab = None
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        value = field.contents()
        if vtype == gguf.GGUFValueType.ARRAY:
            writer.add_key_value(key, value, vtype, sub_type=field.types[-1])
            if key == "tokenizer.ggml.tokens":
                n_vocab = len(value)
        else:
            writer.add_key_value(key, value, vtype)
    if not n_vocab:
        sys.exit(f"make-model: {path} has no tokenizer.ggml.tokens")
    return n_vocab


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", choices=sorted(SHAPES))
    ap.add_argument("--vocab-only", action="store_true", help="write only the tokenizer keys")
    ap.add_argument("-o", "--out", help="default models/scale/llama-<shape>-random.F16.gguf")
    ap.add_argument("--vocab-from", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--layers", type=int, help="override the layer count (quick tests)")
    ap.add_argument("--std", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="overwrite an existing output")
    a = ap.parse_args()
    if a.vocab_only:
        if not a.out:
            sys.exit("make-model: --vocab-only needs -o OUT.gguf")
        w = gguf.GGUFWriter(a.out + ".partial", "llama")
        w.add_name("tokenizer only (pine make-model --vocab-only)")
        copy_tokenizer(w, a.vocab_from)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        w.close()
        os.replace(a.out + ".partial", a.out)
        return
    if not a.shape:
        sys.exit("make-model: --shape is required (or --vocab-only)")

    s = dict(SHAPES[a.shape])
    if a.layers:
        s["n_layer"] = a.layers
    arch = s.get("arch", "llama")
    gemma = arch == "gemma3"
    out = a.out or (f"models/scale/{a.shape}-random.F16.gguf" if gemma
                    else f"models/scale/llama-{a.shape}-random.F16.gguf")
    if os.path.exists(out) and not a.force:
        sys.exit(f"make-model: {out} exists (--force overwrites)")
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    tmp = out + ".partial"

    n_embd, n_ff, hd = s["n_embd"], s["n_ff"], s["head_dim"]
    q_dim, kv_dim = s["n_head"] * hd, s["n_head_kv"] * hd

    w = gguf.GGUFWriter(tmp, arch)
    w.add_name(f"{s['name']} shape, random weights (pine scale bench)")
    w.add_type("model")
    w.add_context_length(32768 if gemma else 131072)
    w.add_embedding_length(n_embd)
    w.add_block_count(s["n_layer"])
    w.add_feed_forward_length(n_ff)
    w.add_head_count(s["n_head"])
    w.add_head_count_kv(s["n_head_kv"])
    w.add_rope_dimension_count(hd)
    w.add_rope_freq_base(1e6 if gemma else 500000.0)
    w.add_layer_norm_rms_eps(1e-6 if gemma else 1e-5)
    if gemma:
        w.add_sliding_window(512)
    if hd * s["n_head"] != n_embd:
        w.add_key_length(hd)
        w.add_value_length(hd)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    n_vocab = copy_tokenizer(w, a.vocab_from)
    w.add_vocab_size(n_vocab)

    # (name, numpy shape (rows, cols) = GGUF ne reversed, kind)
    tensors = [("token_embd.weight", (n_vocab, n_embd), "w")]
    for i in range(s["n_layer"]):
        b = f"blk.{i}."
        tensors += [
            (b + "attn_norm.weight", (n_embd,), "norm"),
            (b + "attn_q.weight", (q_dim, n_embd), "w"),
            (b + "attn_k.weight", (kv_dim, n_embd), "w"),
            (b + "attn_v.weight", (kv_dim, n_embd), "w"),
            (b + "attn_output.weight", (n_embd, q_dim), "w"),
            (b + "ffn_norm.weight", (n_embd,), "norm"),
            (b + "ffn_gate.weight", (n_ff, n_embd), "w"),
            (b + "ffn_up.weight", (n_ff, n_embd), "w"),
            (b + "ffn_down.weight", (n_embd, n_ff), "w"),
        ]
        if gemma:
            tensors += [
                (b + "attn_q_norm.weight", (hd,), "norm"),
                (b + "attn_k_norm.weight", (hd,), "norm"),
                (b + "post_attention_norm.weight", (n_embd,), "norm"),
                (b + "post_ffw_norm.weight", (n_embd,), "norm"),
            ]
    tensors.append(("output_norm.weight", (n_embd,), "norm"))
    if not s["tied"]:
        tensors.append(("output.weight", (n_vocab, n_embd), "w"))

    def dtype_of(kind):
        return np.dtype(np.float32) if kind == "norm" else np.dtype(np.float16)

    n_params = 0
    for name, shape, kind in tensors:
        n = int(np.prod(shape))
        n_params += n
        w.add_tensor_info(name, shape, dtype_of(kind), n * dtype_of(kind).itemsize)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    fout = w.fout[0]
    align = w.data_alignment
    w.write_padding(fout, fout.tell(), align)  # start of the tensor data

    rng = np.random.default_rng(a.seed)
    buf32 = np.empty(CHUNK_ELEMS, dtype=np.float32)
    buf16 = np.empty(CHUNK_ELEMS, dtype=np.float16)
    t0 = time.time()
    written = 0
    for k, (name, shape, kind) in enumerate(tensors):
        n = int(np.prod(shape))
        if kind == "norm":
            np.ones(n, dtype=np.float32).tofile(fout)
        else:
            left = n
            while left:
                c = min(left, CHUNK_ELEMS)
                x32, x16 = buf32[:c], buf16[:c]
                rng.standard_normal(dtype=np.float32, out=x32)
                x32 *= a.std
                np.copyto(x16, x32, casting="same_kind")
                x16.tofile(fout)
                left -= c
        nbytes = n * dtype_of(kind).itemsize
        w.write_padding(fout, nbytes, align)
        written += nbytes
        if k % 9 == 0 or k == len(tensors) - 1:
            print(f"make-model: {k + 1}/{len(tensors)} tensors, {written / 2**30:.2f} GiB, "
                  f"{time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    w.close()
    os.replace(tmp, out)
    print(f"make-model: wrote {out}: {s['name']} shape, {s['n_layer']} layers, "
          f"{n_params / 1e9:.3f} B params, vocab {n_vocab}, {os.path.getsize(out) / 2**30:.2f} GiB "
          f"in {time.time() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
