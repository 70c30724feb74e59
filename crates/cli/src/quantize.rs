//! `pine-quantize IN.gguf OUT.gguf TYPE [--threads N] [--via-f16]`: rewrites a GGUF model with
//! every weight matrix re-encoded as TYPE, like `llama-quantize --pure` without an importance
//! matrix, so one downloaded model yields the other quantizations for tests and benchmarks.
//! Any type pine can decode is accepted as input (decoded to f32, then encoded); metadata is
//! copied with `general.file_type` updated, and the output is written atomically.

mod convert;
mod progress;
mod target;
#[cfg(test)]
mod tests;

pub use convert::{convert, Job};
pub use progress::Progress;
pub use target::{choose, file_type, is_matrix, parse_target, Choice, TARGETS};

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use pine_gguf::{GgmlType, Gguf, GgufWriter, OwnedValue};

/// The ggml quantization format version the encoders follow (llama.cpp's `GGML_QNT_VERSION`),
/// written as `general.quantization_version` like llama-quantize does.
pub const QUANTIZATION_VERSION: u32 = 2;

/// Command-line arguments of `pine-quantize`.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "pine-quantize",
    about = "Re-quantize the weight matrices of a GGUF model to one type",
    after_help = "TYPE is one of: Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q5_K Q6_K IQ4_NL F16 BF16 F32"
)]
pub struct Args {
    /// The GGUF model to read (any tensor type pine can decode).
    pub input: PathBuf,
    /// Where to write the result (replaced atomically).
    pub output: PathBuf,
    /// Target type of the weight matrices.
    #[arg(value_name = "TYPE")]
    pub ty: String,
    /// Worker threads (default: all available cores).
    #[arg(long, short = 't')]
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
    let target = parse_target(&args.ty)?;
    let threads = match args.threads {
        Some(0) => return Err("--threads must be at least 1".into()),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let input = &args.input;
    let gguf = Gguf::open(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let writer = quantize_gguf(&gguf, target, args.via_f16, threads, true)
        .map_err(|e| format!("{}: {e}", input.display()))?;
    writer
        .write_to(&args.output)
        .map_err(|e| format!("{}: {e}", args.output.display()))?;
    eprintln!(
        "pine-quantize: wrote {} ({target}, general.file_type {})",
        args.output.display(),
        file_type(target)
    );
    Ok(())
}

/// Builds the re-encoded file in memory: all metadata copied, `general.file_type` and
/// `general.quantization_version` set, tensors in input order with the types `choose` picks.
/// With `show_progress`, draws the bar and the fallback notes on stderr.
pub fn quantize_gguf(
    gguf: &Gguf,
    target: GgmlType,
    via_f16: bool,
    threads: usize,
    show_progress: bool,
) -> Result<GgufWriter, String> {
    let mut w = GgufWriter::new();
    for (key, value) in gguf.metadata() {
        w.set(key, OwnedValue::from_value(&value))
            .map_err(|e| format!("metadata {key}: {e}"))?;
    }
    let meta = |e: pine_gguf::GgufError| format!("metadata: {e}");
    w.set("general.file_type", OwnedValue::U32(file_type(target)))
        .map_err(meta)?;
    w.set(
        "general.quantization_version",
        OwnedValue::U32(QUANTIZATION_VERSION),
    )
    .map_err(meta)?;

    let tensors = gguf.tensors();
    let mut progress = show_progress.then(|| Progress::new(tensors.len()));
    for (i, t) in tensors.iter().enumerate() {
        if let Some(p) = progress.as_mut() {
            p.show(i, &t.name);
        }
        let choice = choose(t, target);
        if let (Some(p), Some(note)) = (progress.as_mut(), &choice.note) {
            p.note(note);
        }
        let data = gguf.tensor_data(t);
        let via_f16 = via_f16 && is_matrix(t);
        let bytes = if choice.ty == t.ty && !via_f16 {
            data.to_vec()
        } else {
            let job = Job {
                src: t.ty,
                dst: choice.ty,
                row_len: usize::try_from(t.row_len()).map_err(|e| e.to_string())?,
                n_rows: usize::try_from(t.n_rows()).map_err(|e| e.to_string())?,
                via_f16,
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
