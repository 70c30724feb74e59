#!/usr/bin/env python3
"""Aggregate decode throughput of a running OpenAI-compatible server (pine-serve or llama-server).

For each concurrency N, N clients stream one completion each at the same time: a prompt of
`--prompt-tokens` random token ids (different per client, as llama-batched-bench's prompts are)
and exactly `--gen-tokens` generated tokens (`ignore_eos`, greedy). Decode throughput counts the
tokens generated after every stream has its first token, divided by the time from then to the
last token: the same quantity as llama-batched-bench's S_TG (all prompts read, then N streams
decoding together). Time to first token is reported per stream (mean and max).

Standard library only. Prints a markdown table; `--json FILE` writes every number.
"""

import argparse
import http.client
import json
import random
import statistics
import sys
import threading
import time
import urllib.parse


def stream_completion(url, prompt, n_gen, api_key, out):
    """Streams one completion; appends (t_start, [chunk arrival times], completion tokens) to
    `out`."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    body = json.dumps({
        "prompt": prompt,
        "max_tokens": n_gen,
        "temperature": 0,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    })
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", body, headers)
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:300]!r}")
    times, used = [], None
    for raw in resp:
        line = raw.decode().strip()
        if not line.startswith("data: "):
            continue
        data = line[len("data: "):]
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        if chunk.get("choices"):
            times.append(time.perf_counter())
        if chunk.get("usage"):
            used = chunk["usage"]["completion_tokens"]
    conn.close()
    out.append((t0, times, used))


def run(url, n_par, n_prompt, n_gen, api_key, seed):
    rng = random.Random(seed + n_par)
    prompts = [[rng.randrange(1000, 20000) for _ in range(n_prompt)] for _ in range(n_par)]
    results, errors = [], []

    def client(p):
        try:
            stream_completion(url, p, n_gen, api_key, results)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(p,)) for p in prompts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed: {errors[0]}")
    all_first = max(times[0] for _, times, _ in results)
    end = max(times[-1] for _, times, _ in results)
    # Chunks after every stream started, scaled to tokens (a chunk may carry several tokens
    # when the server holds back text).
    after = sum(sum(1 for t in times if t > all_first) * n / len(times)
                for _, times, n in results)
    ttft = [times[0] - t0 for t0, times, _ in results]
    n_tokens = [n for _, _, n in results]
    return {
        "parallel": n_par,
        "prompt_tokens": n_prompt,
        "gen_tokens": n_gen,
        "tokens_per_stream": n_tokens,
        "decode_tps": after / (end - all_first) if end > all_first else 0.0,
        "ttft_mean_s": statistics.mean(ttft),
        "ttft_max_s": max(ttft),
        "wall_s": end - min(t0 for t0, _, _ in results),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--parallel", default="1,4,8", help="concurrencies, comma-separated")
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--api-key")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    rows = []
    for n in [int(x) for x in a.parallel.split(",")]:
        r = run(a.url, n, a.prompt_tokens, a.gen_tokens, a.api_key, a.seed)
        if any(k != a.gen_tokens for k in r["tokens_per_stream"]):
            sys.exit(f"a stream ended early: {r['tokens_per_stream']}")
        rows.append(r)
    print("| streams | decode t/s (aggregate) | TTFT mean s | TTFT max s | wall s |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['parallel']} | {r['decode_tps']:.1f} | {r['ttft_mean_s']:.3f} | "
              f"{r['ttft_max_s']:.3f} | {r['wall_s']:.2f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
