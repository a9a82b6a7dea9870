//! `completions` and `man`: shell completion scripts and the manual page, generated from the same
//! clap definitions as `--help`, so they cannot drift from it.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

pub(super) fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "w2v-gpu", &mut out);
    write_stdout(&out)
}

pub(super) fn man() -> anyhow::Result<()> {
    let mut out = Vec::new();
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    // One section per subcommand after the main page, as `git help` pages list theirs.
    for sub in cmd.get_subcommands() {
        let title = format!("w2v-gpu-{}", sub.get_name());
        clap_mangen::Man::new(sub.clone())
            .title(title)
            .render(&mut out)?;
    }
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| anyhow::anyhow!("cannot write to standard output: {e}"))
}
