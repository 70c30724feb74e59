//! Building a prompt layout (prefix | segments | suffix) from the command line: `--layout`,
//! `--segment`/`--segments-file` with `--question`, in chat mode split out of the rendered
//! template ([`pine::prompt::chat_layout`]), or with `--raw` from the prompt as prefix
//! ([`pine::prompt::raw_layout`]).

use std::path::Path;

use pine::prompt::{chat_layout, layout_part, raw_layout, SegmentedPrompt};
use pine::Model;
use pine_attention::{AnchorPositions, AttentionMode, Layout, TieRule};
use pine_tokenizer::Tokenizer;

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
        Part::Text(s) => layout_part(tok, s, is_prefix).map_err(|e| bad(e.to_string())),
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

/// The layout the flags describe; empty segments are dropped with a warning.
pub(crate) fn build(args: &RunArgs, model: &Model) -> Result<Layout, String> {
    let tok = model.tokenizer();
    let mut layout = match &args.layout {
        Some(path) => {
            from_json_file(path, tok, model.params().n_vocab).map_err(|e| e.to_string())?
        }
        None => {
            let prompt = SegmentedPrompt {
                system: args.system.clone(),
                text: super::setup::prompt_text(args)?.unwrap_or_default(),
                segments: segment_texts(args)?,
                question: args.question.clone().unwrap_or_default(),
            };
            match (model.chat_template(), args.raw) {
                (Some(t), false) if !prompt.segments.is_empty() => chat_layout(tok, t, &prompt),
                _ => raw_layout(tok, &prompt),
            }
            .map_err(|e| e.to_string())?
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
    Ok(layout)
}
