//! Hostile-input cases: outputs (filled in by its work package).
