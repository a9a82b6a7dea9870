//! The help the binary gives and the README agree: every argument and flag of every command has a
//! help line, every flag is documented in the README, and every flag the README names exists.

use std::collections::BTreeSet;

use clap::CommandFactory;
use w2v_gpu::cli::Cli;

/// (command path, argument id, long flag if any, has help) for every argument of every command.
fn arguments() -> Vec<(String, String, Option<String>, bool)> {
    fn walk(
        cmd: &clap::Command,
        path: &str,
        out: &mut Vec<(String, String, Option<String>, bool)>,
    ) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let help = arg
                .get_help()
                .is_some_and(|h| !h.to_string().trim().is_empty());
            out.push((
                path.to_string(),
                id.to_string(),
                arg.get_long().map(String::from),
                help,
            ));
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), "w2v-gpu", &mut out);
    out
}

#[test]
fn every_argument_and_flag_has_a_help_line() {
    let missing: Vec<String> = arguments()
        .into_iter()
        .filter(|a| !a.3)
        .map(|a| format!("{} {}", a.0, a.2.map_or(a.1, |l| format!("--{l}"))))
        .collect();
    assert!(missing.is_empty(), "no help line: {missing:?}");
}

#[test]
fn the_readme_documents_every_flag_and_names_no_flag_that_does_not_exist() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let ours: BTreeSet<String> = arguments().into_iter().filter_map(|a| a.2).collect();
    let named: BTreeSet<String> = readme
        .match_indices("--")
        .filter(|(i, _)| {
            // A flag starts a word: `--dim`, not the middle of `a--b` or a table rule `|---|`.
            *i == 0
                || !readme.as_bytes()[i - 1].is_ascii_alphanumeric()
                    && readme.as_bytes()[i - 1] != b'-'
        })
        .map(|(i, _)| {
            readme[i + 2..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect::<String>()
        })
        .filter(|f| f.len() > 1 && f.as_bytes()[0].is_ascii_lowercase())
        .collect();
    let undocumented: Vec<&String> = ours.difference(&named).collect();
    assert!(
        undocumented.is_empty(),
        "flags the README does not mention: {undocumented:?}"
    );
    // Flags of the other tools the README shows (cargo, rustfmt, the test harness, mpirun), our scripts'
    // own flags and --help itself are not the binary's.
    let others = [
        "release",
        "features",
        "no-default-features",
        "ignored",
        "path",
        "git",
        "test",
        "bin",
        "locked",
        "check",
        "no-run",
        "help",
        "bench-corpus",
        "bench-repeat",
        "bench",
        "dry-run",
        "allow-run-as-root",
        "oversubscribe",
        "out",
    ];
    let unknown: Vec<&String> = named
        .iter()
        .filter(|f| !ours.contains(*f) && !others.contains(&f.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "the README names flags no command has: {unknown:?}"
    );
}
