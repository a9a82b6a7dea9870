//! `synthetic`: write the built-in corpus and its analogy questions to files.

use std::io::Write;

use super::FlagContext;
use crate::cli::SyntheticArgs;
use crate::input::synthetic;
use crate::output::fsutil;

pub(super) fn synthetic(a: &SyntheticArgs) -> anyhow::Result<()> {
    if a.sentences_per_word == 0 {
        anyhow::bail!(
            "--sentences-per-word must be at least 1 (got 0); try --sentences-per-word 400"
        );
    }
    if let Some(q) = &a.questions {
        fsutil::check_writable(q).flag("--questions")?;
    }
    let s = synthetic::generate(a.seed, a.sentences_per_word);
    fsutil::write_atomic(&a.output, |w| w.write_all(s.text.as_bytes())).flag("--output")?;
    println!(
        "corpus written to '{}' ({} lines)",
        a.output.display(),
        s.text.lines().count()
    );
    if let Some(q) = &a.questions {
        fsutil::write_atomic(q, |w| {
            w.write_all(synthetic::questions_text(&s.sections).as_bytes())
        })
        .flag("--questions")?;
        let n: usize = s.sections.iter().map(|s| s.questions.len()).sum();
        println!("questions written to '{}' ({n} questions)", q.display());
    }
    Ok(())
}
