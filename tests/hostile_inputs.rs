//! Hostile inputs: pine's binaries run on crafted files and flags (issue #20). Every case asserts
//! the exit code, a message naming the problem, no panic, no signal, no hang, and that no file
//! but the named output is touched. One module per area; the harness runs the binaries.

mod common;

#[path = "hostile/harness.rs"]
mod harness;

#[path = "hostile/outputs.rs"]
mod outputs;

#[path = "hostile/flags.rs"]
mod flags;

#[path = "hostile/sizes.rs"]
mod sizes;

#[path = "hostile/files.rs"]
mod files;
