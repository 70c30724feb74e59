//! `pine-bench`: llama-bench-style pp/tg speed measurements (logic in `pine_cli::bench`).

fn main() {
    std::process::exit(pine_cli::bench::main());
}
