//! Incremental detokenization for streaming output. A token may end in the middle of a UTF-8
//! character (byte-fallback tokens carry one byte each; byte-level BPE tokens can split a
//! character too), so bytes are held back until they form whole characters. The streamed text
//! is the tokens' pieces joined ([`Tokenizer::join_pieces`]), as llama.cpp streams
//! `common_token_to_piece` per token: whole-text decoding ([`Tokenizer::detokenize`]) may
//! remove spaces that streaming has already printed, in llama.cpp as here.

use crate::Tokenizer;

/// Turns ids into text as they are generated, never emitting half a character.
pub struct StreamDecoder<'t> {
    tok: &'t Tokenizer,
    render_special: bool,
    pending: Vec<u8>,
}

impl<'t> StreamDecoder<'t> {
    /// A decoder that leaves control tokens out of the text (llama.cpp's default).
    pub fn new(tok: &'t Tokenizer) -> StreamDecoder<'t> {
        StreamDecoder::with_special(tok, false)
    }

    /// A decoder that renders control tokens as their text when `render_special`.
    pub fn with_special(tok: &'t Tokenizer, render_special: bool) -> StreamDecoder<'t> {
        StreamDecoder {
            tok,
            render_special,
            pending: Vec::new(),
        }
    }

    /// Adds one token; returns the text that became complete (possibly empty).
    pub fn push(&mut self, id: u32) -> String {
        self.pending
            .extend_from_slice(self.tok.piece(id, self.render_special));
        take_complete(&mut self.pending)
    }

    /// Ends the stream: bytes still held back (an unfinished character) come out as U+FFFD.
    pub fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }

    /// Whether bytes of an unfinished character are being held back.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}

/// Removes and returns the decodable prefix of `buf`: valid UTF-8 as is, invalid sequences
/// as U+FFFD, keeping only a trailing sequence that more bytes could still complete.
fn take_complete(buf: &mut Vec<u8>) -> String {
    let mut out = String::new();
    let mut start = 0;
    loop {
        match std::str::from_utf8(&buf[start..]) {
            Ok(s) => {
                out.push_str(s);
                start = buf.len();
                break;
            }
            Err(e) => {
                let valid = start + e.valid_up_to();
                // from_utf8 just validated this range.
                out.push_str(std::str::from_utf8(&buf[start..valid]).unwrap_or_default());
                match e.error_len() {
                    Some(n) => {
                        out.push('\u{FFFD}');
                        start = valid + n;
                    }
                    None => {
                        start = valid;
                        break;
                    }
                }
            }
        }
    }
    buf.drain(..start);
    out
}

#[cfg(test)]
mod tests {
    use super::take_complete;

    #[test]
    fn holds_back_an_unfinished_character() {
        let mut buf = "a日".as_bytes()[..3].to_vec(); // 'a' + 2 of 3 bytes of 日
        assert_eq!(take_complete(&mut buf), "a");
        assert_eq!(buf.len(), 2);
        buf.push("日".as_bytes()[2]);
        assert_eq!(take_complete(&mut buf), "日");
        assert!(buf.is_empty());
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut buf = vec![b'x', 0xFF, b'y'];
        assert_eq!(take_complete(&mut buf), "x\u{FFFD}y");
        assert!(buf.is_empty());
    }
}
