//! Training progress on stderr and the one-line summary. On a terminal, an indicatif bar; when
//! stderr is not one (a batch job, `nohup`, a notebook), one plain line every log interval; with
//! `--quiet`, nothing. The lines the run prints to stdout go through here too (above the bar, or
//! not at all when quiet).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::train::{BatchProgress, Trained};

/// How much a run prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Errors and warnings only (`-q`).
    Quiet,
    #[default]
    Normal,
    /// Also per-epoch timing and the chosen step (`-v`).
    Verbose,
}

enum Display {
    Bar(ProgressBar),
    /// Plain lines to stderr, one every `every`; `last` is when the previous one was printed,
    /// `pending` the progress since then, and `printed` whether any line was.
    Lines {
        every: Duration,
        last: Instant,
        pending: Option<BatchProgress>,
        printed: bool,
    },
    Silent,
}

/// The run's progress display and its stdout lines.
pub struct Progress {
    display: Display,
    verbosity: Verbosity,
    started: Instant,
    /// Words done at the first batch seen (a resumed run starts past zero), for the rate.
    first_words: Option<u64>,
    epochs: u32,
}

impl Progress {
    /// A bar when stderr is a terminal, else a line every `log_every`; nothing when quiet.
    pub fn new(
        words_total: u64,
        epochs: u32,
        verbosity: Verbosity,
        log_every: Duration,
    ) -> Progress {
        let display = if verbosity == Verbosity::Quiet {
            Display::Silent
        } else if std::io::stderr().is_terminal() {
            Display::Bar(bar(words_total))
        } else {
            Display::Lines {
                every: log_every,
                last: Instant::now(),
                pending: None,
                printed: false,
            }
        };
        Progress {
            display,
            verbosity,
            started: Instant::now(),
            first_words: None,
            epochs,
        }
    }

    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// Seconds since the run's progress began.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn update(&mut self, p: &BatchProgress) {
        let first = *self.first_words.get_or_insert(p.words_done);
        let (elapsed, epochs) = (self.started.elapsed(), self.epochs);
        match &mut self.display {
            Display::Bar(bar) => {
                bar.set_length(p.words_total);
                bar.set_position(p.words_done);
                bar.set_message(format!(
                    "epoch {}  loss {:.4}  lr {:.6}",
                    p.epoch, p.loss, p.lr
                ));
            }
            Display::Lines {
                every,
                last,
                pending,
                printed,
            } => {
                if last.elapsed() >= *every {
                    *last = Instant::now();
                    *pending = None;
                    *printed = true;
                    eprintln!("{}", log_line(p, epochs, first, elapsed.as_secs_f64()));
                } else {
                    *pending = Some(*p);
                }
            }
            Display::Silent => {}
        }
    }

    /// Prints a line to stdout (above the bar); nothing when quiet. A closed or full stdout is an
    /// error to report, never a panic.
    pub fn println(&self, line: &str) -> std::io::Result<()> {
        match &self.display {
            Display::Bar(bar) => {
                bar.println(line);
                Ok(())
            }
            _ if self.verbosity == Verbosity::Quiet => Ok(()),
            _ => writeln!(std::io::stdout(), "{line}"),
        }
    }

    /// Clears the bar, or prints the run's last progress when a line was printed before it (a
    /// run shorter than the interval prints none).
    pub fn finish(&mut self) {
        match &mut self.display {
            Display::Bar(bar) => bar.finish_and_clear(),
            Display::Lines {
                pending, printed, ..
            } => {
                if let Some(p) = pending.take().filter(|_| *printed) {
                    let first = self.first_words.unwrap_or(0);
                    eprintln!(
                        "{}",
                        log_line(&p, self.epochs, first, self.started.elapsed().as_secs_f64())
                    );
                }
            }
            Display::Silent => {}
        }
    }
}

fn bar(words_total: u64) -> ProgressBar {
    let bar =
        ProgressBar::with_draw_target(Some(words_total), ProgressDrawTarget::stderr_with_hz(5));
    let style = ProgressStyle::with_template(
        "{bar:30.cyan/blue} {percent:>3}% {human_pos}/{human_len} words  {rate:.green}  {msg}  ETA {eta}",
    )
    .expect("the template is valid")
    .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{} words/s", thousands(state.per_sec().round() as u64));
    })
    .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

/// One log line: `progress 42.0% 1,234/2,938 words, 5,678 words/s, loss 0.4321, lr 0.012345,
/// epoch 2/5, elapsed 1.2 s, ETA 3 s` (the rate over this run's words, the ETA from that rate).
pub fn log_line(p: &BatchProgress, epochs: u32, first_words: u64, elapsed: f64) -> String {
    let pct = if p.words_total == 0 {
        100.0
    } else {
        100.0 * p.words_done as f64 / p.words_total as f64
    };
    let rate = p.words_done.saturating_sub(first_words) as f64 / elapsed.max(1e-9);
    let eta = if rate > 0.0 {
        format!(
            "{:.0} s",
            p.words_total.saturating_sub(p.words_done) as f64 / rate
        )
    } else {
        "?".into()
    };
    format!(
        "progress {pct:.1}% {}/{} words, {} words/s, loss {:.4}, lr {:.6}, epoch {}/{epochs}, elapsed {elapsed:.1} s, ETA {eta}",
        thousands(p.words_done),
        thousands(p.words_total),
        thousands(rate.round() as u64),
        p.loss,
        p.lr,
        p.epoch
    )
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
        if i > 0 && (s.len() - i).is_multiple_of(3) {
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

    #[test]
    fn a_log_line_names_every_figure() {
        let p = BatchProgress {
            words_done: 1500,
            words_total: 6000,
            loss: 0.43214,
            lr: 0.0125,
            epoch: 2,
        };
        assert_eq!(
            log_line(&p, 5, 500, 2.0),
            "progress 25.0% 1,500/6,000 words, 500 words/s, loss 0.4321, lr 0.012500, epoch 2/5, elapsed 2.0 s, ETA 9 s"
        );
        assert!(log_line(&p, 5, 1500, 2.0).ends_with("ETA ?"));
    }
}
