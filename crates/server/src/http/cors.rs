//! Cross-origin requests (CORS), so chat UIs served from another origin can call the server
//! from a browser. Like Ollama (and unlike llama-server, which answers every origin), only
//! origins on this machine (`http(s)://localhost`, `127.0.0.1`, `[::1]`, any port) are allowed
//! unless `--cors-origin` adds others (`*`: any): with no API key, allowing every origin would
//! let any web page the user visits use the model.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
    VARY,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The origins allowed beside this machine's own.
#[derive(Clone, Debug, Default)]
pub struct Origins {
    /// Exact origins (`https://chat.example.org`), or `*` for any.
    pub extra: Vec<String>,
}

impl Origins {
    /// Whether a request from `origin` may read responses.
    pub fn allows(&self, origin: &str) -> bool {
        if self.extra.iter().any(|o| o == "*" || o == origin) {
            return true;
        }
        let Some(rest) = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
        else {
            return false;
        };
        let host = match rest.strip_prefix("[::1]") {
            Some(port) => return port.is_empty() || is_port(port),
            None => rest.split(':').next().unwrap_or(""),
        };
        let port = &rest[host.len()..];
        matches!(host, "localhost" | "127.0.0.1") && (port.is_empty() || is_port(port))
    }
}

/// `:N` with N a port number.
fn is_port(s: &str) -> bool {
    s.strip_prefix(':')
        .is_some_and(|p| !p.is_empty() && p.parse::<u16>().is_ok())
}

/// Answers preflight requests and marks responses to allowed origins as readable.
pub async fn layer(State(origins): State<Arc<Origins>>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| origins.allows(o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut res = StatusCode::NO_CONTENT.into_response();
        if let Some(o) = origin {
            let h = res.headers_mut();
            let asked = req.headers().get(ACCESS_CONTROL_REQUEST_HEADERS).cloned();
            h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, o);
            h.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            h.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                asked.unwrap_or(HeaderValue::from_static("authorization, content-type")),
            );
            h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            h.insert(VARY, HeaderValue::from_static("Origin"));
        }
        return res;
    }
    let mut res = next.run(req).await;
    if let Some(o) = origin {
        res.headers_mut().insert(ACCESS_CONTROL_ALLOW_ORIGIN, o);
        res.headers_mut()
            .append(VARY, HeaderValue::from_static("Origin"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_unless_told() {
        let o = Origins::default();
        for ok in [
            "http://localhost",
            "http://localhost:3000",
            "https://127.0.0.1:8443",
            "http://[::1]:5173",
        ] {
            assert!(o.allows(ok), "{ok}");
        }
        for no in [
            "http://localhost.evil.com",
            "http://127.0.0.1.nip.io",
            "https://example.org",
            "null",
            "http://localhost:99999",
            "http://localhost:",
        ] {
            assert!(!o.allows(no), "{no}");
        }
        let o = Origins {
            extra: vec!["https://chat.example.org".into()],
        };
        assert!(o.allows("https://chat.example.org") && !o.allows("https://example.org"));
        assert!(Origins {
            extra: vec!["*".into()]
        }
        .allows("https://anything.example"));
    }
}
