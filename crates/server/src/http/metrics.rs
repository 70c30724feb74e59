//! `GET /metrics`: the engine's counters in Prometheus' text exposition format.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use crate::engine::Stats;

/// The handler.
pub async fn handler(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        exposition(&state.handle.stats()),
    )
}

/// Tokens per second, 0 before any work.
fn rate(tokens: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        tokens as f64 / seconds
    } else {
        0.0
    }
}

/// The text exposition of `s`.
pub fn exposition(s: &Stats) -> String {
    let metrics: [(&str, &str, &str, f64); 15] = [
        (
            "requests_total",
            "counter",
            "Requests accepted.",
            s.requests_total as f64,
        ),
        (
            "requests_rejected_total",
            "counter",
            "Requests refused (queue full, too long, shutting down).",
            s.requests_rejected as f64,
        ),
        (
            "requests_finished_total",
            "counter",
            "Requests finished (done, failed or cancelled).",
            s.requests_finished as f64,
        ),
        (
            "requests_cancelled_total",
            "counter",
            "Requests cancelled by their client.",
            s.requests_cancelled as f64,
        ),
        (
            "prompt_tokens_total",
            "counter",
            "Prompt tokens evaluated.",
            s.prompt_tokens_evaluated as f64,
        ),
        (
            "prompt_tokens_cached_total",
            "counter",
            "Prompt tokens reused from a slot's cache.",
            s.prompt_tokens_cached as f64,
        ),
        (
            "tokens_predicted_total",
            "counter",
            "Tokens generated.",
            s.tokens_generated as f64,
        ),
        (
            "prompt_seconds_total",
            "counter",
            "Seconds in steps that evaluated prompt tokens.",
            s.prompt_seconds,
        ),
        (
            "decode_seconds_total",
            "counter",
            "Seconds in steps that only decoded.",
            s.decode_seconds,
        ),
        (
            "prompt_tokens_per_second",
            "gauge",
            "Prompt tokens evaluated per second of prompt steps.",
            rate(s.prompt_tokens_evaluated, s.prompt_seconds),
        ),
        (
            "predicted_tokens_per_second",
            "gauge",
            "Tokens generated per second of decode steps.",
            rate(s.tokens_generated, s.decode_seconds),
        ),
        (
            "slots_busy",
            "gauge",
            "Slots generating or prefilling.",
            s.slots_busy as f64,
        ),
        (
            "slots_idle",
            "gauge",
            "Slots free.",
            s.slots_total.saturating_sub(s.slots_busy) as f64,
        ),
        (
            "slots_total",
            "gauge",
            "Slots in all.",
            s.slots_total as f64,
        ),
        (
            "queue_depth",
            "gauge",
            "Requests waiting for a slot.",
            s.queue_depth as f64,
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in metrics {
        let _ = writeln!(out, "# HELP pine_{name} {help}");
        let _ = writeln!(out, "# TYPE pine_{name} {kind}");
        let _ = writeln!(out, "pine_{name} {value}");
    }
    out
}
