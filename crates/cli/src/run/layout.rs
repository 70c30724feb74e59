//! Building a prompt layout (prefix | segments | suffix) from the command line: `--layout`,
//! `--segment`/`--segments-file` with `--question`, in chat mode split out of the rendered
//! template, or with `--raw` from the prompt as prefix.

use std::path::Path;

use pine_attention::{AnchorPositions, AttentionMode, Layout, TieRule};
use pine_tokenizer::{ChatMessage, ChatTemplate, Tokenizer};

use super::args::{AnchorArg, AttentionArg, RunArgs, TiesArg};
use crate::layout_file::{self, LayoutError, Part};

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

/// Rejects flags that need segments when there are none: `--attention pine|anchor` and
/// `--question` would otherwise be silently ignored.
pub(crate) fn check(args: &RunArgs) -> Result<(), String> {
    if wanted(args) {
        return Ok(());
    }
    if args.attention != AttentionArg::Causal {
        let name = format!("{:?}", args.attention).to_lowercase();
        return Err(format!(
            "--attention {name} needs segments to attend over: give --segment TEXT (repeatable), \
             --segments-file F.json or --layout F.json"
        ));
    }
    if args.question.is_some() {
        return Err(
            "--question is the text after the segments: give --segment TEXT or \
             --segments-file F.json (or put the question in -p)"
                .into(),
        );
    }
    Ok(())
}

/// Tokenizes one part: the prefix gets the model's BOS (if it adds one); every part parses
/// special tokens, as chat templates need.
fn tokens(tok: &Tokenizer, text: &str, is_prefix: bool) -> Result<Vec<u32>, String> {
    tok.encode(text, is_prefix, true).map_err(|e| e.to_string())
}

/// Tokenizes one part of a layout file (ids checked against the vocabulary); errors name the
/// file and the field.
fn part(
    tok: &Tokenizer,
    p: &Part,
    field: &str,
    is_prefix: bool,
    n_vocab: usize,
) -> Result<Vec<u32>, LayoutError> {
    let bad = |what: String| LayoutError::Field {
        file: None,
        field: field.to_string(),
        what,
    };
    match p {
        Part::Text(s) => tokens(tok, s, is_prefix).map_err(bad),
        Part::Ids(ids) => match ids.iter().position(|&id| id as usize >= n_vocab) {
            Some(i) => Err(LayoutError::Field {
                file: None,
                field: format!("{field}[{i}]"),
                what: format!("token id {} is outside the vocabulary of {n_vocab}", ids[i]),
            }),
            None => Ok(ids.clone()),
        },
    }
}

fn from_json_file(path: &Path, tok: &Tokenizer, n_vocab: usize) -> Result<Layout, LayoutError> {
    let spec = layout_file::read(path)?;
    let tokenize = || -> Result<Layout, LayoutError> {
        Ok(Layout {
            prefix: part(tok, &spec.prefix, "prefix", true, n_vocab)?,
            segments: spec
                .segments
                .iter()
                .enumerate()
                .map(|(i, s)| part(tok, s, &format!("segments[{i}]"), false, n_vocab))
                .collect::<Result<_, _>>()?,
            suffix: part(tok, &spec.suffix, "suffix", false, n_vocab)?,
        })
    };
    tokenize().map_err(|e| e.in_file(path))
}

fn segment_texts(args: &RunArgs) -> Result<Vec<String>, String> {
    let mut segs = args.segments.clone();
    if let Some(f) = &args.segments_file {
        segs.extend(layout_file::read_segments(f).map_err(|e| e.to_string())?);
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
    prompt: &str,
) -> Result<Layout, String> {
    let mut content = prompt.to_string();
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
        Some(path) => from_json_file(path, tok, n_vocab).map_err(|e| e.to_string())?,
        None => {
            let segs = segment_texts(args)?;
            let prompt = super::setup::prompt_text(args)?.unwrap_or_default();
            match (template, args.raw) {
                (Some(t), false) if !segs.is_empty() => from_chat(args, tok, t, &segs, &prompt)?,
                _ => Layout {
                    prefix: tokens(tok, &prompt, true)?,
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
        return Err(match &args.layout {
            Some(path) => LayoutError::NoTokens {
                file: Some(path.clone()),
            }
            .to_string(),
            None => "the prompt, segments and question have no tokens".into(),
        });
    }
    if layout.prefix.is_empty() && matches!(mode(args), AttentionMode::Anchor(_)) {
        return Err(
            "anchor attention needs a prefix (its first token is the shared anchor)".into(),
        );
    }
    Ok(layout)
}
