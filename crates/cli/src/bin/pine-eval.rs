//! `pine-eval`: judge, retrieval and RAG evaluations of position bias under causal, PINE and
//! anchor attention (logic in `pine_cli::eval`).

fn main() {
    std::process::exit(pine_cli::eval::main());
}
