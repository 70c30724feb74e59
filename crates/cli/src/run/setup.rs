//! Loading the model (through [`pine::Model::builder`]) and turning the command line into
//! generation options and prompt tokens.

use pine::{CacheType, Error, GenerateOptions, MatmulMode, Model, SamplerConfig};
use pine_tokenizer::ChatMessage;

use super::args::RunArgs;
use crate::model_path;

/// Loads the model the flags name, with the flags' backend, threads, context, cache type and
/// numeric mode; prints what was loaded.
pub(crate) fn load(args: &RunArgs) -> Result<Model, String> {
    let path = model_path::resolve(args.model.as_deref())?;
    let mut builder = Model::builder(&path)
        .backend(crate::flags::backend_kind(args.backend))
        .threads(args.threads.unwrap_or(0))
        .vulkan_numerics(crate::flags::numerics(args.vk_exact))
        .context_size(args.ctx_size)
        .cache_type(CacheType::from(args.cache_type))
        .matmul_mode(if args.f32_matmul {
            MatmulMode::F32
        } else {
            MatmulMode::Native
        })
        .on_note(|m| eprintln!("pine-run: {m}"))
        .on_progress(super::progress::printer());
    if let Some(d) = args.device {
        builder = builder.device(d);
    }
    let model = builder.load().map_err(|e| match e {
        Error::Context { n_ctx, source } => format!("-c/--ctx-size {n_ctx}: {source}"),
        e => e.to_string(),
    })?;
    let p = model.params();
    eprintln!(
        "pine-run: {} ({}): {} layers, {} wide, {}/{} heads, vocab {}, {:.1} MiB, {}",
        path.display(),
        p.arch,
        p.n_layers,
        p.n_embd,
        p.n_heads,
        p.n_kv_heads,
        p.n_vocab,
        model.file().file_len() as f64 / (1024.0 * 1024.0),
        model.backend_description(),
    );
    let n_train = p.n_ctx_train;
    if args.ctx_size > n_train {
        eprintln!(
            "pine-run: warning: -c {} is above the model's training context of {n_train} \
             tokens; quality may degrade past it",
            args.ctx_size
        );
    }
    Ok(model)
}

/// The generation options of the flags: `-n` and the sampler's.
pub(crate) fn options(args: &RunArgs) -> GenerateOptions {
    let mut opts = GenerateOptions::new().sampling(SamplerConfig {
        temperature: args.temp,
        top_k: args.top_k,
        top_p: args.top_p,
        min_p: args.min_p,
        repeat_penalty: args.repeat_penalty,
        repeat_last_n: args.repeat_last_n,
        seed: args.seed,
        ..SamplerConfig::default()
    });
    // -1: until the end of generation or a full context.
    opts.max_tokens = usize::try_from(args.n_predict).ok();
    opts
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

/// The prompt's token ids: `--token-ids` as given (the model checks them against its
/// vocabulary), the raw text, or the chat-templated text.
pub(crate) fn prompt_tokens(args: &RunArgs, model: &Model) -> Result<Vec<u32>, String> {
    if let Some(ids) = &args.token_ids {
        return Ok(ids.clone());
    }
    let text = prompt_text(args)?.ok_or("no prompt: give -p TEXT, -f FILE or --token-ids")?;
    let tokenizer = model.tokenizer();
    let ids = match (model.chat_template(), args.raw) {
        (Some(t), false) => {
            let mut messages = Vec::new();
            if let Some(s) = &args.system {
                messages.push(ChatMessage::new("system", s.clone()));
            }
            messages.push(ChatMessage::new("user", text));
            pine::prompt::chat_tokens(tokenizer, t, &messages).map_err(|e| e.to_string())?
        }
        _ => tokenizer
            .encode(&text, true, true)
            .map_err(|e| e.to_string())?,
    };
    if ids.is_empty() {
        return Err("the prompt tokenizes to no tokens".into());
    }
    Ok(ids)
}
