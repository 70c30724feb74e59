//! A chat on stdin: each line is a user turn; the conversation stays in the KV cache, so a
//! turn evaluates only its own tokens.
//!
//! `cargo run --release --example chat -- [MODEL.gguf]`

use std::io::{BufRead, Write};

use pine::{BackendKind, Chat, GenerateOptions, Model};

fn main() -> pine::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        std::env::var("PINE_MODEL")
            .unwrap_or_else(|_| "models/SmolLM2-135M-Instruct.Q4_1.gguf".into())
    });
    let lines: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .collect();
    run(&path, &lines, 128)?;
    Ok(())
}

/// Sends each message in turn, printing the replies (at most `max_tokens` tokens each, with
/// llama.cpp's default sampling and a fixed seed); returns them with how many prompt tokens
/// each turn re-used from the cache.
pub fn run(
    path: &str,
    messages: &[String],
    max_tokens: usize,
) -> pine::Result<Vec<(String, usize)>> {
    let model = Model::builder(path)
        .backend(BackendKind::Cpu)
        .context_size(2048)
        .load()?;
    let mut chat = Chat::new(model)?
        .system("You are a helpful assistant. Keep your answers short.")
        .on_note(|note| eprintln!("[{note}]"));
    let opts = GenerateOptions::new().max_tokens(max_tokens).seed(42);
    let mut replies = Vec::new();
    for message in messages {
        println!("> {message}");
        let reply = chat.send_with(message.as_str(), &opts, |piece| {
            print!("{}", piece.text);
            let _ = std::io::stdout().flush();
        })?;
        println!();
        replies.push((reply.text, reply.cached_tokens));
    }
    Ok(replies)
}
