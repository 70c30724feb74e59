//! Hostile-input cases: sizes (filled in by its work package).
