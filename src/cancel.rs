//! [`CancelToken`]: stops a generation from another thread (a client that hung up, a stop
//! button) between two tokens.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A shared flag a generation checks before each token; clones share the flag.
///
/// ```
/// let token = pine::CancelToken::new();
/// let other = token.clone();
/// other.cancel();
/// assert!(token.is_cancelled());
/// ```
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Asks every generation holding this token (or a clone) to end before its next token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`CancelToken::cancel`] was called on this token or a clone.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
