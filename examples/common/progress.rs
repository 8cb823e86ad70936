//! Training progress: a progress bar (indicatif) with each epoch's line printed above it when
//! stdout is a terminal; the same lines, plainly, when it is not (a pipe, a file, CI).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress over a known number of epochs.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar of `epochs` steps labelled `what` (e.g. "training"), or plain output.
    pub fn new(epochs: usize, what: &str) -> Self {
        if !std::io::stdout().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(epochs as u64), ProgressDrawTarget::stdout());
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:40.cyan/blue}] epoch {pos}/{len}, {elapsed_precise} elapsed, ~{eta} left",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        Progress { bar: Some(bar) }
    }

    /// One finished epoch: its line goes above the bar (or to stdout), the bar advances.
    pub fn epoch_done(&self, line: &str) {
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => println!("{line}"),
        }
    }

    /// Removes the bar; the epoch lines stay.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
