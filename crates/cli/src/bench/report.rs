//! The report: one row per (model, threads, attention, test) in markdown or CSV as each test
//! finishes (so a long run shows progress), and one JSON document at the end with every
//! repetition and the machine it ran on, for scripts such as `benches/compare-llamacpp.sh`.

use std::time::Duration;

use pine_vulkan::{ShaderTime, VkCounters};
use serde_json::{json, Value};

use super::model_info::ModelInfo;
use super::stats::{summarize, Summary};

/// One finished test.
#[derive(Clone, Debug)]
pub struct Row {
    /// The model measured.
    pub model: ModelInfo,
    /// Path of the model file as given.
    pub model_path: String,
    /// Backend name (`cpu`, `vulkan`).
    pub backend: String,
    /// The Vulkan backend's numeric mode (`fast`, `exact`); `None` on the CPU.
    pub numerics: Option<String>,
    /// Threads of the backend's pool.
    pub threads: usize,
    /// Attention mode name (`causal`, `pine`, `anchor`).
    pub attention: String,
    /// Segments of the pine/anchor layout (None for causal).
    pub segments: Option<usize>,
    /// KV cache type name.
    pub cache_type: String,
    /// llama-bench-style test name (`pp512`, `tg128`, `tg128 @ d512`).
    pub test: String,
    /// Prompt tokens of a pp test, 0 for tg.
    pub n_prompt: usize,
    /// Generated tokens of a tg test, 0 for pp.
    pub n_gen: usize,
    /// Tokens already in the cache when a tg test starts.
    pub n_depth: usize,
    /// Each timed repetition.
    pub samples: Vec<Duration>,
    /// Each repetition's device time (GPU timestamps), when the backend measured every one.
    pub device: Option<Vec<Duration>>,
    /// Layers of the model (the dispatches per layer divide by it).
    pub n_layers: usize,
    /// The Vulkan backend's work in the last repetition.
    pub counters: Option<VkCounters>,
    /// The last repetition's device time by shader (`--vk-profile`), longest first.
    pub profile: Vec<ShaderTime>,
}

/// The Vulkan counters of one test, per token (of the prompt for pp, decoded for tg).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerToken {
    /// Dispatches per token and layer (the head's dispatches spread over the layers).
    pub dispatches_per_layer: f64,
    /// Dispatches per token.
    pub dispatches: f64,
    /// Pipeline barriers per token.
    pub barriers: f64,
    /// Submissions per token.
    pub submits: f64,
    /// Fence waits per token.
    pub fence_waits: f64,
    /// Bytes read back per token.
    pub readback_bytes: f64,
    /// Microseconds per token the host was not waiting on the device (building, recording
    /// and submitting passes, reading back, sampling): what a faster GPU cannot take away.
    pub host_us: f64,
}

impl Row {
    /// Tokens per second of each repetition.
    pub fn samples_ts(&self) -> Vec<f64> {
        self.rates(&self.samples)
    }

    /// Tokens per second of device time of each repetition, when known.
    pub fn device_ts(&self) -> Option<Vec<f64>> {
        self.device.as_ref().map(|d| self.rates(d))
    }

    fn rates(&self, times: &[Duration]) -> Vec<f64> {
        let n = (self.n_prompt + self.n_gen) as f64;
        times
            .iter()
            .map(|d| n / d.as_secs_f64().max(1e-12))
            .collect()
    }

    /// Tokens of one repetition.
    fn tokens(&self) -> f64 {
        (self.n_prompt + self.n_gen).max(1) as f64
    }

    /// The Vulkan counters per token, where measured (of the last repetition, as the
    /// counters are).
    pub fn per_token(&self) -> Option<PerToken> {
        let c = self.counters?;
        let t = self.tokens();
        let wall = self.samples.last().map_or(0, Duration::as_nanos) as f64;
        Some(PerToken {
            dispatches_per_layer: c.dispatches as f64 / t / self.n_layers.max(1) as f64,
            dispatches: c.dispatches as f64 / t,
            barriers: c.barriers as f64 / t,
            submits: c.submits as f64 / t,
            fence_waits: c.fence_waits as f64 / t,
            readback_bytes: c.readback_bytes as f64 / t,
            host_us: (wall - c.wait_ns as f64).max(0.0) / t / 1e3,
        })
    }

    /// Mean, sd and median of tokens per second.
    pub fn summary(&self) -> Summary {
        summarize(&self.samples_ts())
    }

    fn attention_cell(&self) -> String {
        match self.segments {
            Some(s) => format!("{} ({s} seg)", self.attention),
            None => self.attention.clone(),
        }
    }

    /// The row as a JSON object (field names follow llama-bench's `-o json` where they exist).
    pub fn to_json(&self) -> Value {
        let s = self.summary();
        let ns: Vec<u128> = self.samples.iter().map(Duration::as_nanos).collect();
        let device_ns: Option<Vec<u128>> = self
            .device
            .as_ref()
            .map(|d| d.iter().map(Duration::as_nanos).collect());
        let device_ts = self.device_ts();
        let avg_ns = ns.iter().sum::<u128>() / ns.len().max(1) as u128;
        let per_token = self.per_token().map(|c| {
            json!({
                "dispatches_per_layer": c.dispatches_per_layer,
                "dispatches": c.dispatches,
                "barriers": c.barriers,
                "submits": c.submits,
                "fence_waits": c.fence_waits,
                "readback_bytes": c.readback_bytes,
                "host_us": c.host_us,
            })
        });
        let profile: Vec<Value> = self
            .profile
            .iter()
            .map(|p| {
                json!({
                    "shader": p.shader,
                    "dispatches_per_token": p.dispatches as f64 / self.tokens(),
                    "device_ns_per_token": p.time.as_nanos() as f64 / self.tokens(),
                })
            })
            .collect();
        json!({
            "model_filename": self.model_path,
            "model_name": self.model.name,
            "model_type": self.model.dominant_type,
            "model_size": self.model.size_bytes,
            "model_n_params": self.model.n_params,
            "backend": self.backend,
            "vk_numerics": self.numerics,
            "n_threads": self.threads,
            "attention": self.attention,
            "segments": self.segments,
            "type_k": self.cache_type,
            "type_v": self.cache_type,
            "test": self.test,
            "n_prompt": self.n_prompt,
            "n_gen": self.n_gen,
            "n_depth": self.n_depth,
            "samples_ns": ns,
            "samples_ts": self.samples_ts(),
            "avg_ns": avg_ns,
            "avg_ts": s.mean,
            "stddev_ts": s.sd,
            "median_ts": s.median,
            "samples_device_ns": device_ns,
            "samples_device_ts": device_ts,
            "median_device_ts": device_ts.map(|t| summarize(&t).median),
            "n_layers": self.n_layers,
            "vk_per_token": per_token,
            "vk_profile": profile,
        })
    }
}

/// Markdown table header (llama-bench's columns plus attention, median, the median over
/// device time where the backend measures it, and on Vulkan per token: dispatches per layer,
/// pipeline barriers, submissions, fence waits, bytes read back and the host's microseconds
/// outside fence waits).
pub fn md_header() -> String {
    "| model | size | params | type | backend | threads | attention | test | t/s | median t/s | device t/s | disp/layer | barriers | submits | waits | read B | host µs |\n\
     | ----- | ---: | -----: | ---- | ------- | ------: | --------- | ---: | --: | ---------: | ---------: | ---------: | -------: | ------: | ----: | -----: | ------: |"
        .to_string()
}

/// The per-token counter cells of a markdown row (`-` where not measured).
fn counter_cells(r: &Row) -> String {
    match r.per_token() {
        Some(c) => format!(
            "{:.2} | {:.1} | {:.2} | {:.2} | {:.0} | {:.0}",
            c.dispatches_per_layer,
            c.barriers,
            c.submits,
            c.fence_waits,
            c.readback_bytes,
            c.host_us
        ),
        None => "- | - | - | - | - | -".into(),
    }
}

/// The device time by shader per token of a row measured with `--vk-profile`, as a markdown
/// table (empty when the row has no profile).
pub fn md_profile(r: &Row) -> String {
    if r.profile.is_empty() {
        return String::new();
    }
    let total: f64 = r.profile.iter().map(|p| p.time.as_secs_f64()).sum();
    let mut out = format!(
        "\n{} {}: device time by shader per token\n\n| shader | dispatches | µs | share |\n| ------ | ---------: | -: | ----: |\n",
        r.model.name, r.test
    );
    for p in &r.profile {
        out += &format!(
            "| {} | {:.2} | {:.1} | {:.1} % |\n",
            p.shader,
            p.dispatches as f64 / r.tokens(),
            p.time.as_secs_f64() * 1e6 / r.tokens(),
            100.0 * p.time.as_secs_f64() / total.max(1e-12),
        );
    }
    out
}

/// The backend cell of the table and CSV: the name, with the numeric mode on Vulkan
/// (`vulkan (fast)`).
fn backend_cell(r: &Row) -> String {
    match &r.numerics {
        Some(n) => format!("{} ({n})", r.backend),
        None => r.backend.clone(),
    }
}

/// One markdown row.
pub fn md_row(r: &Row) -> String {
    let s = r.summary();
    format!(
        "| {} | {:.2} MiB | {} | {} | {} | {} | {} | {} | {:.2} ± {:.2} | {:.2} | {} | {} |",
        r.model.name,
        r.model.size_bytes as f64 / (1024.0 * 1024.0),
        params_cell(r.model.n_params),
        r.model.dominant_type,
        backend_cell(r),
        r.threads,
        r.attention_cell(),
        r.test,
        s.mean,
        s.sd,
        s.median,
        device_cell(r),
        counter_cells(r)
    )
}

/// Median tokens/s of device time (GPU timestamps), or `-` where the backend measures none.
fn device_cell(r: &Row) -> String {
    r.device_ts()
        .map_or("-".into(), |t| format!("{:.2}", summarize(&t).median))
}

/// CSV header line.
pub fn csv_header() -> String {
    "model,size_bytes,n_params,type,backend,threads,attention,segments,cache_type,test,n_prompt,n_gen,n_depth,avg_ts,stddev_ts,median_ts,median_device_ts".to_string()
}

/// One CSV line (the model name is quoted; the other cells never hold commas).
pub fn csv_row(r: &Row) -> String {
    let s = r.summary();
    format!(
        "\"{}\",{},{},{},{},{},{},{},{},{},{},{},{},{:.4},{:.4},{:.4},{}",
        r.model.name.replace('"', "\"\""),
        r.model.size_bytes,
        r.model.n_params,
        r.model.dominant_type,
        backend_cell(r),
        r.threads,
        r.attention,
        r.segments.map(|s| s.to_string()).unwrap_or_default(),
        r.cache_type,
        r.test,
        r.n_prompt,
        r.n_gen,
        r.n_depth,
        s.mean,
        s.sd,
        s.median,
        r.device_ts()
            .map_or(String::new(), |t| format!("{:.4}", summarize(&t).median))
    )
}

/// Parameters as llama-bench prints them (`134.52 M`, `1.24 B`); `?` when unknown.
fn params_cell(n: u64) -> String {
    match n {
        0 => "?".into(),
        n if n >= 1_000_000_000 => format!("{:.2} B", n as f64 / 1e9),
        n => format!("{:.2} M", n as f64 / 1e6),
    }
}

/// Machine and build facts for the JSON report.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    /// CPU model name.
    pub cpu: Option<String>,
    /// Logical cores.
    pub nproc: usize,
    /// Peak RSS in KiB.
    pub peak_rss_kib: Option<u64>,
    /// pine's git commit.
    pub commit: Option<String>,
}

/// The whole JSON document.
pub fn json_report(rows: &[Row], m: &Machine) -> Value {
    json!({
        "tool": "pine-bench",
        "version": env!("CARGO_PKG_VERSION"),
        "build_commit": m.commit,
        "cpu_info": m.cpu,
        "nproc": m.nproc,
        "peak_rss_kib": m.peak_rss_kib,
        "results": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
    })
}
