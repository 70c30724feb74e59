//! The PINE/anchor extension fields (`attention`, `segments`, `question`, `pine_ties`,
//! `anchor_positions`) and the layout (prefix | segments | suffix) they describe. For chat, the
//! segments go into the last user turn and the rendered template is cut around them, as
//! `pine-run --segment` does (the library's `pine::prompt`).

use pine::SegmentedPrompt;
use pine_attention::{AnchorPositions, AttentionMode, Layout, TieRule};
use pine_tokenizer::{ChatMessage, ChatTemplate, Tokenizer};
use serde_json::Value;

use super::body::{string_items, type_name, Fields};
use super::errors::ApiError;

/// The extension fields of one request.
#[derive(Clone, Debug, PartialEq)]
pub struct Extension {
    /// How the segments attend.
    pub mode: AttentionMode,
    /// The interchangeable texts (documents, candidate answers).
    pub segments: Vec<String>,
    /// Text after the segments.
    pub question: String,
}

/// Reads the extension fields; `None` when the request uses none of them.
pub fn extension(f: &Fields) -> Result<Option<Extension>, ApiError> {
    let ties = match f.str("pine_ties")? {
        None | Some("hash") => TieRule::ContentHash,
        Some("input-order") => TieRule::InputOrder,
        Some(o) => return Err(unknown("pine_ties", o, "\"hash\" or \"input-order\"")),
    };
    let positions = match f.str("anchor_positions")? {
        None | Some("continuous") => AnchorPositions::Continuous,
        Some("reset") => AnchorPositions::Reset,
        Some(o) => {
            return Err(unknown(
                "anchor_positions",
                o,
                "\"continuous\" or \"reset\"",
            ))
        }
    };
    let mode = match f.str("attention")? {
        None | Some("causal") => AttentionMode::Causal,
        Some("pine") => AttentionMode::Pine(ties),
        Some("anchor") => AttentionMode::Anchor(positions),
        Some(o) => {
            return Err(unknown(
                "attention",
                o,
                "\"causal\", \"pine\" or \"anchor\"",
            ))
        }
    };
    let segments = match f.get("segments") {
        None => Vec::new(),
        Some(Value::Array(a)) => string_items("segments", a)?,
        Some(v) => {
            return Err(ApiError::field(
                "segments",
                format!("segments must be an array of strings, not {}", type_name(v)),
            ))
        }
    };
    let question = f.str("question")?.map(str::to_string);
    if segments.is_empty() {
        if mode != AttentionMode::Causal {
            return Err(ApiError::field(
                "segments",
                "attention \"pine\" and \"anchor\" need segments to attend over: give \
                 \"segments\": [\"text\", ...]",
            ));
        }
        if question.is_some() {
            return Err(ApiError::field(
                "question",
                "question is the text after the segments: give \"segments\" too (or put the \
                 question in the prompt)",
            ));
        }
        return Ok(None);
    }
    Ok(Some(Extension {
        mode,
        segments,
        question: question.unwrap_or_default(),
    }))
}

fn unknown(field: &str, got: &str, want: &str) -> ApiError {
    ApiError::field(field, format!("{field} is \"{got}\": it must be {want}"))
}

/// The layout of a chat request: the segments (and question) follow the last message, which
/// must be the user's, and the rendered template is cut at them
/// ([`pine::prompt::conversation_layout`]).
pub fn from_chat(
    tok: &Tokenizer,
    template: &ChatTemplate,
    messages: Vec<ChatMessage>,
    ext: &Extension,
) -> Result<Layout, ApiError> {
    let layout =
        pine::prompt::conversation_layout(tok, template, messages, &ext.segments, &ext.question)
            .map_err(|e| match e {
                pine::Error::Request(m) => ApiError::field("segments", m),
                e => ApiError::field("messages", format!("the chat template failed: {e}")),
            })?;
    checked(layout, ext.mode)
}

/// The layout of a text completion: the prompt is the prefix, the question the suffix
/// ([`pine::prompt::raw_layout`]).
pub fn from_text(tok: &Tokenizer, prompt: &str, ext: &Extension) -> Result<Layout, ApiError> {
    let segmented = SegmentedPrompt::new(ext.segments.iter().cloned())
        .text(prompt)
        .question(ext.question.clone());
    let layout = pine::prompt::raw_layout(tok, &segmented)
        .map_err(|e| ApiError::bad_request(format!("could not tokenize the prompt: {e}")))?;
    checked(layout, ext.mode)
}

/// Drops empty segments and refuses layouts the mode cannot run.
fn checked(mut layout: Layout, mode: AttentionMode) -> Result<Layout, ApiError> {
    layout.drop_empty_segments();
    if layout.segments.is_empty() && mode != AttentionMode::Causal {
        return Err(ApiError::field("segments", "every segment is empty"));
    }
    if layout.prefix.is_empty() && matches!(mode, AttentionMode::Anchor(_)) {
        return Err(ApiError::field(
            "prompt",
            "anchor attention needs a prefix (its first token is the shared anchor): give a \
             prompt before the segments",
        ));
    }
    Ok(layout)
}
