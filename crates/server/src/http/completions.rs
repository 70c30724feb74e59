//! `POST /v1/completions`: a prompt string (or one string, or token ids, in an array)
//! tokenized with BOS as the model wants.

use axum::extract::State;
use axum::response::Response;
use serde_json::Value;

use super::body::{type_name, Fields, JsonObject};
use super::errors::ApiError;
use super::objects::Endpoint;
use super::{generate, layout, params, AppState};
use crate::engine::Prompt;

/// The handler.
pub async fn handler(
    State(state): State<AppState>,
    JsonObject(f): JsonObject,
) -> Result<Response, ApiError> {
    let generation = params::generation(&f)?;
    let logprobs = f.int("logprobs", 0, 20)?.map(|n| n as usize);
    if f.bool("echo")? == Some(true) {
        return Err(ApiError::field("echo", "echo: true is not supported"));
    }
    let s = state.clone();
    let prompt = generate::off_runtime(move || tokenized(&s, &f)).await?;
    generate::respond(&state, Endpoint::Completion, prompt, generation, logprobs).await
}

/// The prompt tokenized, or with the extension fields the layout around the segments.
fn tokenized(state: &AppState, f: &Fields) -> Result<Prompt, ApiError> {
    let ext = layout::extension(f)?;
    Ok(match (prompt(f, state.tokenizer.n_vocab())?, ext) {
        (Given::Text(text), None) => Prompt::Tokens(
            state
                .tokenizer
                .encode(&text, true, true)
                .map_err(|e| ApiError::field("prompt", format!("could not tokenize: {e}")))?,
        ),
        (Given::Ids(ids), None) => Prompt::Tokens(ids),
        (Given::Text(text), Some(ext)) => Prompt::Layout {
            layout: layout::from_text(&state.tokenizer, &text, &ext)?,
            mode: ext.mode,
        },
        (Given::Ids(_), Some(_)) => {
            return Err(ApiError::field(
                "prompt",
                "with segments, the prompt must be text (the prefix before them)",
            ))
        }
    })
}

/// The prompt as given.
enum Given {
    Text(String),
    Ids(Vec<u32>),
}

fn prompt(f: &Fields, n_vocab: usize) -> Result<Given, ApiError> {
    let one = "prompt must be a string, token ids, or an array holding one of them (one \
               prompt per request)";
    match f.get("prompt") {
        None => Err(ApiError::field("prompt", "prompt is required")),
        Some(Value::String(s)) => Ok(Given::Text(s.clone())),
        Some(Value::Array(a)) => match a.as_slice() {
            [Value::String(s)] => Ok(Given::Text(s.clone())),
            [Value::Array(ids)] => ids_of("prompt[0]", ids, n_vocab).map(Given::Ids),
            ids if ids.iter().all(Value::is_number) && !ids.is_empty() => {
                ids_of("prompt", ids, n_vocab).map(Given::Ids)
            }
            _ => Err(ApiError::field("prompt", one)),
        },
        Some(v) => Err(ApiError::field(
            "prompt",
            format!("{one}; got {}", type_name(v)),
        )),
    }
}

/// Token ids, each inside the vocabulary.
pub fn ids_of(field: &str, ids: &[Value], n_vocab: usize) -> Result<Vec<u32>, ApiError> {
    ids.iter()
        .enumerate()
        .map(|(i, v)| match v.as_u64() {
            Some(id) if (id as usize) < n_vocab => Ok(id as u32),
            _ => Err(ApiError::field(
                format!("{field}[{i}]"),
                format!(
                    "{field}[{i}] is {v}: token ids are whole numbers below the vocabulary \
                     size of {n_vocab}"
                ),
            )),
        })
        .collect()
}
