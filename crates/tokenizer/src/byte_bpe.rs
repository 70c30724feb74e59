//! `tokenizer.ggml.model = gpt2`: byte-level BPE built with the `tokenizers` crate from the
//! GGUF vocabulary and merge list, cutting words with llama.cpp's regexes for the model's
//! `tokenizer.ggml.pre`.

use tokenizers::models::bpe::{Merges, Vocab as HfVocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::SplitDelimiterBehavior;

use crate::pre::PreTokenizer;
use crate::vocab::Vocab;
use crate::TokenizerError;

/// Key of the merge list.
const MERGES: &str = "tokenizer.ggml.merges";

/// A byte-level BPE encoder for raw text (special tokens are split out before it runs).
pub(crate) struct ByteLevelBpe {
    hf: tokenizers::Tokenizer,
}

impl ByteLevelBpe {
    /// Builds the encoder; `merges` are GGUF merge lines, `"left right"`, highest priority
    /// first.
    pub fn new(
        vocab: &Vocab,
        merges: &[&str],
        pre: &PreTokenizer,
    ) -> Result<ByteLevelBpe, TokenizerError> {
        let hf_vocab: HfVocab = vocab.ids.iter().map(|(t, &i)| (t.clone(), i)).collect();
        let merges = parse_merges(merges)?;
        let bpe = BPE::builder()
            .vocab_and_merges(hf_vocab, merges)
            .ignore_merges(pre.ignore_merges)
            .build()
            .map_err(|e| TokenizerError::Build(format!("{MERGES}: {e}")))?;

        let mut steps = split_steps(pre)?;
        // The regexes did the word splitting; ByteLevel only maps bytes to characters.
        steps.push(PreTokenizerWrapper::ByteLevel(ByteLevel::new(
            false, false, false,
        )));

        let mut hf = tokenizers::Tokenizer::new(bpe);
        hf.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(Sequence::new(steps))));
        Ok(ByteLevelBpe { hf })
    }

    /// Appends the ids of `text` (no special tokens inside) to `out`.
    pub fn encode(&self, text: &str, out: &mut Vec<u32>) -> Result<(), TokenizerError> {
        let enc = self
            .hf
            .encode(text, false)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        out.extend_from_slice(enc.get_ids());
        Ok(())
    }
}

/// The word-cutting steps of a pre-tokenizer: one isolating split per regex, in order.
fn split_steps(pre: &PreTokenizer) -> Result<Vec<PreTokenizerWrapper>, TokenizerError> {
    pre.regexes
        .iter()
        .map(|re| {
            Split::new(
                SplitPattern::Regex((*re).to_string()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map(PreTokenizerWrapper::Split)
            .map_err(|e| TokenizerError::Build(format!("pre-tokenizer regex {re:?}: {e}")))
        })
        .collect()
}

/// A function giving the words `pre` cuts a text into, before byte mapping (for tests against
/// llama.cpp's cuts); the regexes are compiled once.
#[cfg(test)]
pub(crate) fn word_cutter(
    pre: &PreTokenizer,
) -> Result<impl Fn(&str) -> Vec<String>, TokenizerError> {
    use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer as _};

    let seq = Sequence::new(split_steps(pre)?);
    Ok(move |text: &str| {
        let mut pts = PreTokenizedString::from(text);
        seq.pre_tokenize(&mut pts).expect("splitting cannot fail");
        pts.get_splits(OffsetReferential::Original, OffsetType::Byte)
            .into_iter()
            .map(|(s, _, _)| s.to_string())
            .collect()
    })
}

/// Splits each merge line at its first space after the first byte (a merge's left side may
/// itself start with a space-like character, never with a plain space).
fn parse_merges(lines: &[&str]) -> Result<Merges, TokenizerError> {
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            // Byte-wise, like llama.cpp's `find(' ', 1)`; a space is always a char boundary.
            line.bytes()
                .skip(1)
                .position(|b| b == b' ')
                .map(|p| (line[..p + 1].to_string(), line[p + 2..].to_string()))
                .ok_or_else(|| TokenizerError::Invalid {
                    key: format!("{MERGES}[{i}]"),
                    what: format!("merge {line:?} has no space separating its two tokens"),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_split_at_first_inner_space() {
        let m = parse_merges(&["Ġ t", "i n"]).unwrap();
        assert_eq!(m[0], ("Ġ".to_string(), "t".to_string()));
        assert_eq!(m[1], ("i".to_string(), "n".to_string()));
        let e = parse_merges(&["ab"]).unwrap_err().to_string();
        assert!(e.contains("tokenizer.ggml.merges[0]"), "{e}");
    }
}

#[cfg(test)]
mod split_tests {
    use super::*;

    /// The words each pre-tokenizer cuts `text` into (before byte mapping).
    fn words(pre: &str, text: &str) -> Vec<String> {
        word_cutter(&PreTokenizer::from_name(pre).unwrap()).unwrap()(text)
    }

    #[test]
    fn each_pre_tokenizer_cuts_like_llama_cpp() {
        let text = "Hello world 12345!!\n\n";
        assert_eq!(
            words("gpt-2", text),
            ["Hello", " world", " 12345", "!!", "\n\n"]
        );
        assert_eq!(
            words("smollm", text),
            ["Hello", " world", " ", "1", "2", "3", "4", "5", "!!", "\n\n"]
        );
        assert_eq!(
            words("llama-bpe", text),
            ["Hello", " world", " ", "123", "45", "!!\n\n"]
        );
        assert_eq!(
            words("default", text),
            ["Hello", " world", " ", "123", "45", "!!", "\n\n"]
        );
        assert_eq!(words("llama3", "I'M here"), ["I", "'M", " here"]);
    }
}
