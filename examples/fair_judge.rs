//! A pairwise judge that cannot prefer an answer for its position: the answers are PINE
//! segments, and the labels are swapped in a second pass. Asking with the answers in either
//! order gives the same verdict, bit for bit.
//!
//! `cargo run --release --example fair_judge -- [MODEL.gguf]`

use pine::{BackendKind, JudgeOptions, Model, Verdict};

fn main() -> pine::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        std::env::var("PINE_MODEL")
            .unwrap_or_else(|_| "models/SmolLM2-135M-Instruct.Q4_1.gguf".into())
    });
    let question = "At what temperature does water boil at sea level?";
    let (a, b) = (
        "Water boils at 100 °C at sea level.",
        "Water boils at 50 °C at sea level.",
    );
    let (ab, ba) = run(&path, question, a, b)?;
    println!("{question}\n  A: {a}\n  B: {b}");
    println!(
        "judge(A, B): {:?} (log p: A {:.4}, B {:.4})",
        ab.preferred, ab.logprob_a, ab.logprob_b
    );
    println!(
        "judge(B, A): {:?} (log p: B {:.4}, A {:.4})",
        ba.preferred, ba.logprob_a, ba.logprob_b
    );
    Ok(())
}

/// Judges the answers in both orders: `(judge(a, b), judge(b, a))`.
pub fn run(path: &str, question: &str, a: &str, b: &str) -> pine::Result<(Verdict, Verdict)> {
    let mut model = Model::builder(path)
        .backend(BackendKind::Cpu)
        .context_size(1024)
        .load()?;
    let opts = JudgeOptions::new();
    let ab = model.judge(question, a, b, &opts)?;
    let ba = model.judge(question, b, a, &opts)?;
    Ok((ab, ba))
}
