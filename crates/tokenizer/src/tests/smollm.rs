//! SmolLM2-135M-Instruct: `gpt2` vocabulary with the `smollm` pre-tokenizer, no BOS.

use super::smollm2;
use crate::{ChatMessage, ChatTemplate, StreamDecoder, Tokenizer};

fn tok() -> Tokenizer {
    Tokenizer::from_gguf(&smollm2()).expect("SmolLM2 tokenizer")
}

#[test]
fn encodes_like_llama_cpp() {
    let t = tok();
    let text = "Hello, world! The quick brown fox.";
    let ids = t.encode(text, true, false).unwrap();
    assert_eq!(ids, [19556, 28, 905, 17, 378, 2365, 6354, 16438, 30]);
    assert!(!t.add_bos(), "SmolLM2 has add_bos_token = false");
    assert_eq!(t.decode(&ids, false), text);
}

#[test]
fn round_trips_text() {
    let t = tok();
    for text in [
        "The capital of France is",
        "  two  spaces, digits 12345 and ünïcödé ✓ 日本語\n\tnew line",
        "",
    ] {
        let ids = t.encode(text, true, false).unwrap();
        assert_eq!(t.decode(&ids, false), text, "ids {ids:?}");
    }
}

#[test]
fn digits_are_split_one_by_one() {
    // smollm's first regex is \p{N}: every digit is its own word.
    let t = tok();
    let ids = t.encode("2024", false, false).unwrap();
    assert_eq!(ids.len(), 4);
    assert_eq!(t.decode(&ids, false), "2024");
}

#[test]
fn special_tokens() {
    let t = tok();
    assert_eq!(t.n_vocab(), 49152);
    assert_eq!(t.bos(), Some(1));
    assert_eq!(t.eos(), Some(2));
    assert!(t.is_eog(2), "<|im_end|>");
    assert!(t.is_eog(0), "<|endoftext|>");
    assert!(!t.is_eog(1), "<|im_start|>");
    assert!(!t.is_eog(19556));

    let text = "<|im_start|>user\nHi<|im_end|>\n";
    let parsed = t.encode(text, false, true).unwrap();
    assert_eq!(parsed.first(), Some(&1));
    assert!(parsed.contains(&2));
    let literal = t.encode(text, false, false).unwrap();
    assert!(
        !literal.contains(&1) && !literal.contains(&2),
        "{literal:?}"
    );
    assert_eq!(t.decode(&literal, false), text);

    assert_eq!(t.decode(&parsed, true), text);
    assert_eq!(t.decode(&parsed, false), "user\nHi\n");
    assert_eq!(t.token_bytes(1).unwrap(), b"<|im_start|>");
    assert_eq!(t.token_bytes(49152), None);
}

#[test]
fn chat_template_renders_chatml() {
    let g = smollm2();
    let tmpl = ChatTemplate::from_gguf(&g)
        .unwrap()
        .expect("SmolLM2 has a template");
    let out = tmpl
        .render(&[ChatMessage::new("user", "What is 2+2?")], true)
        .unwrap();
    assert_eq!(
        out,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
         Face<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    );
    let with_system = tmpl
        .render(
            &[
                ChatMessage::new("system", "Be brief."),
                ChatMessage::new("user", "Hi"),
            ],
            false,
        )
        .unwrap();
    assert_eq!(
        with_system,
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    );
    let ids = tok().encode(&out, true, true).unwrap();
    assert_eq!(ids.iter().filter(|&&i| i == 1).count(), 3);
}

#[test]
fn stream_decoder_matches_decode() {
    let t = tok();
    let text = "Grüße 👋🏽 from 東京!";
    let ids = t.encode(text, false, false).unwrap();
    let mut dec = StreamDecoder::new(&t);
    let mut out = String::new();
    let mut held_back = false;
    for &id in &ids {
        let chunk = dec.push(id);
        held_back |= dec.has_pending();
        out.push_str(&chunk);
    }
    out.push_str(&dec.finish());
    assert_eq!(out, text);
    assert!(
        held_back,
        "some token should end inside a character: {ids:?}"
    );
}
