//! `pine-run -i`: an interactive chat. Each turn re-renders the whole conversation with the
//! model's template and evaluates only the tokens after the part already in the KV cache.
//! One bad line never ends the chat: a line that is not UTF-8 is reported and skipped; when the
//! conversation outgrows the context the oldest turns are dropped (the system message is kept),
//! as llama.cpp's context handling does, and a message too long for the context on its own is
//! reported and skipped. End of input ends the chat.

use std::io::{BufRead, Write};

use pine_tokenizer::{ChatMessage, ChatTemplate};

use super::args::RunArgs;
use super::setup::{chat_tokens, prompt_text, RunContext};

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

/// Reads the next user line from `input`: `Ok(None)` at end of input; a line that is not
/// UTF-8 is reported on stderr and skipped.
fn next_line(input: &mut impl BufRead, line_no: &mut usize) -> Result<Option<String>, String> {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = input
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("reading stdin: {e}"))?;
        if n == 0 {
            return Ok(None);
        }
        *line_no += 1;
        match String::from_utf8(std::mem::take(&mut buf)) {
            Ok(line) => return Ok(Some(line.trim_end_matches(['\n', '\r']).to_string())),
            Err(e) => eprintln!(
                "pine-run: input line {line_no} is not valid UTF-8 ({}); skipped",
                e.utf8_error()
            ),
        }
    }
}

/// Removes the oldest user turn and the reply after it (a system message stays); false when
/// only the newest user turn is left.
fn drop_oldest_turn(messages: &mut Vec<ChatMessage>) -> bool {
    let Some(first) = messages.iter().position(|m| m.role != "system") else {
        return false;
    };
    if first + 1 >= messages.len() {
        return false;
    }
    messages.remove(first);
    if first + 1 < messages.len() && messages[first].role == "assistant" {
        messages.remove(first);
    }
    true
}

/// The conversation's tokens, made to fit the context: when it does not fit, the oldest turns
/// are dropped until it fills at most half the context (room for the reply), with a note.
/// `None` (and only the newest user turn removed) when that turn does not fit even alone.
fn fit(
    ctx: &RunContext,
    template: &ChatTemplate,
    messages: &mut Vec<ChatMessage>,
) -> Result<Option<Vec<u32>>, String> {
    let n_ctx = ctx.session.n_ctx();
    let mut dropped = 0;
    let mut kept = messages.clone();
    loop {
        let ids = chat_tokens(ctx, template, &kept)?;
        let room = if dropped == 0 { n_ctx } else { n_ctx / 2 + 1 };
        if ids.len() < room {
            if dropped > 0 {
                eprintln!(
                    "pine-run: the conversation outgrew the context of {n_ctx} tokens; dropped \
                     the {dropped} oldest turn(s)"
                );
            }
            *messages = kept;
            return Ok(Some(ids));
        }
        if !drop_oldest_turn(&mut kept) {
            if ids.len() < n_ctx {
                eprintln!(
                    "pine-run: the conversation outgrew the context of {n_ctx} tokens; dropped \
                     every earlier turn"
                );
                *messages = kept;
                return Ok(Some(ids));
            }
            messages.pop();
            eprintln!(
                "pine-run: this message does not fit the context ({} tokens with the chat \
                 template, the context holds {n_ctx}); skipped: write a shorter one or raise -c",
                ids.len()
            );
            return Ok(None);
        }
        dropped += 1;
    }
}

fn converse(args: &RunArgs, ctx: &mut RunContext, template: &ChatTemplate) -> Result<(), String> {
    let mut messages = Vec::new();
    if let Some(s) = &args.system {
        messages.push(ChatMessage::new("system", s.clone()));
    }
    if let Some(p) = prompt_text(args)? {
        messages.push(ChatMessage::new("user", p));
    }
    let mut input = std::io::stdin().lock();
    let mut line_no = 0;
    let mut out = std::io::stdout();
    let io = |e: std::io::Error| e.to_string();
    loop {
        if messages.last().is_none_or(|m| m.role != "user") {
            eprint!("\n> ");
            let Some(line) = next_line(&mut input, &mut line_no)? else {
                eprintln!();
                return Ok(());
            };
            if line.trim().is_empty() {
                continue;
            }
            messages.push(ChatMessage::new("user", line));
        }
        let Some(ids) = fit(ctx, template, &mut messages)? else {
            continue;
        };
        let cached = ctx.session.tokens();
        let common = cached.iter().zip(&ids).take_while(|(a, b)| a == b).count();
        let common = common.min(ids.len() - 1);
        ctx.session.truncate(common);
        let reply = super::generate::generate(args, ctx, &ids[common..], &mut out)?;
        let text = ctx.tokenizer.decode(&reply, false);
        if !text.ends_with('\n') {
            out.write_all(b"\n").map_err(io)?;
            out.flush().map_err(io)?;
        }
        messages.push(ChatMessage::new("assistant", text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(m: &[ChatMessage]) -> Vec<&str> {
        m.iter().map(|m| m.role.as_str()).collect()
    }

    #[test]
    fn oldest_turns_go_first_and_the_system_message_stays() {
        let mut m: Vec<ChatMessage> = ["system", "user", "assistant", "user", "assistant", "user"]
            .iter()
            .map(|&r| ChatMessage::new(r, String::new()))
            .collect();
        assert!(drop_oldest_turn(&mut m));
        assert_eq!(roles(&m), ["system", "user", "assistant", "user"]);
        assert!(drop_oldest_turn(&mut m));
        assert_eq!(roles(&m), ["system", "user"]);
        assert!(!drop_oldest_turn(&mut m));
    }

    #[test]
    fn lines_that_are_not_utf8_are_skipped() {
        let mut input: &[u8] = b"\xff\xfe\nhello\r\n";
        let mut n = 0;
        assert_eq!(
            next_line(&mut input, &mut n).unwrap().as_deref(),
            Some("hello")
        );
        assert_eq!(n, 2);
        assert_eq!(next_line(&mut input, &mut n).unwrap(), None);
    }
}
