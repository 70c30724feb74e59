//! `tokenizer.ggml.pre` → the pre-tokenizer regexes llama.cpp applies before byte-level BPE.
//! Ids only match llama.cpp's when the words are cut exactly as it cuts them, so these are the
//! regexes of llama.cpp's `llm_tokenizer_bpe`, applied in order, each one splitting the pieces
//! the previous one produced (matches and the text between them both become pieces).

use crate::TokenizerError;

/// GPT-2's word regex, shared (sometimes after other splits) by most pre-tokenizers.
const GPT2_WORDS: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";

/// Llama 3's word regex (case-insensitive contractions spelled out, numbers in runs of ≤ 3).
const LLAMA3_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The `tokenizer.ggml.pre` values this crate implements, for error messages.
pub const SUPPORTED: &[&str] = &[
    "default",
    "gpt-2",
    "llama3",
    "llama-v3",
    "llama-bpe",
    "smollm",
];

/// How a byte-level BPE vocabulary cuts text before merging, and the flags llama.cpp ties to
/// the pre-tokenizer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreTokenizer {
    /// Regexes applied one after another.
    pub regexes: Vec<&'static str>,
    /// A word that is itself a token is emitted whole, without merging (llama.cpp
    /// `ignore_merges`, set for Llama 3).
    pub ignore_merges: bool,
    /// llama.cpp's default for `add_bos` when `tokenizer.ggml.add_bos_token` is absent.
    pub add_bos_default: bool,
}

impl PreTokenizer {
    /// The pre-tokenizer for a `tokenizer.ggml.pre` value; unknown names are an error that
    /// names them (a silent fallback would produce ids the model was not trained on).
    pub fn from_name(name: &str) -> Result<PreTokenizer, TokenizerError> {
        let (regexes, llama3) = match name {
            "default" => (
                vec![
                    r"[\p{P}\$\+<=>\^~\|]+",
                    GPT2_WORDS,
                    r"\p{N}+",
                    "[0-9][0-9][0-9]",
                ],
                false,
            ),
            "gpt-2" => (vec![GPT2_WORDS], false),
            "llama3" | "llama-v3" | "llama-bpe" => (vec![LLAMA3_WORDS], true),
            "smollm" => (vec![r"\p{N}", GPT2_WORDS], false),
            other => return Err(TokenizerError::UnsupportedPre(other.to_string())),
        };
        Ok(PreTokenizer {
            regexes,
            ignore_merges: llama3,
            add_bos_default: llama3,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_pre_is_named() {
        let e = PreTokenizer::from_name("qwen9").unwrap_err();
        assert!(e.to_string().contains("`qwen9`"), "{e}");
    }

    #[test]
    fn llama3_ignores_merges() {
        let p = PreTokenizer::from_name("llama-bpe").unwrap();
        assert!(p.ignore_merges && p.add_bos_default);
        assert_eq!(PreTokenizer::from_name("smollm").unwrap().regexes.len(), 2);
    }
}
