//! The HTTP layer: OpenAI-compatible routes over an engine [`Handle`].
//!
//! Built on axum (over hyper and tokio) rather than bare hyper: routing, body limits, graceful
//! shutdown and streamed bodies come with it, and a handler future (with the engine receiver it
//! owns) is dropped when its client disconnects, which is how a request is cancelled. The
//! engine runs on its own thread; the async side only parses, tokenizes (on the blocking pool)
//! and relays events, so two worker threads suffice.

mod auth;
mod body;
mod chat;
mod completions;
pub mod cors;
mod errors;
mod generate;
mod health;
mod layout;
mod metrics;
mod models;
mod objects;
mod params;
mod sse;
mod tokenize;

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use pine_tokenizer::{ChatTemplate, Tokenizer};

use crate::engine::Handle;
use errors::ApiError;

/// What every handler reads.
pub struct Shared {
    /// The engine.
    pub handle: Handle,
    /// The model's tokenizer.
    pub tokenizer: Arc<Tokenizer>,
    /// The model's chat template, if any.
    pub template: Option<ChatTemplate>,
    /// The name `/v1/models` and responses report.
    pub model_name: String,
    /// When the server started (the model's `created`).
    pub created: u64,
    ids: AtomicU64,
}

/// The handlers' state.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// The state of a server over `handle`.
    pub fn new(
        handle: Handle,
        tokenizer: Arc<Tokenizer>,
        template: Option<ChatTemplate>,
        model_name: String,
    ) -> AppState {
        AppState(Arc::new(Shared {
            handle,
            tokenizer,
            template,
            model_name,
            created: objects::now(),
            ids: AtomicU64::new(0),
        }))
    }

    /// A response id unique in this server's life.
    fn next_id(&self) -> String {
        format!(
            "{:x}{:04x}",
            self.created,
            self.ids.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// Unknown paths.
async fn not_found() -> ApiError {
    ApiError::status(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "not_found",
        "no such endpoint",
    )
}

/// Known paths with the wrong method.
async fn wrong_method() -> ApiError {
    ApiError::status(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

/// Every route; all but `/health` need the API key when there is one; CORS (preflights
/// included, before the key is checked) for the `origins` allowed.
pub fn router(
    state: AppState,
    api_key: Option<&str>,
    body_limit: usize,
    origins: cors::Origins,
) -> Router {
    let mut api = Router::new()
        .route("/v1/chat/completions", post(chat::handler))
        .route("/chat/completions", post(chat::handler))
        .route("/v1/completions", post(completions::handler))
        .route("/completions", post(completions::handler))
        .route("/v1/models", get(models::models))
        .route("/models", get(models::models))
        .route("/tokenize", post(tokenize::tokenize))
        .route("/detokenize", post(tokenize::detokenize))
        .route("/metrics", get(metrics::handler));
    if let Some(key) = api_key {
        api = api.route_layer(axum::middleware::from_fn_with_state(
            Arc::<str>::from(key),
            auth::require_key,
        ));
    }
    Router::new()
        .route("/health", get(health::health))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(origins),
            cors::layer,
        ))
        .with_state(state)
}
