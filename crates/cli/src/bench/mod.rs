//! `pine-bench`: llama-bench for pine. For every model × thread count it loads the model on a
//! fresh CPU backend and times pp (prompt processing into an empty cache) and tg (one-token
//! decodes) tests, each after one warm-up run, and reports mean ± sd and median tokens/s.
//!
//! Differences from llama-bench, on purpose: prompt ids are a deterministic pseudo-random draw
//! of ordinary vocabulary tokens (llama-bench: `rand() % n_vocab`); tg starts, like llama-bench,
//! from an empty cache with BOS as its first id and times all N decodes; under
//! `--attention pine|anchor` pp evaluates the same N tokens as a segmented layout and tg
//! decodes after that layout (`tg128 @ d512`). Threads are not pinned here; run under
//! `taskset` for pinned numbers.

mod args;
mod layout;
mod machine;
mod measure;
mod model_info;
mod report;
mod stats;
mod tokens;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser;
use pine_attention::{AnchorPositions, AttentionMode, TieRule};
use pine_backend::{Backend, CacheType, MatmulMode};
use pine_gguf::Gguf;
use pine_model::{AnyBackend, Session, Transformer};

pub use args::{AttentionArg, BackendArg, BenchArgs, CacheArg, OutputArg};
pub use layout::segmented;
pub use stats::{summarize, Summary};

use measure::Test;
use report::Row;

/// Seed of the prompt draw; fixed so every run feeds the same ids.
const SEED: u64 = 0x70696E65;

/// Entry point of the `pine-bench` binary; returns the process exit code.
pub fn main() -> i32 {
    let args = BenchArgs::parse();
    match run(&args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("pine-bench: error: {e}");
            1
        }
    }
}

fn run(args: &BenchArgs) -> Result<(), String> {
    validate(args)?;
    let models: Vec<PathBuf> = if args.models.is_empty() {
        vec![crate::model_path::resolve(None)?]
    } else {
        args.models
            .iter()
            .map(|m| crate::model_path::resolve(Some(m)))
            .collect::<Result<_, _>>()?
    };
    let mut out = std::io::stdout();
    match args.output {
        OutputArg::Md => writeln!(out, "{}", report::md_header()),
        OutputArg::Csv => writeln!(out, "{}", report::csv_header()),
        OutputArg::Json => Ok(()),
    }
    .map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for path in &models {
        for &threads in &args.threads {
            bench_model(args, path, threads, &mut rows, &mut out)?;
        }
    }
    if args.output == OutputArg::Md {
        for row in &rows {
            write!(out, "{}", report::md_profile(row)).map_err(|e| e.to_string())?;
        }
    }
    let machine = report::Machine {
        cpu: machine::cpu_model(),
        nproc: machine::logical_cores(),
        peak_rss_kib: machine::peak_rss_kib(),
        commit: machine::git_commit(),
    };
    let doc = report::json_report(&rows, &machine);
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    if args.output == OutputArg::Json {
        writeln!(out, "{text}").map_err(|e| e.to_string())?;
    }
    if let Some(p) = &args.json_out {
        std::fs::write(p, format!("{text}\n")).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    eprintln!(
        "\npine-bench: cpu {} ({} logical cores), peak RSS {:.1} MiB, pine {}",
        machine.cpu.as_deref().unwrap_or("unknown"),
        machine.nproc,
        machine.peak_rss_kib.unwrap_or(0) as f64 / 1024.0,
        machine.commit.as_deref().unwrap_or("unknown commit"),
    );
    Ok(())
}

/// Rejects settings that would make a meaningless or failing run before any model is loaded.
fn validate(args: &BenchArgs) -> Result<(), String> {
    crate::flags::check_device(args.backend, args.device)?;
    crate::flags::check_vk_exact(args.backend, args.vk_exact)?;
    let segmented = args.attention.iter().any(|a| *a != AttentionArg::Causal);
    if segmented && args.n_gen.iter().any(|&n| n > 0) && depth(args) == 0 {
        return Err("pine/anchor tg tests decode after a prompt: give a -p value > 0".into());
    }
    Ok(())
}

/// Prompt length the pine/anchor tg tests decode after: the first non-zero `-p`.
fn depth(args: &BenchArgs) -> usize {
    args.n_prompt.iter().copied().find(|&p| p > 0).unwrap_or(0)
}

/// The attention mode of a flag value (default tie rule / anchor positions).
fn mode_of(a: AttentionArg) -> AttentionMode {
    match a {
        AttentionArg::Causal => AttentionMode::Causal,
        AttentionArg::Pine => AttentionMode::Pine(TieRule::default()),
        AttentionArg::Anchor => AttentionMode::Anchor(AnchorPositions::default()),
    }
}

/// Loads `path` on a `threads`-thread backend and runs every test on it.
fn bench_model(
    args: &BenchArgs,
    path: &Path,
    threads: usize,
    rows: &mut Vec<Row>,
    out: &mut impl Write,
) -> Result<(), String> {
    let ctx = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = Arc::new(Gguf::open(path).map_err(|e| crate::model_path::gguf_error(path, &e))?);
    let info = model_info::model_info(path, &file);
    let choice = crate::flags::backend_choice(args.backend, args.device, args.vk_exact, threads);
    let backend = AnyBackend::open(choice, MatmulMode::Native, &mut |m| {
        eprintln!("pine-bench: {m}")
    })
    .map_err(|e| ctx(&e))?;
    let mut model = Transformer::load(Arc::clone(&file), backend).map_err(|e| ctx(&e))?;
    if args.vk_profile {
        match &mut model.backend {
            AnyBackend::Vulkan(v) => v.set_profiling(true).map_err(|e| ctx(&e))?,
            AnyBackend::Cpu(_) => return Err("--vk-profile needs the Vulkan backend".into()),
        }
    }
    let n_vocab = model.params.n_vocab;
    let n_layers = model.params.n_layers;
    let max_p = args.n_prompt.iter().copied().max().unwrap_or(0);
    let max_n = args.n_gen.iter().copied().max().unwrap_or(0);
    let n_ctx = (max_p + max_n).max(1);
    let cache = CacheType::from(args.cache_type);
    let mut session = Session::new(model, n_ctx, cache).map_err(|e| ctx(&e))?;
    let pool = tokens::ordinary_ids(&file, n_vocab);
    let bos = tokens::bos(&file).filter(|&b| (b as usize) < n_vocab);
    let segmented_run = args.attention.iter().any(|a| *a != AttentionArg::Causal);
    let mut tests = Vec::new();
    for &p in args.n_prompt.iter().filter(|&&p| p > 0) {
        tests.push(Test::Prompt(
            tokens::TokenStream::new(pool.clone(), SEED).take(p),
        ));
    }
    for &n in args.n_gen.iter().filter(|&&n| n > 0) {
        let mut stream = tokens::TokenStream::new(pool.clone(), SEED ^ 1);
        // In a run that compares modes, causal decodes at the same depth too, so the tg
        // rows compare like with like.
        let test = if segmented_run {
            let prompt = tokens::TokenStream::new(pool.clone(), SEED).take(depth(args));
            Test::Gen {
                ids: stream.take(n),
                depth: Some(layout::segmented(&prompt, args.segments)?),
            }
        } else {
            let mut ids = vec![bos.unwrap_or_else(|| stream.next_id())];
            ids.extend(stream.take(n - 1));
            Test::Gen { ids, depth: None }
        };
        tests.push(test);
    }
    let modes: Vec<AttentionMode> = args.attention.iter().map(|&a| mode_of(a)).collect();
    for test in &tests {
        let samples = measure::measure(&mut session, test, &modes, args.segments, args.repetitions)
            .map_err(|e| format!("{} {}: {e}", path.display(), test.label()))?;
        for (&attention, samples) in args.attention.iter().zip(samples) {
            let segments = (attention != AttentionArg::Causal).then_some(args.segments);
            let (n_prompt, n_gen, n_depth) = match test {
                Test::Prompt(ids) => (ids.len(), 0, 0),
                Test::Gen { ids, depth } => (0, ids.len(), depth.as_ref().map_or(0, |l| l.len())),
            };
            let row = Row {
                model: info.clone(),
                model_path: path.display().to_string(),
                backend: session.model.backend.name().into(),
                numerics: session.model.backend.numerics().map(|n| n.to_string()),
                threads: match &session.model.backend {
                    AnyBackend::Cpu(c) => c.threads(),
                    AnyBackend::Vulkan(_) => threads,
                },
                attention: format!("{attention:?}").to_lowercase(),
                segments,
                cache_type: format!("{:?}", args.cache_type).to_lowercase(),
                test: test.label(),
                n_prompt,
                n_gen,
                n_depth,
                samples: samples.iter().map(|s| s.wall).collect(),
                device: samples.iter().map(|s| s.device).collect(),
                n_layers,
                counters: samples.last().and_then(|s| s.counters),
                profile: samples.last().map_or_else(Vec::new, |s| s.profile.clone()),
            };
            let line = match args.output {
                OutputArg::Md => Some(report::md_row(&row)),
                OutputArg::Csv => Some(report::csv_row(&row)),
                OutputArg::Json => None,
            };
            if let Some(line) = line {
                writeln!(out, "{line}").map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())?;
            }
            rows.push(row);
        }
    }
    Ok(())
}
