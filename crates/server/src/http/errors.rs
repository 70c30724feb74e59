//! OpenAI-style JSON errors: `{"error": {"message", "type", "param", "code"}}` with an HTTP
//! status; every refusal of the server is one of these.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::engine::Rejected;

/// An error answered to the client.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong, naming the field.
    pub message: String,
    /// OpenAI's error type (`invalid_request_error`, `authentication_error`, ...).
    pub kind: &'static str,
    /// The request field at fault, if one is.
    pub param: Option<String>,
    /// A short machine-readable code, if any.
    pub code: Option<&'static str>,
    /// Seconds the client should wait before retrying (503 only).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// A 400 about one field of the request.
    pub fn field(param: impl Into<String>, message: impl Into<String>) -> ApiError {
        let param = param.into();
        ApiError {
            param: Some(param),
            ..ApiError::bad_request(message)
        }
    }

    /// A 400 not tied to one field.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: None,
            code: None,
            retry_after: None,
        }
    }

    /// Any other status.
    pub fn status(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code: Some(code),
            kind,
            ..ApiError::bad_request(message)
        }
    }

    /// The engine's refusal as an HTTP error.
    pub fn rejected(r: &Rejected) -> ApiError {
        match r {
            Rejected::QueueFull => ApiError {
                retry_after: Some(1),
                ..ApiError::status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_error",
                    "queue_full",
                    "every slot is busy and the queue is full; retry later",
                )
            },
            Rejected::ShuttingDown => ApiError::status(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "shutting_down",
                "the server is shutting down",
            ),
            Rejected::TooLong {
                prompt,
                max_tokens,
                n_ctx,
            } => ApiError {
                code: Some("context_length_exceeded"),
                ..ApiError::field(
                    "max_tokens",
                    format!(
                        "the prompt ({prompt} tokens) plus max_tokens ({max_tokens}) is {} \
                         tokens, more than a slot's context of {n_ctx} tokens",
                        prompt + max_tokens
                    ),
                )
            },
        }
    }

    /// The JSON object sent (also as an SSE event when a stream fails).
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body())).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}
