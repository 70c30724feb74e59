#!/usr/bin/env python3
"""Load test of a running pine-serve (standard library only).

8 concurrent streaming clients x 20 requests each (chat and text completions, mixed prompt
lengths, greedy), with 100 malformed requests interleaved from two more clients. Checks: every
good response is complete (finish chunk, [DONE]) and equals the solo greedy output for the same
prompt; every bad one is a 4xx OpenAI-style JSON error; the server stays up; at the end /health
shows every slot idle and nothing queued; RSS returns to its idle level. Prints the numbers.

Usage: serve-load.py URL PID [--clients 8] [--requests 20] [--bad 100] [--max-tokens 16]
"""

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

PARAGRAPH = ("The river runs past the old mill, where the miller's children count the boats "
             "that carry grain down to the sea. ")


def prompts():
    """Prompts of mixed lengths: (endpoint, body without sampling fields)."""
    out = []
    for i, reps in enumerate([0, 1, 3, 6, 12, 20]):
        text = PARAGRAPH * reps + f"Question {i}: what comes next in the story?"
        out.append(("/v1/chat/completions", {"messages": [{"role": "user", "content": text}]}))
        out.append(("/v1/completions", {"prompt": PARAGRAPH * reps + f"Chapter {i}. It was"}))
    return out


BAD = [
    b"{not json",
    b"[]",
    b'{"messages": [], "max_tokens": 4}',
    b'{"messages": [{"role": "user", "content": "x"}], "temperature": -1}',
    b'{"messages": [{"role": "user", "content": "x"}], "n": 3}',
    b'{"messages": [{"role": "user", "content": "x"}], "top_p": 7}',
    b'{"messages": [{"role": "user", "content": "x"}], "attention": "sideways"}',
    b'{"messages": [{"role": "wizard", "content": "x"}]}',
    b'{"prompt": [1, 999999999], "max_tokens": 2}',
    b'{"prompt": "x", "max_tokens": 100000000}',
    b'{"prompt": "x", "stop": 5}',
    b'{"prompt": {"a": 1}}',
]


def request(url, path, body, stream):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    t0 = time.perf_counter()
    conn.request("POST", path, data, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if not stream or resp.status != 200:
        raw = resp.read()
        conn.close()
        return resp.status, raw, None
    chunks, ttft = [], None
    for line in resp:
        line = line.decode()
        if line.startswith("data: "):
            if ttft is None:
                ttft = time.perf_counter() - t0
            chunks.append(line[6:].strip())
    conn.close()
    return resp.status, chunks, ttft


def text_of(path, chunks):
    """The streamed text, or raises when the stream is incomplete."""
    if not chunks or chunks[-1] != "[DONE]":
        raise AssertionError(f"stream without [DONE]: {chunks[-3:]}")
    parts, finish = [], None
    for c in chunks[:-1]:
        obj = json.loads(c)
        if "error" in obj:
            raise AssertionError(f"stream error: {obj}")
        for ch in obj["choices"]:
            piece = ch["delta"].get("content") if "delta" in ch else ch["text"]
            parts.append(piece or "")
            finish = ch["finish_reason"] or finish
    if finish not in ("stop", "length"):
        raise AssertionError(f"no finish reason: {chunks[-3:]}")
    return "".join(parts)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def health(url):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("GET", "/health")
    return json.loads(conn.getresponse().read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("pid", type=int)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--bad", type=int, default=100)
    ap.add_argument("--max-tokens", type=int, default=16)
    a = ap.parse_args()
    sampling = {"temperature": 0, "max_tokens": a.max_tokens, "stream": True}
    cases = prompts()

    # Solo greedy outputs, one request at a time (also warms the server up).
    solo = []
    for path, body in cases:
        status, chunks, _ = request(a.url, path, {**body, **sampling}, True)
        assert status == 200, (status, chunks)
        solo.append(text_of(path, chunks))
    # One concurrent round of the longest prompts touches every slot's KV cache pages (the
    # cache is allocated at start but paged in as slots first reach each position), so the idle
    # level below is that of a warm server, and growth after the run means retained memory.
    longest = max(range(len(cases)), key=lambda i: len(json.dumps(cases[i][1])))
    warm = [threading.Thread(target=request, args=(a.url, cases[longest][0],
                                                   {**cases[longest][1], **sampling}, True))
            for _ in range(a.clients)]
    for t in warm:
        t.start()
    for t in warm:
        t.join()
    time.sleep(0.5)
    rss_idle = rss_kib(a.pid)

    failures, ttfts, peak = [], [], [rss_idle]
    lock = threading.Lock()

    def good_client(k):
        for j in range(a.requests):
            i = (k * 7 + j) % len(cases)
            path, body = cases[i]
            try:
                status, chunks, ttft = request(a.url, path, {**body, **sampling}, True)
                assert status == 200, (status, chunks)
                got = text_of(path, chunks)
                assert got == solo[i], f"case {i}: batched {got!r} != solo {solo[i]!r}"
                with lock:
                    ttfts.append(ttft)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                with lock:
                    failures.append(f"client {k} request {j}: {e}")

    def bad_client(k, n):
        for j in range(n):
            body = BAD[(k + j) % len(BAD)]
            path = "/v1/completions" if b'"prompt"' in body else "/v1/chat/completions"
            try:
                status, raw, _ = request(a.url, path, body, False)
                err = json.loads(raw)["error"]
                assert 400 <= status < 500 and err["message"], (status, raw)
            except Exception as e:  # noqa: BLE001
                with lock:
                    failures.append(f"bad client {k} request {j}: {e}")
            time.sleep(0.02)

    def sampler(stop):
        while not stop.is_set():
            peak.append(rss_kib(a.pid))
            time.sleep(0.1)

    threads = [threading.Thread(target=good_client, args=(k,)) for k in range(a.clients)]
    threads += [threading.Thread(target=bad_client, args=(k, a.bad // 2 + (k < a.bad % 2)))
                for k in range(2)]
    stop = threading.Event()
    mon = threading.Thread(target=sampler, args=(stop,))
    mon.start()
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    stop.set()
    mon.join()

    h = health(a.url)
    if h["slots_busy"] != 0 or h["queue_depth"] != 0:
        failures.append(f"slots stuck after the run: {h}")
    time.sleep(1.0)
    rss_after = rss_kib(a.pid)
    # Memory is back when it is within 10% (or 16 MiB) of the idle level.
    if rss_after > max(rss_idle * 1.10, rss_idle + 16 * 1024):
        failures.append(f"RSS {rss_after} KiB after the run, {rss_idle} KiB idle before")

    good = a.clients * a.requests
    gen = good * a.max_tokens
    print(f"good requests: {good} ({len(ttfts)} correct), malformed: {a.bad}, wall {wall:.1f} s")
    print(f"throughput: {good / wall:.2f} req/s, about {gen / wall:.1f} generated tok/s "
          f"(max_tokens {a.max_tokens}, EOS may end some earlier)")
    if ttfts:
        q = statistics.quantiles(ttfts, n=20)
        print(f"time to first token: mean {statistics.mean(ttfts):.3f} s, "
              f"p50 {statistics.median(ttfts):.3f} s, p95 {q[-1]:.3f} s, max {max(ttfts):.3f} s")
    print(f"RSS: idle {rss_idle / 1024:.1f} MiB, peak {max(peak) / 1024:.1f} MiB, "
          f"after {rss_after / 1024:.1f} MiB")
    print(f"health at the end: {h}")
    for f in failures[:20]:
        print("FAIL:", f, file=sys.stderr)
    if failures:
        print(f"{len(failures)} failures", file=sys.stderr)
        sys.exit(1)
    print("serve-load: all checks passed")


if __name__ == "__main__":
    main()
