//! `pine-eval`'s command line: a subcommand per task, each with the model, mode and output
//! flags of [`CommonArgs`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::flags::{AttentionArg, BackendArg, CacheArg};

/// Measure how much a model's answers depend on the order of their parts (answers to judge,
/// documents to read), under causal, PINE and anchor attention.
#[derive(Parser, Debug)]
#[command(name = "pine-eval", version, about)]
pub struct EvalArgs {
    /// The evaluation to run.
    #[command(subcommand)]
    pub task: Task,
}

/// The evaluations.
#[derive(Subcommand, Debug)]
pub enum Task {
    /// A judge picks the better answer (`{"question", "answers": [..], "label"?}` per line),
    /// read from the log-probabilities of the answers' labels, in several orders of the answers.
    Judge(JudgeArgs),
    /// "Lost in the Middle" key-value retrieval: random UUID pairs, the asked key's pair at
    /// each tested position, the greedy answer checked for its value.
    Retrieval(RetrievalArgs),
    /// Question answering over documents (`{"question", "docs": [..], "answer"}` per line): the
    /// greedy answer checked for the expected one, over rotations of the documents.
    Rag(RagArgs),
}

/// The flags every evaluation takes: the model as pine-run loads it, the modes, the outputs.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Model file (default: the SmolLM2 model that ./models/fetch.sh downloads).
    #[arg(value_name = "MODEL.gguf", conflicts_with = "model_flag")]
    pub model: Option<PathBuf>,
    /// Model file (as the positional argument).
    #[arg(short = 'm', long = "model", value_name = "MODEL.gguf")]
    pub model_flag: Option<PathBuf>,
    /// Threads (default: the machine's cores; at least 1, capped at the core count).
    #[arg(short = 't', long, allow_negative_numbers = true, value_parser = crate::flags::threads)]
    pub threads: Option<usize>,
    /// Context size in tokens.
    #[arg(short = 'c', long = "ctx-size", default_value_t = 4096)]
    pub ctx_size: usize,
    /// Compute backend (auto: a Vulkan GPU if present, else the CPU).
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// Vulkan device index for `--backend vulkan`.
    #[arg(long)]
    pub device: Option<usize>,
    /// Exact Vulkan numerics (`--vk-exact`; help: `flags::VK_EXACT_HELP`).
    #[arg(long, help = crate::flags::VK_EXACT_HELP)]
    pub vk_exact: bool,
    /// KV cache element type.
    #[arg(long, value_enum, default_value_t = CacheArg::F16)]
    pub cache_type: CacheArg,
    /// Attention modes to compare (comma-separated): causal runs every order of an item; pine
    /// (hash ties) and anchor (reset positions) are order-invariant and run each item once.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [AttentionArg::Causal, AttentionArg::Pine, AttentionArg::Anchor])]
    pub attention: Vec<AttentionArg>,
    /// Evaluate at most this many items.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seed of the generated items and sampled orders.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also run pine and anchor in every order (checks their invariance instead of relying
    /// on it).
    #[arg(long)]
    pub all_orders: bool,
    /// Evaluate every order from an empty cache instead of re-using the item's common prefix
    /// (to measure what the sharing saves).
    #[arg(long)]
    pub no_prefix_cache: bool,
    /// Write every item's per-order results and the summaries to this JSON file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write SVG figures into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
}

/// The labels of a judge's answers (`--labels`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LabelsArg {
    /// Letters for pairs, digits for lists of three or more.
    Auto,
    /// "A", "B", …
    Letters,
    /// "1", "2", …
    Digits,
}

/// `pine-eval judge`.
#[derive(Args, Debug)]
pub struct JudgeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The items: JSON lines `{"question": Q, "answers": [A, B, ..], "label": index?}`.
    #[arg(long, value_name = "FILE.jsonl")]
    pub data: PathBuf,
    /// Causal orders per item: all permutations of the answers when there are at most this
    /// many, else a seeded sample of this many (the input order first). At least 2.
    #[arg(long, default_value_t = 6, value_parser = at_least_two)]
    pub orders: usize,
    /// The answers' labels.
    #[arg(long, value_enum, default_value_t = LabelsArg::Auto)]
    pub labels: LabelsArg,
    /// The judge's system message (default: pine's fair-judge message).
    #[arg(long)]
    pub system: Option<String>,
    /// The instruction after the answers; `{labels}` becomes "A or B", "1, 2 or 3".
    #[arg(long)]
    pub instruction: Option<String>,
}

/// `pine-eval retrieval`.
#[derive(Args, Debug)]
pub struct RetrievalArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Key-value pairs per item (comma-separated: one run per count; each at least 2).
    #[arg(long, value_delimiter = ',', default_values_t = [10, 20], value_parser = at_least_two)]
    pub docs: Vec<usize>,
    /// Items per document count; each item asks one key, placed at every tested position.
    #[arg(long, default_value_t = 10, value_parser = at_least_one)]
    pub items: usize,
    /// Gold positions tested per item, evenly spread from first to last (at least 2; capped at
    /// the pair count).
    #[arg(long, default_value_t = 5, value_parser = at_least_two)]
    pub positions: usize,
    /// Most tokens of each greedy answer (it ends earlier at a newline); small models often
    /// repeat the 36-character key before the value, so this leaves room for both.
    #[arg(long, default_value_t = 128, value_parser = at_least_one)]
    pub answer_tokens: usize,
    /// Prompts answered at once (their causal decoding shares one forward per step); each
    /// answer is the one a prompt gets alone. Every slot keeps a `-c/--ctx-size` cache.
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    pub batch: usize,
}

/// `pine-eval rag`.
#[derive(Args, Debug)]
pub struct RagArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The items: JSON lines `{"question": Q, "docs": [D, ..], "answer": A}`.
    #[arg(long, value_name = "FILE.jsonl")]
    pub data: PathBuf,
    /// Causal rotations of the documents per item (at most the document count).
    #[arg(long, default_value_t = 4, value_parser = at_least_one)]
    pub orders: usize,
    /// Tokens generated per answer.
    #[arg(short = 'n', long, default_value_t = 32, value_parser = at_least_one)]
    pub max_tokens: usize,
    /// Prompts answered at once (their causal decoding shares one forward per step); each
    /// answer is the one a prompt gets alone. Every slot keeps a `-c/--ctx-size` cache.
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    pub batch: usize,
}

fn at_least(s: &str, min: usize) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(v) if v >= min => Ok(v),
        _ => Err(format!("`{s}` is not a whole number of at least {min}")),
    }
}

fn at_least_one(s: &str) -> Result<usize, String> {
    at_least(s, 1)
}

fn at_least_two(s: &str) -> Result<usize, String> {
    at_least(s, 2)
}
