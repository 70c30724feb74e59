//! `pine-run`: load a model, build the prompt (chat template unless `--raw`), prefill, and stream
//! generated text to stdout; model info, progress and timings go to stderr.

mod args;
mod chat;
mod generate;
mod layout;
mod progress;
mod setup;

use std::io::Write;
use std::time::Instant;

use clap::Parser;
use pine_attention::{AttentionMode, Layout};
use pine_gguf::OutputFile;
use pine_model::Logits;

pub use args::RunArgs;

use crate::npy;

/// Entry point of the `pine-run` binary; returns the process exit code.
pub fn main() -> i32 {
    let args = RunArgs::parse();
    match run(&args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("pine-run: error: {e}");
            1
        }
    }
}

fn run(args: &RunArgs) -> Result<(), String> {
    if args.list_devices {
        return crate::flags::list_devices();
    }
    crate::flags::check_device(args.backend, args.device)?;
    layout::check(args)?;
    // The logits file is opened (and a bad path refused) before the model is loaded.
    let logits_out = match &args.logits_out {
        Some(path) if !args.interactive => {
            if let Ok(model) = crate::model_path::resolve(args.model.as_deref()) {
                crate::model_path::refuse_overwriting_input(&model, path)?;
            }
            crate::interrupt::clean_up_outputs_on_signals()?;
            Some(OutputFile::create(path).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let t0 = Instant::now();
    let mut ctx = setup::load(args)?;
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    eprintln!("pine-run: loaded in {load_ms:.0} ms");
    if args.interactive {
        return chat::interactive(args, &mut ctx);
    }
    let (layout, mode) = if layout::wanted(args) {
        let n_vocab = ctx.session.model.params.n_vocab;
        let l = layout::build(args, &ctx.tokenizer, ctx.template.as_ref(), n_vocab)?;
        (l, layout::mode(args))
    } else {
        (
            Layout::plain(setup::prompt_tokens(args, &ctx)?),
            AttentionMode::Causal,
        )
    };
    if args.verbose {
        eprintln!(
            "pine-run: {mode:?}; prefix {:?}, segments {:?}, suffix {:?}",
            layout.prefix, layout.segments, layout.suffix
        );
    }
    let which = match logits_out {
        Some(_) => Logits::All,
        None => Logits::Last,
    };
    let t = Instant::now();
    let logits = ctx
        .session
        .evaluate(&layout, mode, which)
        .map_err(|e| e.to_string())?;
    report_prefill(layout.len(), t);
    let n_vocab = ctx.session.model.params.n_vocab;
    if let Some(out) = logits_out {
        npy::write_f32(out, &[layout.len(), n_vocab], &logits).map_err(|e| e.to_string())?;
        if args.n_predict == 0 {
            return Ok(());
        }
    }
    let last = logits[logits.len() - n_vocab..].to_vec();
    let mut out = std::io::stdout();
    generate::continue_from(args, &mut ctx, last, &mut out)?;
    out.flush().map_err(|e| e.to_string())
}

/// Prints prompt-processing speed to stderr.
fn report_prefill(n: usize, t: Instant) {
    let s = t.elapsed().as_secs_f64();
    eprintln!(
        "pine-run: prompt {n} tokens in {:.1} ms ({:.1} t/s)",
        s * 1e3,
        n as f64 / s
    );
}
