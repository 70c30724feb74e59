//! Timing one test: an untimed warm-up run, then the timed repetitions. pp times a prefill (or
//! a layout evaluation under PINE/anchor) into an empty cache; tg times single-token decodes.

use std::time::{Duration, Instant};

use pine_attention::{AttentionMode, Layout};
use pine_model::AnyBackend;
use pine_model::{Logits, Session};

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

/// Runs `test` once untimed and `reps` times timed; returns each timed run's duration.
pub fn measure(
    session: &mut Session<AnyBackend>,
    test: &Test,
    mode: AttentionMode,
    segments: usize,
    reps: usize,
) -> Result<Vec<Duration>, String> {
    once(session, test, mode, segments)?;
    (0..reps)
        .map(|_| once(session, test, mode, segments))
        .collect()
}

/// One run of `test` from an empty cache; only the measured part is inside the clock.
fn once(
    session: &mut Session<AnyBackend>,
    test: &Test,
    mode: AttentionMode,
    segments: usize,
) -> Result<Duration, String> {
    session.reset();
    let err = |e: pine_model::ModelError| e.to_string();
    match test {
        Test::Prompt(ids) if mode == AttentionMode::Causal => {
            let t = Instant::now();
            session.prefill(ids, Logits::Last).map_err(err)?;
            Ok(t.elapsed())
        }
        Test::Prompt(ids) => {
            let layout = super::layout::segmented(ids, segments)?;
            let t = Instant::now();
            session.evaluate(&layout, mode, Logits::Last).map_err(err)?;
            Ok(t.elapsed())
        }
        Test::Gen { ids, depth } => {
            if let Some(layout) = depth {
                session.evaluate(layout, mode, Logits::Last).map_err(err)?;
            }
            let t = Instant::now();
            for &id in ids {
                session.decode(id).map_err(err)?;
            }
            Ok(t.elapsed())
        }
    }
}
