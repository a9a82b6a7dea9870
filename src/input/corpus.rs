//! A text corpus read once into a vocabulary and u32 word ids (4 bytes a token).
//!
//! [`load`] counts and encodes in one streaming pass ([`super::pass`]): words get provisional ids
//! in order of first appearance, then one remap over the stored ids puts them in frequency order
//! and drops words under `--min-count` or past `--max-vocab`. [`encode`] maps a corpus through a
//! given vocabulary (resuming, `--read-vocab`). Words are split as [`super::tokenize`] says;
//! where they come from is [`super::source`]'s business.
//!
//! Formats:
//! - `plain`: each line end is a sentence end ([`SENTENCE_BREAK`]; windows never cross it).
//! - `ptb`: the book's `ptb.load_data`: each line end becomes the word `<eos>`, which windows cross;
//!   `<unk>` is an ordinary word.

use crate::error::{Error, Result};
use crate::input::pass::{self, Ids, Pass, Pruning, Table};
use crate::input::vocab::Vocab;
use crate::train::plan::SENTENCE_BREAK;

pub use crate::input::source::Source;
/// The word a line end becomes in `--format ptb`.
pub const EOS: &str = "<eos>";

/// How line ends are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum CorpusFormat {
    /// Whitespace-separated words; a line end ends a sentence.
    #[default]
    Plain,
    /// Penn Treebank as the book reads it: each line end is the word `<eos>`.
    Ptb,
}

/// How tokens are read from a corpus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadOptions {
    pub format: CorpusFormat,
    pub lowercase: bool,
}

/// The corpus as word ids, one pass's worth of training data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Encoded {
    /// Word ids, with [`SENTENCE_BREAK`] at line ends of `plain` corpora; out-of-vocabulary words dropped.
    pub tokens: Vec<u32>,
    /// Every token read, in the vocabulary or not (word2vec.c's "words" for words/s).
    pub raw_words: u64,
}

impl Encoded {
    /// The in-memory result of a pass into a [`Vec<u32>`].
    pub fn new(mut tokens: Vec<u32>, raw_words: u64) -> Encoded {
        tokens.shrink_to_fit();
        Encoded { tokens, raw_words }
    }

    /// Tokens that are words (not sentence breaks).
    pub fn words(&self) -> u64 {
        self.tokens.iter().filter(|&&t| t != SENTENCE_BREAK).count() as u64
    }
}

/// Where the encoded ids of a corpus are put as the pass makes them: in memory ([`Vec<u32>`]) or
/// in a file behind this seam. Ids are word ids or [`SENTENCE_BREAK`].
pub trait TokenStore {
    /// Appends ids after those stored.
    fn append(&mut self, ids: &[u32]) -> Result<()>;
    /// Rewrites the stored ids in place with [`compact_ids`].
    fn compact(&mut self, map: &dyn Fn(u32) -> Option<u32>) -> Result<()>;
}

impl TokenStore for Vec<u32> {
    fn append(&mut self, ids: &[u32]) -> Result<()> {
        self.extend_from_slice(ids);
        Ok(())
    }

    fn compact(&mut self, map: &dyn Fn(u32) -> Option<u32>) -> Result<()> {
        let n = compact_ids(self, map);
        self.truncate(n);
        Ok(())
    }
}

/// Maps each word id of `ids` through `map` (`None` drops it) and collapses sentence breaks as
/// encoding does (none first, never two in a row), moving what stays to the front; returns how
/// many ids stay.
pub fn compact_ids(ids: &mut [u32], map: &dyn Fn(u32) -> Option<u32>) -> usize {
    let mut kept = 0;
    let mut break_last = true;
    for r in 0..ids.len() {
        let t = ids[r];
        let out = if t == SENTENCE_BREAK {
            if break_last {
                continue;
            }
            break_last = true;
            t
        } else {
            match map(t) {
                Some(id) => {
                    break_last = false;
                    id
                }
                None => continue,
            }
        };
        ids[kept] = out;
        kept += 1;
    }
    kept
}

/// What one pass over a corpus gave besides its ids.
#[derive(Debug)]
pub struct Loaded {
    pub vocab: Vocab,
    /// Every token read, in the vocabulary or not.
    pub raw_words: u64,
    /// Set when counting pruned rare words to fit its table.
    pub pruning: Option<Pruning>,
}

/// Reads `src` once: counts words into a vocabulary (`min_count`, `max_vocab`) and encodes it.
pub fn load(
    src: &Source,
    opts: ReadOptions,
    min_count: u64,
    max_vocab: Option<usize>,
) -> Result<(Vocab, Encoded)> {
    let mut tokens = Vec::new();
    let l = load_into(src, opts, &Pass::default(), min_count, max_vocab, &mut tokens)?;
    Ok((l.vocab, Encoded::new(tokens, l.raw_words)))
}

/// [`load`] run as `pass` says, into `store`.
pub fn load_into(
    src: &Source,
    opts: ReadOptions,
    pass: &Pass,
    min_count: u64,
    max_vocab: Option<usize>,
    store: &mut dyn TokenStore,
) -> Result<Loaded> {
    let merged = pass::run(src, opts, pass, Ids::Count(Table::default()), store)?;
    let Ids::Count(table) = merged.ids else {
        unreachable!("counting gives a table")
    };
    let raw = merged.raw_words;
    if raw == 0 {
        return Err(empty(src));
    }
    let distinct = table.words.len();
    // Provisional ids are in first-seen order, so sorting by (count desc, id) breaks ties by first
    // appearance.
    let mut order: Vec<u32> = (0..distinct as u32)
        .filter(|&i| table.counts[i as usize] >= min_count)
        .collect();
    order.sort_unstable_by(|&a, &b| {
        let (ca, cb) = (table.counts[a as usize], table.counts[b as usize]);
        cb.cmp(&ca).then(a.cmp(&b))
    });
    if let Some(m) = max_vocab {
        order.truncate(m);
    }
    if order.is_empty() {
        return Err(Error::Input(format!(
            "corpus '{}' has no word with count >= {min_count}; lower --min-count (it has {raw} words, {distinct} distinct)",
            src.name()
        )));
    }
    let mut new_id = vec![u32::MAX; distinct];
    for (rank, &p) in order.iter().enumerate() {
        new_id[p as usize] = rank as u32;
    }
    store.compact(&|id| Some(new_id[id as usize]).filter(|&n| n != u32::MAX))?;
    let (mut words, counts) = (table.words, table.counts);
    let vocab = Vocab::from_parts(
        order
            .iter()
            .map(|&p| String::from(std::mem::take(&mut words[p as usize])))
            .collect(),
        order.iter().map(|&p| counts[p as usize]).collect(),
    );
    Ok(Loaded {
        vocab,
        raw_words: raw,
        pruning: merged.pruning,
    })
}

/// Encodes `src` with a given vocabulary (out-of-vocabulary words dropped).
pub fn encode(src: &Source, opts: ReadOptions, vocab: &Vocab) -> Result<Encoded> {
    encode_with(src, opts, &Pass::default(), vocab)
}

/// [`encode`] run as `pass` says.
pub fn encode_with(src: &Source, opts: ReadOptions, pass: &Pass, vocab: &Vocab) -> Result<Encoded> {
    let mut tokens = Vec::new();
    let merged = pass::run(src, opts, pass, Ids::Fixed(vocab), &mut tokens)?;
    if merged.raw_words == 0 {
        return Err(empty(src));
    }
    let enc = Encoded::new(tokens, merged.raw_words);
    if enc.words() == 0 {
        return Err(Error::Input(format!(
            "corpus '{}' has no word of the vocabulary; train on the corpus the vocabulary came from",
            src.name()
        )));
    }
    Ok(enc)
}


fn empty(src: &Source) -> Error {
    Error::Input(format!(
        "corpus '{}' is empty: it has no words; give a text file of whitespace-separated words",
        src.name()
    ))
}
#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Source {
        Source::Text {
            name: "t".into(),
            text: s.into(),
        }
    }

    fn words(v: &Vocab, enc: &Encoded) -> Vec<String> {
        enc.tokens
            .iter()
            .map(|&t| {
                if t == SENTENCE_BREAK {
                    "|".into()
                } else {
                    v.words[t as usize].clone()
                }
            })
            .collect()
    }

    #[test]
    fn plain_breaks_at_line_ends_and_drops_oov() {
        let src = text("a b c\n\n  a b\r\nd a\n");
        let (v, enc) = load(&src, ReadOptions::default(), 2, None).unwrap();
        assert_eq!(v.words, ["a", "b"]);
        assert_eq!(words(&v, &enc), ["a", "b", "|", "a", "b", "|", "a", "|"]);
        assert_eq!(enc.raw_words, 7);
        assert_eq!(enc.words(), 5);
    }

    #[test]
    fn ptb_line_ends_are_eos_words_and_unk_stays() {
        let src = text(" the <unk> cat \n the dog \n");
        let opts = ReadOptions {
            format: CorpusFormat::Ptb,
            lowercase: false,
        };
        let (v, enc) = load(&src, opts, 1, None).unwrap();
        assert_eq!(
            words(&v, &enc),
            ["the", "<unk>", "cat", "<eos>", "the", "dog", "<eos>"]
        );
        assert!(!enc.tokens.contains(&SENTENCE_BREAK));
        assert_eq!(enc.raw_words, 7);
    }

    #[test]
    fn lowercase_merges_cases_and_bad_utf8_is_lossy() {
        let src = Source::Text {
            name: "t".into(),
            text: "The the THE Über über".into(),
        };
        let opts = ReadOptions {
            lowercase: true,
            ..ReadOptions::default()
        };
        let (v, _) = load(&src, opts, 1, None).unwrap();
        assert_eq!(v.words, ["the", "über"]);
        assert_eq!(v.counts, [3, 2]);

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.txt");
        std::fs::write(&p, b"ok \xff\xfe ok\n").unwrap();
        let (v, enc) = load(&Source::file(p), ReadOptions::default(), 1, None).unwrap();
        assert_eq!(v.words, ["ok", "\u{fffd}\u{fffd}"]);
        assert_eq!(enc.raw_words, 3);
    }

    #[test]
    fn a_single_long_line_streams_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("one_line.txt");
        let line: String = (0..300_000).map(|i| format!("w{} ", i % 7)).collect();
        std::fs::write(&p, &line).unwrap();
        let (v, enc) = load(&Source::file(p), ReadOptions::default(), 1, None).unwrap();
        assert_eq!(v.len(), 7);
        assert_eq!(enc.raw_words, 300_000);
        assert_eq!(enc.tokens.len(), 300_000);
        assert!(v.counts.iter().all(|&c| (42_857..=42_858).contains(&c)));
    }

    #[test]
    fn empty_and_rare_corpora_are_errors_naming_the_fix() {
        let e = load(&text(" \n\n "), ReadOptions::default(), 5, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("corpus 't' is empty"), "{e}");
        let e = load(&text("a b c"), ReadOptions::default(), 5, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no word with count >= 5") && e.contains("lower --min-count"),
            "{e}"
        );
        let e = load(
            &Source::file("/no/such/corpus.txt"),
            ReadOptions::default(),
            5,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("cannot read corpus '/no/such/corpus.txt'"),
            "{e}"
        );
    }
}
