//! `pine-run -i`: an interactive chat over [`pine::Chat`], which re-renders the conversation
//! each turn and evaluates only the tokens after the part already in the KV cache, dropping
//! the oldest turns when it outgrows the context. One bad line never ends the chat: a line that
//! is not UTF-8 is reported and skipped, and a message too long for the context on its own is
//! reported and skipped. End of input ends the chat.

use std::io::{BufRead, Write};
use std::time::Instant;

use pine::{Chat, Error, GenerateOptions, Model};

use super::args::RunArgs;
use super::setup::prompt_text;

pub(crate) fn interactive(
    args: &RunArgs,
    model: Model,
    opts: &GenerateOptions,
) -> Result<(), String> {
    let n_ctx = model.n_ctx();
    let mut chat = match Chat::new(model) {
        Ok(c) => c.on_note(|m| eprintln!("pine-run: {m}")),
        Err(Error::NoChatTemplate) => {
            return Err(
                "interactive mode needs a model with a chat template (tokenizer.chat_template)"
                    .into(),
            )
        }
        Err(e) => return Err(e.to_string()),
    };
    if let Some(s) = &args.system {
        chat = chat.system(s.clone());
    }
    let mut next = prompt_text(args)?;
    let mut input = std::io::stdin().lock();
    let mut line_no = 0;
    let mut out = std::io::stdout();
    let io = |e: std::io::Error| e.to_string();
    loop {
        let message = match next.take() {
            Some(m) => m,
            None => {
                eprint!("\n> ");
                let Some(line) = next_line(&mut input, &mut line_no)? else {
                    eprintln!();
                    return Ok(());
                };
                if line.trim().is_empty() {
                    continue;
                }
                line
            }
        };
        let t = Instant::now();
        let generation = match chat.send(message, opts) {
            Ok(g) => g,
            Err(e @ Error::PromptTooLong { .. }) => {
                eprintln!("pine-run: {e}; skipped: write a shorter one or raise -c");
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        super::report_prefill(generation.prompt_tokens() - generation.cached_tokens(), t);
        let text = super::generate::stream(generation, n_ctx, &mut out)?;
        if !text.ends_with('\n') {
            out.write_all(b"\n").map_err(io)?;
            out.flush().map_err(io)?;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
