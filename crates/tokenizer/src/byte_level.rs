//! GPT-2's byte ↔ character mapping. Byte-level BPE vocabularies store every token as
//! printable characters, one per byte; decoding a token means mapping its characters back to
//! the bytes they stand for.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The character GPT-2 uses for each byte: printable Latin-1 bytes stand for themselves, the
/// rest are shifted to U+0100 onwards in byte order.
fn byte_to_char() -> &'static [char; 256] {
    static TABLE: OnceLock<[char; 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = ['\0'; 256];
        let mut next = 256u32;
        for b in 0..=255u8 {
            let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
            let c = if printable {
                u32::from(b)
            } else {
                next += 1;
                next - 1
            };
            table[b as usize] = char::from_u32(c).unwrap_or('\u{FFFD}');
        }
        table
    })
}

fn char_to_byte() -> &'static HashMap<char, u8> {
    static TABLE: OnceLock<HashMap<char, u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        byte_to_char()
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, b as u8))
            .collect()
    })
}

/// The bytes a byte-level token text stands for. A character outside the mapping (a vocabulary
/// written by hand) is kept as its own UTF-8 bytes rather than dropped.
pub fn decode_token(text: &str) -> Vec<u8> {
    let map = char_to_byte();
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match map.get(&c) {
            Some(&b) => out.push(b),
            None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

/// The byte-level text for raw bytes (the inverse of [`decode_token`]).
#[cfg(test)]
pub fn encode_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| byte_to_char()[b as usize]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_and_newline_map_like_gpt2() {
        assert_eq!(encode_bytes(b" "), "Ġ");
        assert_eq!(encode_bytes(b"\n"), "Ċ");
        assert_eq!(decode_token("Ġworld"), b" world");
    }

    #[test]
    fn round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_token(&encode_bytes(&all)), all);
    }
}
