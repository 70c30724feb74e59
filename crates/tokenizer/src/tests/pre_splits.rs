//! Word cuts against llama.cpp's own splitter, for every `tokenizer.ggml.pre` name it knows
//! (most have no vocabulary in llama.cpp's test suite, so this is what checks their regexes).
//! `llamacpp-vocab/pre-splits.json` holds, for a set of texts, the byte lengths of the words
//! llama.cpp's `unicode_regex_split` cuts each into with each name's regex list (made by
//! `llamacpp-vocab/pre-splits/make.sh`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::llamacpp_vocab::vocab_dir;
use crate::pre::{PreTokenizer, SUPPORTED};

/// Names llama.cpp knows that pine refuses (see `pre.rs`): BPE over raw UTF-8, an added
/// separator token, or custom splitting code.
const NOT_SUPPORTED: &[&str] = &[
    "afmoe",
    "cohere2moe",
    "gemma4",
    "granite-embed-multi-311m",
    "jina-v1-en",
    "jina-v2-code",
    "kimi-k2",
    "roberta-bpe",
    "sarvam-moe",
    "superbpe",
    "tiny_aya",
    "whitespace",
];

#[derive(Deserialize)]
struct PreSplits {
    texts: Vec<String>,
    /// Name → one entry per text: the words' byte lengths, space-separated.
    cuts: BTreeMap<String, Vec<String>>,
}

#[test]
fn every_pre_tokenizer_cuts_words_like_llama_cpp() {
    let path = vocab_dir().join("pre-splits.json");
    let data: PreSplits = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));

    // Every name llama.cpp knows is either supported or explicitly refused, and vice versa.
    for name in data.cuts.keys() {
        assert!(
            SUPPORTED.contains(&name.as_str()) != NOT_SUPPORTED.contains(&name.as_str()),
            "`{name}` must be in exactly one of SUPPORTED and NOT_SUPPORTED"
        );
    }
    for name in SUPPORTED.iter().chain(NOT_SUPPORTED) {
        assert!(
            data.cuts.contains_key(*name),
            "llama.cpp does not know `{name}`"
        );
    }
    for name in NOT_SUPPORTED {
        assert!(PreTokenizer::from_name(name).is_err(), "{name}");
    }

    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for name in SUPPORTED {
        let cut = crate::byte_bpe::word_cutter(&PreTokenizer::from_name(name).unwrap()).unwrap();
        let cuts = &data.cuts[*name];
        assert_eq!(cuts.len(), data.texts.len(), "{name}");
        let mut ok = 0;
        for (text, want) in data.texts.iter().zip(cuts) {
            let words = cut(text);
            let got = words
                .iter()
                .map(|w| w.len().to_string())
                .collect::<Vec<_>>()
                .join(" ");
            if &got == want {
                ok += 1;
            } else {
                failures.push(format!(
                    "{name}: {text:?}: pine cuts {words:?} ({got}), llama.cpp {want}"
                ));
            }
        }
        summary.push(format!("{name}: {ok}/{}", data.texts.len()));
    }
    println!("{}", summary.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
