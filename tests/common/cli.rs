//! Running pine's binaries from the tests (`#[path = "common/cli.rs"] mod cli;` beside `mod
//! common;`): `CARGO_BIN_EXE_<name>` exists only for tests of the package with the binaries,
//! `pine-cli`.

#![allow(dead_code)]

use crate::common::smollm2_path;

/// Runs the `pine-run` binary with `args`.
pub fn pine_run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_pine-run"))
        .args(args)
        .output()
        .expect("pine-run runs")
}

/// `pine-run` on the default model with the raw prompt "The capital of France is", 32 greedy
/// tokens, plus `extra` flags (the backend).
pub fn pine_run_france(extra: &[&str]) -> std::process::Output {
    let model = smollm2_path();
    let mut args = vec![
        model.to_str().unwrap(),
        "--raw",
        "-p",
        "The capital of France is",
        "-n",
        "32",
        "--temp",
        "0",
    ];
    args.extend_from_slice(extra);
    pine_run(&args)
}
