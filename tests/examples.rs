//! The examples in `examples/` run on the test model (few tokens) and give sensible output:
//! text, replies that re-use the cache, a judge with the same verdict for either order of the
//! answers, and a RAG answer that does not depend on the order of the documents.

mod common;

#[allow(dead_code)]
#[path = "../examples/generate.rs"]
mod generate;

#[allow(dead_code)]
#[path = "../examples/chat.rs"]
mod chat;

#[allow(dead_code)]
#[path = "../examples/fair_judge.rs"]
mod fair_judge;

#[allow(dead_code)]
#[path = "../examples/rag_pine.rs"]
mod rag_pine;

fn model() -> String {
    common::smollm2_path().to_str().unwrap().to_string()
}

#[test]
fn generate_streams_llama_cpps_greedy_text() {
    let text = generate::run(&model(), "The capital of France is", 32).unwrap();
    assert_eq!(text, common::FRANCE_GREEDY_32);
}

#[test]
fn chat_replies_and_reuses_the_earlier_turns() {
    let messages = [
        "Hi!".to_string(),
        "What is the capital of France?".to_string(),
    ];
    let replies = chat::run(&model(), &messages, 12).unwrap();
    assert_eq!(replies.len(), 2);
    assert!(
        replies.iter().all(|(text, _)| !text.trim().is_empty()),
        "{replies:?}"
    );
    // The second turn's prompt starts with the first turn, already in the cache.
    assert!(replies[1].1 > 20, "{replies:?}");
}

#[test]
fn fair_judge_gives_the_same_verdict_for_either_order() {
    let (a, b) = (
        "Water boils at 100 °C at sea level.",
        "Water boils at 50 °C at sea level.",
    );
    let question = "At what temperature does water boil at sea level?";
    let (ab, ba) = fair_judge::run(&model(), question, a, b).unwrap();
    assert_eq!(
        ab.logprob_a.to_bits(),
        ba.logprob_b.to_bits(),
        "{ab:?} {ba:?}"
    );
    assert_eq!(
        ab.logprob_b.to_bits(),
        ba.logprob_a.to_bits(),
        "{ab:?} {ba:?}"
    );
    let flipped = match ba.preferred {
        pine::Preference::A => pine::Preference::B,
        pine::Preference::B => pine::Preference::A,
        pine::Preference::Tie => pine::Preference::Tie,
    };
    assert_eq!(ab.preferred, flipped);
    assert!(ab.logprob_a.is_finite() && ab.logprob_b.is_finite() && ab.logprob_a < 0.0);
}

#[test]
fn rag_answer_does_not_depend_on_the_document_order() {
    let mut model = rag_pine::load(&model()).unwrap();
    let question = "When was the Eiffel Tower finished?";
    let d = rag_pine::DOCUMENTS;
    let first = rag_pine::run(&mut model, &d, question, 16).unwrap();
    assert!(!first.trim().is_empty());
    for order in [[2, 1, 0], [1, 2, 0]] {
        let shuffled: Vec<&str> = order.iter().map(|&i| d[i]).collect();
        assert_eq!(
            rag_pine::run(&mut model, &shuffled, question, 16).unwrap(),
            first
        );
    }
}
