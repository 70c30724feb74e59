//! Loading the model, tokenizer and template, and turning the command line into prompt tokens.

use std::sync::Arc;

use pine_backend::{CacheType, MatmulMode};
use pine_gguf::Gguf;
use pine_model::{AnyBackend, BackendChoice, Llama, Sampler, SamplerConfig, Session};
use pine_tokenizer::{ChatMessage, ChatTemplate, Tokenizer};

use super::args::RunArgs;
use crate::model_path;

/// Everything a run needs once the model is loaded.
pub(crate) struct RunContext {
    pub(crate) session: Session<AnyBackend>,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) template: Option<ChatTemplate>,
    pub(crate) sampler: Sampler,
}

pub(crate) fn load(args: &RunArgs) -> Result<RunContext, String> {
    let path = model_path::resolve(args.model.as_deref())?;
    let file = Arc::new(Gguf::open(&path).map_err(|e| model_path::gguf_error(&path, &e))?);
    let tokenizer = Tokenizer::from_gguf(&file).map_err(|e| format!("{}: {e}", path.display()))?;
    let template =
        ChatTemplate::from_gguf(&file).map_err(|e| format!("{}: {e}", path.display()))?;
    let threads = args.threads.unwrap_or(0);
    let mode = if args.f32_matmul {
        MatmulMode::F32
    } else {
        MatmulMode::Native
    };
    let choice = crate::flags::backend_choice(args.backend, args.device, threads);
    let model = load_model(&file, choice, mode).map_err(|e| format!("{}: {e}", path.display()))?;
    let p = &model.params;
    eprintln!(
        "pine-run: {} ({}): {} layers, {} wide, {}/{} heads, vocab {}, {:.1} MiB, {}",
        path.display(),
        p.arch,
        p.n_layers,
        p.n_embd,
        p.n_heads,
        p.n_kv_heads,
        p.n_vocab,
        file.file_len() as f64 / (1024.0 * 1024.0),
        model.backend.describe(),
    );
    let cache = CacheType::from(args.cache_type);
    let n_train = model.params.n_ctx_train;
    if args.ctx_size > n_train {
        eprintln!(
            "pine-run: warning: -c {} is above the model's training context of {n_train} \
             tokens; quality may degrade past it",
            args.ctx_size
        );
    }
    let mut session = Session::new(model, args.ctx_size, cache)
        .map_err(|e| format!("-c/--ctx-size {}: {e}", args.ctx_size))?;
    session.on_progress(super::progress::printer());
    let sampler = Sampler::new(SamplerConfig {
        temperature: args.temp,
        top_k: args.top_k,
        top_p: args.top_p,
        min_p: args.min_p,
        repeat_penalty: args.repeat_penalty,
        repeat_last_n: args.repeat_last_n,
        seed: args.seed,
    });
    Ok(RunContext {
        session,
        tokenizer,
        template,
        sampler,
    })
}

/// Loads the model on the chosen backend. Under `auto`, a GPU that cannot load the model (out
/// of memory, say) gives way to the CPU; the GPU is mentioned only when there was one and the
/// CPU then loads the file, so a broken model is reported as the model's error.
fn load_model(
    file: &Arc<Gguf>,
    choice: BackendChoice,
    mode: MatmulMode,
) -> Result<Llama<AnyBackend>, String> {
    let note = &mut |m: String| eprintln!("pine-run: {m}");
    let backend = AnyBackend::open(choice, mode, note).map_err(|e| e.to_string())?;
    let on_gpu = matches!(backend, AnyBackend::Vulkan(_));
    match (Llama::load(Arc::clone(file), backend), choice) {
        (Ok(m), _) => Ok(m),
        (Err(gpu_error), BackendChoice::Auto { threads }) if on_gpu => {
            let cpu = AnyBackend::open(BackendChoice::Cpu { threads }, mode, &mut |_| {})
                .map_err(|e| e.to_string())?;
            let model = Llama::load(Arc::clone(file), cpu).map_err(|e| e.to_string())?;
            note(format!(
                "the GPU could not load the model ({gpu_error}); using the CPU"
            ));
            Ok(model)
        }
        (Err(e), _) => Err(e.to_string()),
    }
}

/// The user's text: `-p`, or the file of `-f` (clap rejects both); `None` when neither is
/// given.
pub(crate) fn prompt_text(args: &RunArgs) -> Result<Option<String>, String> {
    match (&args.prompt, &args.file) {
        (Some(p), _) => Ok(Some(p.clone())),
        (None, Some(f)) => {
            model_path::check_file(f, "a text file")?;
            std::fs::read_to_string(f)
                .map(Some)
                .map_err(|e| format!("{}: {e}", f.display()))
        }
        (None, None) => Ok(None),
    }
}

/// Renders a conversation with the model's template (chat mode) into token ids.
pub(crate) fn chat_tokens(
    ctx: &RunContext,
    template: &ChatTemplate,
    messages: &[ChatMessage],
) -> Result<Vec<u32>, String> {
    let text = template.render(messages, true).map_err(|e| e.to_string())?;
    ctx.tokenizer
        .encode(&text, true, true)
        .map_err(|e| e.to_string())
}

/// The prompt's token ids: `--token-ids` as given, the raw text, or the chat-templated text.
pub(crate) fn prompt_tokens(args: &RunArgs, ctx: &RunContext) -> Result<Vec<u32>, String> {
    if let Some(ids) = &args.token_ids {
        let n_vocab = ctx.session.model.params.n_vocab;
        if let Some(bad) = ids.iter().find(|&&t| t as usize >= n_vocab) {
            return Err(format!(
                "token id {bad} is outside the vocabulary of {n_vocab}"
            ));
        }
        return Ok(ids.clone());
    }
    let text = prompt_text(args)?.ok_or("no prompt: give -p TEXT, -f FILE or --token-ids")?;
    let ids = match (&ctx.template, args.raw) {
        (Some(t), false) => {
            let mut messages = Vec::new();
            if let Some(s) = &args.system {
                messages.push(ChatMessage::new("system", s.clone()));
            }
            messages.push(ChatMessage::new("user", text));
            chat_tokens(ctx, t, &messages)?
        }
        _ => ctx
            .tokenizer
            .encode(&text, true, true)
            .map_err(|e| e.to_string())?,
    };
    if ids.is_empty() {
        return Err("the prompt tokenizes to no tokens".into());
    }
    Ok(ids)
}
