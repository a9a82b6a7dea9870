//! Word-pair similarity benchmarks (WordSim-353, SimLex-999) with gensim's `evaluate_word_pairs`
//! rules: Spearman and Pearson correlation of cosine similarity with human scores, over the pairs
//! whose two words are in the vocabulary (compared upper-cased, as [`super::eval`] does).

use std::fmt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::input::read::read_input;
use crate::query::eval::{upper_vocab, utf8};
use crate::query::similarity::Index;

/// Word-pair similarity scores of one benchmark file.
#[derive(Clone, Debug, PartialEq)]
pub struct SimilarityReport {
    pub name: String,
    pub spearman: f64,
    pub pearson: f64,
    pub used: usize,
    pub skipped: usize,
}

impl fmt::Display for SimilarityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |x: f64| {
            if x.is_finite() {
                format!("{x:.4}")
            } else {
                "n/a".into()
            }
        };
        write!(
            f,
            "{:<26}  spearman {:>7}  pearson {:>7}  pairs {} used, {} skipped (OOV)",
            self.name,
            show(self.spearman),
            show(self.pearson),
            self.used,
            self.skipped
        )
    }
}

/// Reads `word1<TAB>word2<TAB>score` lines (whitespace-separated also accepted when a line has no
/// tab); `#` lines and blank lines are skipped, and so is a first line whose score is not a number
/// (a column header).
pub fn read_similarity(path: &Path) -> Result<Vec<(String, String, f64)>> {
    let bytes = read_input(path, "cannot read word pairs")?;
    parse_similarity(utf8(&bytes, path)?, path)
}

/// Parses word pairs (see [`read_similarity`]); `source` only names the input in errors. A score
/// that is NaN or infinite is refused: it would make both correlations NaN.
pub fn parse_similarity(text: &str, source: &Path) -> Result<Vec<(String, String, f64)>> {
    let mut pairs = Vec::new();
    let mut first = true;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let fields: Vec<&str> = if line.contains('\t') {
            line.split('\t').collect()
        } else {
            line.split_whitespace().collect()
        };
        let parsed = match fields.as_slice() {
            [a, b, score] => score
                .trim()
                .parse::<f64>()
                .ok()
                .map(|s| (a.to_string(), b.to_string(), s)),
            _ => None,
        };
        match parsed {
            Some((_, _, score)) if !score.is_finite() => {
                return Err(Error::format(
                    source,
                    format!("line {}: the score {score} is not a finite number; fix or remove the line", i + 1),
                ))
            }
            Some(pair) => pairs.push(pair),
            None if first && fields.len() == 3 => {}
            None => {
                return Err(Error::format(
                    source,
                    format!("line {}: expected 'word1<TAB>word2<TAB>score' (WordSim-353 / SimLex-999 layout), found {trimmed:?}", i + 1),
                ))
            }
        }
        first = false;
    }
    if pairs.is_empty() {
        return Err(Error::format(
            source,
            "no word pairs; expected lines 'word1<TAB>word2<TAB>score'",
        ));
    }
    Ok(pairs)
}

/// Spearman and Pearson correlation of the model's cosine similarities with the human scores,
/// over the pairs whose two words are in the vocabulary (gensim's `evaluate_word_pairs`).
pub fn evaluate_similarity(
    index: &Index,
    name: &str,
    pairs: &[(String, String, f64)],
) -> SimilarityReport {
    let ok = upper_vocab(index, index.len());
    let (mut gold, mut model) = (Vec::new(), Vec::new());
    for (a, b, score) in pairs {
        if let (Some(&i), Some(&j)) = (ok.get(&a.to_uppercase()), ok.get(&b.to_uppercase())) {
            gold.push(*score);
            model.push(f64::from(index.similarity(i, j)));
        }
    }
    SimilarityReport {
        name: name.to_string(),
        spearman: pearson(&ranks(&gold), &ranks(&model)),
        pearson: pearson(&gold, &model),
        used: gold.len(),
        skipped: pairs.len() - gold.len(),
    }
}

/// Ranks 1..=n, tied values sharing the mean of their ranks (scipy's `rankdata(method='average')`).
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut r = vec![0.0; x.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && x[order[end]] == x[order[start]] {
            end += 1;
        }
        let mean = (start + 1 + end) as f64 / 2.0;
        for &k in &order[start..end] {
            r[k] = mean;
        }
        start = end;
    }
    r
}

/// Pearson's correlation coefficient; NaN with fewer than two points or a constant input.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    if x.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::similarity::index_of as index;

    #[test]
    fn ranks_average_ties_like_scipy() {
        assert_eq!(
            ranks(&[10.0, 20.0, 10.0, 5.0, 20.0, 20.0]),
            [2.5, 5.0, 2.5, 1.0, 5.0, 5.0]
        );
    }

    #[test]
    fn correlations_have_known_values() {
        assert!(
            (pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]) - 0.997_948_715_788_673_3).abs() < 1e-12
        );
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert!(pearson(&[1.0], &[1.0]).is_nan());
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
    }

    #[test]
    fn similarity_uses_known_pairs_and_counts_the_rest() {
        let idx = index(&[
            ("a", [1.0, 0.0]),
            ("b", [1.0, 1.0]),
            ("c", [0.0, 1.0]),
            ("d", [-1.0, 0.2]),
        ]);
        let p = |a: &str, b: &str, s: f64| (a.to_string(), b.to_string(), s);
        let pairs = [
            p("A", "b", 9.0),
            p("a", "c", 5.0),
            p("a", "d", 1.0),
            p("a", "zz", 3.0),
        ];
        let r = evaluate_similarity(&idx, "toy", &pairs);
        assert_eq!((r.used, r.skipped), (3, 1));
        assert!((r.spearman - 1.0).abs() < 1e-12);
        assert!(r.pearson > 0.9 && r.pearson < 1.0);
        assert!(r.to_string().contains("1.0000"));
    }

    #[test]
    fn similarity_files_skip_comments_and_header_and_reject_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ws.tsv");
        std::fs::write(
            &p,
            "# comment\nWord 1\tWord 2\tHuman (mean)\nlove\tsex\t6.77\r\ntiger cat 7.35\n",
        )
        .unwrap();
        let pairs = read_similarity(&p).unwrap();
        assert_eq!(
            pairs,
            vec![
                ("love".into(), "sex".into(), 6.77),
                ("tiger".into(), "cat".into(), 7.35)
            ]
        );
        std::fs::write(&p, "a\tb\t1\nc\td\n").unwrap();
        let e = read_similarity(&p).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("ws.tsv"), "{e}");
        std::fs::write(&p, "# only comments\n").unwrap();
        assert!(read_similarity(&p).is_err());
        let e = parse_similarity("a\tb\t1\nc\td\tNaN\n", &p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("not a finite"), "{e}");
        std::fs::write(&p, b"a\tb\t1\n\xffc\td\t2\n").unwrap();
        let e = read_similarity(&p).unwrap_err().to_string();
        assert!(
            e.contains("ws.tsv") && e.contains("line 2: not valid UTF-8"),
            "{e}"
        );
    }
}
