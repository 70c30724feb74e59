#!/usr/bin/env python3
"""pine-serve through the official `openai` Python package: chat (streaming and not),
completions, the PINE/anchor extension via extra_body, seeds, logprobs and error cases.

Usage: openai_client.py BASE_URL   (e.g. http://127.0.0.1:8080/v1). Exits non-zero on failure.
"""

import sys

import openai

client = openai.OpenAI(base_url=sys.argv[1], api_key="unused", max_retries=0, timeout=120)
MODEL = client.models.list().data[0].id
GREEDY = dict(model=MODEL, temperature=0, max_tokens=8)


def chat(content, **kw):
    return client.chat.completions.create(
        messages=[{"role": "user", "content": content}], **{**GREEDY, **kw})


# Chat, whole and streamed: the same greedy text; usage adds up.
whole = chat("What is the capital of France?")
text = whole.choices[0].message.content
assert whole.object == "chat.completion" and text, whole
assert whole.choices[0].finish_reason in ("stop", "length"), whole
u = whole.usage
assert u.total_tokens == u.prompt_tokens + u.completion_tokens > 0, u

chunks = list(chat("What is the capital of France?", stream=True,
                   stream_options={"include_usage": True}))
streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
assert streamed == text, (streamed, text)
assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == u.completion_tokens
assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == whole.choices[0].finish_reason

# Multi-turn with a system message.
multi = client.chat.completions.create(messages=[
    {"role": "system", "content": "You answer in one word."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": [{"type": "text", "text": "Colour of the sky?"}]},
], **GREEDY)
assert multi.choices[0].message.content is not None

# Logprobs.
lp = chat("Say yes.", logprobs=True, top_logprobs=3, max_tokens=3)
content = lp.choices[0].logprobs.content
assert content and all(len(t.top_logprobs) == 3 and t.logprob <= 0 for t in content), content

# Seeds: the same seed gives the same sampled text.
a = chat("Tell me a word.", temperature=1.0, seed=42, max_tokens=6).choices[0].message.content
b = chat("Tell me a word.", temperature=1.0, seed=42, max_tokens=6).choices[0].message.content
assert a == b, (a, b)

# Completions, whole and streamed.
comp = client.completions.create(prompt="The capital of France is", **GREEDY)
assert "Paris" in comp.choices[0].text, comp
streamed = "".join(c.choices[0].text for c in client.completions.create(
    prompt="The capital of France is", stream=True, **GREEDY))
assert streamed == comp.choices[0].text, (streamed, comp.choices[0].text)

# PINE through extra_body: two segments in either order give the same greedy text.
docs = ["Answer A: water boils at 100 degrees Celsius at sea level.",
        "Answer B: water boils at 50 degrees Celsius at sea level."]


def judged(segments, attention="pine", **extra):
    r = client.chat.completions.create(
        messages=[{"role": "system", "content": "You are a fair judge."},
                  {"role": "user", "content": "Which answer is correct?"}],
        extra_body={"attention": attention, "segments": segments,
                    "question": "Reply with A or B.", **extra},
        **GREEDY)
    return r.choices[0].message.content


forward, backward = judged(docs), judged(docs[::-1])
assert forward == backward, (forward, backward)
assert judged(docs, pine_ties="input-order") is not None
reset = [judged(d, "anchor", anchor_positions="reset") for d in (docs, docs[::-1])]
assert reset[0] == reset[1], reset
raw = [client.completions.create(prompt="Which is right?\n", extra_body={
    "attention": "pine", "segments": d, "question": "\nAnswer:"}, **GREEDY).choices[0].text
    for d in (docs, docs[::-1])]
assert raw[0] == raw[1], raw

# Bad requests: 400s with a message naming the field.
bad = [
    (lambda: chat("hi", temperature=-1), "temperature"),
    (lambda: chat("hi", n=2), "n"),
    (lambda: chat("hi", top_p=0), "top_p"),
    (lambda: chat("hi", extra_body={"attention": "sideways"}), "attention"),
    (lambda: chat("hi", extra_body={"attention": "pine"}), "segments"),
    (lambda: client.chat.completions.create(messages=[], **GREEDY), "messages"),
    (lambda: client.chat.completions.create(
        messages=[{"role": "wizard", "content": "x"}], **GREEDY), "role"),
    (lambda: client.completions.create(prompt=[[1, 10**9]], **GREEDY), "prompt"),
    (lambda: chat("hi", max_tokens=10**6), "context"),
]
for call, field in bad:
    try:
        call()
    except openai.BadRequestError as e:
        assert e.status_code == 400, e
        assert field in e.body["message"], (field, e.body)
    else:
        raise AssertionError(f"no error for a bad {field}")

print("openai client: all checks passed")
