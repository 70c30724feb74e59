//! The generation fields both endpoints share: sampling (llama-server's defaults), stop strings,
//! `max_tokens`, `n`, `stream` and `stream_options`.

use std::hash::{BuildHasher, RandomState};

use serde_json::Value;

use super::body::{string_items, type_name, Fields};
use super::errors::ApiError;
use crate::engine::Sampling;

/// How far back the repeat/frequency/presence penalties look (llama-server's `repeat_last_n`).
const PENALTY_LAST_N: usize = 64;

/// The shared fields of a completion request.
#[derive(Clone, Debug, PartialEq)]
pub struct Generation {
    /// Sampling settings.
    pub sampling: Sampling,
    /// Stop strings.
    pub stop: Vec<String>,
    /// `max_tokens` (or `max_completion_tokens`), if given.
    pub max_tokens: Option<usize>,
    /// Stream the answer as server-sent events.
    pub stream: bool,
    /// With `stream`: end with a chunk carrying `usage`.
    pub include_usage: bool,
    /// Generate past end-of-generation tokens (llama-server's `ignore_eos`, for benchmarks).
    pub ignore_eos: bool,
}

/// Reads and checks the shared fields.
pub fn generation(f: &Fields) -> Result<Generation, ApiError> {
    if let Some(n) = f.get("n") {
        if n.as_i64() != Some(1) {
            return Err(ApiError::field(
                "n",
                format!("n is {n}: only n = 1 (one choice per request) is supported"),
            ));
        }
    }
    let sampling = Sampling {
        temperature: f
            .float("temperature", 0.0, false, f64::INFINITY)?
            .unwrap_or(0.8),
        top_k: f.int("top_k", 0, i64::from(u32::MAX))?.unwrap_or(40) as usize,
        top_p: f.float("top_p", 0.0, true, 1.0)?.unwrap_or(0.95),
        min_p: f.float("min_p", 0.0, false, 1.0)?.unwrap_or(0.05),
        repeat_penalty: f
            .float("repeat_penalty", 0.0, true, f64::INFINITY)?
            .unwrap_or(1.0),
        penalty_last_n: PENALTY_LAST_N,
        frequency_penalty: f
            .float("frequency_penalty", -2.0, false, 2.0)?
            .unwrap_or(0.0),
        presence_penalty: f
            .float("presence_penalty", -2.0, false, 2.0)?
            .unwrap_or(0.0),
        seed: seed(f)?,
    };
    let max_tokens = match (
        f.int("max_tokens", 1, i64::from(u32::MAX))?,
        f.int("max_completion_tokens", 1, i64::from(u32::MAX))?,
    ) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::field(
                "max_completion_tokens",
                format!("max_tokens ({a}) and max_completion_tokens ({b}) disagree: give one"),
            ))
        }
        (a, b) => a.or(b).map(|n| n as usize),
    };
    let stream = f.bool("stream")?.unwrap_or(false);
    let include_usage = match f.get("stream_options") {
        None => false,
        Some(Value::Object(o)) => Fields(o.clone())
            .bool("include_usage")
            .map_err(|e| ApiError {
                param: Some("stream_options.include_usage".into()),
                ..e
            })?
            .unwrap_or(false),
        Some(v) => {
            return Err(ApiError::field(
                "stream_options",
                format!("stream_options must be an object, not {}", type_name(v)),
            ))
        }
    };
    if include_usage && !stream {
        return Err(ApiError::field(
            "stream_options",
            "stream_options is only allowed with stream: true",
        ));
    }
    Ok(Generation {
        sampling,
        stop: stop(f)?,
        max_tokens,
        stream,
        include_usage,
        ignore_eos: f.bool("ignore_eos")?.unwrap_or(false),
    })
}

/// `seed`: a whole number (negative: a fresh random seed, as llama-server's -1).
fn seed(f: &Fields) -> Result<u64, ApiError> {
    match f.get("seed") {
        None => Ok(RandomState::new().hash_one(std::time::SystemTime::now())),
        Some(v) => match (v.as_u64(), v.as_i64()) {
            (Some(s), _) => Ok(s),
            (None, Some(_)) => Ok(RandomState::new().hash_one(std::time::SystemTime::now())),
            _ => Err(ApiError::field(
                "seed",
                format!("seed must be a whole number, not {v}"),
            )),
        },
    }
}

/// `stop`: a string or an array of non-empty strings.
fn stop(f: &Fields) -> Result<Vec<String>, ApiError> {
    let list = match f.get("stop") {
        None => return Ok(Vec::new()),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => string_items("stop", a)?,
        Some(v) => {
            return Err(ApiError::field(
                "stop",
                format!(
                    "stop must be a string or an array of strings, not {}",
                    type_name(v)
                ),
            ))
        }
    };
    if list.iter().any(String::is_empty) {
        return Err(ApiError::field("stop", "stop strings must not be empty"));
    }
    Ok(list)
}
