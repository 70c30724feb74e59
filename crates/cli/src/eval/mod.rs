//! `pine-eval`: how much a model's answers depend on the order of their parts, under causal,
//! PINE and anchor attention. One idea per file: the command line ([`args`]), the data sets
//! ([`data`]), the orders an item is shown in ([`orders`]), the three tasks ([`judge`],
//! [`retrieval`], [`rag`]), what a mode's run cost ([`cost`]), the tables ([`table`]), the
//! JSON file ([`output`]), the SVG figures ([`plot`]) and the progress bar ([`progress`]).

pub mod answer;
pub mod args;
pub mod cost;
pub mod data;
pub mod judge;
pub mod orders;
pub mod output;
pub mod plot;
pub mod progress;
pub mod rag;
pub mod retrieval;
pub mod table;

use std::fmt::Display;
use std::path::{Path, PathBuf};

use clap::Parser;
use pine::{AnchorPositions, AttentionMode, CacheType, Error, Model, ModelBuilder, TieRule};

use crate::flags::AttentionArg;
use args::{CommonArgs, EvalArgs, Task};

/// An attention mode as the reports name it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mode {
    /// `causal`, `pine` or `anchor`.
    pub name: &'static str,
    /// The mode: PINE with hash ties and anchor with reset positions, both order-invariant.
    pub attention: AttentionMode,
}

impl Mode {
    /// The mode of an `--attention` value.
    pub fn of(arg: AttentionArg) -> Mode {
        match arg {
            AttentionArg::Causal => Mode {
                name: "causal",
                attention: AttentionMode::Causal,
            },
            AttentionArg::Pine => Mode {
                name: "pine",
                attention: AttentionMode::Pine(TieRule::ContentHash),
            },
            AttentionArg::Anchor => Mode {
                name: "anchor",
                attention: AttentionMode::Anchor(AnchorPositions::Reset),
            },
        }
    }

    /// Whether an item's orders must each be evaluated (causal, or any mode with
    /// `--all-orders`); an order-invariant mode is evaluated once and its result holds for
    /// every order.
    pub fn runs_every_order(&self, all_orders: bool) -> bool {
        all_orders || self.attention == AttentionMode::Causal
    }
}

/// The modes of `--attention`, each once, in the given order.
pub fn modes(common: &CommonArgs) -> Vec<Mode> {
    let mut modes: Vec<Mode> = Vec::new();
    for m in common.attention.iter().map(|&a| Mode::of(a)) {
        if !modes.contains(&m) {
            modes.push(m);
        }
    }
    modes
}

/// Checks the flags that need no model (the device, the output paths) before loading.
fn check(common: &CommonArgs) -> Result<(), String> {
    crate::flags::check_device(common.backend, common.device)?;
    crate::flags::check_vk_exact(common.backend, common.vk_exact)?;
    if let Some(dir) = &common.plot {
        if dir.exists() && !dir.is_dir() {
            return Err(format!("--plot {}: not a directory", dir.display()));
        }
    }
    Ok(())
}

/// The loader of the model the flags name, and its path.
fn builder(common: &CommonArgs) -> Result<(ModelBuilder, PathBuf), String> {
    let path =
        crate::model_path::resolve(common.model.as_deref().or(common.model_flag.as_deref()))?;
    let mut builder = Model::builder(&path)
        .backend(crate::flags::backend_kind(common.backend))
        .threads(common.threads.unwrap_or(0))
        .vulkan_numerics(crate::flags::numerics(common.vk_exact))
        .context_size(common.ctx_size)
        .cache_type(CacheType::from(common.cache_type))
        .on_note(|m| eprintln!("pine-eval: {m}"));
    if let Some(d) = common.device {
        builder = builder.device(d);
    }
    Ok((builder, path))
}

/// Says on stderr which model runs where.
fn loaded(path: &Path, arch: &dyn Display, backend: &str) {
    eprintln!("pine-eval: {} ({arch}), {backend}", path.display());
}

/// Loads the model the flags name.
pub fn load(common: &CommonArgs) -> Result<Model, String> {
    let (builder, path) = builder(common)?;
    let model = builder.load().map_err(|e| match e {
        Error::Context { n_ctx, source } => format!("-c/--ctx-size {n_ctx}: {source}"),
        e => e.to_string(),
    })?;
    loaded(&path, &model.params().arch, &model.backend_description());
    Ok(model)
}

/// Runs `pine-eval` and returns its exit code.
pub fn main() -> i32 {
    let args = EvalArgs::parse();
    let result = match &args.task {
        Task::Judge(a) => check(&a.common).and_then(|()| judge::run(a)),
        Task::Retrieval(a) => check(&a.common).and_then(|()| retrieval::run(a)),
        Task::Rag(a) => check(&a.common).and_then(|()| rag::run(a)),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("pine-eval: error: {e}");
            1
        }
    }
}
