//! Markdown tables for stdout (they paste into a README as they are).

/// A markdown table: a header row, a rule, then the rows, columns padded to their widths.
pub fn markdown(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, &w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    out += &line(widths.iter().map(|&w| "-".repeat(w)).collect());
    for row in rows {
        out += &line(row.clone());
    }
    out
}

/// A fraction with three decimals, or `-` when there is none.
pub fn fraction(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{x:.3}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_are_padded_to_the_widest_cell() {
        let t = super::markdown(&["mode", "x"], &[vec!["causal".into(), "0.5".into()]]);
        assert_eq!(t, "| mode   | x   |\n| ------ | --- |\n| causal | 0.5 |\n");
    }
}
