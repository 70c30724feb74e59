//! A `pine-serve` process on a free port for the tests, and `curl` to talk to it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The test model (`PINE_MODEL` or the repository's `models/SmolLM2-135M-Instruct.Q4_1.gguf`);
/// panics with the fetch command when it is missing.
pub fn model() -> PathBuf {
    let p = std::env::var_os("PINE_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../models/SmolLM2-135M-Instruct.Q4_1.gguf"
            ))
        });
    assert!(
        p.is_file(),
        "model not found at {}: run ./models/fetch.sh (or set PINE_MODEL)",
        p.display()
    );
    p
}

/// A running server; killed when dropped.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Server {
    /// Starts `pine-serve MODEL --port 0 -t 1 EXTRA...` and waits for its address.
    pub fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pine-serve"))
            .arg(model())
            .args(["--port", "0", "-t", "1"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start pine-serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("pine-serve: listening on ")
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("pine-serve did not print its address; printed {line:?}")
            })
            .to_string();
        Server { child, url }
    }

    /// Runs curl on `path` with `args`; returns the status, the headers and the body.
    pub fn curl(&self, path: &str, args: &[&str]) -> Response {
        let out = Command::new("curl")
            .args(["-sS", "-i", "-N", "--max-time", "120"])
            .args(args)
            .arg(format!("{}{path}", self.url))
            .output()
            .expect("curl is needed by the server tests (apt-get install curl)");
        let text = String::from_utf8(out.stdout.clone()).expect("utf-8 response");
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP response from {path}: {text:?} {out:?}"));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        Response {
            status,
            headers: head.to_ascii_lowercase(),
            body: body.to_string(),
        }
    }

    /// POSTs `body` as JSON.
    pub fn post(&self, path: &str, body: &Value) -> Response {
        let data = body.to_string();
        self.curl(
            path,
            &[
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &data,
            ],
        )
    }

    /// GETs `path`.
    pub fn get(&self, path: &str) -> Response {
        self.curl(path, &[])
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// The header block, lower-cased.
    pub headers: String,
    /// The body.
    pub body: String,
}

impl Response {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// Asserts an OpenAI-style JSON error with a 4xx status whose message mentions `needle`.
    pub fn assert_error(&self, status: u16, needle: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        let v = self.json();
        let e = &v["error"];
        let message = e["message"].as_str().unwrap_or_else(|| panic!("{v}"));
        assert!(
            message.contains(needle),
            "error message {message:?} does not mention {needle:?}"
        );
        assert!(e["type"].is_string(), "{v}");
        assert!(e.get("param").is_some() && e.get("code").is_some(), "{v}");
    }

    /// The `data:` payloads of a server-sent event stream, checking its framing.
    pub fn sse_data(&self) -> Vec<String> {
        assert!(
            self.headers.contains("content-type: text/event-stream"),
            "{}",
            self.headers
        );
        assert!(self.body.ends_with("data: [DONE]\n\n"), "{:?}", self.body);
        let events: Vec<&str> = self.body.split_terminator("\n\n").collect();
        events
            .iter()
            .map(|e| {
                e.strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("event without `data: `: {e:?}"))
                    .to_string()
            })
            .collect()
    }
}
