//! Streaming answers as server-sent events: one `data: {chunk}\n\n` per piece of text, the
//! finish reason, the optional usage chunk, then `data: [DONE]`. The engine's receiver lives in
//! the body stream, so a client that goes away drops it and cancels the generation.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;

use super::errors::ApiError;
use super::objects::Reply;
use crate::engine::Event;

/// One event's bytes.
fn frame(v: &Value) -> String {
    format!("data: {v}\n\n")
}

const DONE: &str = "data: [DONE]\n\n";

struct Stream {
    rx: UnboundedReceiver<Event>,
    reply: Reply,
    include_usage: bool,
    started: bool,
    finished: bool,
}

impl Stream {
    /// The next frames to send; `None` once the stream has ended.
    async fn next(&mut self) -> Option<String> {
        if self.finished {
            return None;
        }
        if !self.started {
            self.started = true;
            if let Some(c) = self.reply.role_chunk() {
                return Some(frame(&c));
            }
        }
        loop {
            match self.rx.recv().await {
                Some(Event::Token { id, text, logprob }) => {
                    if text.is_empty() && logprob.is_none() {
                        continue;
                    }
                    let lps = logprob.map(|l| vec![(id, l)]);
                    return Some(frame(&self.reply.chunk(&text, lps.as_deref(), None)));
                }
                Some(Event::Done {
                    text,
                    finish_reason,
                    usage,
                    ..
                }) => {
                    self.finished = true;
                    let mut out = String::new();
                    if !text.is_empty() {
                        out += &frame(&self.reply.chunk(&text, None, None));
                    }
                    out += &frame(&self.reply.chunk("", None, Some(finish_reason)));
                    if self.include_usage {
                        out += &frame(&self.reply.usage_chunk(&usage));
                    }
                    return Some(out + DONE);
                }
                Some(Event::Error(message)) => {
                    self.finished = true;
                    return Some(frame(&engine_error(message).body()) + DONE);
                }
                None => {
                    self.finished = true;
                    let e = engine_error("the engine ended the request without an answer".into());
                    return Some(frame(&e.body()) + DONE);
                }
            }
        }
    }
}

/// A generation that failed inside the engine (500).
pub fn engine_error(message: String) -> ApiError {
    ApiError::status(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "generation_failed",
        message,
    )
}

/// The `text/event-stream` response for a submitted request.
pub fn response(rx: UnboundedReceiver<Event>, reply: Reply, include_usage: bool) -> Response {
    let state = Stream {
        rx,
        reply,
        include_usage,
        started: false,
        finished: false,
    };
    let body = futures_util::stream::unfold(state, |mut s| async move {
        let frames = s.next().await?;
        Some((Ok::<_, Infallible>(frames), s))
    });
    let mut r = Response::new(Body::from_stream(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, "text/event-stream".parse().unwrap());
    h.insert(header::CACHE_CONTROL, "no-cache".parse().unwrap());
    h.insert("x-accel-buffering", "no".parse().unwrap());
    r
}
