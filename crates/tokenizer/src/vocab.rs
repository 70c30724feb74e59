//! The token table read from `tokenizer.ggml.*`: texts, kinds, scores, the special ids and the
//! end-of-generation set. It follows llama.cpp's `llama_vocab::load`, including its habit of
//! recognising chat-turn terminators by their text, so pine stops generating where llama.cpp
//! stops.

use std::collections::{HashMap, HashSet};

use pine_gguf::Gguf;

use crate::error::meta;
use crate::TokenizerError;

/// What a vocabulary entry is, from `tokenizer.ggml.token_type` (llama.cpp `llama_token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Ordinary text piece.
    Normal,
    /// The unknown-token placeholder (`<unk>`).
    Unknown,
    /// A control token (`<s>`, `<|im_start|>`): matched from text only with special parsing,
    /// rendered only when asked.
    Control,
    /// A user-defined token: always matched as a unit and always rendered.
    UserDefined,
    /// A reserved slot that never appears in text.
    Unused,
    /// A byte-fallback token `<0xXX>` standing for one raw byte.
    Byte,
    /// A type id this crate does not know; treated like `Unused`.
    Undefined,
}

impl TokenKind {
    /// Maps a stored `token_type` value.
    pub fn from_gguf(t: i32) -> TokenKind {
        match t {
            1 => TokenKind::Normal,
            2 => TokenKind::Unknown,
            3 => TokenKind::Control,
            4 => TokenKind::UserDefined,
            5 => TokenKind::Unused,
            6 => TokenKind::Byte,
            _ => TokenKind::Undefined,
        }
    }

    /// Whether the token is split out of raw text as a unit before BPE (llama.cpp's special
    /// token cache: control, user-defined and unknown).
    pub fn is_special(self) -> bool {
        matches!(
            self,
            TokenKind::Control | TokenKind::UserDefined | TokenKind::Unknown
        )
    }
}

/// Token texts that llama.cpp takes as the end-of-turn token when `eot_token_id` is absent.
const EOT_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
];

/// Token texts that always end generation (llama.cpp's EOG list).
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "<|end_of_text|>",
    "<end_of_utterance>",
];

/// FIM tokens llama.cpp also treats as end of generation: (key, recognised texts).
const FIM_EOG: &[(&str, &[&str])] = &[
    (
        "tokenizer.ggml.fim_pad_token_id",
        &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"],
    ),
    (
        "tokenizer.ggml.fim_rep_token_id",
        &[
            "<|fim_repo|>",
            "<|repo_name|>",
            "<fim-repo>",
            "<REPO>",
            "<reponame>",
        ],
    ),
    ("tokenizer.ggml.fim_sep_token_id", &["<|file_sep|>"]),
];

/// The token table plus the special-token facts encoding and decoding need.
#[derive(Clone, Debug)]
pub(crate) struct Vocab {
    pub texts: Vec<String>,
    pub kinds: Vec<TokenKind>,
    pub scores: Vec<f32>,
    /// Text → id; on duplicate texts the last id wins, as in llama.cpp.
    pub ids: HashMap<String, u32>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub eot: Option<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
    pub eog: HashSet<u32>,
    /// Control, user-defined and unknown tokens, longest text first (ties by id), the order
    /// llama.cpp splits them out of raw text.
    pub specials: Vec<u32>,
}

/// Defaults llama.cpp assumes for a vocabulary family when the id keys are absent.
pub(crate) struct SpecialDefaults {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unk: Option<u32>,
}

/// Reads an optional u32 key: absent → `None`, present but not an integer → error.
pub(crate) fn opt_u32(g: &Gguf, key: &str) -> Result<Option<u32>, TokenizerError> {
    match g.get(key) {
        None => Ok(None),
        Some(_) => g.get_u32(key).map(Some).map_err(meta(key)),
    }
}

/// Reads an optional bool key.
pub(crate) fn opt_bool(g: &Gguf, key: &str) -> Result<Option<bool>, TokenizerError> {
    match g.get(key) {
        None => Ok(None),
        Some(_) => g.get_bool(key).map(Some).map_err(meta(key)),
    }
}

impl Vocab {
    pub fn from_gguf(g: &Gguf, defaults: SpecialDefaults) -> Result<Vocab, TokenizerError> {
        const TOKENS: &str = "tokenizer.ggml.tokens";
        let raw = g.get_str_array(TOKENS).map_err(meta(TOKENS))?;
        let n = raw.len();
        if n == 0 || n > u32::MAX as usize {
            return Err(TokenizerError::Invalid {
                key: TOKENS.into(),
                what: format!("{n} tokens"),
            });
        }
        let texts: Vec<String> = raw
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if t.is_empty() {
                    format!("[EMPTY_{i}]")
                } else {
                    t.to_string()
                }
            })
            .collect();

        let kinds = match g.get("tokenizer.ggml.token_type") {
            None => vec![TokenKind::Normal; n],
            Some(_) => {
                let key = "tokenizer.ggml.token_type";
                let t = g.get_i32_array(key).map_err(meta(key))?;
                check_len(key, t.len(), n)?;
                t.into_iter().map(TokenKind::from_gguf).collect()
            }
        };
        let scores = match g.get("tokenizer.ggml.scores") {
            None => vec![0.0; n],
            Some(_) => {
                let key = "tokenizer.ggml.scores";
                let s = g.get_f32_array(key).map_err(meta(key))?;
                check_len(key, s.len(), n)?;
                s
            }
        };
        let ids: HashMap<String, u32> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();

        let mut v = Vocab {
            texts,
            kinds,
            scores,
            ids,
            bos: None,
            eos: None,
            eot: None,
            unk: None,
            pad: None,
            eog: HashSet::new(),
            specials: Vec::new(),
        };
        let in_range = |id: Option<u32>| id.filter(|&i| (i as usize) < n);
        // An out-of-range id keeps the default, as llama.cpp does (it only warns).
        let special = |key: &str, default: Option<u32>| -> Result<Option<u32>, TokenizerError> {
            Ok(in_range(opt_u32(g, key)?).or(in_range(default)))
        };
        v.bos = special("tokenizer.ggml.bos_token_id", defaults.bos)?;
        v.eos = special("tokenizer.ggml.eos_token_id", defaults.eos)?;
        v.unk = special("tokenizer.ggml.unknown_token_id", defaults.unk)?;
        v.pad = special("tokenizer.ggml.padding_token_id", None)?;
        let eot_key = special("tokenizer.ggml.eot_token_id", None)?;
        let eom_key = special("tokenizer.ggml.eom_token_id", None)?;
        v.eot = eot_key.or_else(|| v.find_first(EOT_TEXTS));
        let eom = eom_key.or_else(|| v.find_first(&["<|eom_id|>"]));
        for id in [v.eot, eom].into_iter().flatten() {
            v.force_control(id);
        }

        for (key, texts) in FIM_EOG {
            if let Some(id) = special(key, None)?.or_else(|| v.find_first(texts)) {
                v.force_control(id);
                v.eog.insert(id);
            }
        }
        for text in EOG_TEXTS {
            if let Some(&id) = v.ids.get(*text) {
                v.force_control(id);
                v.eog.insert(id);
            }
        }
        v.eog.extend([v.eos, v.eot, eom].into_iter().flatten());
        // gpt-oss: `<|end|>` ends a message, not the generation, when `<|return|>` and
        // `<|call|>` exist.
        if let (Some(&end), true) = (
            v.ids.get("<|end|>"),
            v.ids.contains_key("<|return|>") && v.ids.contains_key("<|call|>"),
        ) {
            v.eog.remove(&end);
            v.kinds[end as usize] = TokenKind::UserDefined;
        }

        let mut specials: Vec<u32> = (0..n as u32)
            .filter(|&i| v.kinds[i as usize].is_special())
            .collect();
        specials.sort_by_key(|&i| (std::cmp::Reverse(v.texts[i as usize].len()), i));
        v.specials = specials;
        Ok(v)
    }

    /// The lowest id whose text is one of `texts`.
    fn find_first(&self, texts: &[&str]) -> Option<u32> {
        (0..self.texts.len() as u32).find(|&i| texts.contains(&self.texts[i as usize].as_str()))
    }

    /// llama.cpp overrides the type of terminator-looking tokens to control.
    fn force_control(&mut self, id: u32) {
        self.kinds[id as usize] = TokenKind::Control;
    }

    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn kind(&self, id: u32) -> Option<TokenKind> {
        self.kinds.get(id as usize).copied()
    }
}

fn check_len(key: &str, got: usize, n: usize) -> Result<(), TokenizerError> {
    if got == n {
        Ok(())
    } else {
        Err(TokenizerError::Invalid {
            key: key.into(),
            what: format!("{got} entries for {n} tokens"),
        })
    }
}
