//! llama.cpp's whole-text decoding rules (`llama_vocab::impl::detokenize` in
//! `src/llama-vocab.cpp`), besides the per-token pieces themselves:
//!
//! - `remove_special`: a leading BOS is dropped when the vocabulary adds one (`add_bos`), a
//!   trailing EOS when it adds one (`add_eos`);
//! - `add_space_prefix`: one leading space of the *first* token's piece is dropped (the space
//!   SentencePiece encoding put in front of the text), but not when a BOS was dropped by the
//!   rule above, and not for later tokens (not even after a special token, where encoding also
//!   adds a space);
//! - `clean_spaces` (Hugging Face's `clean_up_tokenization_spaces`, on for most byte-level BPE
//!   vocabularies, see `pre.rs`): [`clean_spaces`] over the joined bytes.
//!
//! Streaming decodes token by token (`StreamDecoder`, as llama.cpp's `common_token_to_piece`
//! loop in llama-cli and llama-server), so streamed text is the plain concatenation of the
//! pieces: no space is removed there.

/// llama.cpp's three clean-up passes, in order, each over the previous one's output:
///
/// 1. a space directly before `?`, `!`, `.` or `,` is removed;
/// 2. a lone apostrophe between two spaces (` ' `) loses both spaces; a space already removed
///    this way is not the leading space of another match (` ' ' x` → `'' x`);
/// 3. a space directly before the contractions `'s`, `'m`, `'re`, `'ve` is removed (the letters
///    must follow the apostrophe, nothing is checked after them: ` 'sy` → `'sy`); ` 't`, ` 'd`
///    and ` 'll` keep theirs.
///
/// No pass looks at position 0 as the character to keep (a leading apostrophe has no space
/// before it anyway). All are byte comparisons of ASCII characters, so UTF-8 text stays valid.
pub(crate) fn clean_spaces(text: &[u8]) -> Vec<u8> {
    let text = drop_space_before(text, |rest| matches!(rest, [b'?' | b'!' | b'.' | b',', ..]));
    let text = unpad_lone_apostrophes(&text);
    drop_space_before(&text, |rest| {
        matches!(
            rest,
            [b'\'', b's' | b'm', ..] | [b'\'', b'r' | b'v', b'e', ..]
        )
    })
}

/// Removes every space whose following bytes satisfy `before`.
fn drop_space_before(text: &[u8], before: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for (i, &c) in text.iter().enumerate() {
        if !(c == b' ' && before(&text[i + 1..])) {
            out.push(c);
        }
    }
    out
}

/// Pass 2: ` ' ` → `'`, left to right, each space used at most once.
fn unpad_lone_apostrophes(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    // Whether text[i - 1] is a space that an earlier match removed.
    let mut prev_used = false;
    while i < text.len() {
        let lone = i >= 1
            && text[i] == b'\''
            && text[i - 1] == b' '
            && !prev_used
            && text.get(i + 1) == Some(&b' ');
        if lone {
            out.pop(); // the space before, pushed last
            out.push(b'\'');
            i += 2; // the space after is skipped
            prev_used = true;
        } else {
            out.push(text[i]);
            i += 1;
            prev_used = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clean_spaces;

    fn clean(s: &str) -> String {
        String::from_utf8(clean_spaces(s.as_bytes())).unwrap()
    }

    #[test]
    fn punctuation_loses_the_space_before_it() {
        assert_eq!(
            clean("Hello , world ! How are you ? Fine . Yes ,no"),
            "Hello, world! How are you? Fine. Yes,no"
        );
        assert_eq!(clean("  ,  . ?? !! "), " , .??!! ");
        assert_eq!(clean(" ."), ".");
        assert_eq!(clean("日本 . 'ça"), "日本. 'ça");
    }

    #[test]
    fn contractions_lose_some_spaces() {
        assert_eq!(
            clean("don 't , I 'm , it 's , we 're , they 've , you 'll , he 'd"),
            "don 't, I'm, it's, we're, they've, you 'll, he 'd"
        );
        assert_eq!(
            clean("x 'sy 'mz 're 've 'll 'd 't"),
            "x'sy'mz're've 'll 'd 't"
        );
        assert_eq!(clean(" 's"), "'s");
        assert_eq!(clean(" '"), " '");
        assert_eq!(clean(" 'r"), " 'r");
    }

    #[test]
    fn lone_apostrophes_lose_both_spaces_once() {
        assert_eq!(clean(" ' quoted ' text"), "'quoted'text");
        assert_eq!(clean("a ' ' b"), "a'' b");
        assert_eq!(clean("' ' ' '"), "''' '");
        assert_eq!(clean(""), "");
        assert_eq!(clean(" "), " ");
    }
}
