//! The tiny-llama fixture: a `llama` (SentencePiece) vocabulary with byte fallback; its
//! manifest lists texts with the ids llama.cpp produced for them.

use pine_gguf::Gguf;
use serde::Deserialize;

use super::tiny_llama_dir;
use crate::{StreamDecoder, Tokenizer};

#[derive(Deserialize)]
struct Check {
    text: String,
    add_bos: bool,
    parse_special: bool,
    ids: Vec<u32>,
}

fn load() -> (Tokenizer, Vec<Check>) {
    let dir = tiny_llama_dir();
    let g = Gguf::open(dir.join("tiny-llama.F32.gguf")).expect("tiny-llama GGUF");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest.json"))
            .expect("manifest is JSON");
    let checks: Vec<Check> = serde_json::from_value(manifest["tokenizer_checks"].clone())
        .expect("manifest has tokenizer_checks");
    assert!(!checks.is_empty());
    (
        Tokenizer::from_gguf(&g).expect("tiny-llama tokenizer"),
        checks,
    )
}

#[test]
fn matches_llama_cpp_ids() {
    let (t, checks) = load();
    let mut failures = Vec::new();
    for c in &checks {
        let ids = t.encode(&c.text, c.add_bos, c.parse_special).unwrap();
        if ids != c.ids {
            failures.push(format!("{:?}: got {ids:?}, llama.cpp {:?}", c.text, c.ids));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn round_trips_and_special_ids() {
    let (t, checks) = load();
    assert_eq!((t.bos(), t.eos(), t.unk()), (Some(1), Some(2), Some(0)));
    assert!(t.add_bos() && !t.add_eos());
    assert!(t.is_eog(2) && !t.is_eog(1));
    for c in &checks {
        // Decoding drops the space encoding put in front of the text...
        let ids = t.encode(&c.text, false, false).unwrap();
        assert_eq!(t.decode(&ids, false), c.text);
        // ...but, as in llama.cpp, only from the first token: after a BOS it stays, whether
        // the BOS is removed or not.
        let ids = t.encode(&c.text, true, false).unwrap();
        let spaced = format!(" {}", c.text);
        assert_eq!(t.decode(&ids, false), spaced);
        assert_eq!(t.detokenize(&ids, true, true), spaced);
        assert_eq!(t.join_pieces(&ids, false), spaced);
    }
    // SentencePiece encoding adds a space after a special token too; decoding keeps it.
    let ids = t.encode("<s>hi</s>", false, true).unwrap();
    assert_eq!(ids.first(), Some(&1));
    assert_eq!(ids.last(), Some(&2));
    assert_eq!(t.decode(&ids, true), "<s> hi</s>");
    assert_eq!(t.decode(&ids, false), " hi");
    // remove_special drops the BOS (the model adds one), not the EOS (it adds none).
    assert_eq!(t.detokenize(&ids, true, true), " hi</s>");
}

#[test]
fn stream_decoder_joins_byte_fallback_tokens() {
    let (t, _) = load();
    let ids = t.encode("日本", false, false).unwrap();
    // ▁ then three byte tokens per character.
    assert_eq!(ids.len(), 7, "{ids:?}");
    let mut dec = StreamDecoder::new(&t);
    let chunks: Vec<String> = ids.iter().map(|&id| dec.push(id)).collect();
    assert_eq!(chunks, [" ", "", "", "日", "", "", "本"]);
    assert_eq!(dec.finish(), "");

    // A stream cut inside a character ends with U+FFFD.
    let mut dec = StreamDecoder::new(&t);
    for &id in &ids[..3] {
        dec.push(id);
    }
    assert_eq!(dec.finish(), "\u{FFFD}");
}
