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
            eprintln!(
                "error: {}; see --help",
                clap_one_line(&e.render().to_string())
            );
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

/// clap's whole error (the problem, the missing arguments, its "a similar argument exists" tip,
/// the usage line) as one line: its lines joined by `; `, blank lines and the closing "try
/// '--help'" dropped.
fn clap_one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect();
    let mut out = String::new();
    let mut in_list = false;
    for line in lines {
        let line = line.strip_prefix("error: ").unwrap_or(line);
        let heading = line.starts_with("tip:") || line.starts_with("Usage:");
        // A list under a line ending in ':' continues that line, its items joined by ", ".
        if out.ends_with(':') && !heading {
            out.push(' ');
            in_list = true;
        } else if in_list && !heading {
            out.push_str(", ");
        } else if !out.is_empty() {
            out.push_str("; ");
            in_list = false;
        }
        out.push_str(line);
    }
    if out.is_empty() {
        out.push_str("invalid command line");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clap_one_line;

    #[test]
    fn clap_errors_keep_the_tip_the_missing_arguments_and_the_usage() {
        let text = "error: unexpected argument '--dimm' found\n\n  tip: a similar argument exists: '--dim'\n\nUsage: w2v-gpu train --dim <N>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            clap_one_line(text),
            "unexpected argument '--dimm' found; tip: a similar argument exists: '--dim'; Usage: w2v-gpu train --dim <N>"
        );
        let text = "error: the following required arguments were not provided:\n  --vectors <FILE>\n  <WORD>\n\nUsage: w2v-gpu similar --vectors <FILE>\n";
        assert_eq!(
            clap_one_line(text),
            "the following required arguments were not provided: --vectors <FILE>, <WORD>; Usage: w2v-gpu similar --vectors <FILE>"
        );
    }
}
