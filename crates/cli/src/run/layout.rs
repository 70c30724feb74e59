//! Building a prompt layout (prefix | segments | suffix) from the command line: `--layout`,
//! `--segment`/`--segments-file` with `--question`, in chat mode split out of the rendered
//! template, or with `--raw` from the prompt as prefix.

use std::path::Path;

use pine_attention::{AnchorPositions, AttentionMode, Layout, TieRule};
use pine_tokenizer::{ChatMessage, ChatTemplate, Tokenizer};
use serde_json::Value;

use super::args::{AnchorArg, AttentionArg, RunArgs, TiesArg};

/// The attention mode the flags ask for.
pub(crate) fn mode(args: &RunArgs) -> AttentionMode {
    match args.attention {
        AttentionArg::Causal => AttentionMode::Causal,
        AttentionArg::Pine => AttentionMode::Pine(match args.pine_ties {
            TiesArg::Hash => TieRule::ContentHash,
            TiesArg::InputOrder => TieRule::InputOrder,
        }),
        AttentionArg::Anchor => AttentionMode::Anchor(match args.anchor_positions {
            AnchorArg::Continuous => AnchorPositions::Continuous,
            AnchorArg::Reset => AnchorPositions::Reset,
        }),
    }
}

/// True when the flags describe segments (so a layout, not a plain prompt, is evaluated).
pub(crate) fn wanted(args: &RunArgs) -> bool {
    args.layout.is_some() || !args.segments.is_empty() || args.segments_file.is_some()
}

/// Tokenizes one part: the prefix gets the model's BOS (if it adds one); every part parses
/// special tokens, as chat templates need.
fn tokens(tok: &Tokenizer, text: &str, is_prefix: bool) -> Result<Vec<u32>, String> {
    tok.encode(text, is_prefix, true).map_err(|e| e.to_string())
}

fn part(
    tok: &Tokenizer,
    v: &Value,
    what: &str,
    is_prefix: bool,
    n_vocab: usize,
) -> Result<Vec<u32>, String> {
    match v {
        Value::String(s) => tokens(tok, s, is_prefix),
        Value::Array(items) => items
            .iter()
            .map(|x| match x.as_u64() {
                Some(id) if (id as usize) < n_vocab => Ok(id as u32),
                _ => Err(format!("{what}: {x} is not a token id below {n_vocab}")),
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        other => Err(format!(
            "{what}: expected a string or an array of token ids, found {other}"
        )),
    }
}

fn from_json_file(path: &Path, tok: &Tokenizer, n_vocab: usize) -> Result<Layout, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let at = |k: &str| format!("{}: {k}", path.display());
    let segments = match &v["segments"] {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, s)| part(tok, s, &at(&format!("segments[{i}]")), false, n_vocab))
            .collect::<Result<Vec<_>, _>>()?,
        Value::Null => Vec::new(),
        _ => return Err(format!("{}: \"segments\" must be an array", path.display())),
    };
    Ok(Layout {
        prefix: part(tok, &v["prefix"], &at("prefix"), true, n_vocab)?,
        segments,
        suffix: part(tok, &v["suffix"], &at("suffix"), false, n_vocab)?,
    })
}

fn segment_texts(args: &RunArgs) -> Result<Vec<String>, String> {
    let mut segs = args.segments.clone();
    if let Some(f) = &args.segments_file {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let list: Vec<String> = serde_json::from_str(&text)
            .map_err(|e| format!("{}: expected a JSON array of strings: {e}", f.display()))?;
        segs.extend(list);
    }
    Ok(segs)
}

/// Marks where a segment goes in the rendered chat template; never produced by real text.
fn sentinel(i: usize) -> String {
    format!("\u{1}PINE-SEGMENT-{i}\u{1}")
}

/// Renders the chat template with the segments in the user turn and cuts the text at them.
fn from_chat(
    args: &RunArgs,
    tok: &Tokenizer,
    template: &ChatTemplate,
    segs: &[String],
) -> Result<Layout, String> {
    let mut content = args.prompt.clone().unwrap_or_default();
    if !content.is_empty() {
        content.push_str("\n\n");
    }
    for i in 0..segs.len() {
        content.push_str(&sentinel(i));
    }
    content.push_str(args.question.as_deref().unwrap_or(""));
    let mut messages = Vec::new();
    if let Some(s) = &args.system {
        messages.push(ChatMessage::new("system", s.clone()));
    }
    messages.push(ChatMessage::new("user", content));
    let rendered = template
        .render(&messages, true)
        .map_err(|e| e.to_string())?;
    let first = rendered
        .find(&sentinel(0))
        .ok_or("the chat template dropped the segments")?;
    let last_marker = sentinel(segs.len() - 1);
    let last = rendered
        .find(&last_marker)
        .ok_or("the chat template dropped the segments")?;
    Ok(Layout {
        prefix: tokens(tok, &rendered[..first], true)?,
        segments: segs
            .iter()
            .map(|s| tokens(tok, &format!("{s}\n\n"), false))
            .collect::<Result<_, _>>()?,
        suffix: tokens(tok, &rendered[last + last_marker.len()..], false)?,
    })
}

/// The layout the flags describe; empty segments are dropped with a warning.
pub(crate) fn build(
    args: &RunArgs,
    tok: &Tokenizer,
    template: Option<&ChatTemplate>,
    n_vocab: usize,
) -> Result<Layout, String> {
    let mut layout = match &args.layout {
        Some(path) => from_json_file(path, tok, n_vocab)?,
        None => {
            let segs = segment_texts(args)?;
            match (template, args.raw) {
                (Some(t), false) if !segs.is_empty() => from_chat(args, tok, t, &segs)?,
                _ => Layout {
                    prefix: tokens(tok, args.prompt.as_deref().unwrap_or(""), true)?,
                    segments: segs
                        .iter()
                        .map(|s| tokens(tok, s, false))
                        .collect::<Result<_, _>>()?,
                    suffix: tokens(tok, args.question.as_deref().unwrap_or(""), false)?,
                },
            }
        }
    };
    let dropped = layout.drop_empty_segments();
    if dropped > 0 {
        eprintln!("pine-run: warning: dropped {dropped} empty segment(s)");
    }
    if layout.is_empty() {
        return Err("the layout has no tokens".into());
    }
    if layout.prefix.is_empty() && matches!(mode(args), AttentionMode::Anchor(_)) {
        return Err(
            "anchor attention needs a prefix (its first token is the shared anchor)".into(),
        );
    }
    Ok(layout)
}
