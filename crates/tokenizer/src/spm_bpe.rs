//! `tokenizer.ggml.model = llama`: SentencePiece BPE as llama.cpp runs it. The `tokenizers`
//! crate's BPE does the merging, with merges derived from the piece scores (a pair merges
//! with the priority of the score of the piece it forms, as in SentencePiece) and byte
//! fallback to `<0xXX>` tokens for characters the vocabulary lacks. The SentencePiece
//! normalization (spaces become `▁`, a leading `▁` when `add_space_prefix`) is done here.

use tokenizers::models::bpe::{Merges, Vocab as HfVocab, BPE};
use tokenizers::Model;

use crate::vocab::{TokenKind, Vocab};
use crate::TokenizerError;

/// SentencePiece's visible space.
pub(crate) const SPM_SPACE: char = '\u{2581}';

/// A SentencePiece encoder for raw text (special tokens are split out before it runs).
pub(crate) struct SentencePieceBpe {
    bpe: BPE,
}

impl SentencePieceBpe {
    /// Builds the encoder from the vocabulary's texts and scores.
    pub fn new(vocab: &Vocab) -> Result<SentencePieceBpe, TokenizerError> {
        let hf_vocab: HfVocab = vocab.ids.iter().map(|(t, &i)| (t.clone(), i)).collect();
        let mut builder = BPE::builder()
            .vocab_and_merges(hf_vocab, derive_merges(vocab))
            .byte_fallback(true);
        if let Some(unk) = vocab.unk {
            builder = builder.unk_token(vocab.texts[unk as usize].clone());
        }
        let bpe = builder
            .build()
            .map_err(|e| TokenizerError::Build(format!("SentencePiece vocabulary: {e}")))?;
        Ok(SentencePieceBpe { bpe })
    }

    /// Appends the ids of `text` to `out`; `prefix_space` adds SentencePiece's leading space
    /// (llama.cpp does so at the start and after every special token).
    pub fn encode(
        &self,
        text: &str,
        prefix_space: bool,
        out: &mut Vec<u32>,
    ) -> Result<(), TokenizerError> {
        let mut s = String::with_capacity(text.len() + 3);
        if prefix_space {
            s.push(SPM_SPACE);
        }
        s.extend(text.chars().map(|c| if c == ' ' { SPM_SPACE } else { c }));
        let tokens = self
            .bpe
            .tokenize(&s)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        out.extend(tokens.iter().map(|t| t.id));
        Ok(())
    }
}

/// Every split of a piece into two pieces that are both in the vocabulary becomes a merge,
/// ranked by the score of the whole piece (higher first; ties by id so the order is stable).
fn derive_merges(vocab: &Vocab) -> Merges {
    let mut ranked: Vec<(f32, u32, u32, u32)> = Vec::new();
    for (id, text) in vocab.texts.iter().enumerate() {
        let id = id as u32;
        // Byte tokens stand for bytes, not for their spelling; never build them from text.
        if vocab.kinds[id as usize] == TokenKind::Byte || vocab.ids.get(text) != Some(&id) {
            continue;
        }
        for (cut, _) in text.char_indices().skip(1) {
            let (l, r) = text.split_at(cut);
            if let (Some(&li), Some(&ri)) = (vocab.ids.get(l), vocab.ids.get(r)) {
                ranked.push((vocab.scores[id as usize], id, li, ri));
            }
        }
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    ranked
        .into_iter()
        .map(|(_, _, l, r)| {
            (
                vocab.texts[l as usize].clone(),
                vocab.texts[r as usize].clone(),
            )
        })
        .collect()
}
