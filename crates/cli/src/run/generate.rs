//! The generation loop: sample, stream decoded text, stop at end-of-generation or `-n`.

use std::io::Write;
use std::time::Instant;

use pine_model::Logits;
use pine_tokenizer::StreamDecoder;

use super::args::RunArgs;
use super::setup::RunContext;

/// Prefills `prompt`, then generates; returns the generated token ids.
pub(crate) fn generate(
    args: &RunArgs,
    ctx: &mut RunContext,
    prompt: &[u32],
    out: &mut dyn Write,
) -> Result<Vec<u32>, String> {
    let t = Instant::now();
    let logits = ctx
        .session
        .prefill(prompt, Logits::Last)
        .map_err(|e| e.to_string())?;
    super::report_prefill(prompt.len(), t);
    continue_from(args, ctx, logits, out)
}

/// Generates from the logits of the last evaluated token, streaming text to `out`.
pub(crate) fn continue_from(
    args: &RunArgs,
    ctx: &mut RunContext,
    mut logits: Vec<f32>,
    out: &mut dyn Write,
) -> Result<Vec<u32>, String> {
    let limit = if args.n_predict < 0 {
        usize::MAX
    } else {
        args.n_predict as usize
    };
    let mut decoder = StreamDecoder::new(&ctx.tokenizer);
    let mut generated = Vec::new();
    let t = Instant::now();
    let io = |e: std::io::Error| e.to_string();
    while generated.len() < limit {
        let id = ctx.sampler.sample(&logits, ctx.session.tokens());
        if ctx.tokenizer.is_eog(id) {
            break;
        }
        generated.push(id);
        out.write_all(decoder.push(id).as_bytes()).map_err(io)?;
        out.flush().map_err(io)?;
        if generated.len() >= limit {
            break;
        }
        if ctx.session.tokens().len() >= ctx.session.n_ctx() {
            eprintln!(
                "\npine-run: the context of {} tokens is full; the reply ends here",
                ctx.session.n_ctx()
            );
            break;
        }
        logits = ctx.session.decode(id).map_err(|e| e.to_string())?;
    }
    out.write_all(decoder.finish().as_bytes()).map_err(io)?;
    out.flush().map_err(io)?;
    let s = t.elapsed().as_secs_f64();
    let n = generated.len();
    eprintln!(
        "\npine-run: generated {n} tokens in {:.1} ms ({:.1} t/s)",
        s * 1e3,
        if s > 0.0 { n as f64 / s } else { 0.0 }
    );
    Ok(generated)
}
