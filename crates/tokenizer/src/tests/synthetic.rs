//! Error paths on small GGUF files built in memory: unsupported values are named, not
//! guessed around.

use pine_gguf::{Gguf, GgufWriter, OwnedValue, ValueType};

use crate::{Tokenizer, TokenizerError};

fn gguf(model: &str, pre: Option<&str>) -> Gguf {
    let mut w = GgufWriter::new();
    let s = |x: &str| OwnedValue::String(x.to_string());
    w.set("tokenizer.ggml.model", s(model)).unwrap();
    if let Some(pre) = pre {
        w.set("tokenizer.ggml.pre", s(pre)).unwrap();
    }
    let tokens = ["a", "b", "ab"].map(s).to_vec();
    w.set(
        "tokenizer.ggml.tokens",
        OwnedValue::Array(ValueType::String, tokens),
    )
    .unwrap();
    w.set(
        "tokenizer.ggml.merges",
        OwnedValue::Array(ValueType::String, vec![s("a b")]),
    )
    .unwrap();
    Gguf::from_bytes(w.to_bytes().unwrap()).unwrap()
}

#[test]
fn unknown_model_and_pre_are_named() {
    let e = Tokenizer::from_gguf(&gguf("t5", None)).unwrap_err();
    assert!(
        matches!(&e, TokenizerError::UnsupportedModel(m) if m == "t5"),
        "{e}"
    );
    // kimi-k2 is one of the pre-tokenizers llama.cpp cuts with custom code pine lacks.
    let e = Tokenizer::from_gguf(&gguf("gpt2", Some("kimi-k2"))).unwrap_err();
    assert!(
        matches!(&e, TokenizerError::UnsupportedPre(p) if p == "kimi-k2"),
        "{e}"
    );
    assert!(e.to_string().contains("`kimi-k2`"), "{e}");
    assert!(Tokenizer::from_gguf(&gguf("gpt2", Some("qwen2"))).is_ok());
}

#[test]
fn minimal_gpt2_vocab_merges() {
    let t = Tokenizer::from_gguf(&gguf("gpt2", Some("gpt-2"))).unwrap();
    assert_eq!(t.encode("ab", true, true).unwrap(), [2]);
    assert_eq!(t.encode("ba", false, false).unwrap(), [1, 0]);
    assert_eq!(t.bos(), None);
    let e = Tokenizer::from_gguf(&gguf("gpt2", Some("llama3")))
        .unwrap()
        .encode("a", false, false)
        .unwrap();
    assert_eq!(e, [0]);
}
