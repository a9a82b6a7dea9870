//! The word-analogy benchmark (word2vec's questions-words format) with gensim's exact rules;
//! word-pair similarity, which shares its vocabulary rules, is in [`super::wordsim`].
//!
//! Matching gensim 4's `KeyedVectors.evaluate_word_analogies` and `evaluate_word_pairs` with their
//! defaults (`case_insensitive=True`, `dummy4unknown=False`):
//! - words are compared upper-cased (Unicode upper case, as Python's `str.upper`); when several
//!   rows share an upper-case form, the most frequent one (lowest row) stands for it;
//! - a question or pair with a word outside the vocabulary is skipped and counted, not scored;
//! - an analogy `a b c d` is answered by the five rows nearest to `unit(b̂ − â + ĉ)` among the
//!   allowed rows, the three input rows left out; the answer is the first of them whose upper-case
//!   form is not one of the inputs' (if none qualifies, the last of the five), and it is correct when
//!   it equals `d` upper-cased.
//! - `restrict_vocab = N` allows only the first N rows (the N most frequent words) both as question
//!   words and as answers. gensim's own default is 300 000 rows; `None` here means every row.
//!   Word-pair similarity always uses every row.
//!
//! Sections whose name starts with `gram` are syntactic, the rest semantic (word2vec's split).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::input::read::{read_input, utf8_lines};
use crate::query::similarity::{top_k, Index};

/// One `: name` section of an analogy file and its questions `a b c d` ("a is to b as c is to d").
#[derive(Clone, Debug, PartialEq)]
pub struct AnalogySection {
    pub name: String,
    pub questions: Vec<[String; 4]>,
}

/// Parses word2vec's questions-words format; `source` only names the input in errors.
pub fn parse_analogies(text: &str, source: &Path) -> Result<Vec<AnalogySection>> {
    let mut sections: Vec<AnalogySection> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix(':') {
            sections.push(AnalogySection {
                name: name.trim().to_string(),
                questions: Vec::new(),
            });
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let question: [&str; 4] = words.as_slice().try_into().map_err(|_| {
            Error::format(
                source,
                format!("line {}: expected a question of 4 words 'a b c d' or a section header ': name', found {line:?}", i + 1),
            )
        })?;
        let section = sections.last_mut().ok_or_else(|| {
            Error::format(
                source,
                format!(
                    "line {}: a question before any section header; add a line ': name' above it",
                    i + 1
                ),
            )
        })?;
        section.questions.push(question.map(String::from));
    }
    if sections.iter().all(|s| s.questions.is_empty()) {
        return Err(Error::format(source, "no analogy questions; expected word2vec's questions-words format (': section' lines, then 'a b c d' lines)"));
    }
    Ok(sections)
}

/// Reads an analogy file (see [`parse_analogies`]).
pub fn read_analogies(path: &Path) -> Result<Vec<AnalogySection>> {
    let bytes = read_input(path, "cannot read analogies")?;
    parse_analogies(utf8(&bytes, path)?, path)
}

/// `bytes` as text, or an error naming the first line that is not UTF-8.
pub(super) fn utf8<'a>(bytes: &'a [u8], path: &Path) -> Result<&'a str> {
    utf8_lines(bytes).map_err(|line| {
        Error::format(
            path,
            format!("line {line}: not valid UTF-8; save the file as UTF-8"),
        )
    })
}

/// Counts for one section (or a group of sections).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SectionScore {
    pub name: String,
    pub correct: usize,
    /// Questions scored (all four words in the vocabulary).
    pub answered: usize,
    /// Questions skipped because a word is outside the (restricted) vocabulary.
    pub skipped: usize,
}

impl SectionScore {
    /// Fraction correct of the questions scored (0 when none were).
    pub fn accuracy(&self) -> f64 {
        if self.answered == 0 {
            0.0
        } else {
            self.correct as f64 / self.answered as f64
        }
    }

    fn add(&mut self, other: &SectionScore) {
        self.correct += other.correct;
        self.answered += other.answered;
        self.skipped += other.skipped;
    }
}

/// Analogy accuracy per section, for semantic and syntactic sections, and in total.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalogyReport {
    pub sections: Vec<SectionScore>,
    pub semantic: SectionScore,
    pub syntactic: SectionScore,
    pub total: SectionScore,
    /// The `restrict_vocab` the questions were evaluated with (`None`: every row).
    pub restrict_vocab: Option<usize>,
}

impl AnalogyReport {
    /// Total accuracy over all scored questions.
    pub fn accuracy(&self) -> f64 {
        self.total.accuracy()
    }
}

impl fmt::Display for AnalogyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = match self.restrict_vocab {
            Some(n) => format!("analogies ({n} most frequent words)"),
            None => "analogies (all words)".into(),
        };
        let width = self
            .sections
            .iter()
            .map(|s| s.name.chars().count())
            .chain([title.chars().count()])
            .max()
            .unwrap_or(0);
        writeln!(
            f,
            "{:<width$}  {:>7}  {:>7}  {:>8}  {:>7}",
            title, "correct", "scored", "accuracy", "skipped"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, s: &SectionScore| {
            writeln!(
                f,
                "{:<width$}  {:>7}  {:>7}  {:>7.2}%  {:>7}",
                s.name,
                s.correct,
                s.answered,
                100.0 * s.accuracy(),
                s.skipped
            )
        };
        for s in &self.sections {
            row(f, s)?;
        }
        writeln!(f, "{}", "-".repeat(width + 38))?;
        row(f, &self.semantic)?;
        row(f, &self.syntactic)?;
        row(f, &self.total)
    }
}

/// Upper-case form → row among the first `limit` rows, the lowest row winning (gensim's `ok_vocab`).
pub(super) fn upper_vocab(index: &Index, limit: usize) -> HashMap<String, usize> {
    let mut ok = HashMap::with_capacity(limit);
    for i in (0..limit).rev() {
        ok.insert(index.word(i).to_uppercase(), i);
    }
    ok
}

/// Scores every question as gensim's `evaluate_word_analogies` does (see the module docs).
pub fn evaluate_analogies(
    index: &Index,
    sections: &[AnalogySection],
    restrict_vocab: Option<usize>,
) -> AnalogyReport {
    let limit = restrict_vocab.unwrap_or(usize::MAX).min(index.len());
    let ok = upper_vocab(index, limit);
    let scores: Vec<SectionScore> = sections
        .iter()
        .map(|section| {
            let outcomes: Vec<Option<bool>> = section
                .questions
                .par_chunks(QUESTION_BATCH)
                .map(|batch| answer_batch(index, &ok, limit, batch))
                .collect::<Vec<_>>()
                .concat();
            SectionScore {
                name: section.name.clone(),
                correct: outcomes.iter().filter(|o| **o == Some(true)).count(),
                answered: outcomes.iter().filter(|o| o.is_some()).count(),
                skipped: outcomes.iter().filter(|o| o.is_none()).count(),
            }
        })
        .collect();
    let group = |name: &str, pick: &dyn Fn(&SectionScore) -> bool| {
        let mut g = SectionScore {
            name: name.into(),
            ..SectionScore::default()
        };
        scores.iter().filter(|s| pick(s)).for_each(|s| g.add(s));
        g
    };
    AnalogyReport {
        semantic: group("semantic", &|s| !s.name.starts_with("gram")),
        syntactic: group("syntactic", &|s| s.name.starts_with("gram")),
        total: group("total", &|_| true),
        sections: scores,
        restrict_vocab,
    }
}

/// Questions scored together: one matrix product of their queries with the allowed rows.
const QUESTION_BATCH: usize = 64;

/// For each question, `None` when a word is out of vocabulary, else whether the answer is right.
fn answer_batch(
    index: &Index,
    ok: &HashMap<String, usize>,
    limit: usize,
    batch: &[[String; 4]],
) -> Vec<Option<bool>> {
    let resolved: Vec<Option<([usize; 4], [String; 4])>> = batch
        .iter()
        .map(|q| {
            let upper = q.clone().map(|w| w.to_uppercase());
            let ids: Vec<usize> = upper
                .iter()
                .map(|w| ok.get(w).copied())
                .collect::<Option<_>>()?;
            Some(([ids[0], ids[1], ids[2], ids[3]], upper))
        })
        .collect();
    let queries: Vec<f32> = resolved
        .iter()
        .flatten()
        .flat_map(|(ids, _)| index.offset_query(ids[0], ids[1], ids[2]))
        .collect();
    let scores = index.scores(&queries, limit);
    let mut rows = scores.rows().into_iter();
    resolved
        .iter()
        .map(|r| {
            let (ids, upper) = r.as_ref()?;
            let row = rows.next().expect("one score row per resolved question");
            let candidates = top_k(
                row.as_slice().expect("a fresh matrix is contiguous"),
                &ids[..3],
                5,
            );
            Some(predict(index, &upper[..3], &candidates).as_deref() == Some(upper[3].as_str()))
        })
        .collect()
}

/// gensim's choice among the five candidates: the first whose upper-case form is not an input's,
/// else the last one.
fn predict(index: &Index, inputs: &[String], candidates: &[(usize, f32)]) -> Option<String> {
    let mut predicted = None;
    for &(row, _) in candidates {
        let word = index.word(row).to_uppercase();
        let done = !inputs.contains(&word);
        predicted = Some(word);
        if done {
            break;
        }
    }
    predicted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::similarity::index_of as index;

    #[test]
    fn parses_sections_and_rejects_bad_lines_with_their_number() {
        let s = parse_analogies(
            ": capital\nAthens Greece Paris France\n\n: gram1-x\na b c d\n",
            Path::new("q.txt"),
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "capital");
        assert_eq!(s[1].questions[0], ["a", "b", "c", "d"].map(String::from));
        let e = parse_analogies(": s\na b c\n", Path::new("q.txt"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'q.txt'") && e.contains("line 2") && e.contains("4 words"),
            "{e}"
        );
        assert!(parse_analogies("a b c d\n", Path::new("q.txt"))
            .unwrap_err()
            .to_string()
            .contains("before any section"));
        assert!(parse_analogies("", Path::new("q.txt")).is_err());
    }

    #[test]
    fn analogies_follow_gensim_rules() {
        // Gender on axis 1, royalty +z, youth -z (gensim 4.3 gives the same counts on these vectors);
        // "King" is a rare case variant of "king" that
        // lies almost exactly on king - man + woman, ahead of queen.
        let idx = index(&[
            ("man", [1.0, 0.0, 0.0]),
            ("woman", [1.0, 1.0, 0.0]),
            ("king", [1.0, 0.0, 1.0]),
            ("queen", [1.0, 1.0, 1.0]),
            ("boy", [1.0, 0.0, -1.0]),
            ("girl", [1.0, 1.0, -1.0]),
            ("King", [0.6, 1.0, 1.0]),
        ]);
        assert_eq!(
            idx.analogy("man", "woman", "king", 1).unwrap()[0].word,
            "King"
        );
        let q = |a: &str, b: &str, c: &str, d: &str| [a, b, c, d].map(String::from);
        let sections = vec![
            AnalogySection {
                name: "family".into(),
                questions: vec![
                    q("man", "woman", "KING", "queen"),
                    q("man", "woman", "boy", "girl"),
                    q("man", "woman", "boy", "zebra"),
                ],
            },
            AnalogySection {
                name: "gram-x".into(),
                questions: vec![q("woman", "man", "girl", "king")],
            },
        ];
        let r = evaluate_analogies(&idx, &sections, None);
        // KING → row 2 (lowest); the nearest row "King" is passed over as a variant of an input.
        assert_eq!(
            (
                r.sections[0].correct,
                r.sections[0].answered,
                r.sections[0].skipped
            ),
            (2, 2, 1)
        );
        assert_eq!((r.syntactic.correct, r.syntactic.answered), (0, 1));
        assert_eq!(
            (r.total.correct, r.total.answered, r.total.skipped),
            (2, 3, 1)
        );
        assert!((r.accuracy() - 2.0 / 3.0).abs() < 1e-12);
        // Only the 4 most frequent rows: the boy/girl questions become out of vocabulary.
        let r = evaluate_analogies(&idx, &sections, Some(4));
        assert_eq!(
            (r.total.correct, r.total.answered, r.total.skipped),
            (1, 1, 3)
        );
        let table = r.to_string();
        assert!(
            table.contains("family") && table.contains("semantic") && table.contains("100.00%"),
            "{table}"
        );
    }
}
