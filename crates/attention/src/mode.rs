//! The attention modes a user can pick (`--attention causal|pine|anchor`) and their options.

/// How PINE breaks exact ties in segment importance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TieRule {
    /// By a hash of each segment's token ids: order-free, so outputs are exactly invariant.
    #[default]
    ContentHash,
    /// By input order, as the official implementation's stable sort does.
    InputOrder,
}

/// Where anchor mode places segment tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AnchorPositions {
    /// The paper's packed positions: every token at its raw index.
    #[default]
    Continuous,
    /// Every segment restarts right after the prefix (PCW-style); the suffix starts after the
    /// longest segment. Segment order then does not matter.
    Reset,
}

/// An attention mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AttentionMode {
    /// Ordinary causal attention over the concatenated parts.
    #[default]
    Causal,
    /// Position-invariant inference (Wang et al., ICLR 2025).
    Pine(TieRule),
    /// Anchor attention (Wang et al., 2024): segments see only the prefix and themselves.
    Anchor(AnchorPositions),
}
