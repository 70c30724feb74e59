//! Timing one test: an untimed warm-up run, then the timed repetitions. pp times a prefill (or
//! a layout evaluation under PINE/anchor) into an empty cache; tg times single-token decodes.
//! On a Vulkan device that writes timestamps, each repetition's device time is read too, and
//! on Vulkan its counters (dispatches, barriers, submissions, fence waits, bytes read back) and,
//! while profiling, its device time by shader. tg decodes as greedy generation does
//! ([`Session::decode_greedy`]): the argmax is taken on the backend, so a GPU reads back a
//! token id, not the logits.

use std::time::{Duration, Instant};

use pine_attention::{AttentionMode, Layout};
use pine_model::AnyBackend;
use pine_model::{Logits, Session};
use pine_vulkan::{profile_since, ShaderTime, VkCounters};

/// What one test does; the label follows llama-bench (`pp512`, `tg128`, `tg128 @ d512`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Test {
    /// Evaluate this prompt into an empty cache (`pp N`).
    Prompt(Vec<u32>),
    /// Decode these ids one at a time (`tg N`). With `depth: None` the cache starts empty, as
    /// llama-bench's tg (whose first id is BOS); with a layout, the layout is evaluated first
    /// (untimed) and the decodes continue under the attention mode.
    Gen {
        /// The ids fed, one decode each.
        ids: Vec<u32>,
        /// The prompt evaluated before the timed decodes, if any.
        depth: Option<Layout>,
    },
}

impl Test {
    /// llama-bench's name for the test.
    pub fn label(&self) -> String {
        match self {
            Test::Prompt(ids) => format!("pp{}", ids.len()),
            Test::Gen { ids, depth: None } => format!("tg{}", ids.len()),
            Test::Gen {
                ids,
                depth: Some(l),
            } => format!("tg{} @ d{}", ids.len(), l.len()),
        }
    }
}

/// One timed repetition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Wall-clock time.
    pub wall: Duration,
    /// Time the GPU spent on the repetition's submissions (GPU timestamps), where known.
    pub device: Option<Duration>,
    /// The Vulkan backend's work in the repetition.
    pub counters: Option<VkCounters>,
    /// The repetition's device time by shader (Vulkan, while profiling), longest first.
    pub profile: Vec<ShaderTime>,
}

/// The Vulkan backend's counters and profile so far.
fn vulkan_state(session: &Session<AnyBackend>) -> Option<(VkCounters, Vec<ShaderTime>)> {
    match &session.model.backend {
        AnyBackend::Vulkan(v) => Some((v.counters(), v.profile())),
        AnyBackend::Cpu(_) => None,
    }
}

/// The backend's running device-time total, where it keeps one.
fn device_time(session: &Session<AnyBackend>) -> Option<Duration> {
    match &session.model.backend {
        AnyBackend::Vulkan(v) => v.device_time(),
        AnyBackend::Cpu(_) => None,
    }
}

/// Times `work` on `session`: wall clock, and device time as the difference of two readings.
fn timed(
    session: &mut Session<AnyBackend>,
    work: impl FnOnce(&mut Session<AnyBackend>) -> Result<(), pine_model::ModelError>,
) -> Result<Sample, String> {
    let before = device_time(session);
    let vk_before = vulkan_state(session);
    let t = Instant::now();
    work(session).map_err(|e| e.to_string())?;
    let wall = t.elapsed();
    let device = device_time(session)
        .zip(before)
        .map(|(after, before)| after.saturating_sub(before));
    let (counters, profile) = match (vulkan_state(session), vk_before) {
        (Some((c, p)), Some((c0, p0))) => (Some(c.since(&c0)), profile_since(&p, &p0)),
        _ => (None, Vec::new()),
    };
    Ok(Sample {
        wall,
        device,
        counters,
        profile,
    })
}

/// Runs `test` under every mode of `modes` once untimed and `reps` times timed, the modes'
/// repetitions interleaved (in reversed order every other round) so that the machine's drift
/// and noise fall on every mode alike: their same-run ratios are what comparisons read.
/// Returns each mode's timed runs.
pub fn measure(
    session: &mut Session<AnyBackend>,
    test: &Test,
    modes: &[AttentionMode],
    segments: usize,
    reps: usize,
) -> Result<Vec<Vec<Sample>>, String> {
    for &mode in modes {
        once(session, test, mode, segments)?;
    }
    let mut samples = vec![Vec::with_capacity(reps); modes.len()];
    for round in 0..reps {
        let mut order: Vec<usize> = (0..modes.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for m in order {
            samples[m].push(once(session, test, modes[m], segments)?);
        }
    }
    Ok(samples)
}

/// One run of `test` from an empty cache; only the measured part is inside the clock.
fn once(
    session: &mut Session<AnyBackend>,
    test: &Test,
    mode: AttentionMode,
    segments: usize,
) -> Result<Sample, String> {
    session.reset();
    match test {
        Test::Prompt(ids) if mode == AttentionMode::Causal => {
            timed(session, |s| s.prefill(ids, Logits::Last).map(drop))
        }
        Test::Prompt(ids) => {
            let layout = super::layout::segmented(ids, segments)?;
            timed(session, |s| {
                s.evaluate(&layout, mode, Logits::Last).map(drop)
            })
        }
        Test::Gen { ids, depth } => {
            if let Some(layout) = depth {
                session
                    .evaluate(layout, mode, Logits::Last)
                    .map_err(|e| e.to_string())?;
            }
            timed(session, |s| {
                ids.iter().try_for_each(|&id| s.decode_greedy(id).map(drop))
            })
        }
    }
}
