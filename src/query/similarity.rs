//! Nearest neighbours by cosine similarity: the book's `most_similar` and `analogy`, and gensim's
//! `most_similar(positive, negative)`, `most_similar_cosmul`, `doesnt_match` and `similarity`.
//!
//! Rows are unit-normalised once; queries are then a matrix product with the rows and a partial
//! selection (O(V), not a sort of the whole vocabulary) of the best `k`. Rows of zero length stay
//! zero and so have similarity 0 with everything.

use std::collections::HashMap;

use ndarray::{Array2, ArrayView2};

use crate::error::{Error, Result};
use crate::output::vectors::Embeddings;

/// One result of a query.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbour {
    pub word: String,
    pub similarity: f32,
}

/// How the words of a query combine (gensim's `most_similar` and `most_similar_cosmul`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Combine {
    /// 3CosAdd: rank by cosine with the unit mean of `+ŵ` for positive and `−ŵ` for negative words.
    #[default]
    Add,
    /// 3CosMul (Levy and Goldberg, 2014): rank by `Π (1 + cos(x, p)) / 2` over positive words divided
    /// by `Π (1 + cos(x, n)) / 2 + 1e-6` over negative ones.
    CosMul,
}

/// The word of a query that fits the others least, and its cosine with their unit mean.
#[derive(Clone, Debug, PartialEq)]
pub struct Odd {
    pub word: String,
    pub similarity: f32,
}

/// Unit-normalised vectors with a word → row map (the first row wins for a repeated word).
#[derive(Clone, Debug)]
pub struct Index {
    words: Vec<String>,
    ids: HashMap<String, usize>,
    dim: usize,
    unit: Vec<f32>,
}

impl Index {
    pub fn new(emb: &Embeddings) -> Index {
        let mut unit = emb.data.clone();
        if emb.dim > 0 {
            for row in unit.chunks_exact_mut(emb.dim) {
                normalise(row);
            }
        }
        let mut ids = HashMap::with_capacity(emb.len());
        for (i, w) in emb.words.iter().enumerate() {
            ids.entry(w.clone()).or_insert(i);
        }
        Index {
            words: emb.words.clone(),
            ids,
            dim: emb.dim,
            unit,
        }
    }

    pub fn word_id(&self, w: &str) -> Option<usize> {
        self.ids.get(w).copied()
    }

    /// Number of rows (words in file order, most frequent first for files this project writes).
    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The word of row `i`.
    pub fn word(&self, i: usize) -> &str {
        &self.words[i]
    }

    /// Row `i`, unit length (or zero).
    pub fn unit_row(&self, i: usize) -> &[f32] {
        &self.unit[i * self.dim..(i + 1) * self.dim]
    }

    /// The `k` words most similar to `word` by cosine, `word` itself excluded.
    pub fn most_similar(&self, word: &str, k: usize) -> Result<Vec<Neighbour>> {
        self.query(&[word], &[], Combine::Add, k)
    }

    /// The `k` words closest to `b − a + c` (on unit vectors), the three inputs excluded:
    /// "a is to b as c is to ?".
    pub fn analogy(&self, a: &str, b: &str, c: &str, k: usize) -> Result<Vec<Neighbour>> {
        self.query(&[b, c], &[a], Combine::Add, k)
    }

    /// The `k` best words for `positive` minus `negative` words combined as `combine` says, every
    /// input word excluded (gensim's `most_similar(positive, negative, topn=k)` and
    /// `most_similar_cosmul`). Every word must be in the vocabulary; the error names all that are not.
    pub fn query(
        &self,
        positive: &[&str],
        negative: &[&str],
        combine: Combine,
        k: usize,
    ) -> Result<Vec<Neighbour>> {
        let all: Vec<&str> = positive.iter().chain(negative).copied().collect();
        let mut pos = self.require_all(&all)?;
        let neg = pos.split_off(positive.len());
        if pos.is_empty() && neg.is_empty() {
            return Err(Error::Input(
                "the query has no words; give at least one word".into(),
            ));
        }
        let exclude: Vec<usize> = pos.iter().chain(&neg).copied().collect();
        let scores = match combine {
            Combine::Add => {
                let mut q = vec![0f32; self.dim];
                for (&i, sign) in pos
                    .iter()
                    .map(|i| (i, 1f32))
                    .chain(neg.iter().map(|i| (i, -1f32)))
                {
                    for (x, &r) in q.iter_mut().zip(self.unit_row(i)) {
                        *x += sign * r;
                    }
                }
                normalise(&mut q);
                self.scores(&q, self.len()).into_raw_vec_and_offset().0
            }
            Combine::CosMul => {
                let rows: Vec<f32> = exclude
                    .iter()
                    .flat_map(|&i| self.unit_row(i))
                    .copied()
                    .collect();
                let cos = self.scores(&rows, self.len());
                let half = |c: f32| (1.0 + c) / 2.0;
                (0..self.len())
                    .map(|j| {
                        let column = cos.column(j);
                        let (p, n) = (
                            column.slice(ndarray::s![..pos.len()]),
                            column.slice(ndarray::s![pos.len()..]),
                        );
                        p.iter().map(|&c| half(c)).product::<f32>()
                            / (n.iter().map(|&c| half(c)).product::<f32>() + 1e-6)
                    })
                    .collect()
            }
        };
        Ok(self.neighbours(top_k(&scores, &exclude, k)))
    }

    /// The word of `words` least similar to the unit mean of all of them (gensim's `doesnt_match`;
    /// a tie goes to the word that sorts first). Needs two words or more, all in the vocabulary.
    pub fn doesnt_match(&self, words: &[&str]) -> Result<Odd> {
        if words.len() < 2 {
            return Err(Error::Input(format!(
                "doesnt-match needs at least two words to compare; {} given",
                words.len()
            )));
        }
        let ids = self.require_all(words)?;
        let mut mean = vec![0f32; self.dim];
        for &i in &ids {
            for (m, &r) in mean.iter_mut().zip(self.unit_row(i)) {
                *m += r;
            }
        }
        normalise(&mut mean);
        let (word, similarity) = ids
            .iter()
            .map(|&i| (self.word(i), dot(self.unit_row(i), &mean)))
            .min_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(y.0)))
            .expect("two words or more");
        Ok(Odd {
            word: word.to_string(),
            similarity,
        })
    }

    /// Cosine similarity of two words (gensim's `similarity`).
    pub fn word_similarity(&self, a: &str, b: &str) -> Result<f32> {
        let ids = self.require_all(&[a, b])?;
        Ok(self.similarity(ids[0], ids[1]))
    }

    /// Unit vector of `b̂ − â + ĉ` (zero if that sum is zero).
    pub fn offset_query(&self, a: usize, b: usize, c: usize) -> Vec<f32> {
        let (ra, rb, rc) = (self.unit_row(a), self.unit_row(b), self.unit_row(c));
        let mut q: Vec<f32> = (0..self.dim).map(|j| rb[j] - ra[j] + rc[j]).collect();
        normalise(&mut q);
        q
    }

    /// Cosine similarity of rows `i` and `j`.
    pub fn similarity(&self, i: usize, j: usize) -> f32 {
        dot(self.unit_row(i), self.unit_row(j))
    }

    /// The best `k` rows among the first `limit` by dot product with `query` (a unit vector, so the
    /// score is the cosine), rows in `exclude` left out; best first, ties by lower row.
    pub fn nearest(
        &self,
        query: &[f32],
        limit: usize,
        exclude: &[usize],
        k: usize,
    ) -> Vec<(usize, f32)> {
        let scores = self.scores(query, limit);
        top_k(
            scores
                .row(0)
                .as_slice()
                .expect("a fresh matrix is contiguous"),
            exclude,
            k,
        )
    }

    /// Dot products of `queries` (`[q, dim]`, row-major) with the first `limit` rows: `[q, limit]`,
    /// one matrix product (blocked, SIMD) rather than `q · limit` separate dot products.
    pub fn scores(&self, queries: &[f32], limit: usize) -> Array2<f32> {
        let limit = limit.min(self.len());
        let rows = ArrayView2::from_shape((limit, self.dim), &self.unit[..limit * self.dim])
            .expect("rows are [len, dim]");
        let q = ArrayView2::from_shape((queries.len() / self.dim.max(1), self.dim), queries)
            .expect("queries are [q, dim]");
        q.dot(&rows.t())
    }

    /// The rows of `words`, or an error naming every word that is not in the vocabulary.
    fn require_all(&self, words: &[&str]) -> Result<Vec<usize>> {
        let missing: Vec<String> = words
            .iter()
            .filter(|w| self.word_id(w).is_none())
            .map(|w| format!("'{w}'"))
            .collect();
        let what = match missing.len() {
            0 => return Ok(words.iter().filter_map(|w| self.word_id(w)).collect()),
            1 => format!("word {} is", missing[0]),
            _ => format!("words {} are", missing.join(", ")),
        };
        Err(Error::Input(format!(
            "{what} not in the vocabulary ({} words); check spelling and case, or train with a lower --min-count",
            self.len()
        )))
    }

    fn neighbours(&self, hits: Vec<(usize, f32)>) -> Vec<Neighbour> {
        hits.into_iter()
            .map(|(i, similarity)| Neighbour {
                word: self.words[i].clone(),
                similarity,
            })
            .collect()
    }
}

/// The `k` best `(row, score)` of `scores`, rows in `exclude` left out; best first, ties by lower
/// row. One pass with a sorted buffer for small `k`, a partial selection (O(n)) for large `k`.
pub fn top_k(scores: &[f32], exclude: &[usize], k: usize) -> Vec<(usize, f32)> {
    let better = |x: &(usize, f32), y: &(usize, f32)| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0));
    let candidates = scores
        .iter()
        .copied()
        .enumerate()
        .filter(|(i, _)| !exclude.contains(i));
    if k > 64 {
        let mut all: Vec<(usize, f32)> = candidates.collect();
        if k < all.len() {
            all.select_nth_unstable_by(k - 1, better);
            all.truncate(k);
        }
        all.sort_unstable_by(better);
        return all;
    }
    let mut best: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
    for (i, s) in candidates {
        // Rows arrive in increasing order, so an equal score never displaces an earlier row.
        if best.len() == k && best.last().is_none_or(|last| s.total_cmp(&last.1).is_le()) {
            continue;
        }
        let at = best.partition_point(|b| b.1.total_cmp(&s).is_ge());
        best.insert(at, (i, s));
        best.truncate(k);
    }
    best
}

/// Dot product of two equal-length rows (ndarray's, unrolled and vectorised).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    ndarray::ArrayView1::from(a).dot(&ndarray::ArrayView1::from(b))
}

/// Scales `v` to unit length in place (norm computed in f64); leaves a zero vector alone.
fn normalise(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        for x in v {
            *x = (f64::from(*x) / norm) as f32;
        }
    }
}

/// An index over literal `(word, vector)` rows (tests build small vocabularies this way).
#[cfg(test)]
pub(crate) fn index_of<const D: usize>(rows: &[(&str, [f32; D])]) -> Index {
    Index::new(&Embeddings::new(
        rows.iter().map(|r| r.0.to_string()).collect(),
        D,
        rows.iter().flat_map(|r| r.1).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(rows: &[(&str, [f32; 2])]) -> Embeddings {
        Embeddings::new(
            rows.iter().map(|r| r.0.to_string()).collect(),
            2,
            rows.iter().flat_map(|r| r.1).collect(),
        )
    }

    #[test]
    fn most_similar_is_cosine_ranked_and_excludes_the_query() {
        let index = Index::new(&emb(&[
            ("a", [1.0, 0.0]),
            ("b", [10.0, 1.0]),
            ("c", [0.0, 3.0]),
            ("d", [-1.0, 0.0]),
        ]));
        let got = index.most_similar("a", 3).unwrap();
        let words: Vec<_> = got.iter().map(|n| n.word.as_str()).collect();
        assert_eq!(words, ["b", "c", "d"]);
        assert!((got[0].similarity - 10.0 / 101f32.sqrt()).abs() < 1e-6);
        assert!(got[1].similarity.abs() < 1e-7);
        assert!((got[2].similarity + 1.0).abs() < 1e-6);
        assert_eq!(index.most_similar("a", 1).unwrap().len(), 1);
        assert!(index.most_similar("a", 0).unwrap().is_empty());
        assert_eq!(index.most_similar("a", 100).unwrap().len(), 3);
    }

    /// king − man + woman ≈ queen: the gender direction is the second axis.
    fn planted_gender() -> Index {
        Index::new(&emb(&[
            ("man", [1.0, 0.1]),
            ("woman", [1.0, 0.9]),
            ("king", [3.0, 0.3]),
            ("queen", [3.0, 2.7]),
            ("apple", [-1.0, 0.2]),
        ]))
    }

    #[test]
    fn analogy_solves_a_planted_offset_and_excludes_inputs() {
        let index = planted_gender();
        let got = index.analogy("man", "king", "woman", 2).unwrap();
        assert_eq!(got[0].word, "queen");
        assert!(got
            .iter()
            .all(|n| !["man", "king", "woman"].contains(&n.word.as_str())));
    }

    #[test]
    fn unknown_words_are_input_errors_naming_the_word() {
        let index = Index::new(&emb(&[("a", [1.0, 0.0])]));
        let e = index.most_similar("zebra", 3).unwrap_err();
        assert!(matches!(e, Error::Input(_)) && e.to_string().contains("'zebra'"));
        assert!(index
            .analogy("a", "a", "qq", 3)
            .unwrap_err()
            .to_string()
            .contains("'qq'"));
    }

    /// `n` words `w0, w1, …` with uniform random vectors of `dim` values in [-0.5, 0.5).
    fn random_index(seed: u64, n: usize, dim: usize) -> Index {
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        let words = (0..n).map(|i| format!("w{i}")).collect();
        let data = (0..n * dim).map(|_| next()).collect();
        Index::new(&Embeddings::new(words, dim, data))
    }

    /// gensim's formulas written out on the unit rows, one candidate at a time.
    fn by_hand(index: &Index, pos: &[&str], neg: &[&str], combine: Combine) -> Vec<(String, f32)> {
        let row = |w: &str| index.unit_row(index.word_id(w).unwrap()).to_vec();
        let inputs: Vec<&str> = pos.iter().chain(neg).copied().collect();
        let mut out: Vec<(String, f32)> = (0..index.len())
            .filter(|&j| !inputs.contains(&index.word(j)))
            .map(|j| {
                let x = index.unit_row(j);
                let score = match combine {
                    Combine::Add => {
                        let mut q = vec![0f32; index.dim()];
                        for w in pos {
                            q.iter_mut().zip(row(w)).for_each(|(q, r)| *q += r);
                        }
                        for w in neg {
                            q.iter_mut().zip(row(w)).for_each(|(q, r)| *q -= r);
                        }
                        let n = q.iter().map(|v| v * v).sum::<f32>().sqrt();
                        dot(x, &q) / n
                    }
                    Combine::CosMul => {
                        let h = |w: &&str| (1.0 + dot(x, &row(w))) / 2.0;
                        pos.iter().map(h).product::<f32>()
                            / (neg.iter().map(h).product::<f32>() + 1e-6)
                    }
                };
                (index.word(j).to_string(), score)
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }

    #[test]
    fn several_positive_and_negative_words_follow_gensims_formulas() {
        let index = random_index(99, 60, 8);
        let cases: [(&[&str], &[&str]); 4] = [
            (&["w1"], &[]),
            (&["w1", "w2", "w3"], &["w4"]),
            (&["w5"], &["w6", "w7"]),
            (&[], &["w8"]),
        ];
        for (pos, neg) in cases {
            for combine in [Combine::Add, Combine::CosMul] {
                let got = index.query(pos, neg, combine, 10).unwrap();
                let want = by_hand(&index, pos, neg, combine);
                assert_eq!(got.len(), 10);
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g.word, w.0, "{pos:?} - {neg:?} {combine:?}");
                    assert!((g.similarity - w.1).abs() < 1e-5, "{pos:?} {neg:?}");
                }
            }
        }
        // The analogy is the query b + c − a.
        assert_eq!(
            index.analogy("w1", "w2", "w3", 5).unwrap(),
            index
                .query(&["w2", "w3"], &["w1"], Combine::Add, 5)
                .unwrap()
        );
    }

    #[test]
    fn cosmul_solves_a_planted_analogy_too() {
        let index = planted_gender();
        let got = index
            .query(&["king", "woman"], &["man"], Combine::CosMul, 1)
            .unwrap();
        assert_eq!(got[0].word, "queen");
    }

    #[test]
    fn doesnt_match_picks_the_word_furthest_from_the_mean() {
        let index = Index::new(&emb(&[
            ("breakfast", [1.0, 0.1]),
            ("lunch", [1.0, 0.2]),
            ("dinner", [0.9, 0.0]),
            ("cereal", [0.0, 1.0]),
        ]));
        let odd = index
            .doesnt_match(&["breakfast", "cereal", "dinner", "lunch"])
            .unwrap();
        assert_eq!(odd.word, "cereal");
        assert!(odd.similarity < 0.5);
        // A tie goes to the word that sorts first, whatever the order given.
        let tie = Index::new(&emb(&[("b", [1.0, 0.0]), ("a", [0.0, 1.0])]));
        assert_eq!(tie.doesnt_match(&["b", "a"]).unwrap().word, "a");
        assert_eq!(tie.doesnt_match(&["a", "b"]).unwrap().word, "a");
        let e = index.doesnt_match(&["lunch"]).unwrap_err().to_string();
        assert!(e.contains("at least two words"), "{e}");
    }

    #[test]
    fn every_unknown_word_of_a_query_is_named_at_once() {
        let index = Index::new(&emb(&[("a", [1.0, 0.0]), ("b", [0.0, 1.0])]));
        let e = index
            .query(&["a", "zebra"], &["qq"], Combine::Add, 3)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("words 'zebra', 'qq' are not"), "{e}");
        let e = index
            .doesnt_match(&["x", "a", "y"])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("words 'x', 'y' are not in the vocabulary"),
            "{e}"
        );
        let e = index
            .query(&[], &[], Combine::Add, 3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no words"), "{e}");
        assert!((index.word_similarity("a", "b").unwrap()).abs() < 1e-7);
        assert!(index.word_similarity("a", "c").is_err());
    }

    #[test]
    fn top_k_breaks_ties_by_row_and_skips_excluded_rows() {
        let scores = [0.5, 0.9, 0.5, f32::NAN, 0.9, -1.0, 0.7];
        assert_eq!(
            top_k(&scores, &[3], 4),
            [(1, 0.9), (4, 0.9), (6, 0.7), (0, 0.5)]
        );
        assert_eq!(top_k(&scores, &[1, 3], 2), [(4, 0.9), (6, 0.7)]);
        assert!(top_k(&scores, &[], 0).is_empty());
        assert_eq!(top_k(&scores[..2], &[], 5), [(1, 0.9), (0, 0.5)]);
    }

    #[test]
    fn partial_selection_agrees_with_a_full_sort() {
        let n = 500;
        let index = random_index(12345, n, 16);
        let query = index.unit_row(7).to_vec();
        let mut all: Vec<(usize, f32)> = (0..n)
            .filter(|&i| i != 7)
            .map(|i| (i, dot(index.unit_row(i), &query)))
            .collect();
        all.sort_by(|x, y| y.1.total_cmp(&x.1));
        for k in [10, 100] {
            // The matrix product rounds differently from `dot`: same rows, scores within 1e-6.
            let got = index.nearest(&query, n, &[7], k);
            assert_eq!(
                got.iter().map(|g| g.0).collect::<Vec<_>>(),
                all[..k].iter().map(|a| a.0).collect::<Vec<_>>(),
                "k = {k}"
            );
            assert!(got.iter().zip(&all).all(|(g, a)| (g.1 - a.1).abs() < 1e-6));
        }
        let limited = index.nearest(&query, 50, &[7], 5);
        assert!(limited.iter().all(|&(i, _)| i < 50));
    }
}
