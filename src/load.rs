//! [`Model`]: a GGUF model loaded with its tokenizer, chat template and a KV cache, and
//! [`ModelBuilder`], the options it is loaded with.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pine_attention::{AttentionMode, Layout};
use pine_backend::{CacheType, MatmulMode, VulkanNumerics};
use pine_gguf::Gguf;
use pine_model::{
    AnyBackend, BackendChoice, Logits, ModelParams, ProgressFn, Session, Transformer,
};
use pine_tokenizer::{ChatTemplate, Tokenizer};

use crate::error::{Error, Result};

/// Which compute backend a model is loaded on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendKind {
    /// A Vulkan GPU if there is one (and it can hold the model), else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// A Vulkan device (lavapipe included): the one [`ModelBuilder::device`] names, else the
    /// best one.
    #[cfg(feature = "vulkan")]
    Vulkan,
}

/// A callback for notes on what loading decided (the GPU it fell back from, ...).
type NoteFn = Box<dyn FnMut(String)>;

/// The options a [`Model`] is loaded with; made by [`Model::builder`].
pub struct ModelBuilder {
    path: PathBuf,
    backend: BackendKind,
    device: Option<usize>,
    numerics: VulkanNumerics,
    threads: usize,
    n_ctx: usize,
    cache_type: CacheType,
    matmul: MatmulMode,
    notes: Option<NoteFn>,
    progress: Option<ProgressFn>,
}

impl ModelBuilder {
    /// The compute backend (default: [`BackendKind::Auto`]).
    pub fn backend(mut self, backend: BackendKind) -> Self {
        self.backend = backend;
        self
    }

    /// The Vulkan device index (see `pine-run --list-devices`); needs
    /// [`BackendKind::Vulkan`].
    #[cfg(feature = "vulkan")]
    pub fn device(mut self, index: usize) -> Self {
        self.device = Some(index);
        self
    }

    /// How the Vulkan backend computes floats (default [`VulkanNumerics::Fast`]: native fma
    /// and division, f32 sums, no f64, as llama.cpp's Vulkan backend computes).
    /// [`VulkanNumerics::Exact`] gives the CPU backend's results bit for bit where the device
    /// has f64, much more slowly on consumer GPUs; it needs [`BackendKind::Vulkan`] or
    /// [`BackendKind::Auto`] (under `Auto` it applies when a GPU is picked), and loading with
    /// [`BackendKind::Cpu`] rejects it.
    #[cfg(feature = "vulkan")]
    pub fn vulkan_numerics(mut self, numerics: VulkanNumerics) -> Self {
        self.numerics = numerics;
        self
    }

    /// CPU threads (default 0: all cores).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Context size in tokens: the KV cache's room (default 4096; 0: the model's training
    /// context).
    pub fn context_size(mut self, n_ctx: usize) -> Self {
        self.n_ctx = n_ctx;
        self
    }

    /// The KV cache's element type (default [`CacheType::F16`], as llama.cpp).
    pub fn cache_type(mut self, cache_type: CacheType) -> Self {
        self.cache_type = cache_type;
        self
    }

    /// The numeric mode: [`MatmulMode::Native`] (default, llama.cpp's scheme) or
    /// [`MatmulMode::F32`] (weights dequantized, activations in f32: the reference mode).
    pub fn matmul_mode(mut self, mode: MatmulMode) -> Self {
        self.matmul = mode;
        self
    }

    /// Receives notes on what loading decided (no GPU so the CPU is used, a GPU that could
    /// not hold the model); without one they are dropped.
    pub fn on_note(mut self, f: impl FnMut(String) + 'static) -> Self {
        self.notes = Some(Box::new(f));
        self
    }

    /// Called after every layer of every batch an evaluation runs (for progress on long
    /// prompts; see [`pine_model::Session::on_progress`]).
    pub fn on_progress(mut self, f: ProgressFn) -> Self {
        self.progress = Some(f);
        self
    }

    /// Opens the file, builds the tokenizer and chat template, loads the weights on the
    /// backend and makes the KV cache.
    pub fn load(mut self) -> Result<Model> {
        let (n_ctx, cache_type, progress) = (self.n_ctx, self.cache_type, self.progress.take());
        let parts = self.load_parts()?;
        let mut session = Session::new(parts.weights, n_ctx, cache_type)
            .map_err(|source| Error::Context { n_ctx, source })?;
        if let Some(f) = progress {
            session.on_progress(f);
        }
        Ok(Model {
            path: parts.path,
            file: parts.file,
            tokenizer: parts.tokenizer,
            template: parts.template,
            session,
            layout_cached: false,
            logits: Vec::new(),
        })
    }

    /// Opens the file, builds the tokenizer and chat template and loads the weights on the
    /// backend, without a KV cache (the context size, cache type and progress callback are not
    /// used): for callers that keep caches of their own, such as a server's slots
    /// ([`pine_model::Slots`]).
    pub fn load_parts(self) -> Result<ModelParts> {
        let ModelBuilder {
            path,
            backend,
            device,
            numerics,
            threads,
            matmul,
            notes,
            ..
        } = self;
        let file = Arc::new(Gguf::open(&path).map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?);
        let tokenizer_error = |source| Error::Tokenizer {
            path: path.clone(),
            source,
        };
        let tokenizer = Tokenizer::from_gguf(&file).map_err(tokenizer_error)?;
        let template = ChatTemplate::from_gguf(&file).map_err(tokenizer_error)?;
        let choice = match (backend, device) {
            (BackendKind::Cpu, _) if numerics == VulkanNumerics::Exact => {
                return Err(Error::Request(
                    "exact Vulkan numerics need the Vulkan (or auto) backend, not the CPU".into(),
                ))
            }
            (BackendKind::Auto, None) => BackendChoice::Auto { threads, numerics },
            (BackendKind::Cpu, None) => BackendChoice::Cpu { threads },
            #[cfg(feature = "vulkan")]
            (BackendKind::Vulkan, device) => BackendChoice::Vulkan { device, numerics },
            (_, Some(d)) => {
                return Err(Error::Request(format!(
                    "a device index ({d}) needs the Vulkan backend"
                )))
            }
        };
        let mut notes = notes.unwrap_or_else(|| Box::new(|_| {}));
        let weights = load_weights(&path, &file, choice, matmul, &mut notes)?;
        Ok(ModelParts {
            path,
            file,
            tokenizer,
            template,
            weights,
        })
    }
}

/// A model loaded without a KV cache ([`ModelBuilder::load_parts`]).
pub struct ModelParts {
    /// The model file's path.
    pub path: PathBuf,
    /// The GGUF file.
    pub file: Arc<Gguf>,
    /// The tokenizer.
    pub tokenizer: Tokenizer,
    /// The chat template, when the file has one.
    pub template: Option<ChatTemplate>,
    /// The weights on their backend.
    pub weights: Transformer<AnyBackend>,
}

/// Loads the weights on the chosen backend. Under [`BackendChoice::Auto`], a GPU that cannot
/// load the model (out of memory, say) gives way to the CPU; the GPU is mentioned only when
/// there was one and the CPU then loads the file, so a broken model is reported as the
/// model's error.
fn load_weights(
    path: &Path,
    file: &Arc<Gguf>,
    choice: BackendChoice,
    mode: MatmulMode,
    note: &mut dyn FnMut(String),
) -> Result<Transformer<AnyBackend>> {
    let backend_error = |source| Error::Backend {
        path: path.to_path_buf(),
        source,
    };
    let load_error = |source| Error::Load {
        path: path.to_path_buf(),
        source,
    };
    let backend = AnyBackend::open(choice, mode, note).map_err(backend_error)?;
    let on_gpu = !matches!(backend, AnyBackend::Cpu(_));
    match (Transformer::load(Arc::clone(file), backend), choice) {
        (Ok(m), _) => Ok(m),
        (Err(gpu_error), BackendChoice::Auto { threads, .. }) if on_gpu => {
            let cpu = AnyBackend::open(BackendChoice::Cpu { threads }, mode, &mut |_| {})
                .map_err(backend_error)?;
            let model = Transformer::load(Arc::clone(file), cpu).map_err(load_error)?;
            note(format!(
                "the GPU could not load the model ({gpu_error}); using the CPU"
            ));
            Ok(model)
        }
        (Err(e), _) => Err(load_error(e)),
    }
}

/// A loaded model: the file, its tokenizer and chat template, the weights on a backend and
/// one KV cache (one sequence of tokens at a time).
pub struct Model {
    path: PathBuf,
    file: Arc<Gguf>,
    pub(crate) tokenizer: Tokenizer,
    template: Option<ChatTemplate>,
    pub(crate) session: Session<AnyBackend>,
    /// The cache holds a layout evaluated under a non-causal mode (decoding continues it).
    layout_cached: bool,
    /// The last evaluated position's logits (empty before the first evaluation).
    pub(crate) logits: Vec<f32>,
}

impl Model {
    /// The options to load the GGUF file at `path` with; [`ModelBuilder::load`] loads it.
    pub fn builder(path: impl AsRef<Path>) -> ModelBuilder {
        ModelBuilder {
            path: path.as_ref().to_path_buf(),
            backend: BackendKind::Auto,
            device: None,
            numerics: VulkanNumerics::Fast,
            threads: 0,
            n_ctx: 4096,
            cache_type: CacheType::F16,
            matmul: MatmulMode::Native,
            notes: None,
            progress: None,
        }
    }

    /// Loads the GGUF file at `path` with the default options (see [`ModelBuilder`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        Model::builder(path).load()
    }

    /// The model file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The GGUF file (metadata, tensors).
    pub fn file(&self) -> &Arc<Gguf> {
        &self.file
    }

    /// The hyper-parameters (architecture, layers, heads, vocabulary, training context).
    pub fn params(&self) -> &ModelParams {
        &self.session.model.params
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The chat template, when the file has one.
    pub fn chat_template(&self) -> Option<&ChatTemplate> {
        self.template.as_ref()
    }

    /// What the model runs on, for logs: `cpu backend, 2 threads`, `vulkan backend, ...`.
    pub fn backend_description(&self) -> String {
        self.session.model.backend.describe()
    }

    /// The context size in tokens.
    pub fn n_ctx(&self) -> usize {
        self.session.n_ctx()
    }

    /// The tokens in the KV cache.
    pub fn cached_tokens(&self) -> &[u32] {
        self.session.tokens()
    }

    /// Forgets the KV cache's contents.
    pub fn reset(&mut self) {
        self.session.reset();
        self.layout_cached = false;
        self.logits.clear();
    }

    /// Evaluates `layout` from an empty cache under `mode` and returns the last position's
    /// logits. A later generation from [`crate::Prompt::Continue`] decodes under the same
    /// mode.
    pub fn evaluate(&mut self, layout: &Layout, mode: AttentionMode) -> Result<&[f32]> {
        self.evaluate_rows(layout, mode, Logits::Last)?;
        Ok(&self.logits)
    }

    /// As [`Model::evaluate`], but returns every position's logits (`[layout.len(),
    /// n_vocab]`, row-major).
    pub fn evaluate_all(&mut self, layout: &Layout, mode: AttentionMode) -> Result<Vec<f32>> {
        self.evaluate_rows(layout, mode, Logits::All)
    }

    /// Evaluates `ids` under causal attention and returns the last position's logits,
    /// re-using the cache's common prefix with them: only the tokens after it are computed, so
    /// prompts that share an opening (the orders of one evaluation item, say) pay for it once.
    pub fn evaluate_tokens(&mut self, ids: &[u32]) -> Result<&[f32]> {
        self.prefill_reusing(ids)?;
        Ok(&self.logits)
    }

    fn evaluate_rows(
        &mut self,
        layout: &Layout,
        mode: AttentionMode,
        which: Logits,
    ) -> Result<Vec<f32>> {
        if layout.prefix.is_empty() && matches!(mode, AttentionMode::Anchor(_)) {
            return Err(Error::Request(
                "anchor attention needs a prefix (its first token is the shared anchor)".into(),
            ));
        }
        self.check_ids(&layout.tokens())?;
        self.logits.clear();
        self.layout_cached = false;
        // A failed evaluation may leave part of the layout in the cache: forget it.
        let all = self
            .session
            .evaluate(layout, mode, which)
            .inspect_err(|_| self.session.reset())?;
        self.layout_cached = mode != AttentionMode::Causal;
        let n_vocab = self.params().n_vocab;
        self.logits = all[all.len() - n_vocab..].to_vec();
        Ok(match which {
            Logits::All => all,
            Logits::Last => Vec::new(),
        })
    }

    /// Appends `ids` to the cache with causal attention, re-using the part of the cache that
    /// already holds the same tokens (a chat's earlier turns, a shared system prompt), and
    /// keeps the last position's logits; returns how many tokens were re-used.
    pub(crate) fn prefill_reusing(&mut self, ids: &[u32]) -> Result<usize> {
        if ids.is_empty() {
            return Err(Error::Request("empty prompt: nothing to evaluate".into()));
        }
        self.check_ids(ids)?;
        if self.layout_cached {
            self.reset();
        }
        let cached = self.session.tokens();
        let common = cached.iter().zip(ids).take_while(|(a, b)| a == b).count();
        // At least the last token is evaluated again: its logits start the generation.
        let common = common.min(ids.len() - 1);
        self.session.truncate(common);
        self.logits.clear();
        self.logits = self
            .session
            .prefill(&ids[common..], Logits::Last)
            .inspect_err(|_| self.session.reset())?;
        Ok(common)
    }

    /// Fails when a token id is outside the vocabulary.
    fn check_ids(&self, ids: &[u32]) -> Result<()> {
        let n_vocab = self.params().n_vocab;
        match ids.iter().find(|&&t| t as usize >= n_vocab) {
            Some(bad) => Err(Error::Request(format!(
                "token id {bad} is outside the vocabulary of {n_vocab}"
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_model_and_a_chat_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<super::Model>();
        send::<crate::Chat>();
    }
}
