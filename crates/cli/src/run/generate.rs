//! Streaming a generation to stdout, with the timings and a full context on stderr.

use std::io::Write;
use std::time::Instant;

use pine::{FinishReason, Generation};

/// Writes every piece of `generation` to `out` as it comes; returns the generated text.
pub(crate) fn stream(
    mut generation: Generation<'_>,
    n_ctx: usize,
    out: &mut dyn Write,
) -> Result<String, String> {
    let t = Instant::now();
    let io = |e: std::io::Error| e.to_string();
    let mut n = 0;
    for piece in generation.by_ref() {
        let piece = piece.map_err(|e| e.to_string())?;
        n += 1;
        out.write_all(piece.text.as_bytes()).map_err(io)?;
        out.flush().map_err(io)?;
    }
    if generation.finish_reason() == Some(FinishReason::ContextFull) {
        eprintln!("\npine-run: the context of {n_ctx} tokens is full; the reply ends here");
    }
    let s = t.elapsed().as_secs_f64();
    eprintln!(
        "\npine-run: generated {n} tokens in {:.1} ms ({:.1} t/s)",
        s * 1e3,
        if s > 0.0 { n as f64 / s } else { 0.0 }
    );
    Ok(generation.text().to_string())
}
