//! Streams a greedy completion of a raw prompt.
//!
//! `cargo run --release --example generate -- [MODEL.gguf] [PROMPT]` (the model defaults to
//! `PINE_MODEL` or `models/SmolLM2-135M-Instruct.Q4_1.gguf`).

use std::io::Write;

use pine::{BackendKind, GenerateOptions, Model};

fn main() -> pine::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(default_model);
    let prompt = args
        .next()
        .unwrap_or_else(|| "The capital of France is".into());
    let text = run(&path, &prompt, 32)?;
    eprintln!("\n[{} characters]", text.len());
    Ok(())
}

/// The model the examples use when none is named.
pub fn default_model() -> String {
    std::env::var("PINE_MODEL").unwrap_or_else(|_| "models/SmolLM2-135M-Instruct.Q4_1.gguf".into())
}

/// Prints up to `max_tokens` greedy tokens after `prompt` as they come; returns the text.
pub fn run(path: &str, prompt: &str, max_tokens: usize) -> pine::Result<String> {
    let mut model = Model::builder(path)
        .backend(BackendKind::Cpu)
        .context_size(1024)
        .load()?;
    let opts = GenerateOptions::new().max_tokens(max_tokens).greedy();
    let mut out = std::io::stdout();
    let mut generation = model.generate(prompt, &opts)?;
    for piece in generation.by_ref() {
        let piece = piece?;
        print!("{}", piece.text);
        let _ = out.flush();
    }
    println!();
    Ok(generation.text().to_string())
}
