//! `pine-run -i`: an interactive chat. Each turn re-renders the whole conversation with the
//! model's template and evaluates only the tokens after the part already in the KV cache.

use std::io::BufRead;

use pine_tokenizer::ChatMessage;

use super::args::RunArgs;
use super::setup::{chat_tokens, RunContext};

pub(crate) fn interactive(args: &RunArgs, ctx: &mut RunContext) -> Result<(), String> {
    let Some(template) = ctx.template.take() else {
        return Err(
            "interactive mode needs a model with a chat template (tokenizer.chat_template)".into(),
        );
    };
    let result = converse(args, ctx, &template);
    ctx.template = Some(template);
    result
}

fn converse(
    args: &RunArgs,
    ctx: &mut RunContext,
    template: &pine_tokenizer::ChatTemplate,
) -> Result<(), String> {
    let mut messages = Vec::new();
    if let Some(s) = &args.system {
        messages.push(ChatMessage::new("system", s.clone()));
    }
    if let Some(p) = &args.prompt {
        messages.push(ChatMessage::new("user", p.clone()));
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut out = std::io::stdout();
    loop {
        if messages.last().is_none_or(|m| m.role != "user") {
            eprint!("\n> ");
            let Some(line) = lines.next() else {
                return Ok(());
            };
            let line = line.map_err(|e| e.to_string())?;
            if line.trim().is_empty() {
                continue;
            }
            messages.push(ChatMessage::new("user", line));
        }
        let ids = chat_tokens(ctx, template, &messages)?;
        let cached = ctx.session.tokens();
        let common = cached.iter().zip(&ids).take_while(|(a, b)| a == b).count();
        let common = common.min(ids.len() - 1);
        ctx.session.truncate(common);
        let reply = super::generate::generate(args, ctx, &ids[common..], &mut out)?;
        messages.push(ChatMessage::new(
            "assistant",
            ctx.tokenizer.decode(&reply, false),
        ));
    }
}
