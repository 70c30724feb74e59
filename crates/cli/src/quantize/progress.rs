//! A one-line progress bar on stderr (`\r[####    ] 12/272 blk.3.attn_q.weight`), so a long
//! quantization shows it is alive without adding a dependency. Notes are printed on their own
//! lines above the bar. When stderr is not a terminal (a log file, a test) the bar is not drawn,
//! since `\r` redraws would pile up there; notes still are.

use std::io::{IsTerminal, Write};

/// Width of the bar between the brackets, in characters.
const BAR: usize = 30;

/// The state of the progress line: how many steps there are and how wide the last line was,
/// so a shorter line can blank out the rest of a longer one.
pub struct Progress {
    total: usize,
    last_width: usize,
    draw_bar: bool,
}

impl Progress {
    /// A bar for `total` steps (tensors), drawn only when stderr is a terminal.
    pub fn new(total: usize) -> Progress {
        Progress {
            total,
            last_width: 0,
            draw_bar: std::io::stderr().is_terminal(),
        }
    }

    /// Redraws the bar at `done` steps, labelled with what is being worked on.
    pub fn show(&mut self, done: usize, label: &str) {
        if !self.draw_bar {
            return;
        }
        let filled = (BAR * done).checked_div(self.total).unwrap_or(BAR);
        let line = format!(
            "[{}{}] {done}/{} {label}",
            "#".repeat(filled),
            " ".repeat(BAR - filled),
            self.total
        );
        self.draw(&line);
    }

    /// Prints `msg` on a line of its own, leaving the bar to be redrawn below it.
    pub fn note(&mut self, msg: &str) {
        self.draw(&format!("note: {msg}"));
        eprintln!();
        self.last_width = 0;
    }

    /// Ends the bar's line so later output starts on a fresh one.
    pub fn finish(&mut self) {
        if self.last_width > 0 {
            eprintln!();
            self.last_width = 0;
        }
    }

    fn draw(&mut self, line: &str) {
        let width = line.chars().count();
        let pad = self.last_width.saturating_sub(width);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}{}", " ".repeat(pad));
        let _ = err.flush();
        self.last_width = width;
    }
}
