//! [`Error`]: everything that can go wrong in the library, one variant per layer, each keeping
//! the lower layer's error as its [`source`](std::error::Error::source).

use std::fmt;
use std::path::PathBuf;

use pine_backend::BackendError;
use pine_gguf::GgufError;
use pine_model::ModelError;
use pine_tokenizer::TokenizerError;

/// Why loading a model, building a prompt or generating failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The model file could not be read or is not a valid GGUF file.
    Open {
        /// The model file.
        path: PathBuf,
        /// What the GGUF reader reported.
        source: GgufError,
    },
    /// The file's tokenizer or chat template metadata is unusable.
    Tokenizer {
        /// The model file.
        path: PathBuf,
        /// What the tokenizer reported.
        source: TokenizerError,
    },
    /// The compute backend could not be opened (no Vulkan device, a thread pool that could
    /// not start, ...).
    Backend {
        /// The model file being loaded.
        path: PathBuf,
        /// What the backend reported.
        source: BackendError,
    },
    /// The model could not be loaded onto the backend (unsupported architecture, a missing
    /// tensor, out of device memory, ...).
    Load {
        /// The model file.
        path: PathBuf,
        /// What the model loader reported.
        source: ModelError,
    },
    /// The KV cache for the asked context size could not be made.
    Context {
        /// The context size asked for (0: the model's training context).
        n_ctx: usize,
        /// Why the cache could not be made.
        source: ModelError,
    },
    /// Evaluating or generating failed (the prompt does not fit the context, a backend error
    /// while running, ...).
    Eval(ModelError),
    /// Tokenizing text or rendering the chat template failed.
    Text(TokenizerError),
    /// A chat needs a chat template, and the model file has none (`tokenizer.chat_template`).
    NoChatTemplate,
    /// A chat message does not fit the context even without the earlier turns.
    PromptTooLong {
        /// The conversation's tokens with the chat template.
        tokens: usize,
        /// The context size.
        n_ctx: usize,
    },
    /// The request itself is unusable: an empty prompt, a token id outside the vocabulary, a
    /// judge label that is not one token, ...
    Request(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // An I/O error already says what failed; the path says which file.
            Error::Open {
                path,
                source: GgufError::Io { source, .. },
            } => write!(f, "{}: {source}", path.display()),
            Error::Open { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Tokenizer { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Backend { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Load { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Context { n_ctx, source } => write!(f, "context size {n_ctx}: {source}"),
            Error::Eval(e) => write!(f, "{e}"),
            Error::Text(e) => write!(f, "{e}"),
            Error::NoChatTemplate => write!(
                f,
                "the model has no chat template (tokenizer.chat_template); a chat needs one"
            ),
            Error::PromptTooLong { tokens, n_ctx } => write!(
                f,
                "this message does not fit the context ({tokens} tokens with the chat template, \
                 the context holds {n_ctx})"
            ),
            Error::Request(what) => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Open { source, .. } => Some(source),
            Error::Tokenizer { source, .. } | Error::Text(source) => Some(source),
            Error::Backend { source, .. } => Some(source),
            Error::Load { source, .. } | Error::Context { source, .. } | Error::Eval(source) => {
                Some(source)
            }
            Error::NoChatTemplate | Error::PromptTooLong { .. } | Error::Request(_) => None,
        }
    }
}

impl From<ModelError> for Error {
    fn from(e: ModelError) -> Self {
        Error::Eval(e)
    }
}

impl From<TokenizerError> for Error {
    fn from(e: TokenizerError) -> Self {
        Error::Text(e)
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn sources_are_the_lower_layers_errors() {
        let e = Error::Context {
            n_ctx: 7,
            source: ModelError::Request("too big".into()),
        };
        assert_eq!(e.to_string(), "context size 7: too big");
        assert_eq!(e.source().unwrap().to_string(), "too big");
        assert!(Error::NoChatTemplate.source().is_none());
    }
}
