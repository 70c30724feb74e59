//! `pine-quantize IN.gguf OUT.gguf TYPE [--threads N] [--via-f16]`: a thin `main` over
//! `pine_cli::quantize`, which holds the logic so it can be unit-tested.

fn main() -> std::process::ExitCode {
    pine_cli::quantize::main(std::env::args_os())
}
