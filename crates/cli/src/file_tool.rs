//! The frame of the tools that read one GGUF file and print a report (`pine-inspect`,
//! `pine-tokenize`): clap's exit codes, the file opened through the checks every tool shares
//! (naming it once on failure), and stdout written with a closed pipe counted as success.

use std::ffi::OsString;
use std::io::{self, StdoutLock, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use pine_gguf::Gguf;

/// Parses `argv`; on a usage error (exit 2) or `--help`/`--version` (exit 0) clap's text is
/// printed and the exit code returned.
pub fn parse<A: Parser>(argv: impl IntoIterator<Item = OsString>) -> Result<A, ExitCode> {
    A::try_parse_from(argv).map_err(|e| {
        let _ = e.print();
        ExitCode::from(if e.use_stderr() { 2 } else { 0 })
    })
}

/// Opens the GGUF file `path` after checking it is a regular file; a failure is printed as
/// `TOOL: message` naming the file once, and is exit code 1.
pub fn open(tool: &str, path: &Path) -> Result<Gguf, ExitCode> {
    crate::model_path::check_file(path, "a GGUF file")
        .and_then(|()| Gguf::open(path).map_err(|e| crate::model_path::gguf_error(path, &e)))
        .map_err(|e| {
            eprintln!("{tool}: {e}");
            ExitCode::FAILURE
        })
}

/// Runs `write` on the locked stdout and flushes it: success, also when the reader closed the
/// pipe (`TOOL … | head` is the reader's choice); another error is printed, exit code 1.
pub fn to_stdout(
    tool: &str,
    write: impl FnOnce(&mut StdoutLock<'static>) -> io::Result<()>,
) -> ExitCode {
    let mut out = io::stdout().lock();
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{tool}: writing output: {e}");
            ExitCode::FAILURE
        }
    }
}
