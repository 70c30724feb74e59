//! Progress lines on stderr for evaluations that take a while (a long prompt, a PINE layout
//! of thousands of segments): quiet for the first two seconds, then a line every two seconds.

use std::time::{Duration, Instant};

use pine_model::{Progress, ProgressFn};

/// How long an evaluation runs before its progress is shown, and between two lines.
const EVERY: Duration = Duration::from_secs(2);

/// A callback for [`pine_model::Session::on_progress`] that prints to stderr.
pub(crate) fn printer() -> ProgressFn {
    let mut start = Instant::now();
    let mut last: Option<Instant> = None;
    Box::new(move |p: Progress| {
        let now = Instant::now();
        if p.done == 0 && p.layers == 1 {
            // The first layer of a new evaluation.
            start = now;
            last = None;
        }
        let quiet = now - start < EVERY || last.is_some_and(|l| now - l < EVERY);
        if quiet || p.done + p.batch >= p.total && p.layers == p.n_layers {
            return;
        }
        last = Some(now);
        eprintln!(
            "pine-run: prompt {:.0} % ({} of {} tokens, layer {}/{} of a {}-token batch) after {:.1} s",
            100.0 * p.fraction(),
            p.done,
            p.total,
            p.layers,
            p.n_layers,
            p.batch,
            (now - start).as_secs_f64()
        );
    })
}
