//! The commands that use trained vectors: `similar` (also interactive), `analogy`,
//! `doesnt-match`, `similarity` and `eval`, each as a table or, with `--json`, as JSON.

use std::io::{BufRead, IsTerminal};

use serde_json::{json, Value};

use super::FlagContext;
use crate::cli::{AnalogyArgs, AnswerArgs, DoesntMatchArgs, EvalArgs, SimilarArgs, SimilarityArgs};
use crate::error::Result;
use crate::query::eval::{AnalogyReport, SectionScore};
use crate::query::similarity::{Combine, Index, Neighbour};
use crate::query::wordsim::SimilarityReport;
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

fn neighbours_json(list: &[Neighbour]) -> Value {
    list.iter()
        .map(|n| json!({"word": n.word, "similarity": short(n.similarity)}))
        .collect()
}

/// An f32 as the f64 with the same shortest decimal form (0.9327, not 0.932700037956238).
fn short(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::NAN)
}

impl AnswerArgs {
    fn combine(&self) -> Combine {
        if self.cosmul {
            Combine::CosMul
        } else {
            Combine::Add
        }
    }

    /// Runs one query and prints its answers as a table or a JSON line.
    fn answer(&self, index: &Index, positive: &[&str], negative: &[&str]) -> Result<()> {
        let list = index.query(positive, negative, self.combine(), self.k)?;
        if self.json {
            println!(
                "{}",
                json!({"positive": positive, "negative": negative, "neighbours": neighbours_json(&list)})
            );
        } else {
            print_neighbours(&list);
        }
        Ok(())
    }
}

pub(super) fn similar(a: &SimilarArgs) -> anyhow::Result<()> {
    let index = Index::new(&a.vectors.read()?);
    if a.words.is_empty() && a.negative.is_empty() {
        return interactive(&index, &a.answers);
    }
    let positive: Vec<&str> = a.words.iter().map(String::as_str).collect();
    let negative: Vec<&str> = a.negative.iter().map(String::as_str).collect();
    Ok(a.answers.answer(&index, &positive, &negative)?)
}

/// One query a line from standard input, the vectors loaded once (word2vec's `distance`): words to
/// add, `-word` to subtract; empty lines are skipped, a failing query is reported and the next read.
fn interactive(index: &Index, answers: &AnswerArgs) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let prompt = stdin.is_terminal();
    if prompt {
        eprintln!(
            "{} words of dim {}; a query a line (words to add, -word to subtract), Ctrl-D to end",
            index.len(),
            index.dim()
        );
    }
    let (mut asked, mut failed) = (0usize, 0usize);
    let mut lines = stdin.lock().lines();
    loop {
        if prompt {
            eprint!("> ");
        }
        let Some(line) = lines.next() else { break };
        let line = line.context_stdin()?;
        let (negative, positive): (Vec<&str>, Vec<&str>) = line
            .split_whitespace()
            .partition(|w| w.len() > 1 && w.starts_with('-'));
        if positive.is_empty() && negative.is_empty() {
            continue;
        }
        let negative: Vec<&str> = negative.iter().map(|w| &w[1..]).collect();
        asked += 1;
        match answers.answer(index, &positive, &negative) {
            Ok(()) if !answers.json => println!(),
            Ok(()) => {}
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {asked} queries failed (each said why above)");
    }
    Ok(())
}

trait StdinContext<T> {
    fn context_stdin(self) -> anyhow::Result<T>;
}

impl<T> StdinContext<T> for std::io::Result<T> {
    fn context_stdin(self) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!("cannot read queries from standard input: {e}"))
    }
}

pub(super) fn analogy(a: &AnalogyArgs) -> anyhow::Result<()> {
    let index = Index::new(&a.vectors.read()?);
    Ok(a.answers.answer(&index, &[&a.b, &a.c], &[&a.a])?)
}

pub(super) fn doesnt_match(a: &DoesntMatchArgs) -> anyhow::Result<()> {
    let index = Index::new(&a.vectors.read()?);
    let words: Vec<&str> = a.words.iter().map(String::as_str).collect();
    let odd = index.doesnt_match(&words)?;
    if a.json {
        println!(
            "{}",
            json!({"words": words, "doesnt_match": odd.word, "similarity_to_mean": short(odd.similarity)})
        );
    } else {
        println!("{}", odd.word);
    }
    Ok(())
}

pub(super) fn similarity(a: &SimilarityArgs) -> anyhow::Result<()> {
    let index = Index::new(&a.vectors.read()?);
    let s = index.word_similarity(&a.a, &a.b)?;
    if a.json {
        println!("{}", json!({"a": a.a, "b": a.b, "similarity": short(s)}));
    } else {
        println!("{s:.4}");
    }
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
    let analogies = sections
        .as_ref()
        .map(|s| eval::evaluate_analogies(&index, s, a.restrict_vocab));
    let similarities: Vec<SimilarityReport> = pairs
        .iter()
        .map(|(path, pairs)| {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            wordsim::evaluate_similarity(&index, &name, pairs)
        })
        .collect();
    if a.json {
        let doc = json!({
            "vectors": a.vectors.path.display().to_string(),
            "words": index.len(),
            "dim": index.dim(),
            "analogies": analogies.as_ref().map(analogy_json),
            "similarity": similarities.iter().map(similarity_json).collect::<Vec<_>>(),
        });
        println!("{doc:#}");
        return Ok(());
    }
    if let Some(report) = &analogies {
        println!("{report}");
    }
    for report in &similarities {
        println!("{report}");
    }
    Ok(())
}

fn section_json(s: &SectionScore) -> Value {
    json!({"name": s.name, "correct": s.correct, "scored": s.answered, "skipped": s.skipped,
           "accuracy": s.accuracy()})
}

fn analogy_json(r: &AnalogyReport) -> Value {
    json!({
        "restrict_vocab": r.restrict_vocab,
        "sections": r.sections.iter().map(section_json).collect::<Vec<_>>(),
        "semantic": section_json(&r.semantic),
        "syntactic": section_json(&r.syntactic),
        "total": section_json(&r.total),
    })
}

fn similarity_json(r: &SimilarityReport) -> Value {
    json!({"name": r.name, "spearman": r.spearman, "pearson": r.pearson, "pairs": r.used,
           "skipped": r.skipped})
}
