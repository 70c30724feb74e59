//! `pine-serve MODEL.gguf`: see `pine-serve --help` and the README.

use clap::Parser;

fn main() {
    let args = pine_server::args::ServeArgs::parse();
    if let Err(e) = pine_server::serve::run(args) {
        eprintln!("pine-serve: {e}");
        std::process::exit(1);
    }
}
