//! Hostile-input cases: flags (filled in by its work package).
