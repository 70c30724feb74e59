//! `POST /v1/chat/completions`: messages rendered with the model's chat template.

use axum::extract::State;
use axum::response::Response;
use pine_tokenizer::ChatMessage;
use serde_json::Value;

use super::body::{type_name, Fields, JsonObject};
use super::errors::ApiError;
use super::objects::Endpoint;
use super::{generate, layout, params, AppState};
use crate::engine::Prompt;

/// Roles a chat template is given (`developer` is OpenAI's newer name for `system`).
const ROLES: [&str; 4] = ["system", "developer", "user", "assistant"];

/// The handler.
pub async fn handler(
    State(state): State<AppState>,
    JsonObject(f): JsonObject,
) -> Result<Response, ApiError> {
    let generation = params::generation(&f)?;
    let logprobs = logprobs(&f)?;
    unsupported(&f)?;
    let s = state.clone();
    let prompt = generate::off_runtime(move || prompt(&s, &f)).await?;
    generate::respond(&state, Endpoint::Chat, prompt, generation, logprobs).await
}

/// Refuses fields that would change the answer but are not implemented (silently ignoring
/// them would mislead the client).
fn unsupported(f: &Fields) -> Result<(), ApiError> {
    if f.get("tools")
        .is_some_and(|t| t.as_array().is_none_or(|a| !a.is_empty()))
    {
        return Err(ApiError::field(
            "tools",
            "tools (function calling) are not supported",
        ));
    }
    match f
        .get("response_format")
        .map(|r| r.get("type").and_then(Value::as_str))
    {
        None | Some(Some("text")) => Ok(()),
        Some(_) => Err(ApiError::field(
            "response_format",
            "only response_format {\"type\": \"text\"} is supported",
        )),
    }
}

/// The prompt: the rendered conversation, or with the extension fields the layout cut around
/// the segments.
fn prompt(state: &AppState, f: &Fields) -> Result<Prompt, ApiError> {
    let messages = messages(f)?;
    let ext = layout::extension(f)?;
    let template = state.template.as_ref().ok_or_else(|| {
        ApiError::field(
            "messages",
            "this model has no chat template: use /v1/completions with a prompt",
        )
    })?;
    let tok = &state.tokenizer;
    Ok(match ext {
        Some(ext) => Prompt::Layout {
            layout: layout::from_chat(tok, template, messages, &ext)?,
            mode: ext.mode,
        },
        None => {
            let text = template.render(&messages, true).map_err(|e| {
                ApiError::field("messages", format!("the chat template failed: {e}"))
            })?;
            let ids = tok.encode(&text, true, true).map_err(|e| {
                ApiError::field("messages", format!("could not tokenize the messages: {e}"))
            })?;
            Prompt::Tokens(ids)
        }
    })
}

/// `logprobs: true` with optional `top_logprobs: n`.
fn logprobs(f: &Fields) -> Result<Option<usize>, ApiError> {
    let top = f.int("top_logprobs", 0, 20)?;
    match (f.bool("logprobs")?, top) {
        (Some(true), n) => Ok(Some(n.unwrap_or(0) as usize)),
        (_, Some(_)) => Err(ApiError::field(
            "top_logprobs",
            "top_logprobs needs logprobs: true",
        )),
        _ => Ok(None),
    }
}

/// `messages`: a non-empty array of `{role, content}`; content a string or an array of text
/// parts.
fn messages(f: &Fields) -> Result<Vec<ChatMessage>, ApiError> {
    let list = match f.get("messages") {
        None => return Err(ApiError::field("messages", "messages is required")),
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(ApiError::field("messages", "messages must not be empty"))
        }
        Some(Value::Array(a)) => a,
        Some(v) => {
            return Err(ApiError::field(
                "messages",
                format!("messages must be an array, not {}", type_name(v)),
            ))
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, m)| message(i, m))
        .collect()
}

fn message(i: usize, m: &Value) -> Result<ChatMessage, ApiError> {
    let at = |field: &str| format!("messages[{i}].{field}");
    let Value::Object(o) = m else {
        return Err(ApiError::field(
            format!("messages[{i}]"),
            format!("messages[{i}] must be an object, not {}", type_name(m)),
        ));
    };
    let role = match o.get("role") {
        Some(Value::String(r)) if ROLES.contains(&r.as_str()) => r.as_str(),
        Some(Value::String(r)) => {
            return Err(ApiError::field(
                at("role"),
                format!(
                    "{} is \"{r}\": it must be one of {}",
                    at("role"),
                    ROLES.join(", ")
                ),
            ))
        }
        None => {
            return Err(ApiError::field(
                at("role"),
                format!("{} is required", at("role")),
            ))
        }
        Some(v) => {
            return Err(ApiError::field(
                at("role"),
                format!("{} must be a string, not {}", at("role"), type_name(v)),
            ))
        }
    };
    let content = match o.get("content") {
        None | Some(Value::Null) if role == "assistant" => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => text_parts(&at("content"), parts)?,
        None | Some(Value::Null) => {
            return Err(ApiError::field(
                at("content"),
                format!("{} is required", at("content")),
            ))
        }
        Some(v) => {
            return Err(ApiError::field(
                at("content"),
                format!(
                    "{} must be a string or an array of text parts, not {}",
                    at("content"),
                    type_name(v)
                ),
            ))
        }
    };
    let role = if role == "developer" { "system" } else { role };
    Ok(ChatMessage::new(role, content))
}

/// Content given as `[{"type": "text", "text": "..."}, ...]`, joined.
fn text_parts(at: &str, parts: &[Value]) -> Result<String, ApiError> {
    let mut out = String::new();
    for (j, p) in parts.iter().enumerate() {
        match (
            p.get("type").and_then(Value::as_str),
            p.get("text").and_then(Value::as_str),
        ) {
            (Some("text"), Some(t)) => out.push_str(t),
            (Some(kind), _) if kind != "text" => {
                return Err(ApiError::field(
                    format!("{at}[{j}].type"),
                    format!("{at}[{j}] is a \"{kind}\" part: only text parts are supported"),
                ))
            }
            _ => {
                return Err(ApiError::field(
                    format!("{at}[{j}]"),
                    format!("{at}[{j}] must be {{\"type\": \"text\", \"text\": \"...\"}}"),
                ))
            }
        }
    }
    Ok(out)
}
