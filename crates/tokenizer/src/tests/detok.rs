//! Whole-text decoding against llama.cpp's `llama_detokenize`: `llamacpp-vocab/detok.json`
//! (made by `llamacpp-vocab/detok/make.sh` with llama.cpp itself) holds, for every vocabulary
//! of the suite pine loads plus SmolLM2 and tiny-llama, the ids llama.cpp encodes each test
//! string to (plain; with BOS/EOS and special parsing; wrapped in the BOS and EOS texts) and
//! what `llama_detokenize` makes of them for every `remove_special` × `unparse_special`; and
//! llama.cpp's per-name pre-tokenizer flags.

use std::collections::BTreeMap;

use pine_gguf::Gguf;
use serde::Deserialize;

use super::llamacpp_vocab::vocab_dir;
use super::{smollm2, tiny_llama_dir};
use crate::pre::{PreTokenizer, SUPPORTED};
use crate::{StreamDecoder, Tokenizer};

#[derive(Deserialize)]
struct Detok {
    flags: BTreeMap<String, Flags>,
    vocabularies: BTreeMap<String, Vocabulary>,
}

#[derive(Deserialize, Debug, PartialEq, Eq)]
struct Flags {
    clean_spaces: bool,
    ignore_merges: bool,
    add_bos: bool,
}

#[derive(Deserialize)]
struct Vocabulary {
    bos: i64,
    eos: i64,
    add_bos: bool,
    add_eos: bool,
    texts: Vec<String>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: usize,
    mode: String,
    ids: Vec<u32>,
    detok: Expected,
}

/// llama.cpp's output for (remove_special, unparse_special) = (false, false), (false, true),
/// (true, false), (true, true); one string when all four agree.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expected {
    Same(String),
    Each([String; 4]),
}

impl Expected {
    fn get(&self, i: usize) -> &str {
        match self {
            Expected::Same(s) => s,
            Expected::Each(a) => &a[i],
        }
    }
}

fn load() -> Detok {
    let path = vocab_dir().join("detok.json");
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn gguf(name: &str) -> Gguf {
    match name {
        "SmolLM2-135M-Instruct" => smollm2(),
        "tiny-llama" => {
            Gguf::open(tiny_llama_dir().join("tiny-llama.F32.gguf")).expect("tiny-llama")
        }
        _ => {
            let path = vocab_dir().join(format!("{name}.gguf"));
            Gguf::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        }
    }
}

fn special_id(id: i64) -> Option<u32> {
    u32::try_from(id).ok()
}

#[test]
fn every_vocabulary_detokenizes_like_llama_cpp() {
    let data = load();
    // Every llama.cpp test vocabulary pine loads is in the fixture.
    for entry in std::fs::read_dir(vocab_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".gguf") {
            assert!(
                data.vocabularies.contains_key(stem) || stem == "ggml-vocab-bert-bge",
                "{stem} has no detok.json entry: rerun llamacpp-vocab/detok/make.sh"
            );
        }
    }
    let mut table = vec!["vocabulary | pre | clean_spaces | detokenized | streamed".to_string()];
    let mut failures = Vec::new();
    for (name, v) in &data.vocabularies {
        let g = gguf(name);
        let pre = g.get_str("tokenizer.ggml.pre").unwrap_or("—").to_string();
        // llama.cpp: SentencePiece vocabularies never clean spaces, whatever their `pre`.
        let clean = match g.get_str("tokenizer.ggml.model") {
            Ok("llama") => "off (SentencePiece)".to_string(),
            _ => data.flags[&pre].clean_spaces.to_string(),
        };
        let t = Tokenizer::from_gguf(&g).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (t.bos(), t.eos(), t.add_bos(), t.add_eos()),
            (special_id(v.bos), special_id(v.eos), v.add_bos, v.add_eos),
            "{name}: special tokens differ from llama.cpp's"
        );
        let (mut ok, mut streamed) = (0, 0);
        for c in &v.cases {
            let text = &v.texts[c.text];
            for (i, (remove, unparse)) in
                [(false, false), (false, true), (true, false), (true, true)]
                    .into_iter()
                    .enumerate()
            {
                let got = t.detokenize(&c.ids, remove, unparse);
                if got == c.detok.get(i) {
                    ok += 1;
                } else {
                    failures.push(format!(
                        "{name}: {text:?} ({} {:?}), remove_special {remove}, unparse_special \
                         {unparse}: pine {got:?}, llama.cpp {:?}",
                        c.mode,
                        c.ids,
                        c.detok.get(i)
                    ));
                }
            }
            // Streaming yields exactly the joined pieces.
            let mut dec = StreamDecoder::new(&t);
            let mut s: String = c.ids.iter().map(|&id| dec.push(id)).collect();
            s.push_str(&dec.finish());
            if s == t.join_pieces(&c.ids, false) {
                streamed += 1;
            } else {
                failures.push(format!("{name}: {text:?}: streamed {s:?}"));
            }
        }
        let n = v.cases.len();
        table.push(format!(
            "{name} | {pre} | {} | {ok}/{} | {streamed}/{n}",
            clean,
            4 * n
        ));
    }
    println!("{}", table.join("\n"));
    assert!(
        failures.is_empty(),
        "{}\n\n{}",
        table.join("\n"),
        failures.join("\n")
    );
}

#[test]
fn pre_tokenizer_flags_match_llama_cpp() {
    let data = load();
    let mut failures = Vec::new();
    for name in SUPPORTED {
        let p = PreTokenizer::from_name(name).unwrap();
        let got = Flags {
            clean_spaces: p.clean_spaces,
            ignore_merges: p.ignore_merges,
            add_bos: p.add_bos_default,
        };
        match data.flags.get(*name) {
            Some(want) if *want == got => {}
            want => failures.push(format!("{name}: pine {got:?}, llama.cpp {want:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
