//! The request body as a JSON object, read under the body limit, with typed field getters whose
//! errors name the field. (Hand-read rather than derived so every wrong type or value becomes a
//! 400 naming its field, and unknown fields that OpenAI clients send are ignored.)

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::errors::ApiError;

/// A request body that is a JSON object.
pub struct JsonObject(pub Fields);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::status(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request_error",
                    "body_too_large",
                    "the request body is larger than the server's limit (--body-limit)",
                )
            } else {
                ApiError::bad_request(format!("could not read the request body: {e}"))
            }
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(Fields(map))),
            Ok(other) => Err(ApiError::bad_request(format!(
                "the request body must be a JSON object, not {}",
                type_name(&other)
            ))),
            Err(e) => Err(ApiError::bad_request(format!(
                "the request body is not valid JSON: {e}"
            ))),
        }
    }
}

/// "a string", "an array", ... for messages (the layout-file reader's wording).
pub use pine_cli::layout_file::json_kind as type_name;

/// The items of the array field `name`, each of which must be a string (an error names the
/// first that is not: `name[i]`).
pub fn string_items(name: &str, items: &[Value]) -> Result<Vec<String>, ApiError> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) => Ok(s.clone()),
            v => Err(ApiError::field(
                format!("{name}[{i}]"),
                format!("{name}[{i}] must be a string, not {}", type_name(v)),
            )),
        })
        .collect()
}

/// The fields of a JSON object; `null` counts as absent.
pub struct Fields(pub Map<String, Value>);

fn wrong(name: &str, want: &str, got: &Value) -> ApiError {
    ApiError::field(
        name,
        format!("{name} must be {want}, not {}", type_name(got)),
    )
}

impl Fields {
    /// The field's value unless absent or null.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// A boolean field.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(wrong(name, "true or false", v)),
        }
    }

    /// A string field.
    pub fn str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(wrong(name, "a string", v)),
        }
    }

    /// A finite number in `lo..=hi` (`lo_open`: strictly above `lo`).
    pub fn float(
        &self,
        name: &str,
        lo: f64,
        lo_open: bool,
        hi: f64,
    ) -> Result<Option<f32>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let x = v.as_f64().ok_or_else(|| wrong(name, "a number", v))?;
        let low_ok = if lo_open { x > lo } else { x >= lo };
        if !x.is_finite() || !low_ok || x > hi {
            let low = if lo_open { "above" } else { "at least" };
            let high = if hi.is_finite() {
                format!(" and at most {hi}")
            } else {
                String::new()
            };
            return Err(ApiError::field(
                name,
                format!("{name} is {x}: it must be {low} {lo}{high}"),
            ));
        }
        Ok(Some(x as f32))
    }

    /// A whole number in `lo..=hi`.
    pub fn int(&self, name: &str, lo: i64, hi: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let n = v.as_i64().ok_or_else(|| match v {
            Value::Number(_) => {
                ApiError::field(name, format!("{name} is {v}: it must be a whole number"))
            }
            _ => wrong(name, "a whole number", v),
        })?;
        if n < lo || n > hi {
            return Err(ApiError::field(
                name,
                format!("{name} is {n}: it must be between {lo} and {hi}"),
            ));
        }
        Ok(Some(n))
    }
}
