//! Stop strings over streamed text: text is released as soon as it cannot be the start of a
//! stop string, and generation ends before the first stop string, which is never released.

/// Holds back streamed text that may begin a stop string.
#[derive(Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    /// Text received but not released: always shorter than the longest stop string.
    held: String,
}

impl StopMatcher {
    /// A matcher for `stops` (empty strings are ignored).
    pub fn new(stops: &[String]) -> StopMatcher {
        StopMatcher {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            held: String::new(),
        }
    }

    /// Adds `text`; returns the text now safe to release and whether a stop string was found
    /// (then everything from it on is dropped and the matcher should not be pushed again).
    pub fn push(&mut self, text: &str) -> (String, bool) {
        self.held.push_str(text);
        let first = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min();
        if let Some(at) = first {
            let out = self.held[..at].to_string();
            self.held.clear();
            return (out, true);
        }
        // The longest tail of the held text that some stop string starts with stays held.
        let keep = self
            .stops
            .iter()
            .map(|s| {
                (1..s.len().min(self.held.len() + 1))
                    .rev()
                    .find(|&k| s.is_char_boundary(k) && self.held.ends_with(&s[..k]))
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0);
        let out = self.held[..self.held.len() - keep].to_string();
        self.held.drain(..self.held.len() - keep);
        (out, false)
    }

    /// The held text, released at the end of generation (no stop string completed).
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut m = StopMatcher::new(&stops);
        let mut out = String::new();
        for p in pieces {
            let (t, stop) = m.push(p);
            out.push_str(&t);
            if stop {
                return (out, true);
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn text_before_the_stop_string_is_released_and_the_rest_dropped() {
        assert_eq!(
            run(&["\n\n"], &["Hi", " there\n", "\nmore"]),
            ("Hi there".into(), true)
        );
        assert_eq!(
            run(&["END", "\n"], &["abc", "EN", "D tail"]),
            ("abc".into(), true)
        );
        assert_eq!(run(&["x"], &["abc"]), ("abc".into(), false));
    }

    #[test]
    fn a_partial_match_is_held_then_released_when_it_fails() {
        let stops = vec!["STOP".to_string()];
        let mut m = StopMatcher::new(&stops);
        assert_eq!(m.push("go ST"), ("go ".into(), false));
        assert_eq!(m.push("O"), (String::new(), false));
        assert_eq!(m.push("P!"), (String::new(), true));
        let mut m = StopMatcher::new(&stops);
        assert_eq!(m.push("ST"), (String::new(), false));
        assert_eq!(m.push("ART"), ("START".into(), false));
        assert_eq!(m.push("ST"), (String::new(), false));
        assert_eq!(m.finish(), "ST");
    }

    #[test]
    fn the_earliest_stop_string_wins_and_multibyte_text_is_cut_on_boundaries() {
        assert_eq!(run(&["b", "a"], &["xab"]), ("x".into(), true));
        assert_eq!(run(&["é!"], &["caf", "é", "é!"]), ("café".into(), true));
        assert_eq!(run(&["", "z"], &["abc"]), ("abc".into(), false));
    }
}
