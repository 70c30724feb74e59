//! `GET /health`: open without the API key, as llama-server's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::AppState;

/// `{"status": "ok", "slots_idle", "slots_busy", "queue_depth"}`; 503 with `"status":
/// "error"` once the engine has failed.
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let s = state.handle.stats();
    let (code, status) = if state.handle.healthy() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "error")
    };
    (
        code,
        Json(json!({
            "status": status,
            "slots_idle": s.slots_total.saturating_sub(s.slots_busy),
            "slots_busy": s.slots_busy,
            "queue_depth": s.queue_depth,
        })),
    )
}
