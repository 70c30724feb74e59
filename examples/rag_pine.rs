//! Retrieval-augmented answering with the documents as PINE segments: the model reads them
//! without regard to their order, so shuffling the retrieved documents cannot change the
//! (greedy) answer.
//!
//! `cargo run --release --example rag_pine -- [MODEL.gguf]`

use pine::{AttentionMode, BackendKind, GenerateOptions, Model, Prompt, SegmentedPrompt, TieRule};

/// The documents the example answers from.
pub const DOCUMENTS: [&str; 3] = [
    "The Eiffel Tower is in Paris and was finished in 1889.",
    "Mount Everest, 8849 m high, is the highest mountain on Earth.",
    "The Great Wall of China is more than 20000 km long.",
];

fn main() -> pine::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        std::env::var("PINE_MODEL")
            .unwrap_or_else(|_| "models/SmolLM2-135M-Instruct.Q4_1.gguf".into())
    });
    let question = "When was the Eiffel Tower finished?";
    let mut model = load(&path)?;
    let answer = run(&mut model, &DOCUMENTS, question, 32)?;
    println!("{question}\n{answer}");
    Ok(())
}

/// Loads the model for the example.
pub fn load(path: &str) -> pine::Result<Model> {
    Model::builder(path)
        .backend(BackendKind::Cpu)
        .context_size(1024)
        .load()
}

/// Answers `question` from `documents` (as PINE segments), greedily, in at most `max_tokens`
/// tokens.
pub fn run(
    model: &mut Model,
    documents: &[&str],
    question: &str,
    max_tokens: usize,
) -> pine::Result<String> {
    let prompt = SegmentedPrompt::new(documents.iter().copied())
        .system("Answer the question from the documents.")
        .text("Documents:")
        .question(question);
    let layout = model.layout(&prompt)?;
    let opts = GenerateOptions::new().max_tokens(max_tokens).greedy();
    let prompt = Prompt::Layout(layout, AttentionMode::Pine(TieRule::ContentHash));
    Ok(model.generate_with(prompt, &opts, |_| {})?.text)
}
