//! `pine-cli`: the logic of pine's command-line tools; the binaries in the `pine` package are
//! thin `main`s over these modules so end-to-end tests can run them.

pub mod bench;
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
