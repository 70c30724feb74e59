//! The segmented prompt of the pine/anchor pp test: the same N tokens as the causal test, split
//! into a prefix (~8%), segments of unequal lengths and a suffix (~4%), so the benchmark
//! exercises what PINE costs on a realistic prompt (uneven documents between instructions and
//! a question) rather than a degenerate one.

use pine_attention::Layout;

/// Splits `tokens` into prefix, `n_segments` segments and suffix. Segment `i` gets a share
/// proportional to `n_segments + i` (the longest about twice the shortest). Errors when the
/// segment region cannot give every segment a token.
pub fn segmented(tokens: &[u32], n_segments: usize) -> Result<Layout, String> {
    let n = tokens.len();
    if n_segments == 0 {
        return Err("--segments must be at least 1".into());
    }
    let prefix = (n * 8 / 100).max(1);
    let suffix = (n * 4 / 100).max(1);
    if n < prefix + suffix + n_segments {
        return Err(format!(
            "a prompt of {n} tokens is too short for a prefix, {n_segments} segments and a suffix"
        ));
    }
    let region = n - prefix - suffix;
    let weights: Vec<usize> = (0..n_segments).map(|i| n_segments + i).collect();
    let total: usize = weights.iter().sum();
    // Each segment gets at least one token; the rest is shared by weight, the remainder to the last.
    let spare = region - n_segments;
    let mut lens: Vec<usize> = weights.iter().map(|w| 1 + spare * w / total).collect();
    let used: usize = lens.iter().sum();
    *lens.last_mut().expect("n_segments >= 1") += region - used;
    let mut at = prefix;
    let segments = lens
        .iter()
        .map(|&l| {
            let s = tokens[at..at + l].to_vec();
            at += l;
            s
        })
        .collect();
    Ok(Layout {
        prefix: tokens[..prefix].to_vec(),
        segments,
        suffix: tokens[at..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_every_token_in_order() {
        let tokens: Vec<u32> = (0..512).collect();
        let l = segmented(&tokens, 4).unwrap();
        assert_eq!(l.tokens(), tokens);
        assert_eq!(l.prefix.len(), 40);
        assert_eq!(l.suffix.len(), 20);
        let lens: Vec<usize> = l.segments.iter().map(Vec::len).collect();
        assert_eq!(lens.len(), 4);
        assert!(lens.windows(2).all(|w| w[0] < w[1]), "{lens:?}");
    }

    #[test]
    fn tiny_prompts_still_split_or_fail_clearly() {
        let tokens: Vec<u32> = (0..16).collect();
        let l = segmented(&tokens, 4).unwrap();
        assert_eq!(l.len(), 16);
        assert!(l.segments.iter().all(|s| !s.is_empty()));
        assert!(segmented(&tokens[..5], 4).is_err());
    }
}
