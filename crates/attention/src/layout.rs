//! A prompt layout: `prefix | segment_1 … segment_n | suffix`, each part tokenized on its own
//! (PINE's convention, so a segment's tokens never depend on its neighbours).

/// The token ids of each part of a prompt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Tokens before the segments (system prompt, BOS, instructions).
    pub prefix: Vec<u32>,
    /// The interchangeable parts (documents, candidate answers).
    pub segments: Vec<Vec<u32>>,
    /// Tokens after the segments (question, chat turn closing).
    pub suffix: Vec<u32>,
}

impl Layout {
    /// A plain prompt: everything is prefix.
    pub fn plain(tokens: Vec<u32>) -> Layout {
        Layout {
            prefix: tokens,
            ..Layout::default()
        }
    }

    /// Drops empty segments (they carry no tokens and PINE would divide by their length) and
    /// returns how many were dropped, so callers can warn.
    pub fn drop_empty_segments(&mut self) -> usize {
        let before = self.segments.len();
        self.segments.retain(|s| !s.is_empty());
        before - self.segments.len()
    }

    /// All tokens in raw (cache) order.
    pub fn tokens(&self) -> Vec<u32> {
        let mut t = self.prefix.clone();
        for s in &self.segments {
            t.extend_from_slice(s);
        }
        t.extend_from_slice(&self.suffix);
        t
    }

    /// Total tokens.
    pub fn len(&self) -> usize {
        self.prefix.len() + self.segment_tokens() + self.suffix.len()
    }

    /// True when the layout has no tokens.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tokens in the segment region (S).
    pub fn segment_tokens(&self) -> usize {
        self.segments.iter().map(Vec::len).sum()
    }

    /// The geometry of the layout in the raw (cache) order.
    pub fn geometry(&self) -> Geometry {
        let mut starts = Vec::with_capacity(self.segments.len());
        let mut at = self.prefix.len();
        for s in &self.segments {
            starts.push(at);
            at += s.len();
        }
        Geometry {
            prefix: self.prefix.len(),
            lens: self.segments.iter().map(Vec::len).collect(),
            starts,
            region: self.segment_tokens(),
            suffix: self.suffix.len(),
        }
    }
}

/// Where each part of a layout sits in the cache (raw order: prefix, segments, suffix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// P: prefix tokens.
    pub prefix: usize,
    /// ℓ_i: tokens of each segment.
    pub lens: Vec<usize>,
    /// Cache index of each segment's first token.
    pub starts: Vec<usize>,
    /// S: tokens in all segments.
    pub region: usize,
    /// Suffix tokens.
    pub suffix: usize,
}

impl Geometry {
    /// Cache index of the first token after the segment region.
    pub fn region_end(&self) -> usize {
        self.prefix + self.region
    }

    /// Cache indices of segment `i`.
    pub fn segment(&self, i: usize) -> std::ops::Range<usize> {
        self.starts[i]..self.starts[i] + self.lens[i]
    }

    /// Segment containing cache index `c`, if any.
    pub fn segment_of(&self, c: usize) -> Option<usize> {
        (0..self.lens.len()).find(|&i| self.segment(i).contains(&c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_follows_raw_order() {
        let mut l = Layout {
            prefix: vec![1, 2],
            segments: vec![vec![3, 4, 5], vec![], vec![6]],
            suffix: vec![7],
        };
        assert_eq!(l.drop_empty_segments(), 1);
        let g = l.geometry();
        assert_eq!(g.starts, vec![2, 5]);
        assert_eq!(g.region_end(), 6);
        assert_eq!(g.segment_of(5), Some(1));
        assert_eq!(g.segment_of(6), None);
        assert_eq!(l.tokens(), vec![1, 2, 3, 4, 5, 6, 7]);
    }
}
