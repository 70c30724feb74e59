//! Fuzz target `template`: the input up to its first NUL byte is a chat template, the rest a
//! user message; compiling and rendering must answer `Ok` or `Err` (out of fuel, output limit,
//! template error), never panic or run without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pine_tokenizer::{ChatMessage, ChatTemplate};

fuzz_target!(|data: &[u8]| {
    let (source, message) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(source) = std::str::from_utf8(source) else {
        return;
    };
    let Ok(t) = ChatTemplate::new(source, "<s>", "</s>") else {
        return;
    };
    let messages = [
        ChatMessage::new("system", "Be brief."),
        ChatMessage::new("user", String::from_utf8_lossy(message)),
        ChatMessage::new("assistant", "Yes."),
    ];
    for generation in [false, true] {
        std::hint::black_box(t.render(&messages, generation).ok());
    }
});
