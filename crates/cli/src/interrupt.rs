//! SIGINT and SIGTERM while an output is being written: the temporaries of the outputs in
//! flight ([`pine_gguf::output`]) are removed and the process exits with 130 (SIGINT) or 143
//! (SIGTERM), so an interrupted `pine-quantize` or `pine-run --logits-out` leaves nothing
//! behind. A signal that comes when no temporary is live ends the process as it would have
//! without the handler. Only those two tools, and pine-run only with `--logits-out`, install it.

use std::sync::OnceLock;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Installs the handler (once per process; later calls return the first call's result).
pub fn clean_up_outputs_on_signals() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED.get_or_init(install).clone()
}

fn install() -> Result<(), String> {
    let mut signals =
        Signals::new([SIGINT, SIGTERM]).map_err(|e| format!("cannot handle signals: {e}"))?;
    std::thread::Builder::new()
        .name("pine-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                if pine_gguf::output::remove_temporaries_before_exit() == 0 {
                    let _ = signal_hook::low_level::emulate_default_handler(sig);
                }
                std::process::exit(128 + sig);
            }
        })
        .map(drop)
        .map_err(|e| format!("cannot handle signals: {e}"))
}
