fn main() {
    eprintln!("pine-serve: not built yet");
    std::process::exit(1);
}
