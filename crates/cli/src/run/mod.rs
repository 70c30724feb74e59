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
use pine::{AttentionMode, Layout, Prompt};
use pine_gguf::OutputFile;

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
    crate::flags::check_vk_exact(args.backend, args.vk_exact)?;
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
    let mut model = setup::load(args)?;
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    eprintln!("pine-run: loaded in {load_ms:.0} ms");
    let opts = setup::options(args);
    if args.interactive {
        return chat::interactive(args, model, &opts);
    }
    let (layout, mode) = if layout::wanted(args) {
        (layout::build(args, &model)?, layout::mode(args))
    } else {
        (
            Layout::plain(setup::prompt_tokens(args, &model)?),
            AttentionMode::Causal,
        )
    };
    if args.verbose {
        eprintln!(
            "pine-run: {mode:?}; prefix {:?}, segments {:?}, suffix {:?}",
            layout.prefix, layout.segments, layout.suffix
        );
    }
    let n = layout.len();
    let t = Instant::now();
    let prompt = match logits_out {
        Some(out) => {
            let logits = model
                .evaluate_all(&layout, mode)
                .map_err(|e| e.to_string())?;
            report_prefill(n, t);
            let n_vocab = model.params().n_vocab;
            npy::write_f32(out, &[n, n_vocab], &logits).map_err(|e| e.to_string())?;
            if args.n_predict == 0 {
                return Ok(());
            }
            Prompt::Continue
        }
        None => Prompt::Layout(layout, mode),
    };
    let n_ctx = model.n_ctx();
    let evaluates = matches!(prompt, Prompt::Layout(..));
    let generation = model.generate(prompt, &opts).map_err(|e| e.to_string())?;
    if evaluates {
        report_prefill(n, t);
    }
    let mut out = std::io::stdout();
    generate::stream(generation, n_ctx, &mut out)?;
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
