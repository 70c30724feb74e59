//! The public tokenizer: built from a GGUF file's metadata alone, it encodes and decodes the
//! way llama.cpp does, so prompts map to the ids the model was evaluated with.

use pine_gguf::Gguf;

use crate::byte_bpe::ByteLevelBpe;
use crate::detok::clean_spaces;
use crate::error::meta;
use crate::piece::{build_pieces, Family};
use crate::pre::PreTokenizer;
use crate::special::{partition, Fragment};
use crate::spm_bpe::SentencePieceBpe;
use crate::vocab::{opt_bool, SpecialDefaults, TokenKind, Vocab};
use crate::TokenizerError;

enum Engine {
    ByteLevel(Box<ByteLevelBpe>),
    SentencePiece(Box<SentencePieceBpe>),
}

/// Text ⇄ token ids for one model, from its `tokenizer.ggml.*` metadata.
pub struct Tokenizer {
    vocab: Vocab,
    engine: Engine,
    pieces: Vec<Vec<u8>>,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    clean_spaces: bool,
}

impl Tokenizer {
    /// Builds the tokenizer the file describes. Supports `tokenizer.ggml.model` `gpt2`
    /// (byte-level BPE, with any of the `tokenizer.ggml.pre` pre-tokenizers listed in
    /// `pre::SUPPORTED`, which the error for another one names) and `llama` (SentencePiece
    /// BPE with byte fallback); anything else is an error naming the value.
    pub fn from_gguf(g: &Gguf) -> Result<Tokenizer, TokenizerError> {
        const MODEL: &str = "tokenizer.ggml.model";
        let model = g.get_str(MODEL).map_err(meta(MODEL))?;
        let (vocab, engine, family, add_bos_default, add_space_default, clean_spaces) = match model
        {
            "gpt2" => {
                const PRE: &str = "tokenizer.ggml.pre";
                // llama.cpp falls back to `default` when the key is absent.
                let pre_name = match g.get(PRE) {
                    None => "default",
                    Some(_) => g.get_str(PRE).map_err(meta(PRE))?,
                };
                let pre = PreTokenizer::from_name(pre_name)?;
                let vocab = Vocab::from_gguf(
                    g,
                    SpecialDefaults {
                        bos: None,
                        eos: None,
                        unk: None,
                    },
                )?;
                const MERGES: &str = "tokenizer.ggml.merges";
                let merges = g.get_str_array(MERGES).map_err(meta(MERGES))?;
                let engine = Engine::ByteLevel(Box::new(ByteLevelBpe::new(&vocab, &merges, &pre)?));
                (
                    vocab,
                    engine,
                    Family::ByteLevel,
                    pre.add_bos_default,
                    false,
                    pre.clean_spaces,
                )
            }
            "llama" => {
                let vocab = Vocab::from_gguf(
                    g,
                    SpecialDefaults {
                        bos: Some(1),
                        eos: Some(2),
                        unk: Some(0),
                    },
                )?;
                let engine = Engine::SentencePiece(Box::new(SentencePieceBpe::new(&vocab)?));
                // llama.cpp: SentencePiece vocabularies never clean spaces.
                (vocab, engine, Family::SentencePiece, true, true, false)
            }
            other => return Err(TokenizerError::UnsupportedModel(other.to_string())),
        };
        let add_bos = opt_bool(g, "tokenizer.ggml.add_bos_token")?.unwrap_or(add_bos_default);
        let add_eos = opt_bool(g, "tokenizer.ggml.add_eos_token")?.unwrap_or(false);
        let add_space_prefix =
            opt_bool(g, "tokenizer.ggml.add_space_prefix")?.unwrap_or(add_space_default);
        let pieces = build_pieces(&vocab, family);
        Ok(Tokenizer {
            vocab,
            engine,
            pieces,
            add_bos,
            add_eos,
            add_space_prefix,
            clean_spaces,
        })
    }

    /// Encodes `text`. `add_special` adds BOS/EOS as the model asks (`add_bos_token`,
    /// `add_eos_token`); `parse_special` lets control-token texts such as `<|im_start|>` in
    /// the input become their single ids (needed for rendered chat templates; leave it off
    /// for untrusted user text).
    pub fn encode(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        let mut out = Vec::new();
        if add_special && self.add_bos {
            out.push(
                self.vocab
                    .bos
                    .ok_or(TokenizerError::MissingSpecial("BOS"))?,
            );
        }
        // SentencePiece adds its space at the start and after every special token.
        let mut after_special = true;
        for frag in partition(text, &self.vocab, parse_special) {
            match frag {
                Fragment::Token(id) => {
                    out.push(id);
                    after_special = true;
                }
                Fragment::Text(t) => {
                    match &self.engine {
                        Engine::ByteLevel(bpe) => bpe.encode(t, &mut out)?,
                        Engine::SentencePiece(spm) => {
                            spm.encode(t, self.add_space_prefix && after_special, &mut out)?
                        }
                    }
                    after_special = false;
                }
            }
        }
        if add_special && self.add_eos {
            out.push(
                self.vocab
                    .eos
                    .ok_or(TokenizerError::MissingSpecial("EOS"))?,
            );
        }
        Ok(out)
    }

    /// Decodes ids to text as llama.cpp's `common_detokenize` does (what its
    /// `test-tokenizer-0` and the prompt echo of llama-server use):
    /// [`Tokenizer::detokenize`] with `remove_special` off and `unparse_special` =
    /// `render_special`.
    pub fn decode(&self, ids: &[u32], render_special: bool) -> String {
        self.detokenize(ids, false, render_special)
    }

    /// Decodes ids to text as llama.cpp's `llama_detokenize` does: the tokens' pieces (control
    /// and unknown tokens only with `unparse_special`; ids outside the vocabulary add
    /// nothing), then the vocabulary's whole-text rules: a leading BOS and a trailing EOS are
    /// dropped with `remove_special` when the model adds them, one leading space of the first
    /// piece is dropped for `add_space_prefix` vocabularies (unless a BOS was dropped), and
    /// `clean_spaces` vocabularies lose the spaces before punctuation and some contractions
    /// (see `detok.rs`). Invalid UTF-8 becomes U+FFFD. Not the concatenation of the pieces
    /// that streaming prints ([`Tokenizer::join_pieces`]): llama.cpp differs the same way.
    pub fn detokenize(&self, ids: &[u32], remove_special: bool, unparse_special: bool) -> String {
        let mut ids = ids;
        let mut remove_space = self.add_space_prefix;
        if remove_special && self.add_bos {
            if let Some((&first, rest)) = ids.split_first() {
                if Some(first) == self.vocab.bos {
                    remove_space = false;
                    ids = rest;
                }
            }
        }
        if remove_special && self.add_eos {
            if let Some((&last, rest)) = ids.split_last() {
                if Some(last) == self.vocab.eos {
                    ids = rest;
                }
            }
        }
        let mut bytes = Vec::new();
        for (i, &id) in ids.iter().enumerate() {
            let piece = self.piece(id, unparse_special);
            let piece = match piece.strip_prefix(b" ") {
                Some(rest) if i == 0 && remove_space => rest,
                _ => piece,
            };
            bytes.extend_from_slice(piece);
        }
        if self.clean_spaces {
            bytes = clean_spaces(&bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The pieces of `ids` one after another, nothing removed: the text [`StreamDecoder`]
    /// yields token by token, and what llama-server's `/detokenize` returns (its
    /// `tokens_to_str`, with `render_special`). Invalid UTF-8 becomes U+FFFD.
    ///
    /// [`StreamDecoder`]: crate::StreamDecoder
    pub fn join_pieces(&self, ids: &[u32], render_special: bool) -> String {
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&id| self.piece(id, render_special))
            .copied()
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The bytes token `id` stands for, special tokens as their text; `None` outside the
    /// vocabulary. A byte-fallback token is a single byte, possibly part of a UTF-8 sequence:
    /// this is what streaming output is built from.
    pub fn token_bytes(&self, id: u32) -> Option<Vec<u8>> {
        self.pieces.get(id as usize).cloned()
    }

    /// The bytes token `id` adds to output: like [`Tokenizer::token_bytes`], but control and
    /// unknown tokens are empty unless `render_special`.
    pub fn piece(&self, id: u32, render_special: bool) -> &[u8] {
        match self.vocab.kind(id) {
            None => &[],
            Some(TokenKind::Control | TokenKind::Unknown) if !render_special => &[],
            Some(_) => &self.pieces[id as usize],
        }
    }

    /// The vocabulary's spelling of token `id` (e.g. `Ġworld`, `▁the`, `<|im_end|>`).
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.vocab.texts.get(id as usize).map(String::as_str)
    }

    /// The id whose vocabulary spelling is exactly `text`.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.vocab.ids.get(text).copied()
    }

    /// The kind of token `id` (after llama.cpp's overrides for terminator tokens).
    pub fn token_kind(&self, id: u32) -> Option<TokenKind> {
        self.vocab.kind(id)
    }

    /// Vocabulary size: the number of rows the model's logits have.
    pub fn n_vocab(&self) -> usize {
        self.vocab.len()
    }

    /// Beginning-of-sequence id.
    pub fn bos(&self) -> Option<u32> {
        self.vocab.bos
    }

    /// End-of-sequence id.
    pub fn eos(&self) -> Option<u32> {
        self.vocab.eos
    }

    /// End-of-turn id (`eot_token_id`, or a token such as `<|im_end|>` found by its text).
    pub fn eot(&self) -> Option<u32> {
        self.vocab.eot
    }

    /// Unknown-token id.
    pub fn unk(&self) -> Option<u32> {
        self.vocab.unk
    }

    /// Padding id.
    pub fn pad(&self) -> Option<u32> {
        self.vocab.pad
    }

    /// Whether `encode(.., add_special = true, ..)` prepends BOS.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// Whether `encode(.., add_special = true, ..)` appends EOS.
    pub fn add_eos(&self) -> bool {
        self.add_eos
    }

    /// Whether sampling `id` should end generation (EOS, EOT, EOM, FIM terminators and the
    /// chat terminators llama.cpp recognises by text).
    pub fn is_eog(&self, id: u32) -> bool {
        self.vocab.eog.contains(&id)
    }

    fn is_spm(&self) -> bool {
        matches!(self.engine, Engine::SentencePiece(_))
    }
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("n_vocab", &self.n_vocab())
            .field("family", &if self.is_spm() { "llama" } else { "gpt2" })
            .field("bos", &self.vocab.bos)
            .field("eos", &self.vocab.eos)
            .field("add_bos", &self.add_bos)
            .finish()
    }
}
