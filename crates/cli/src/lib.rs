//! `pine-cli`: pine's command-line tools over the `pine` library; the binaries (`src/bin`) are
//! thin `main`s over these modules, and the end-to-end tests in the repository's `tests/` that
//! run them are this package's test targets.

pub mod bench;
pub mod eval;
pub mod file_tool;
pub mod flags;
pub mod inspect;
pub mod interrupt;
pub mod layout_file;
pub mod model_path;
pub mod npy;
pub mod quantize;
pub mod run;
pub mod tokenize;
