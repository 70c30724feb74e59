//! `tokenizer.ggml.pre` → the pre-tokenizer regexes llama.cpp applies before byte-level BPE.
//! Ids only match llama.cpp's when the words are cut exactly as it cuts them, so these are the
//! regexes of llama.cpp's `llm_tokenizer_bpe` (`src/llama-vocab.cpp`, the version named in
//! `tests/fixtures/llamacpp-vocab/README.md`), applied in order, each one splitting the pieces
//! the previous one produced (matches and the text between them both become pieces).
//!
//! llama.cpp runs most of them through `std::regex` on a "collapsed" text (every non-ASCII
//! character replaced by one byte standing for its Unicode category) and a few through
//! hand-written splitters; both are meant to behave like the regexes themselves, which is what
//! the `tokenizers` crate's fancy-regex engine runs here, with two of llama.cpp's departures
//! from the regexes reproduced: its letter subcategories (`\p{Lu}`, `\p{Ll}`, ...) all mean
//! `\p{L}`, and a non-ASCII whitespace character is only ever matched as whitespace (so
//! character ranges such as `ࠀ-一` are intersected with `\S`). The conformance tests
//! (`src/tests/llamacpp_vocab.rs`, `src/tests/pre_splits.rs`) check the ids against llama.cpp's
//! test suite and the word cuts of every name against llama.cpp's splitter.
//!
//! Not implemented (refused by name): pre-tokenizers whose BPE works on raw UTF-8 rather than
//! GPT-2 bytes (`gemma4`, `granite-embed-multi-311m`, `sarvam-moe`, `whitespace`), those that
//! add a separator token (`jina-v1-en`, `jina-v2-code`, `roberta-bpe`), and those llama.cpp
//! cuts with custom code not expressible as these regexes (`kimi-k2`, `afmoe`, `tiny_aya`,
//! `cohere2moe`, `superbpe`).

use crate::TokenizerError;

/// GPT-2's word regex, shared (sometimes after other splits) by most pre-tokenizers.
const GPT2_WORDS: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";

/// Llama 3's word regex (case-insensitive contractions spelled out, numbers in runs of ≤ 3).
const LLAMA3_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Qwen2's word regex: Llama 3's with single digits.
const QWEN2_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Qwen3.5's word regex: Qwen2's with combining marks kept in words.
const QWEN35_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Jais 2: Llama 3's regex with whitespace runs cut in powers of two.
const JAIS2_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}";

/// DeepSeek V3 / Hunyuan dense: words after numbers (≤ 3 digits) and CJK runs are split out.
const DEEPSEEK3_WORDS: &str = r##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"##;

/// Tekken (Mistral Nemo): upper/lower-case runs, written with lookaheads as llama.cpp does.
const TEKKEN_WORDS: &str = r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GPT-4o / Llama 4: Tekken's case runs with contractions and numbers of ≤ 3 digits.
const GPT4O_WORDS: &str = r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Bloom / Poro / GPT-3 Finnish: everything up to whitespace or sentence punctuation.
const BLOOM_WORDS: &str = r" ?[^(\s|.,!?…。，、।۔،)]+";

/// DeepSeek LLM's letter class, spelled out by llama.cpp (Latin, Greek, Cyrillic, ... letters).
/// Characters that Unicode normalization would change (U+1F7D, U+2126, ...) are written as
/// `\x{..}` escapes so no editor can silently turn them into their canonical equivalents.
const DEEPSEEK_LLM_LETTERS: &str = r"\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\x{1F7D}ᾀ-ᾴᾶ-ᾼ\x{1FBE}ῂ-ῄῆ-ῌῐ-\x{1FD3}ῖ-\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\x{2126}ℨ\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+";

/// The `tokenizer.ggml.pre` values this crate implements (for error messages, the README and
/// the tests): every name llama.cpp knows except those listed in the module documentation.
pub const SUPPORTED: &[&str] = &[
    "default",
    "llama3",
    "llama-v3",
    "llama-bpe",
    "falcon3",
    "falcon-h1",
    "pixtral",
    "midm-2.0",
    "lfm2",
    "jina-v5-nano",
    "minicpm5",
    "deepseek-llm",
    "deepseek-coder",
    "deepseek-v3",
    "spark2_5",
    "youtu",
    "falcon",
    "mpt",
    "starcoder",
    "gpt-2",
    "phi-2",
    "jina-es",
    "jina-de",
    "gigachat",
    "jina-v2-es",
    "jina-v2-de",
    "a.x-4.0",
    "mellum",
    "modern-bert",
    "jais-2",
    "refact",
    "command-r",
    "qwen2",
    "deepseek-r1-qwen",
    "kormo",
    "f2llmv2",
    "megrez",
    "qwen35",
    "stablelm2",
    "olmo",
    "dbrx",
    "smaug-bpe",
    "poro-chat",
    "chatglm-bpe",
    "glm4",
    "glm5",
    "viking",
    "jais",
    "tekken",
    "smollm",
    "codeshell",
    "bloom",
    "gpt3-finnish",
    "exaone",
    "exaone4",
    "exaone-moe",
    "chameleon",
    "minerva-7b",
    "gpt-4o",
    "llama4",
    "kanana2",
    "talkie",
    "granite-embed-multi-97m",
    "trillion",
    "granite-docling",
    "bailingmoe",
    "bailingmoe2",
    "llada-moe",
    "seed-coder",
    "hunyuan",
    "hunyuan-dense",
    "hy_v4",
    "joyai-llm",
    "ufakzeka",
    "grok-2",
    "laguna",
    "minimax-m2",
    "solar-open",
    "mellum2",
];

/// How a byte-level BPE vocabulary cuts text before merging, and the flags llama.cpp ties to
/// the pre-tokenizer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreTokenizer {
    /// Regexes applied one after another.
    pub regexes: Vec<&'static str>,
    /// A word that is itself a token is emitted whole, without merging (llama.cpp
    /// `ignore_merges`, set for Llama 3, Tekken, GLM 4, ...).
    pub ignore_merges: bool,
    /// llama.cpp's default for `add_bos` when `tokenizer.ggml.add_bos_token` is absent.
    pub add_bos_default: bool,
    /// Whether whole-text decoding removes the spaces Hugging Face's
    /// `clean_up_tokenization_spaces` removes (llama.cpp `clean_spaces`: on for byte-level BPE
    /// unless the name turns it off; see `crate::detok`).
    pub clean_spaces: bool,
}

/// Flags of a pre-tokenizer besides its regexes: llama.cpp's byte-level BPE defaults
/// ([`Flags::BPE`]) with what each name's branch of `llama_vocab::impl::load` changes.
#[derive(Clone, Copy)]
struct Flags {
    ignore_merges: bool,
    add_bos: bool,
    clean_spaces: bool,
}

impl Flags {
    /// llama.cpp's defaults for every byte-level BPE vocabulary.
    const BPE: Flags = Flags {
        ignore_merges: false,
        add_bos: false,
        clean_spaces: true,
    };

    const fn ignore_merges(self) -> Flags {
        Flags {
            ignore_merges: true,
            ..self
        }
    }

    const fn add_bos(self) -> Flags {
        Flags {
            add_bos: true,
            ..self
        }
    }

    /// `clean_spaces = false`.
    const fn keep_spaces(self) -> Flags {
        Flags {
            clean_spaces: false,
            ..self
        }
    }
}

const PLAIN: Flags = Flags::BPE;
const KEEP_SPACES: Flags = Flags::BPE.keep_spaces();

impl PreTokenizer {
    /// The pre-tokenizer for a `tokenizer.ggml.pre` value; unknown names are an error that
    /// names them (a silent fallback would produce ids the model was not trained on).
    pub fn from_name(name: &str) -> Result<PreTokenizer, TokenizerError> {
        let (regexes, flags): (&[&'static str], Flags) = match name {
            "default" => (
                &[
                    r"[\p{P}\$\+<=>\^~\|]+",
                    GPT2_WORDS,
                    r"\p{N}+",
                    "[0-9][0-9][0-9]",
                ],
                PLAIN,
            ),
            "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral"
            | "midm-2.0" | "lfm2" | "jina-v5-nano" => {
                (&[LLAMA3_WORDS], Flags::BPE.ignore_merges().add_bos())
            }
            "dbrx" | "smaug-bpe" | "chatglm-bpe" => (&[LLAMA3_WORDS], PLAIN),
            "glm4" | "glm5" => (&[LLAMA3_WORDS], Flags::BPE.ignore_merges()),
            "minicpm5" => (
                &[
                    r"\p{N}{1,3}",
                    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
                ],
                Flags::BPE.ignore_merges(),
            ),
            "jais-2" => (&[JAIS2_WORDS], PLAIN),
            "deepseek-llm" => (
                &[
                    r"[\r\n]",
                    DEEPSEEK_LLM_LETTERS,
                    r"\s?[!-/:-~！-／：-～‘-‟　-。&&\S]+",
                    r"\s+$",
                    r"[一-龥ࠀ-一가-퟿&&\S]+",
                    r"\p{N}+",
                ],
                KEEP_SPACES,
            ),
            "deepseek-v3" | "hunyuan-dense" | "hy_v4" | "joyai-llm" => (
                &[r"\p{N}{1,3}", r"[一-龥぀-ゟ゠-ヿ]+", DEEPSEEK3_WORDS],
                KEEP_SPACES,
            ),
            "spark2_5" => (
                &[
                    r"\p{N}{1,3}",
                    r"[一-龥぀-ゟ゠-ヿ]+",
                    r##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+"##,
                    r"\p{N}",
                ],
                KEEP_SPACES,
            ),
            "youtu" => (
                &[
                    r"[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+",
                    // llama.cpp reads every letter subcategory (\p{Lu}, \p{Ll}, ...) as \p{L}, so
                    // its case runs are plain letter runs.
                    r"[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]*[\p{L}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+[\p{L}\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
                ],
                KEEP_SPACES.ignore_merges(),
            ),
            "deepseek-coder" => (
                &[
                    r"[\r\n]",
                    r"\s?\p{L}+",
                    r"\s?\p{P}+",
                    r"[一-龥ࠀ-一가-퟿&&\S]+",
                    r"\p{N}",
                ],
                KEEP_SPACES,
            ),
            "falcon" => (
                &[r"[\p{P}\$\+<=>\^~\|`]+", GPT2_WORDS, "[0-9][0-9][0-9]"],
                PLAIN,
            ),
            "starcoder" | "refact" | "codeshell" | "exaone" | "minerva-7b" | "mellum2" => {
                (&[r"\p{N}", GPT2_WORDS], PLAIN)
            }
            "command-r" | "smollm" => (&[r"\p{N}", GPT2_WORDS], KEEP_SPACES),
            "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es"
            | "jina-v2-de" | "a.x-4.0" | "mellum" | "modern-bert" | "exaone4" | "mpt" | "olmo"
            | "jais" => (&[GPT2_WORDS], PLAIN),
            "trillion" | "granite-docling" => (&[GPT2_WORDS], KEEP_SPACES),
            "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "hunyuan" | "solar-open"
            | "grok-2" => (&[QWEN2_WORDS], KEEP_SPACES),
            // Qwen2's pre-tokenizer, but llama.cpp leaves clean_spaces on for these two.
            "megrez" | "stablelm2" => (&[QWEN2_WORDS], PLAIN),
            "qwen35" => (&[QWEN35_WORDS], KEEP_SPACES),
            "bloom" | "gpt3-finnish" => (&[BLOOM_WORDS], PLAIN),
            "poro-chat" => (&[BLOOM_WORDS], KEEP_SPACES),
            "viking" => (&[BLOOM_WORDS, r"\p{N}"], KEEP_SPACES),
            "tekken" => (&[TEKKEN_WORDS], KEEP_SPACES.ignore_merges().add_bos()),
            "chameleon" => (
                &[
                    r"<sentinel:[0-9]+>",
                    r"(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
                    r"([\t\n]|    |  )",
                    r"\p{N}",
                    r"[\p{P}!-/:-@\[-`{-~]",
                    GPT2_WORDS,
                ],
                KEEP_SPACES.add_bos(),
            ),
            "gpt-4o" | "llama4" | "kanana2" | "talkie" | "minimax-m2" => {
                (&[GPT4O_WORDS], KEEP_SPACES)
            }
            "granite-embed-multi-97m" => (
                &[
                    r"[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
                ],
                KEEP_SPACES.ignore_merges(),
            ),
            "bailingmoe" | "bailingmoe2" | "llada-moe" => (
                &[
                    r"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+",
                ],
                KEEP_SPACES,
            ),
            "seed-coder" => (
                &[
                    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+",
                ],
                KEEP_SPACES,
            ),
            "ufakzeka" => (
                &[
                    r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
                ],
                KEEP_SPACES,
            ),
            "laguna" => (&["[^\n]+|[\n]+", QWEN2_WORDS], KEEP_SPACES),
            "exaone-moe" => (
                &[
                    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+",
                ],
                PLAIN,
            ),
            other => return Err(TokenizerError::UnsupportedPre(other.to_string())),
        };
        Ok(PreTokenizer {
            regexes: regexes.to_vec(),
            ignore_merges: flags.ignore_merges,
            add_bos_default: flags.add_bos,
            clean_spaces: flags.clean_spaces,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_pre_is_named() {
        let e = PreTokenizer::from_name("qwen9").unwrap_err();
        assert!(e.to_string().contains("`qwen9`"), "{e}");
        for name in [
            "gemma4",
            "whitespace",
            "roberta-bpe",
            "kimi-k2",
            "afmoe",
            "superbpe",
        ] {
            assert!(PreTokenizer::from_name(name).is_err(), "{name}");
        }
    }

    #[test]
    fn llama3_ignores_merges() {
        let p = PreTokenizer::from_name("llama-bpe").unwrap();
        assert!(p.ignore_merges && p.add_bos_default);
        assert_eq!(PreTokenizer::from_name("smollm").unwrap().regexes.len(), 2);
        let t = PreTokenizer::from_name("tekken").unwrap();
        assert!(t.ignore_merges && t.add_bos_default);
        assert!(!PreTokenizer::from_name("qwen2").unwrap().add_bos_default);
    }

    #[test]
    fn every_supported_name_has_regexes_that_compile() {
        for name in SUPPORTED {
            let p = PreTokenizer::from_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!p.regexes.is_empty(), "{name}");
            let cut = crate::byte_bpe::word_cutter(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
            let text = "Hello, World 123!\n";
            assert_eq!(cut(text).concat(), text, "{name}");
        }
    }
}
