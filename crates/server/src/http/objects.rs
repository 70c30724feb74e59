//! The OpenAI response objects: `chat.completion` / `chat.completion.chunk` and
//! `text_completion`, with their `logprobs` and `usage` parts.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use pine_tokenizer::Tokenizer;
use serde_json::{json, Value};

use crate::engine::{FinishReason, TokenLogprob, Usage};

/// Which endpoint's objects to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/v1/chat/completions`.
    Chat,
    /// `/v1/completions`.
    Completion,
}

/// Seconds since the Unix epoch (OpenAI's `created`).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Builds the objects of one response.
pub struct Reply {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// `chatcmpl-…` / `cmpl-…`.
    pub id: String,
    /// Creation time.
    pub created: u64,
    /// The model name reported.
    pub model: String,
    /// For the text of log-probability tokens.
    pub tokenizer: Arc<Tokenizer>,
}

/// One generated token's log-probability, kept for the response.
pub type Logprob = (u32, TokenLogprob);

fn finish(f: Option<FinishReason>) -> Value {
    match f {
        None => Value::Null,
        Some(FinishReason::Stop) => "stop".into(),
        Some(FinishReason::Length) => "length".into(),
    }
}

/// The `usage` object.
pub fn usage(u: &Usage) -> Value {
    json!({
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens + u.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
    })
}

impl Reply {
    fn object(&self, chunk: bool) -> &'static str {
        match (self.endpoint, chunk) {
            (Endpoint::Chat, false) => "chat.completion",
            (Endpoint::Chat, true) => "chat.completion.chunk",
            (Endpoint::Completion, _) => "text_completion",
        }
    }

    fn envelope(&self, chunk: bool, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": self.object(chunk),
            "created": self.created,
            "model": self.model,
            "system_fingerprint": concat!("pine-", env!("CARGO_PKG_VERSION")),
            "choices": choices,
        })
    }

    fn piece(&self, id: u32) -> (String, Vec<u8>) {
        let bytes = self.tokenizer.token_bytes(id).unwrap_or_default();
        (String::from_utf8_lossy(&bytes).into_owned(), bytes)
    }

    fn logprobs(&self, lps: &[Logprob]) -> Value {
        match self.endpoint {
            Endpoint::Chat => {
                let entry = |id: u32, lp: f32| {
                    let (token, bytes) = self.piece(id);
                    json!({"token": token, "logprob": lp, "bytes": bytes})
                };
                let content: Vec<Value> = lps
                    .iter()
                    .map(|(id, lp)| {
                        let mut e = entry(*id, lp.logprob);
                        e["top_logprobs"] = lp.top.iter().map(|t| entry(t.id, t.logprob)).collect();
                        e
                    })
                    .collect();
                json!({"content": content})
            }
            Endpoint::Completion => {
                let mut offset = 0;
                let (mut tokens, mut lp, mut top, mut offsets) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for (id, l) in lps {
                    let (token, _) = self.piece(*id);
                    offsets.push(offset);
                    offset += token.len();
                    tokens.push(token);
                    lp.push(l.logprob);
                    let alts: serde_json::Map<String, Value> = l
                        .top
                        .iter()
                        .map(|t| (self.piece(t.id).0, json!(t.logprob)))
                        .collect();
                    top.push(Value::Object(alts));
                }
                json!({"tokens": tokens, "token_logprobs": lp, "top_logprobs": top,
                       "text_offset": offsets})
            }
        }
    }

    fn choice(
        &self,
        text: Value,
        lps: Option<&[Logprob]>,
        f: Option<FinishReason>,
        chunk: bool,
    ) -> Value {
        let logprobs = lps.map_or(Value::Null, |l| self.logprobs(l));
        match self.endpoint {
            Endpoint::Chat => {
                let key = if chunk { "delta" } else { "message" };
                json!({"index": 0, key: text, "logprobs": logprobs, "finish_reason": finish(f)})
            }
            Endpoint::Completion => {
                json!({"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish(f)})
            }
        }
    }

    fn text(&self, text: &str, chunk: bool) -> Value {
        match (self.endpoint, chunk) {
            (Endpoint::Chat, false) => json!({"role": "assistant", "content": text}),
            (Endpoint::Chat, true) if text.is_empty() => json!({}),
            (Endpoint::Chat, true) => json!({"content": text}),
            (Endpoint::Completion, _) => json!(text),
        }
    }

    /// The whole answer of a non-streaming request.
    pub fn complete(
        &self,
        text: &str,
        lps: Option<&[Logprob]>,
        f: FinishReason,
        u: &Usage,
    ) -> Value {
        let mut v = self.envelope(
            false,
            json!([self.choice(self.text(text, false), lps, Some(f), false)]),
        );
        v["usage"] = usage(u);
        v
    }

    /// The first chunk of a chat stream: the assistant's role.
    pub fn role_chunk(&self) -> Option<Value> {
        (self.endpoint == Endpoint::Chat).then(|| {
            let delta = json!({"role": "assistant", "content": ""});
            self.envelope(true, json!([self.choice(delta, None, None, true)]))
        })
    }

    /// A chunk with some text (and its token's log-probabilities), or the last one with the
    /// finish reason.
    pub fn chunk(&self, text: &str, lps: Option<&[Logprob]>, f: Option<FinishReason>) -> Value {
        self.envelope(
            true,
            json!([self.choice(self.text(text, true), lps, f, true)]),
        )
    }

    /// The closing chunk of `stream_options.include_usage`: no choices, the counts.
    pub fn usage_chunk(&self, u: &Usage) -> Value {
        let mut v = self.envelope(true, json!([]));
        v["usage"] = usage(u);
        v
    }
}
