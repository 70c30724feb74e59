//! The one error type of this crate. Every failure names the metadata key, token or template
//! that caused it, so a bad model file can be diagnosed from the message alone.

use std::fmt;

use pine_gguf::GgufError;

/// Why a tokenizer or chat template could not be built or used.
#[derive(Debug)]
pub enum TokenizerError {
    /// A `tokenizer.*` metadata key is missing or has the wrong type.
    Metadata {
        /// The key that was read.
        key: String,
        /// What the GGUF reader reported.
        source: GgufError,
    },
    /// `tokenizer.ggml.model` names a tokenizer family pine does not implement.
    UnsupportedModel(String),
    /// `tokenizer.ggml.pre` names a pre-tokenizer pine does not know the regexes of.
    UnsupportedPre(String),
    /// A metadata value is present but unusable (array lengths differ, an id is out of range,
    /// a merge has no separating space, ...).
    Invalid {
        /// The key whose value is wrong.
        key: String,
        /// What is wrong with it.
        what: String,
    },
    /// The `tokenizers` crate refused the vocabulary, merges or pre-tokenizer regex.
    Build(String),
    /// The `tokenizers` crate failed while encoding a piece of text.
    Encode(String),
    /// Encoding asked for a special token (BOS/EOS) the model does not define.
    MissingSpecial(&'static str),
    /// The chat template failed to compile or render.
    Template(String),
}

impl fmt::Display for TokenizerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenizerError::Metadata { key, source } => write!(f, "metadata `{key}`: {source}"),
            TokenizerError::UnsupportedModel(m) => write!(
                f,
                "unsupported tokenizer model `{m}` (tokenizer.ggml.model); pine supports `gpt2` and `llama`"
            ),
            TokenizerError::UnsupportedPre(p) => write!(
                f,
                "unsupported pre-tokenizer `{p}` (tokenizer.ggml.pre); pine supports {}",
                crate::pre::SUPPORTED.join(", ")
            ),
            TokenizerError::Invalid { key, what } => write!(f, "metadata `{key}`: {what}"),
            TokenizerError::Build(e) => write!(f, "building the tokenizer: {e}"),
            TokenizerError::Encode(e) => write!(f, "encoding text: {e}"),
            TokenizerError::MissingSpecial(which) => {
                write!(f, "the model defines no {which} token but encoding needs one")
            }
            TokenizerError::Template(e) => write!(f, "chat template: {e}"),
        }
    }
}

impl std::error::Error for TokenizerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TokenizerError::Metadata { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Attaches the key to a GGUF reader error.
pub(crate) fn meta(key: &str) -> impl FnOnce(GgufError) -> TokenizerError + '_ {
    move |source| TokenizerError::Metadata {
        key: key.to_string(),
        source,
    }
}
