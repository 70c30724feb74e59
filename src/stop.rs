//! [`StopMatcher`]: stop strings over streamed text. Text that could be the start of a stop
//! string is held back until the next text shows whether it is, so a consumer that emits only
//! what the matcher releases never shows any part of a stop string.

/// What [`StopMatcher::push`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopStep {
    /// No stop string yet: this text is safe to emit (possibly empty when everything is held
    /// back).
    Text(String),
    /// A stop string appeared: this is the text before it (still to be emitted); generation
    /// ends here.
    Stop {
        /// The released text before the stop string.
        text: String,
        /// Which stop string matched (an index into those given to [`StopMatcher::new`]).
        index: usize,
    },
}

/// Finds stop strings in text that arrives piece by piece.
///
/// ```
/// use pine::{StopMatcher, StopStep};
///
/// let mut m = StopMatcher::new(["\nUser:"]);
/// assert_eq!(m.push("Hello"), StopStep::Text("Hello".into()));
/// assert_eq!(m.push("!\nUs"), StopStep::Text("!".into())); // "\nUs" may begin "\nUser:"
/// assert_eq!(m.push("er: hi"), StopStep::Stop { text: String::new(), index: 0 });
/// ```
#[derive(Clone, Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

impl StopMatcher {
    /// A matcher for these stop strings (empty strings are ignored: they would stop before
    /// the first character).
    pub fn new<S: Into<String>>(stops: impl IntoIterator<Item = S>) -> StopMatcher {
        StopMatcher {
            stops: stops.into_iter().map(Into::into).collect(),
            held: String::new(),
        }
    }

    /// Whether there are no (non-empty) stop strings, so nothing is ever held back.
    pub fn is_empty(&self) -> bool {
        self.stops.iter().all(String::is_empty)
    }

    /// Adds the next piece of text and says what may be emitted. After a
    /// [`StopStep::Stop`] the matcher should not be used again.
    pub fn push(&mut self, text: &str) -> StopStep {
        self.held.push_str(text);
        let first = self
            .stops
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
            .filter_map(|(i, s)| self.held.find(s.as_str()).map(|at| (at, i)))
            .min();
        if let Some((at, index)) = first {
            let text = self.held[..at].to_string();
            self.held.clear();
            return StopStep::Stop { text, index };
        }
        let keep = self.partial_len();
        let text = self.held[..self.held.len() - keep].to_string();
        self.held.drain(..self.held.len() - keep);
        StopStep::Text(text)
    }

    /// Ends the text without a stop string: returns what was held back.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// The text held back so far (a possible start of a stop string).
    pub fn held(&self) -> &str {
        &self.held
    }

    /// The length of the longest end of the held text that is the start of a stop string.
    fn partial_len(&self) -> usize {
        let held = self.held.as_str();
        held.char_indices()
            .map(|(i, _)| &held[i..])
            .find(|tail| self.stops.iter().any(|s| s.starts_with(tail)))
            .map_or(0, str::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes every piece and returns the emitted text and whether a stop string ended it.
    fn run(stops: &[&str], pieces: &[&str]) -> (String, Option<usize>) {
        let mut m = StopMatcher::new(stops.iter().copied());
        let mut out = String::new();
        for p in pieces {
            match m.push(p) {
                StopStep::Text(t) => out.push_str(&t),
                StopStep::Stop { text, index } => {
                    out.push_str(&text);
                    return (out, Some(index));
                }
            }
        }
        out.push_str(&m.finish());
        (out, None)
    }

    #[test]
    fn no_stop_strings_release_everything_at_once() {
        let mut m = StopMatcher::new(Vec::<String>::new());
        assert!(m.is_empty());
        assert_eq!(m.push("abc"), StopStep::Text("abc".into()));
        assert_eq!(m.held(), "");
    }

    #[test]
    fn a_stop_string_split_over_pieces_is_never_emitted() {
        assert_eq!(
            run(&["STOP"], &["ab", "cS", "T", "OP", "x"]),
            ("abc".into(), Some(0))
        );
        assert_eq!(run(&["STOP"], &["abSTOPcd"]), ("ab".into(), Some(0)));
    }

    #[test]
    fn a_false_start_is_released_once_it_cannot_match() {
        let mut m = StopMatcher::new(["STOP"]);
        assert_eq!(m.push("xST"), StopStep::Text("x".into()));
        assert_eq!(m.held(), "ST");
        assert_eq!(m.push("ART"), StopStep::Text("START".into()));
        assert_eq!(run(&["STOP"], &["ST", "ST", "OP"]), ("ST".into(), Some(0)));
    }

    #[test]
    fn the_earliest_stop_wins_and_held_text_comes_out_at_the_end() {
        assert_eq!(run(&["b", "abc"], &["xabc"]), ("x".into(), Some(1)));
        assert_eq!(run(&["cd", "b"], &["abcd"]), ("a".into(), Some(1)));
        assert_eq!(run(&["STOP"], &["end", "ST"]), ("endST".into(), None));
    }

    #[test]
    fn empty_stop_strings_are_ignored_and_multibyte_text_is_cut_at_characters() {
        assert_eq!(run(&[""], &["abc"]), ("abc".into(), None));
        let mut m = StopMatcher::new(["éclair"]);
        assert_eq!(m.push("caf\u{e9}"), StopStep::Text("caf".into()));
        assert_eq!(m.push("s"), StopStep::Text("\u{e9}s".into()));
        assert_eq!(run(&["→|"], &["a→", "|b"]), ("a".into(), Some(0)));
    }
}
