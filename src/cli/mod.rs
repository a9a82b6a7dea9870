//! The command line: clap flags → a validated configuration → the command that runs it.
//!
//! Every check that can fail on user input happens before any long work, and fails with one
//! line naming the flag and the fix.

mod args;
mod bench;
mod device;
mod info;
mod memory;
mod query;
mod resume;
mod synthetic;
mod train;

pub use args::*;

use crate::error::Result;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(a) => train::train(&a),
        Command::Bench(a) => bench::bench(&a),
        Command::Similar(a) => query::similar(&a),
        Command::Analogy(a) => query::analogy(&a),
        Command::Eval(a) => query::eval(&a),
        Command::Info(a) => info::info(&a),
        Command::Synthetic(a) => synthetic::synthetic(&a),
    }
}
