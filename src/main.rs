//! The `w2v-gpu` binary: parse the command line, run it, print any error (its context chain
//! joined) as one line.

use std::process::ExitCode;

use clap::error::ErrorKind;

use w2v_gpu::cli;

fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string().replace('\n', " ");
        // Output piped into `head` and closed early: stop quietly, as Unix tools do.
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        eprintln!("error: internal error, please report it: {msg}");
    }));
    let parsed = match cli::parse() {
        Ok(c) => c,
        Err(e) => {
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                let _ = e.print();
                return ExitCode::from(2);
            }
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid command line");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("error: {first}; see --help");
            return ExitCode::from(2);
        }
    };
    match cli::run(parsed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            cli::print_error(&one_line(&e));
            ExitCode::from(cli::exit_status(&e))
        }
    }
}

/// The context chain of `e` joined by `: `, ending at the library's error: its message already
/// says its own cause (an I/O error's reason), which `{:#}` would print a second time.
fn one_line(e: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for cause in e.chain() {
        parts.push(cause.to_string());
        if cause.is::<w2v_gpu::Error>() {
            break;
        }
    }
    parts.join(": ")
}
