//! Loading the model, tokenizer and chat template through the library
//! ([`pine::ModelBuilder::load_parts`]: the server keeps its KV caches in its slots).

use std::path::PathBuf;

use pine::{Model, ModelParts};
use pine_cli::{flags, model_path};
use pine_model::{AnyBackend, Transformer};
use pine_tokenizer::{ChatTemplate, Tokenizer};

use crate::args::ServeArgs;

/// What the server needs from the model file.
pub struct Loaded {
    /// Where it came from.
    pub path: PathBuf,
    /// The model on its backend.
    pub model: Transformer<AnyBackend>,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Its chat template, if it has one (without one, chat requests are refused).
    pub template: Option<ChatTemplate>,
}

/// Opens the model the flags name on the backend they choose.
pub fn load(args: &ServeArgs) -> Result<Loaded, String> {
    let path = model_path::resolve(args.model.as_deref())?;
    let mut builder = Model::builder(&path)
        .backend(flags::backend_kind(args.backend))
        .threads(args.threads.unwrap_or(0))
        .vulkan_numerics(flags::numerics(args.vk_exact))
        .on_note(|m| eprintln!("pine-serve: {m}"));
    if let Some(d) = args.device {
        builder = builder.device(d);
    }
    let ModelParts {
        path,
        weights: model,
        tokenizer,
        template,
        ..
    } = builder.load_parts().map_err(|e| e.to_string())?;
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
