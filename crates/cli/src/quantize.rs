//! `pine-quantize IN.gguf OUT.gguf TYPE [--pure] [--threads N] [--via-f16]`: rewrites a GGUF model with
//! its weight matrices re-encoded without an importance matrix, either all as one type (like
//! `llama-quantize --pure`) or as one of llama-quantize's k-quant mixtures (`Q4_K_M`, ...) with
//! each tensor's type chosen as llama-quantize does, so one downloaded model yields the files
//! users have for tests and benchmarks. Any type pine can decode is accepted as input (decoded
//! to f32, then encoded); metadata is copied with `general.file_type` updated. The output is
//! checked and opened before any work: it must not be the input (same file, by any name), and
//! it is written as [`pine_gguf::output`] describes (a fresh temporary renamed over a new or
//! regular file; in place into a device or FIFO; anything else refused); Ctrl-C or SIGTERM
//! removes the temporary ([`crate::interrupt`]).

mod convert;
mod mixture;
mod progress;
mod target;
#[cfg(test)]
mod tests;

pub use convert::{convert, Job};
pub use mixture::Mixture;
pub use progress::Progress;
pub use target::{
    choose, file_type, is_matrix, parse_target, plan, type_help, Choice, PlanError, Target,
    UNIFORM_TARGETS,
};

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use pine_gguf::{Gguf, GgufWriter, OutputFile, OwnedValue};

use target::is_reencoded;

use crate::model_path;

/// The ggml quantization format version the encoders follow (llama.cpp's `GGML_QNT_VERSION`),
/// written as `general.quantization_version` like llama-quantize does.
pub const QUANTIZATION_VERSION: u32 = 2;

/// Command-line arguments of `pine-quantize`.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "pine-quantize",
    about = "Re-quantize the weight matrices of a GGUF model to one type or a llama-quantize mixture",
    after_help = type_help()
)]
pub struct Args {
    /// The GGUF model to read (any tensor type pine can decode).
    pub input: PathBuf,
    /// Where to write the result: a new or regular file (replaced atomically when complete), or
    /// a character device or FIFO (written in place); never the input.
    pub output: PathBuf,
    /// Target type of the weight matrices, or a llama-quantize mixture such as Q4_K_M.
    #[arg(value_name = "TYPE")]
    pub ty: String,
    /// Like `llama-quantize --pure`: a mixture TYPE puts every weight matrix in its base type
    /// (e.g. `Q6_K --pure` is a uniform Q6_K file for any architecture), keeping its
    /// `general.file_type`.
    #[arg(long)]
    pub pure: bool,
    /// Worker threads (default: all available cores; more are capped to the cores).
    #[arg(long, short = 't', value_parser = crate::flags::threads)]
    pub threads: Option<usize>,
    /// Round weights to f16 before quantizing, as if the model were first converted to F16
    /// (how llama.cpp's published variants are made from a higher-precision source).
    #[arg(long)]
    pub via_f16: bool,
}

/// Entry point of the `pine-quantize` binary: exit code 0 on success, 1 on any error (the
/// message names the file or tensor), 2 for usage errors.
pub fn main(argv: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if let Err(e) = crate::interrupt::clean_up_outputs_on_signals() {
        eprintln!("pine-quantize: {e}");
        return ExitCode::FAILURE;
    }
    match quantize_file(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pine-quantize: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads `args.input`, re-encodes it and writes `args.output`, printing progress on stderr.
pub fn quantize_file(args: &Args) -> Result<(), String> {
    let target = parse_target(&args.ty, args.pure)?;
    let threads = args.threads.unwrap_or_else(crate::flags::cores);
    let input = &args.input;
    model_path::check_file(input, "a GGUF file")?;
    model_path::refuse_overwriting_input(input, &args.output)?;
    let out = OutputFile::create(&args.output).map_err(|e| e.to_string())?;
    let gguf = Gguf::open(input).map_err(|e| model_path::gguf_error(input, &e))?;
    let writer = quantize_gguf(&gguf, target, args.via_f16, threads, true)
        .map_err(|e| format!("{}: {e}", input.display()))?;
    writer.write_output(out).map_err(|e| e.to_string())?;
    eprintln!(
        "pine-quantize: wrote {} ({target}, general.file_type {})",
        args.output.display(),
        target.file_type()
    );
    Ok(())
}

/// Builds the re-encoded file in memory: all metadata copied, `general.file_type` and
/// `general.quantization_version` set, tensors in input order with the types [`plan`] picks
/// (checked before any tensor is encoded). With `show_progress`, draws the bar and the
/// fallback notes on stderr.
pub fn quantize_gguf(
    gguf: &Gguf,
    target: Target,
    via_f16: bool,
    threads: usize,
    show_progress: bool,
) -> Result<GgufWriter, String> {
    let choices = plan(gguf, target).map_err(|e| e.to_string())?;
    let mut w = GgufWriter::new();
    for (key, value) in gguf.metadata() {
        w.set(key, OwnedValue::from_value(&value))
            .map_err(|e| format!("metadata {key}: {e}"))?;
    }
    let meta = |e: pine_gguf::GgufError| format!("metadata: {e}");
    w.set("general.file_type", OwnedValue::U32(target.file_type()))
        .map_err(meta)?;
    w.set(
        "general.quantization_version",
        OwnedValue::U32(QUANTIZATION_VERSION),
    )
    .map_err(meta)?;

    let tensors = gguf.tensors();
    let mut progress = show_progress.then(|| Progress::new(tensors.len()));
    for (i, (t, choice)) in tensors.iter().zip(&choices).enumerate() {
        if let Some(p) = progress.as_mut() {
            p.show(i, &t.name);
        }
        if let (Some(p), Some(note)) = (progress.as_mut(), &choice.note) {
            p.note(note);
        }
        let data = gguf.tensor_data(t);
        let bytes = if !is_reencoded(t, choice, via_f16) {
            data.to_vec()
        } else {
            let job = Job {
                src: t.ty,
                dst: choice.ty,
                row_len: usize::try_from(t.row_len()).map_err(|e| e.to_string())?,
                n_rows: usize::try_from(t.n_rows()).map_err(|e| e.to_string())?,
                via_f16: via_f16 && is_matrix(t),
            };
            convert(data, job, threads)
                .map_err(|e| format!("tensor {} ({} → {}): {e}", t.name, t.ty, choice.ty))?
        };
        w.add_tensor(&t.name, choice.ty, &t.dims, bytes)
            .map_err(|e| e.to_string())?;
    }
    if let Some(p) = progress.as_mut() {
        p.show(tensors.len(), "done");
        p.finish();
    }
    Ok(w)
}
