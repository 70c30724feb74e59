//! `pine-inspect MODEL.gguf [--json] [--full-arrays]`: a thin `main` over
//! `pine_cli::inspect`, which holds the logic so it can be unit-tested.

fn main() -> std::process::ExitCode {
    pine_cli::inspect::main(std::env::args_os())
}
