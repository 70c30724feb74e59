//! `pine-quantize IN.gguf OUT.gguf TYPE [--pure] [--threads N] [--via-f16]`: re-encodes the
//! weight matrices of a GGUF model without an importance matrix, byte-identical to
//! `llama-quantize`. TYPE is a uniform type (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q5_K IQ4_NL F16 BF16
//! F32) or one of llama-quantize's mixtures (Q2_K Q3_K_M Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K),
//! which `--pure` makes uniform in its base type; `pine-quantize --help` lists them. A thin
//! `main` over `pine_cli::quantize`, which holds the logic so it can be unit-tested.

fn main() -> std::process::ExitCode {
    pine_cli::quantize::main(std::env::args_os())
}
