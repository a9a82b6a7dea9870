//! The vocabulary: word ↔ id, with counts, ids sorted by descending count.
//!
//! Ties in count are broken by first appearance in the corpus, so the same corpus always gives the
//! same ids (word2vec.c's qsort leaves ties in an unspecified order; we do not).

use std::collections::HashMap;

/// Words kept for training, most frequent first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vocab {
    pub words: Vec<String>,
    pub counts: Vec<u64>,
    index: HashMap<String, u32>,
}

/// Word counts gathered in a first pass over a corpus, remembering first appearances.
#[derive(Debug, Default)]
pub struct Counter {
    /// word → (count, order of first appearance)
    seen: HashMap<Box<str>, (u64, u64)>,
}

impl Counter {
    pub fn add(&mut self, word: &str) {
        if let Some(e) = self.seen.get_mut(word) {
            e.0 += 1;
        } else {
            let order = self.seen.len() as u64;
            self.seen.insert(word.into(), (1, order));
        }
    }

    /// Number of distinct words seen.
    pub fn distinct(&self) -> usize {
        self.seen.len()
    }

    /// The most frequent words with count ≥ `min_count`, at most `max_vocab` of them (`None` = all).
    pub fn into_vocab(self, min_count: u64, max_vocab: Option<usize>) -> Vocab {
        let mut entries: Vec<(Box<str>, u64, u64)> = self
            .seen
            .into_iter()
            .filter(|(_, (c, _))| *c >= min_count)
            .map(|(w, (c, o))| (w, c, o))
            .collect();
        entries.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
        if let Some(m) = max_vocab {
            entries.truncate(m);
        }
        let (words, counts) = entries
            .into_iter()
            .map(|(w, c, _)| (String::from(w), c))
            .unzip();
        Vocab::from_parts(words, counts)
    }
}

impl Vocab {
    /// A vocabulary from words and their counts, in the given id order (e.g. from a checkpoint).
    pub fn from_parts(words: Vec<String>, counts: Vec<u64>) -> Vocab {
        debug_assert_eq!(words.len(), counts.len());
        let index = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        Vocab {
            words,
            counts,
            index,
        }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn id(&self, w: &str) -> Option<u32> {
        self.index.get(w).copied()
    }

    /// Sum of the counts of the words kept.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(text: &str) -> Counter {
        let mut c = Counter::default();
        text.split_whitespace().for_each(|w| c.add(w));
        c
    }

    #[test]
    fn counts_and_orders_by_descending_count_then_first_appearance() {
        let v = count("b a c a b d a e e").into_vocab(1, None);
        assert_eq!(v.words, ["a", "b", "e", "c", "d"]);
        assert_eq!(v.counts, [3, 2, 2, 1, 1]);
        assert_eq!(v.total(), 9);
        assert_eq!(v.id("e"), Some(2));
        assert_eq!(v.id("zzz"), None);
    }

    #[test]
    fn min_count_and_max_vocab_cut_the_rare_tail() {
        let text = "x x x x y y y z z w";
        let v = count(text).into_vocab(2, None);
        assert_eq!(v.words, ["x", "y", "z"]);
        let v = count(text).into_vocab(1, Some(2));
        assert_eq!(v.words, ["x", "y"]);
        assert!(count(text).into_vocab(5, None).is_empty());
    }

    #[test]
    fn same_corpus_same_ids() {
        let text = "q w e r t y u i o p a s d f g h j k l";
        let a = count(text).into_vocab(1, None);
        for _ in 0..5 {
            assert_eq!(count(text).into_vocab(1, None), a);
        }
        assert_eq!(a.words[0], "q");
    }
}
