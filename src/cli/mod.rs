//! The command line: clap flags → a validated configuration → the command that runs it.
//!
//! Every check that can fail on user input happens before any long work, and fails with one
//! line naming the flag and the fix. This is the binary's edge: failures are `anyhow` errors
//! whose context names the flag or file; the library below keeps its own error type.

mod args;
mod bench;
mod carry;
mod device;
pub(crate) mod encode;
mod export;
mod help;
mod info;
mod memory;
mod preflight;
mod query;
mod ranks;
mod resume;
mod run_hooks;
mod signals;
mod synthetic;
mod train;
mod values;

pub use args::*;
pub use signals::{exit_status, print_error};

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(a) => train::train(&a),
        Command::Bench(a) => bench::bench(&a),
        Command::Similar(a) => query::similar(&a),
        Command::Analogy(a) => query::analogy(&a),
        Command::DoesntMatch(a) => query::doesnt_match(&a),
        Command::Similarity(a) => query::similarity(&a),
        Command::Eval(a) => query::eval(&a),
        Command::Info(a) => info::info(&a),
        Command::Synthetic(a) => synthetic::synthetic(&a),
        Command::Encode(a) => encode::encode(&a),
        Command::Export(a) => export::export(&a),
        Command::Completions(a) => help::completions(a.shell),
        Command::Man => help::man(),
    }
}

/// Context naming the flag a library failure came from.
trait FlagContext<T> {
    /// The failure, behind `flag` unless its message already names it (so no flag is said twice).
    fn flag(self, flag: &str) -> anyhow::Result<T>;
}

impl<T> FlagContext<T> for crate::Result<T> {
    fn flag(self, flag: &str) -> anyhow::Result<T> {
        self.map_err(|e| {
            let named = e.to_string().contains(flag);
            let e = anyhow::Error::new(e);
            if named {
                e
            } else {
                e.context(flag.to_string())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_is_named_once() {
        let bare: crate::Result<()> = Err(crate::Error::Config("cannot write 'm.csv'".into()));
        assert_eq!(
            format!("{:#}", bare.flag("--metrics").unwrap_err()),
            "--metrics: cannot write 'm.csv'"
        );
        let named: crate::Result<()> = Err(crate::Error::Config("--metrics 'm': bad".into()));
        assert_eq!(
            format!("{:#}", named.flag("--metrics").unwrap_err()),
            "--metrics 'm': bad"
        );
    }
}
