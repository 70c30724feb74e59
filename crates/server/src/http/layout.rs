//! The PINE/anchor extension fields (`attention`, `segments`, `question`, `pine_ties`,
//! `anchor_positions`) and the layout (prefix | segments | suffix) they describe. For chat, the
//! segments go into the last user turn and the rendered template is cut around them, as
//! `pine-run --segment` does (`crates/cli/src/run/layout.rs`); this is the one place to swap for
//! the library's split when it lands.

use pine_attention::{AnchorPositions, AttentionMode, Layout, TieRule};
use pine_tokenizer::{ChatMessage, ChatTemplate, Tokenizer};
use serde_json::Value;

use super::body::{type_name, Fields};
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
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                v => Err(ApiError::field(
                    format!("segments[{i}]"),
                    format!("segments[{i}] must be a string, not {}", type_name(v)),
                )),
            })
            .collect::<Result<_, _>>()?,
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

/// Tokenizes one part; the prefix gets the model's BOS (if it adds one); special-token texts
/// are parsed, as rendered chat templates need.
fn tokens(tok: &Tokenizer, text: &str, is_prefix: bool) -> Result<Vec<u32>, ApiError> {
    tok.encode(text, is_prefix, true)
        .map_err(|e| ApiError::bad_request(format!("could not tokenize the prompt: {e}")))
}

/// Marks where a segment goes in the rendered chat template; never produced by real text.
fn sentinel(i: usize) -> String {
    format!("\u{1}PINE-SEGMENT-{i}\u{1}")
}

/// The layout of a chat request: the segments (and question) appended to the last message,
/// which must be the user's, and the rendered template cut at them.
pub fn from_chat(
    tok: &Tokenizer,
    template: &ChatTemplate,
    mut messages: Vec<ChatMessage>,
    ext: &Extension,
) -> Result<Layout, ApiError> {
    let last = messages
        .last_mut()
        .filter(|m| m.role == "user")
        .ok_or_else(|| {
            ApiError::field(
                "segments",
                "segments go into the last user turn, but the last message is not the user's",
            )
        })?;
    if !last.content.is_empty() {
        last.content.push_str("\n\n");
    }
    for i in 0..ext.segments.len() {
        last.content.push_str(&sentinel(i));
    }
    last.content.push_str(&ext.question);
    let rendered = template
        .render(&messages, true)
        .map_err(|e| ApiError::field("messages", format!("the chat template failed: {e}")))?;
    let dropped = || ApiError::field("segments", "the chat template dropped the segments");
    let first = rendered.find(&sentinel(0)).ok_or_else(dropped)?;
    let last_marker = sentinel(ext.segments.len() - 1);
    let last = rendered.find(&last_marker).ok_or_else(dropped)?;
    let layout = Layout {
        prefix: tokens(tok, &rendered[..first], true)?,
        segments: ext
            .segments
            .iter()
            .map(|s| tokens(tok, &format!("{s}\n\n"), false))
            .collect::<Result<_, _>>()?,
        suffix: tokens(tok, &rendered[last + last_marker.len()..], false)?,
    };
    checked(layout, ext.mode)
}

/// The layout of a text completion: the prompt is the prefix, the question the suffix.
pub fn from_text(tok: &Tokenizer, prompt: &str, ext: &Extension) -> Result<Layout, ApiError> {
    let layout = Layout {
        prefix: tokens(tok, prompt, true)?,
        segments: ext
            .segments
            .iter()
            .map(|s| tokens(tok, s, false))
            .collect::<Result<_, _>>()?,
        suffix: tokens(tok, &ext.question, false)?,
    };
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
