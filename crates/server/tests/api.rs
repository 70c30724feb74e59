//! `pine-serve` over TCP: response shapes, tokenize/detokenize, health, models, metrics, and
//! every kind of bad request answered with a 4xx OpenAI-style JSON error.

mod common;

use common::Server;
use serde_json::{json, Value};

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

#[test]
fn shapes_and_counts() {
    let s = Server::start(&["--alias", "smol"]);

    let r = s.post(
        "/v1/chat/completions",
        &json!({"messages": user("What is 2+2?"), "max_tokens": 6, "temperature": 0,
                "logprobs": true, "top_logprobs": 2}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "smol");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    let c = &v["choices"][0];
    assert_eq!(c["message"]["role"], "assistant");
    assert!(c["message"]["content"].is_string());
    assert!(["stop", "length"].contains(&c["finish_reason"].as_str().unwrap()));
    let u = &v["usage"];
    let (p, n) = (
        u["prompt_tokens"].as_u64().unwrap(),
        u["completion_tokens"].as_u64().unwrap(),
    );
    assert!(p > 5 && (1..=6).contains(&n), "{u}");
    assert_eq!(u["total_tokens"].as_u64().unwrap(), p + n);
    assert!(u["prompt_tokens_details"]["cached_tokens"].is_u64());
    let lps = c["logprobs"]["content"].as_array().unwrap();
    assert_eq!(
        lps.len() as u64,
        n - u64::from(c["finish_reason"] == "stop")
    );
    for lp in lps {
        assert!(lp["logprob"].as_f64().unwrap() <= 0.0);
        assert_eq!(lp["top_logprobs"].as_array().unwrap().len(), 2);
    }

    let r = s.post(
        "/v1/completions",
        &json!({"prompt": "The capital of France is", "max_tokens": 4, "temperature": 0,
                "logprobs": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["object"], "text_completion");
    let c = &v["choices"][0];
    assert_eq!(c["finish_reason"], "length");
    assert_eq!(c["logprobs"]["tokens"].as_array().unwrap().len(), 4);
    assert_eq!(v["usage"]["completion_tokens"], 4);
    let text = c["text"].as_str().unwrap().to_string();
    assert!(text.contains("Paris"), "{text:?}");

    // The same prompt as token ids gives the same greedy text; a stop string cuts it.
    let ids = s.post(
        "/tokenize",
        &json!({"content": "The capital of France is", "add_special": true}),
    );
    let ids = ids.json()["tokens"].clone();
    let v = s
        .post(
            "/v1/completions",
            &json!({"prompt": ids, "max_tokens": 4, "temperature": 0}),
        )
        .json();
    assert_eq!(v["choices"][0]["text"].as_str().unwrap(), text);
    let v = s
        .post(
            "/v1/completions",
            &json!({"prompt": "The capital of France is", "max_tokens": 4, "temperature": 0,
                    "stop": ["aris"]}),
        )
        .json();
    assert_eq!(v["choices"][0]["text"], " P", "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");

    // Tokenize / detokenize round trip, with pieces.
    let text = "<|im_start|>user\nHello, wörld!";
    let v = s
        .post("/tokenize", &json!({"content": text, "with_pieces": true}))
        .json();
    let toks = v["tokens"].as_array().unwrap();
    assert_eq!(toks[0]["piece"], "<|im_start|>");
    let ids: Vec<Value> = toks.iter().map(|t| t["id"].clone()).collect();
    let back = s.post("/detokenize", &json!({"tokens": ids})).json();
    assert_eq!(back["content"], text);

    let v = s.get("/v1/models").json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["id"], "smol");
    let v = s.get("/health").json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["slots_busy"], 0);
    assert_eq!(v["slots_idle"], 1);

    let m = s.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(
        m.headers.contains("content-type: text/plain"),
        "{}",
        m.headers
    );
    for name in [
        "pine_requests_total ",
        "pine_tokens_predicted_total ",
        "pine_queue_depth 0",
        "pine_slots_busy 0",
        "pine_prompt_tokens_per_second ",
        "pine_predicted_tokens_per_second ",
    ] {
        assert!(m.body.contains(name), "{name} missing from\n{}", m.body);
    }
    let line = m
        .body
        .lines()
        .find(|l| l.starts_with("pine_requests_total "))
        .unwrap();
    assert!(line.ends_with(" 4"), "{line}");
}

#[test]
fn bad_requests_are_json_errors() {
    let s = Server::start(&["--body-limit", "4096", "-c", "256"]);
    let chat = |extra: Value| {
        let mut body = json!({"messages": user("hi"), "max_tokens": 2});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        s.post("/v1/chat/completions", &body)
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!({"temperature": -1}), "temperature"),
        (json!({"temperature": "hot"}), "temperature"),
        (json!({"top_p": 0}), "top_p"),
        (json!({"top_p": 1.5}), "top_p"),
        (json!({"min_p": 2}), "min_p"),
        (json!({"top_k": -3}), "top_k"),
        (json!({"repeat_penalty": 0}), "repeat_penalty"),
        (json!({"frequency_penalty": 3}), "frequency_penalty"),
        (json!({"n": 2}), "n is 2"),
        (json!({"max_tokens": 0}), "max_tokens"),
        (json!({"max_tokens": "many"}), "max_tokens"),
        (json!({"seed": 1.5}), "seed"),
        (json!({"stop": 5}), "stop"),
        (json!({"stop": [""]}), "stop"),
        (json!({"stream": "yes"}), "stream"),
        (json!({"messages": []}), "messages must not be empty"),
        (json!({"messages": "hi"}), "messages must be an array"),
        (
            json!({"messages": [{"role": "wizard", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"messages": [{"role": "user"}]}),
            "messages[0].content",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
            "image_url",
        ),
        (json!({"top_logprobs": 2}), "logprobs"),
        (json!({"attention": "sideways"}), "attention"),
        (json!({"attention": "pine"}), "segments"),
        (json!({"segments": "doc"}), "segments"),
        (json!({"segments": ["a", 3]}), "segments[1]"),
        (json!({"segments": ["a"], "pine_ties": "coin"}), "pine_ties"),
        (json!({"question": "why?"}), "question"),
        (json!({"max_tokens": 1000}), "1000"),
        (json!({"max_tokens": 2.5}), "max_tokens is 2.5"),
        (json!({"tools": [{"type": "function"}]}), "tools"),
        (
            json!({"response_format": {"type": "json_object"}}),
            "response_format",
        ),
        (
            json!({"stream_options": {"include_usage": true}}),
            "stream: true",
        ),
    ];
    for (extra, needle) in cases {
        let r = chat(extra.clone());
        assert!(r.status == 400, "{extra}: {} {}", r.status, r.body);
        r.assert_error(400, needle);
    }
    // Prompt + max_tokens over the slot's context names the numbers.
    let r = chat(json!({"max_tokens": 250}));
    r.assert_error(400, "more than a slot's context of 256 tokens");
    assert_eq!(r.json()["error"]["param"], "max_tokens");

    let comp = |body: Value| s.post("/v1/completions", &body);
    comp(json!({"max_tokens": 2})).assert_error(400, "prompt is required");
    comp(json!({"prompt": 7})).assert_error(400, "prompt");
    comp(json!({"prompt": [1, 99999999]})).assert_error(400, "prompt[1]");
    comp(json!({"prompt": ["a", "b"]})).assert_error(400, "one prompt per request");
    comp(json!({"prompt": "x", "logprobs": true})).assert_error(400, "logprobs");
    comp(json!({"prompt": "", "max_tokens": 2})).assert_error(400, "no tokens");
    comp(json!({"prompt": "", "segments": ["a"], "attention": "anchor"}))
        .assert_error(400, "prefix");

    s.post("/detokenize", &json!({"tokens": [-1]}))
        .assert_error(400, "tokens[0]");
    s.post("/detokenize", &json!({"tokens": [49152]}))
        .assert_error(400, "49152");
    s.post("/tokenize", &json!({"content": 5}))
        .assert_error(400, "content");

    let raw = |data: &str| s.curl("/v1/chat/completions", &["--data-binary", data]);
    raw("{not json").assert_error(400, "not valid JSON");
    raw("[1, 2]").assert_error(400, "JSON object");
    raw("").assert_error(400, "not valid JSON");
    let big = json!({"messages": user(&"x".repeat(5000))}).to_string();
    raw(&big).assert_error(413, "limit");

    s.get("/v1/nothing").assert_error(404, "no such endpoint");
    s.get("/v1/chat/completions").assert_error(405, "method");

    // Still healthy, nothing stuck.
    let v = s.get("/health").json();
    assert_eq!(v["slots_busy"], 0, "{v}");
}

#[test]
fn api_key_guards_all_but_health() {
    let s = Server::start(&["--api-key", "sekret"]);
    let body = json!({"prompt": "Hi", "max_tokens": 1});
    let data = body.to_string();
    let post = |auth: &[&str]| {
        let mut args = auth.to_vec();
        args.extend(["--data-binary", &data]);
        s.curl("/v1/completions", &args)
    };
    post(&[]).assert_error(401, "API key");
    post(&["-H", "Authorization: Bearer sekreT"]).assert_error(401, "API key");
    post(&["-H", "Authorization: sekret"]).assert_error(401, "API key");
    assert_eq!(post(&["-H", "Authorization: Bearer sekret"]).status, 200);
    s.get("/metrics").assert_error(401, "API key");
    s.get("/v1/models").assert_error(401, "API key");
    assert_eq!(s.get("/health").status, 200);
}

#[test]
fn cors_allows_this_machine_and_named_origins_only() {
    let s = Server::start(&[
        "--api-key",
        "sekret",
        "--cors-origin",
        "https://chat.example.org",
    ]);
    let preflight = |origin: &str| {
        s.curl(
            "/v1/chat/completions",
            &[
                "-X",
                "OPTIONS",
                "-H",
                &format!("Origin: {origin}"),
                "-H",
                "Access-Control-Request-Method: POST",
                "-H",
                "Access-Control-Request-Headers: authorization, content-type",
            ],
        )
    };
    // Preflights need no key; allowed origins get the headers, others none.
    for origin in ["http://localhost:3000", "https://chat.example.org"] {
        let r = preflight(origin);
        assert_eq!(r.status, 204, "{}", r.headers);
        assert!(r
            .headers
            .contains(&format!("access-control-allow-origin: {origin}")));
        assert!(r
            .headers
            .contains("access-control-allow-headers: authorization, content-type"));
    }
    let r = preflight("https://evil.example");
    assert!(
        !r.headers.contains("access-control-allow-origin"),
        "{}",
        r.headers
    );
    // Ordinary responses (errors included) carry the header for allowed origins.
    let r = s.curl("/health", &["-H", "Origin: http://127.0.0.1:5173"]);
    assert!(r
        .headers
        .contains("access-control-allow-origin: http://127.0.0.1:5173"));
    s.curl("/v1/models", &["-H", "Origin: http://localhost"])
        .assert_error(401, "API key");
    let r = s.curl("/v1/models", &["-H", "Origin: http://localhost"]);
    assert!(r
        .headers
        .contains("access-control-allow-origin: http://localhost"));
    let r = s.curl("/health", &["-H", "Origin: https://evil.example"]);
    assert!(!r.headers.contains("access-control-allow-origin"));
}
