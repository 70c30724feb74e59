//! `POST /tokenize` and `POST /detokenize`, as llama-server: special-token texts are parsed,
//! BOS is added only with `add_special`.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::body::{type_name, Fields, JsonObject};
use super::completions::ids_of;
use super::errors::ApiError;
use super::{generate, AppState};

/// `{"content", "add_special"?, "with_pieces"?}` → `{"tokens": [...]}` (ids, or
/// `{"id", "piece"}` objects with `with_pieces`; a piece that is not UTF-8 is its bytes).
pub async fn tokenize(
    State(state): State<AppState>,
    JsonObject(f): JsonObject,
) -> Result<Json<Value>, ApiError> {
    generate::off_runtime(move || tokens(&state, &f))
        .await
        .map(Json)
}

fn tokens(state: &AppState, f: &Fields) -> Result<Value, ApiError> {
    let content = f
        .str("content")?
        .ok_or_else(|| ApiError::field("content", "content is required"))?;
    let add_special = f.bool("add_special")?.unwrap_or(false);
    let with_pieces = f.bool("with_pieces")?.unwrap_or(false);
    let tok = &state.tokenizer;
    let ids = tok
        .encode(content, add_special, true)
        .map_err(|e| ApiError::field("content", format!("could not tokenize: {e}")))?;
    let tokens: Vec<Value> = if with_pieces {
        ids.iter()
            .map(|&id| {
                let bytes = tok.token_bytes(id).unwrap_or_default();
                let piece = match String::from_utf8(bytes) {
                    Ok(s) => json!(s),
                    Err(e) => json!(e.into_bytes()),
                };
                json!({"id": id, "piece": piece})
            })
            .collect()
    } else {
        ids.iter().map(|&id| json!(id)).collect()
    };
    Ok(json!({ "tokens": tokens }))
}

/// `{"tokens": [...]}` → `{"content": "..."}`: the tokens' pieces joined, special tokens as
/// their text, as llama-server's `/detokenize` (its `tokens_to_str`, not `llama_detokenize`:
/// no space clean-up, the SentencePiece prefix space kept), so the content is what streaming
/// those tokens prints.
pub async fn detokenize(
    State(state): State<AppState>,
    JsonObject(f): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let ids = match f.get("tokens") {
        None => return Err(ApiError::field("tokens", "tokens is required")),
        Some(Value::Array(a)) => ids_of("tokens", a, state.tokenizer.n_vocab())?,
        Some(v) => {
            return Err(ApiError::field(
                "tokens",
                format!("tokens must be an array of token ids, not {}", type_name(v)),
            ))
        }
    };
    Ok(Json(
        json!({ "content": state.tokenizer.join_pieces(&ids, true) }),
    ))
}
