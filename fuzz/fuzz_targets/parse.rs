//! Fuzz target `parse`: any byte string given to `Gguf::from_bytes` must yield `Ok` or `Err`,
//! never a panic, and a file that opens must let every metadata value, array element and tensor
//! byte be read (the reader promises that everything it accepted is in bounds).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pine_gguf::{Gguf, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::from_bytes(data.to_vec()) else {
        return;
    };
    for (key, value) in g.metadata() {
        std::hint::black_box(key);
        walk(&value);
        let again = g.get(key).expect("a listed key can be looked up");
        assert_eq!(again.value_type(), value.value_type());
    }
    for t in g.tensors() {
        let data = g.tensor_data(t);
        assert_eq!(data.len() as u64, t.n_bytes);
        std::hint::black_box(data.iter().fold(0u8, |a, &b| a ^ b));
        std::hint::black_box((t.n_elements(), t.n_rows(), t.row_len()));
        assert!(g.tensor(&t.name).is_some());
    }
});

/// Decodes a value completely, recursing into arrays and checking their promised length.
fn walk(v: &Value<'_>) {
    match v {
        Value::Array(a) => {
            let mut n = 0u64;
            for e in a.iter() {
                assert_eq!(e.value_type(), a.elem);
                walk(&e);
                n += 1;
            }
            assert_eq!(n, a.len, "array yields exactly len elements");
        }
        other => {
            std::hint::black_box((other.as_str(), other.as_u64(), other.as_f32()));
        }
    }
}
