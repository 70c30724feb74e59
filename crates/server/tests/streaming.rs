//! `pine-serve`'s server-sent events checked byte for byte through `curl -N`, a client that
//! disconnects mid-stream, a full queue, and draining on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::{json, Value};

fn chunks(data: &[String]) -> Vec<Value> {
    let (last, rest) = data.split_last().unwrap();
    assert_eq!(last, "[DONE]");
    rest.iter()
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("{e}: {d}")))
        .collect()
}

#[test]
fn sse_framing_matches_the_whole_answer() {
    let s = Server::start(&[]);
    let body = json!({"messages": [{"role": "user", "content": "Name a colour."}],
                      "max_tokens": 8, "temperature": 0});
    let whole = s.post("/v1/chat/completions", &body).json();
    let text = whole["choices"][0]["message"]["content"].as_str().unwrap();

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let r = s.post("/v1/chat/completions", &streamed);
    assert_eq!(r.status, 200);
    assert!(
        r.headers.contains("cache-control: no-cache"),
        "{}",
        r.headers
    );
    let c = chunks(&r.sse_data());
    assert!(c.iter().all(|c| c["object"] == "chat.completion.chunk"));
    let id = &c[0]["id"];
    assert!(c.iter().all(|c| &c["id"] == id));
    assert_eq!(c[0]["choices"][0]["delta"]["role"], "assistant");
    let (usage, body_chunks) = c.split_last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    for k in ["prompt_tokens", "completion_tokens", "total_tokens"] {
        assert_eq!(usage["usage"][k], whole["usage"][k], "{k}");
    }
    // The same prompt again reuses the slot's cache (all but the last prompt token).
    let cached = usage["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    assert!(cached > 0, "{usage}");
    let (fin, deltas) = body_chunks.split_last().unwrap();
    assert_eq!(
        fin["choices"][0]["finish_reason"],
        whole["choices"][0]["finish_reason"]
    );
    let joined: String = deltas
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(joined, text);
    assert!(deltas[1..]
        .iter()
        .all(|c| c["choices"][0]["finish_reason"].is_null()));

    // Text completions: no role chunk, no usage chunk without stream_options.
    let body = json!({"prompt": "One, two, three,", "max_tokens": 6, "temperature": 0});
    let whole = s.post("/v1/completions", &body).json();
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let c = chunks(&s.post("/v1/completions", &streamed).sse_data());
    assert!(c
        .iter()
        .all(|c| c["object"] == "text_completion" && c.get("usage").is_none()));
    let joined: String = c
        .iter()
        .map(|c| c["choices"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(joined, whole["choices"][0]["text"].as_str().unwrap());
    assert_eq!(c.last().unwrap()["choices"][0]["finish_reason"], "length");

    // A refused streaming request is a plain JSON error, not a stream.
    streamed["temperature"] = json!(-2);
    s.post("/v1/completions", &streamed)
        .assert_error(400, "temperature");
}

/// Polls /health until no slot is busy.
fn wait_idle(s: &Server) -> Value {
    let t0 = Instant::now();
    loop {
        let h = s.get("/health").json();
        if h["slots_busy"] == 0 && h["queue_depth"] == 0 {
            return h;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "slots stuck: {h}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts a long streaming completion with curl and returns once its first chunk arrived.
fn long_stream(s: &Server) -> std::process::Child {
    let body = json!({"prompt": "Once upon a time", "max_tokens": 400, "temperature": 0,
                      "ignore_eos": true, "stream": true});
    let mut child = Command::new("curl")
        .args(["-sS", "-N", "--data-binary", &body.to_string()])
        .arg(format!("{}/v1/completions", s.url))
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("data: {"), "{line:?}");
    child
}

#[test]
fn disconnect_cancels_and_full_queue_is_503() {
    let s = Server::start(&["--max-queue", "1", "-c", "1024"]);
    // A client that goes away mid-stream frees its slot.
    let mut c = long_stream(&s);
    c.kill().unwrap();
    c.wait().unwrap();
    wait_idle(&s);
    let m = s.get("/metrics").body;
    assert!(m.contains("pine_requests_cancelled_total 1"), "{m}");

    // So does one waiting for a whole (non-streamed) answer.
    let body = json!({"prompt": "Once upon a time", "max_tokens": 900, "temperature": 0,
                      "ignore_eos": true});
    let r = Command::new("curl")
        .args(["-sS", "--max-time", "1", "--data-binary", &body.to_string()])
        .arg(format!("{}/v1/completions", s.url))
        .output()
        .unwrap();
    assert!(!r.status.success(), "the request finished within a second");
    wait_idle(&s);
    let m = s.get("/metrics").body;
    assert!(m.contains("pine_requests_cancelled_total 2"), "{m}");

    // One generating, one waiting: the third is refused with Retry-After.
    let mut first = long_stream(&s);
    let body = json!({"prompt": "Hello", "max_tokens": 2}).to_string();
    let mut second = Command::new("curl")
        .args(["-sS", "--data-binary", &body])
        .arg(format!("{}/v1/completions", s.url))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while s.get("/health").json()["queue_depth"] != 1 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "second request never queued"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = s.post(
        "/v1/completions",
        &json!({"prompt": "Hello", "max_tokens": 2}),
    );
    r.assert_error(503, "queue is full");
    assert!(r.headers.contains("retry-after: 1"), "{}", r.headers);
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(second.wait().unwrap().success());
    wait_idle(&s);
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits_0() {
    let mut s = Server::start(&["-c", "1024"]);
    let body = json!({"prompt": "Once upon a time", "max_tokens": 48, "temperature": 0,
                      "ignore_eos": true, "stream": true});
    let mut child = Command::new("curl")
        .args(["-sS", "-N", "--data-binary", &body.to_string()])
        .arg(format!("{}/v1/completions", s.url))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(
        rest.ends_with("data: [DONE]\n\n"),
        "stream cut short: {rest:?}"
    );
    assert!(rest.contains("\"finish_reason\":\"length\""), "{rest}");
    child.wait().unwrap();
    let status = s.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}
