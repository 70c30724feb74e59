//! What each token contributes to decoded text, computed once at load (llama.cpp keeps the
//! same cache): byte-level tokens map back through GPT-2's byte table, SentencePiece tokens
//! turn `▁` into spaces, byte-fallback tokens are their byte, special tokens their text.

use crate::byte_level;
use crate::spm_bpe::SPM_SPACE;
use crate::vocab::{TokenKind, Vocab};

/// Which text convention the vocabulary's normal tokens use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// `gpt2`: byte-level characters.
    ByteLevel,
    /// `llama`: SentencePiece pieces with `▁` for space.
    SentencePiece,
}

/// The bytes of every token, special tokens rendered as their text.
pub(crate) fn build_pieces(vocab: &Vocab, family: Family) -> Vec<Vec<u8>> {
    vocab
        .texts
        .iter()
        .zip(&vocab.kinds)
        .map(|(text, &kind)| piece(text, kind, family))
        .collect()
}

fn piece(text: &str, kind: TokenKind, family: Family) -> Vec<u8> {
    match kind {
        TokenKind::Normal => match family {
            Family::ByteLevel => byte_level::decode_token(text),
            Family::SentencePiece => text.replace(SPM_SPACE, " ").into_bytes(),
        },
        TokenKind::Byte => parse_byte_token(text).map(|b| vec![b]).unwrap_or_default(),
        TokenKind::Control | TokenKind::Unknown | TokenKind::UserDefined => {
            text.as_bytes().to_vec()
        }
        TokenKind::Unused | TokenKind::Undefined => Vec::new(),
    }
}

/// `<0xAB>` → 0xAB.
pub(crate) fn parse_byte_token(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_tokens_parse() {
        assert_eq!(parse_byte_token("<0x0A>"), Some(10));
        assert_eq!(parse_byte_token("<0xE6>"), Some(0xE6));
        assert_eq!(parse_byte_token("<0x1>"), None);
        assert_eq!(parse_byte_token("<s>"), None);
    }

    #[test]
    fn spm_pieces_unescape_spaces() {
        assert_eq!(
            piece("▁the", TokenKind::Normal, Family::SentencePiece),
            b" the"
        );
        assert_eq!(piece("Ġthe", TokenKind::Normal, Family::ByteLevel), b" the");
        assert_eq!(
            piece("<s>", TokenKind::Control, Family::SentencePiece),
            b"<s>"
        );
    }
}
