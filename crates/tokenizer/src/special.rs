//! Splitting raw text at special-token texts before BPE, as llama.cpp's
//! `tokenizer_st_partition` does: longest special tokens first, every occurrence, so
//! `<|im_start|>` in a rendered chat template becomes one id instead of a dozen.

use crate::vocab::{TokenKind, Vocab};

/// A piece of the input: raw text still to be encoded, or a special token already matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fragment<'a> {
    Text(&'a str),
    Token(u32),
}

/// Partitions `text`. Control and unknown tokens are matched only with `parse_special`;
/// user-defined tokens always are (llama.cpp and Hugging Face agree on this).
pub(crate) fn partition<'a>(
    text: &'a str,
    vocab: &Vocab,
    parse_special: bool,
) -> Vec<Fragment<'a>> {
    let mut frags = Vec::new();
    if !text.is_empty() {
        frags.push(Fragment::Text(text));
    }
    for &id in &vocab.specials {
        let kind = vocab.kinds[id as usize];
        if !parse_special && matches!(kind, TokenKind::Control | TokenKind::Unknown) {
            continue;
        }
        let needle = vocab.texts[id as usize].as_str();
        if !frags
            .iter()
            .any(|f| matches!(f, Fragment::Text(t) if t.contains(needle)))
        {
            continue;
        }
        let mut next = Vec::with_capacity(frags.len() + 2);
        for f in frags {
            match f {
                Fragment::Text(t) => split_one(t, needle, id, &mut next),
                tok => next.push(tok),
            }
        }
        frags = next;
    }
    frags
}

fn split_one<'a>(text: &'a str, needle: &str, id: u32, out: &mut Vec<Fragment<'a>>) {
    let mut last = 0;
    for (at, _) in text.match_indices(needle) {
        if at > last {
            out.push(Fragment::Text(&text[last..at]));
        }
        out.push(Fragment::Token(id));
        last = at + needle.len();
    }
    if last < text.len() {
        out.push(Fragment::Text(&text[last..]));
    }
}
