//! `pine-tokenize MODEL.gguf -p TEXT [--ids] [--no-bos] [--parse-special]`: the token ids pine
//! encodes a text to, like llama.cpp's `llama-tokenize`, so a prompt's tokens can be checked
//! against llama.cpp's. Only the `tokenizer.*` metadata is read: vocabulary-only GGUF files
//! (no tensors, like llama.cpp's `models/ggml-vocab-*.gguf`) work as well as models.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use pine_tokenizer::Tokenizer;

use crate::file_tool;

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
    const TOOL: &str = "pine-tokenize";
    let args: Args = match file_tool::parse(argv) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let gguf = match file_tool::open(TOOL, &args.model) {
        Ok(g) => g,
        Err(code) => return code,
    };
    let ids = Tokenizer::from_gguf(&gguf).and_then(|tokenizer| {
        let ids = tokenizer.encode(&args.prompt, !args.no_bos, args.parse_special)?;
        Ok((tokenizer, ids))
    });
    match ids {
        Ok((tokenizer, ids)) => {
            file_tool::to_stdout(TOOL, |out| write_tokens(&tokenizer, &ids, args.ids, out))
        }
        Err(e) => {
            eprintln!("{TOOL}: {}: {e}", args.model.display());
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
