//! Submitting a request to the engine and answering with the whole text or a stream.

use axum::response::{IntoResponse, Response};
use axum::Json;

use super::errors::ApiError;
use super::objects::{Endpoint, Logprob, Reply};
use super::params::Generation;
use super::sse;
use super::AppState;
use crate::engine::{Event, Prompt, Request};

/// Runs `prompt` with the request's settings and answers in `endpoint`'s shape.
pub async fn respond(
    state: &AppState,
    endpoint: Endpoint,
    prompt: Prompt,
    generation: Generation,
    logprobs: Option<usize>,
) -> Result<Response, ApiError> {
    if prompt.is_empty() {
        return Err(ApiError::bad_request("the prompt has no tokens"));
    }
    // Without max_tokens, generation may fill the slot (as llama-server's n_predict = -1).
    let max_tokens = generation.max_tokens.unwrap_or_else(|| {
        state
            .handle
            .n_ctx_slot()
            .saturating_sub(prompt.len())
            .max(1)
    });
    let request = Request {
        prompt,
        max_tokens,
        sampling: generation.sampling,
        stop: generation.stop,
        logprobs,
        ignore_eos: generation.ignore_eos,
    };
    let rx = state
        .handle
        .submit(request)
        .map_err(|r| ApiError::rejected(&r))?;
    let prefix = match endpoint {
        Endpoint::Chat => "chatcmpl",
        Endpoint::Completion => "cmpl",
    };
    let reply = Reply {
        endpoint,
        id: format!("{prefix}-{}", state.next_id()),
        created: super::objects::now(),
        model: state.model_name.clone(),
        tokenizer: state.tokenizer.clone(),
    };
    if generation.stream {
        return Ok(sse::response(rx, reply, generation.include_usage));
    }
    collect(rx, reply, logprobs.is_some()).await
}

/// Runs request preparation (template rendering, tokenizing: CPU work that grows with the
/// body) on tokio's blocking pool, so a large prompt never stalls the streams of others.
pub async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| sse::engine_error(format!("preparing the prompt failed: {e}")))?
}

/// Waits for the whole answer (dropping the receiver if the client goes away cancels it).
async fn collect(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Event>,
    reply: Reply,
    want_logprobs: bool,
) -> Result<Response, ApiError> {
    let mut text = String::new();
    let mut lps: Vec<Logprob> = Vec::new();
    while let Some(event) = rx.recv().await {
        match event {
            Event::Token {
                id,
                text: t,
                logprob,
            } => {
                text.push_str(&t);
                lps.extend(logprob.map(|l| (id, l)));
            }
            Event::Done {
                text: t,
                finish_reason,
                usage,
                ..
            } => {
                text.push_str(&t);
                let lps = want_logprobs.then_some(lps.as_slice());
                return Ok(Json(reply.complete(&text, lps, finish_reason, &usage)).into_response());
            }
            Event::Error(message) => return Err(sse::engine_error(message)),
        }
    }
    Err(sse::engine_error(
        "the engine ended the request without an answer".into(),
    ))
}
