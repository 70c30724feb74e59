//! `pine-run`: run a GGUF Llama model on a prompt (logic in `pine_cli::run`).

fn main() {
    std::process::exit(pine_cli::run::main());
}
