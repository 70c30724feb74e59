//! `pine-tokenize MODEL.gguf -p TEXT [--ids] [--no-bos] [--parse-special]`: the token ids pine
//! encodes a text to, like llama.cpp's `llama-tokenize`, so a prompt's tokens can be checked
//! against llama.cpp's. Only the `tokenizer.*` metadata is read: vocabulary-only GGUF files
//! (no tensors, like llama.cpp's `models/ggml-vocab-*.gguf`) work as well as models.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use pine_gguf::Gguf;
use pine_tokenizer::Tokenizer;

/// Command-line arguments of `pine-tokenize`.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "pine-tokenize",
    about = "Print the tokens a GGUF model's tokenizer encodes a text to"
)]
pub struct Args {
    /// The GGUF file (a model or a vocabulary-only file).
    pub model: PathBuf,
    /// The text to tokenize.
    #[arg(short = 'p', long = "prompt")]
    pub prompt: String,
    /// Print only the ids, as a list `[1, 2, 3]`, instead of one `id -> 'piece'` line each.
    #[arg(long)]
    pub ids: bool,
    /// Do not add the BOS/EOS tokens the model asks for.
    #[arg(long)]
    pub no_bos: bool,
    /// Let control-token texts in the prompt (`<|im_start|>`, `<s>`) become their ids.
    #[arg(long)]
    pub parse_special: bool,
}

/// Entry point of the `pine-tokenize` binary: parses `argv`, prints to stdout, reports errors
/// on stderr naming the file, and returns exit code 1 on failure (2 for usage errors).
pub fn main(argv: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if let Err(e) = crate::model_path::check_file(&args.model, "a GGUF file") {
        eprintln!("pine-tokenize: {e}");
        return ExitCode::FAILURE;
    }
    let tokenizer = match Gguf::open(&args.model) {
        Ok(g) => Tokenizer::from_gguf(&g),
        Err(e) => {
            eprintln!(
                "pine-tokenize: {}",
                crate::model_path::gguf_error(&args.model, &e)
            );
            return ExitCode::FAILURE;
        }
    };
    let tokenizer = match tokenizer {
        Ok(t) => t,
        Err(e) => {
            eprintln!("pine-tokenize: {}: {e}", args.model.display());
            return ExitCode::FAILURE;
        }
    };
    let ids = match tokenizer.encode(&args.prompt, !args.no_bos, args.parse_special) {
        Ok(ids) => ids,
        Err(e) => {
            eprintln!("pine-tokenize: {}: {e}", args.model.display());
            return ExitCode::FAILURE;
        }
    };
    let mut out = io::stdout().lock();
    match write_tokens(&tokenizer, &ids, args.ids, &mut out).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`pine-tokenize ... | head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pine-tokenize: writing output: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `ids` as `llama-tokenize` does: a list `[1, 2, 3]` with `ids_only`, else one line
/// `    id -> 'piece'` per token, the piece's raw bytes with special tokens rendered.
pub fn write_tokens(
    t: &Tokenizer,
    ids: &[u32],
    ids_only: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if ids_only {
        let list: Vec<String> = ids.iter().map(u32::to_string).collect();
        return writeln!(out, "[{}]", list.join(", "));
    }
    for &id in ids {
        write!(out, "{id:6} -> '")?;
        out.write_all(t.piece(id, true))?;
        writeln!(out, "'")?;
    }
    Ok(())
}
