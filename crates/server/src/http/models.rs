//! `GET /v1/models`: the one model served.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::AppState;

/// The handler.
pub async fn models(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{
            "id": state.model_name,
            "object": "model",
            "created": state.created,
            "owned_by": "pine",
            "meta": {
                "n_vocab": state.tokenizer.n_vocab(),
                "n_ctx_slot": state.handle.n_ctx_slot(),
            },
        }],
    }))
}
