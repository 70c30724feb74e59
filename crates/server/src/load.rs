//! Loading the model, tokenizer and chat template (as `pine-run` does, in
//! `crates/cli/src/run/setup.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use pine_backend::MatmulMode;
use pine_cli::{flags, model_path};
use pine_gguf::Gguf;
use pine_model::{AnyBackend, Llama};
use pine_tokenizer::{ChatTemplate, Tokenizer};

use crate::args::ServeArgs;

/// What the server needs from the model file.
pub struct Loaded {
    /// Where it came from.
    pub path: PathBuf,
    /// The model on its backend.
    pub model: Llama<AnyBackend>,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Its chat template, if it has one (without one, chat requests are refused).
    pub template: Option<ChatTemplate>,
}

/// Opens the model the flags name on the backend they choose.
pub fn load(args: &ServeArgs) -> Result<Loaded, String> {
    let path = model_path::resolve(args.model.as_deref())?;
    let in_file = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = Arc::new(Gguf::open(&path).map_err(|e| model_path::gguf_error(&path, &e))?);
    let tokenizer = Tokenizer::from_gguf(&file).map_err(|e| in_file(&e))?;
    let template = ChatTemplate::from_gguf(&file).map_err(|e| in_file(&e))?;
    let choice = flags::backend_choice(args.backend, args.device, args.threads.unwrap_or(0));
    let note = &mut |m: String| eprintln!("pine-serve: {m}");
    let backend = AnyBackend::open(choice, MatmulMode::Native, note).map_err(|e| in_file(&e))?;
    let model = Llama::load(Arc::clone(&file), backend).map_err(|e| in_file(&e))?;
    let p = &model.params;
    eprintln!(
        "pine-serve: {} ({}): {} layers, vocab {}, {}",
        path.display(),
        p.arch,
        p.n_layers,
        p.n_vocab,
        model.backend.describe()
    );
    Ok(Loaded {
        path,
        model,
        tokenizer,
        template,
    })
}
