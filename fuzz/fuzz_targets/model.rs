//! Fuzz target `model`: a byte string read as a GGUF file, then the model set up from it on the
//! CPU (hyper-parameters validated, every weight bound, a small session) and two tokens run.
//! Every step must answer `Ok` or `Err`, never panic or allocate without bound.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pine_backend::{CacheType, CpuBackend, MatmulMode};
use pine_gguf::Gguf;
use pine_model::{Logits, Session, Transformer};

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::from_bytes(data.to_vec()) else {
        return;
    };
    let Ok(backend) = CpuBackend::new(1, MatmulMode::Native) else {
        return;
    };
    let Ok(model) = Transformer::load(Arc::new(g), backend) else {
        return;
    };
    let n_vocab = model.params.n_vocab as u32;
    let Ok(mut session) = Session::new(model, 8, CacheType::F16) else {
        return;
    };
    let ids = [0, n_vocab.saturating_sub(1)];
    if let Ok(logits) = session.prefill(&ids, Logits::Last) {
        assert_eq!(logits.len(), n_vocab as usize);
    }
});
