//! `pine-tokenize MODEL.gguf -p TEXT [--ids] [--no-bos] [--parse-special]`: a thin `main` over
//! `pine_cli::tokenize`, which holds the logic so it can be unit-tested.

fn main() -> std::process::ExitCode {
    pine_cli::tokenize::main(std::env::args_os())
}
