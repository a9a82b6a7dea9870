//! Training progress on stderr (a bar when stderr is a terminal) and the one-line summary.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::train::{BatchProgress, Trained};

/// An indicatif bar over the run's raw words: words/s, loss, lr, ETA. Hidden when stderr is not a
/// terminal (logs and pipes get only the summary).
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(words_total: u64) -> Progress {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr_with_hz(5)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(words_total), target);
        let style = ProgressStyle::with_template(
            "{bar:30.cyan/blue} {percent:>3}% {human_pos}/{human_len} words  {per_sec:.green}  {msg}  ETA {eta}",
        )
        .expect("the template is valid")
        .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(500));
        Progress { bar }
    }

    pub fn update(&self, p: &BatchProgress) {
        self.bar.set_length(p.words_total);
        self.bar.set_position(p.words_done);
        self.bar.set_message(format!(
            "epoch {}  loss {:.4}  lr {:.6}",
            p.epoch, p.loss, p.lr
        ));
    }

    /// Prints a line above the bar (or plainly to stdout when the bar is hidden); a closed or
    /// full stdout is an error to report, never a panic.
    pub fn println(&self, line: &str) -> std::io::Result<()> {
        if self.bar.is_hidden() {
            use std::io::Write;
            writeln!(std::io::stdout(), "{line}")
        } else {
            self.bar.println(line);
            Ok(())
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The summary every run prints: words, wall time, words/s, final loss.
pub fn summary(t: &Trained) -> String {
    format!(
        "trained {} words in {:.2} s: {} words/s, final loss {:.4}",
        thousands(t.words),
        t.seconds,
        thousands(t.words_per_sec().round() as u64),
        t.final_loss()
    )
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
