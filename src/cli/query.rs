//! The commands that use trained vectors: `similar`, `analogy` and `eval`.

use super::FlagContext;
use crate::cli::{AnalogyArgs, EvalArgs, SimilarArgs};
use crate::error::Result;
use crate::query::similarity::{Index, Neighbour};
use crate::query::{eval, wordsim};

fn print_neighbours(list: &[Neighbour]) {
    let width = list
        .iter()
        .map(|n| n.word.chars().count())
        .max()
        .unwrap_or(0);
    for n in list {
        println!("{:<width$}  {:.4}", n.word, n.similarity);
    }
}

pub(super) fn similar(a: &SimilarArgs) -> anyhow::Result<()> {
    let index = Index::new(&a.vectors.read()?);
    print_neighbours(&index.most_similar(&a.word, a.k)?);
    Ok(())
}

pub(super) fn analogy(a: &AnalogyArgs) -> anyhow::Result<()> {
    let index = Index::new(&a.vectors.read()?);
    print_neighbours(&index.analogy(&a.a, &a.b, &a.c, a.k)?);
    Ok(())
}

pub(super) fn eval(a: &EvalArgs) -> anyhow::Result<()> {
    if a.analogies.is_none() && a.similarity.is_empty() {
        anyhow::bail!(
            "eval needs something to score: give --analogies FILE and/or --similarity FILE"
        );
    }
    // Read every input before the (slow) vectors file so a typo fails at once.
    let sections = a
        .analogies
        .as_deref()
        .map(eval::read_analogies)
        .transpose()
        .flag("--analogies")?;
    let pairs = a
        .similarity
        .iter()
        .map(|p| Ok((p, wordsim::read_similarity(p)?)))
        .collect::<Result<Vec<_>>>()
        .flag("--similarity")?;
    let index = Index::new(&a.vectors.read()?);
    if let Some(sections) = &sections {
        println!(
            "{}",
            eval::evaluate_analogies(&index, sections, a.restrict_vocab)
        );
    }
    for (path, pairs) in &pairs {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        println!("{}", wordsim::evaluate_similarity(&index, &name, pairs));
    }
    Ok(())
}
