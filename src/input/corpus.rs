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

pub use crate::input::sink::{compact_ids, IdSink, TokenStore};
pub use crate::input::source::Source;

use crate::input::sink::{Appending, Discard, DROPPED};
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
    let l = load_into(
        src,
        opts,
        &Pass::default(),
        min_count,
        max_vocab,
        &mut tokens,
    )?;
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
    let mut new_id = vec![DROPPED; distinct];
    for (rank, &p) in order.iter().enumerate() {
        new_id[p as usize] = rank as u32;
    }
    store.compact(&new_id)?;
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

/// The vocabulary of `src` (`min_count`, `max_vocab`) from one pass that keeps no ids.
pub fn vocabulary(
    src: &Source,
    opts: ReadOptions,
    min_count: u64,
    max_vocab: Option<usize>,
) -> Result<Vocab> {
    load_into(
        src,
        opts,
        &Pass::default(),
        min_count,
        max_vocab,
        &mut Discard,
    )
    .map(|l| l.vocab)
}

/// Encodes `src` with a given vocabulary (out-of-vocabulary words dropped).
pub fn encode(src: &Source, opts: ReadOptions, vocab: &Vocab) -> Result<Encoded> {
    encode_with(src, opts, &Pass::default(), vocab)
}

/// [`encode`] run as `pass` says.
pub fn encode_with(src: &Source, opts: ReadOptions, pass: &Pass, vocab: &Vocab) -> Result<Encoded> {
    let mut tokens = Vec::new();
    let (raw, _) = encode_into_with(src, opts, pass, vocab, &mut tokens)?;
    Ok(Encoded::new(tokens, raw))
}

/// Encodes `src` with `vocab` into `sink`; returns the raw words read and the words kept.
pub fn encode_into(
    src: &Source,
    opts: ReadOptions,
    vocab: &Vocab,
    sink: &mut impl IdSink,
) -> Result<(u64, u64)> {
    encode_into_with(src, opts, &Pass::default(), vocab, sink)
}

/// [`encode_into`] run as `pass` says.
pub fn encode_into_with<S: IdSink + ?Sized>(
    src: &Source,
    opts: ReadOptions,
    pass: &Pass,
    vocab: &Vocab,
    sink: &mut S,
) -> Result<(u64, u64)> {
    let merged = pass::run(src, opts, pass, Ids::Fixed(vocab), &mut Appending(sink))?;
    if merged.raw_words == 0 {
        return Err(empty(src));
    }
    if merged.words_kept == 0 {
        return Err(Error::Input(format!(
            "corpus '{}' has no word of the vocabulary; train on the corpus the vocabulary came from",
            src.name()
        )));
    }
    Ok((merged.raw_words, merged.words_kept))
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

    /// Splitmix64: the tests' random numbers.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) % n as u64) as usize
        }
    }

    /// Python's `str.isspace()` characters, written out (not derived from the tokenizer).
    const PYTHON_SPACES: &str = "\t\n\u{b}\u{c}\r\u{1c}\u{1d}\u{1e}\u{1f} \u{85}\u{a0}\u{1680}\
        \u{2000}\u{2001}\u{2002}\u{2003}\u{2004}\u{2005}\u{2006}\u{2007}\u{2008}\u{2009}\u{200a}\
        \u{2028}\u{2029}\u{202f}\u{205f}\u{3000}";

    /// The corpus read the obvious way: the whole text decoded lossily, split on Python's spaces,
    /// counted in a map that remembers first appearances, sorted, then encoded as before.
    fn reference(bytes: &[u8], opts: ReadOptions, min_count: u64) -> (Vocab, Encoded) {
        let text = String::from_utf8_lossy(bytes);
        let mut events: Vec<Option<String>> = Vec::new();
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                events.push(None);
            }
            for w in line
                .split(|c| PYTHON_SPACES.contains(c))
                .filter(|w| !w.is_empty())
            {
                let w = match opts.lowercase {
                    true => w.chars().flat_map(char::to_lowercase).collect(),
                    false => w.to_string(),
                };
                events.push(Some(w));
            }
        }
        if opts.format == CorpusFormat::Ptb {
            events = events
                .into_iter()
                .map(|e| Some(e.unwrap_or_else(|| EOS.to_string())))
                .collect();
        }
        let mut seen: std::collections::HashMap<&str, (u64, usize)> = Default::default();
        for w in events.iter().flatten() {
            let order = seen.len();
            seen.entry(w).or_insert((0, order)).0 += 1;
        }
        let mut entries: Vec<_> = seen.into_iter().filter(|e| e.1 .0 >= min_count).collect();
        entries.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.1 .1.cmp(&b.1 .1)));
        let vocab = Vocab::from_parts(
            entries.iter().map(|e| e.0.to_string()).collect(),
            entries.iter().map(|e| e.1 .0).collect(),
        );
        let mut enc = Encoded::default();
        for e in &events {
            match e {
                Some(w) => {
                    enc.raw_words += 1;
                    enc.tokens.extend(vocab.id(w));
                }
                None => {
                    if enc.tokens.last().is_some_and(|&t| t != SENTENCE_BREAK) {
                        enc.tokens.push(SENTENCE_BREAK);
                    }
                }
            }
        }
        (vocab, enc)
    }

    /// Random text: words in several scripts and cases, every kind of space, line ends, bytes
    /// that are not UTF-8 (lone, truncated sequences); one in five is a single long line.
    fn random_corpus(rng: &mut Rng) -> Vec<u8> {
        let pieces: [&[u8]; 30] = [
            b"a",
            b"b",
            b"ab",
            b"The",
            b"the",
            "ÜBER".as_bytes(),
            "über".as_bytes(),
            "日本".as_bytes(),
            "é".as_bytes(),
            "\u{fffd}".as_bytes(),
            "\u{feff}".as_bytes(),
            b"<eos>",
            b" ",
            b" ",
            b"\n",
            b"\r\n",
            b"\t",
            b"\x0b",
            b"\x1c",
            b"\x1f",
            "\u{a0}".as_bytes(),
            "\u{2003}".as_bytes(),
            "\u{3000}".as_bytes(),
            "\u{85}".as_bytes(),
            "\u{2028}".as_bytes(),
            b"\xff",
            b"\xe2\x80",
            b"\xc2",
            b"\xe3\x80",
            b"\xf0\x9f\x98",
        ];
        let long = rng.below(5) == 0;
        let len = 1 + rng.below(if long { 3000 } else { 200 });
        let mut out = Vec::new();
        for _ in 0..len {
            let piece = pieces[rng.below(pieces.len())];
            // A long corpus is one line (text8's shape): line ends left out.
            if !(long && piece.contains(&b'\n')) {
                out.extend_from_slice(piece);
            }
        }
        out
    }

    #[test]
    fn one_parallel_pass_equals_a_naive_sequential_reference() {
        let mut rng = Rng(7);
        for case in 0..400 {
            let bytes = random_corpus(&mut rng);
            let opts = ReadOptions {
                format: [CorpusFormat::Plain, CorpusFormat::Ptb][rng.below(2)],
                lowercase: rng.below(2) == 1,
            };
            let min_count = 1 + rng.below(3) as u64;
            let pass = Pass {
                threads: 1 + rng.below(4),
                chunk_bytes: 1 + rng.below(40),
                ..Pass::default()
            };
            let (want_vocab, want) = reference(&bytes, opts, min_count);
            // Text sources hold UTF-8; the bytes go through a file to keep the invalid ones.
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("c.txt");
            std::fs::write(&p, &bytes).unwrap();
            let mut tokens = Vec::new();
            let got = load_into(&Source::file(&p), opts, &pass, min_count, None, &mut tokens);
            let ctx = format!(
                "case {case}: {opts:?} {pass:?} min {min_count} {:?}",
                String::from_utf8_lossy(&bytes)
            );
            match got {
                Ok(l) => {
                    assert_eq!(l.vocab, want_vocab, "{ctx}");
                    assert_eq!(tokens, want.tokens, "{ctx}");
                    assert_eq!(l.raw_words, want.raw_words, "{ctx}");
                    let enc = encode_with(&Source::file(&p), opts, &pass, &l.vocab).unwrap();
                    assert_eq!(enc, want, "{ctx}");
                    let counted = vocabulary(&Source::file(&p), opts, min_count, None).unwrap();
                    assert_eq!(counted, l.vocab, "{ctx}");
                }
                Err(e) => assert!(want_vocab.is_empty(), "{ctx}: {e}"),
            }
        }
    }

    #[test]
    fn pruning_keeps_every_word_seen_more_often_than_all_thresholds_together() {
        let mut rng = Rng(11);
        for case in 0..30 {
            // Zipf-like: word k appears about 1/k as often.
            let mut text = String::new();
            let mut truth: std::collections::HashMap<String, u64> = Default::default();
            for i in 0..4000 {
                let spread = 1 + rng.below(400);
                let k = 1 + rng.below(spread);
                let w = format!("w{k}");
                *truth.entry(w.clone()).or_default() += 1;
                text += &w;
                text.push(if i % 13 == 0 { '\n' } else { ' ' });
            }
            let pass = Pass {
                threads: 1 + rng.below(3),
                chunk_bytes: 64 + rng.below(512),
                table_budget: 40 + rng.below(100),
            };
            let src = Source::Text {
                name: "t".into(),
                text,
            };
            let mut tokens = Vec::new();
            let l = load_into(&src, ReadOptions::default(), &pass, 1, None, &mut tokens).unwrap();
            let p = l.pruning.clone().expect("the table outgrew its budget");
            assert_eq!(p.budget, pass.table_budget);
            let all_thresholds = p.threshold * (p.threshold + 1) / 2;
            let mut stored = vec![0u64; l.vocab.len()];
            for &t in tokens.iter().filter(|&&t| t != SENTENCE_BREAK) {
                stored[t as usize] += 1;
            }
            assert_eq!(
                stored, l.vocab.counts,
                "case {case}: counts are the ids stored"
            );
            for (w, &n) in &truth {
                let kept = l.vocab.id(w).map_or(0, |id| l.vocab.counts[id as usize]);
                assert!(kept <= n, "case {case}: {w} kept {kept} of {n}");
                if n > all_thresholds {
                    assert!(
                        kept + all_thresholds >= n,
                        "case {case}: {w} {kept} of {n} ({p:?})"
                    );
                }
            }
            assert_eq!(l.raw_words, 4000);
            let line = p.to_string();
            assert!(
                line.contains("--vocab-budget") && !line.contains('\n'),
                "{line}"
            );
        }
        let (_, enc) = load(&text("a b a\n"), ReadOptions::default(), 1, None).unwrap();
        assert_eq!(enc.raw_words, 3);
    }

    /// A sink that takes ids one by one, as a cache file's streaming writer does.
    struct OneByOne(Vec<u32>);
    impl IdSink for OneByOne {
        fn push(&mut self, id: u32) -> Result<()> {
            self.0.push(id);
            Ok(())
        }
    }

    #[test]
    fn an_append_only_sink_gets_the_ids_of_memory_and_its_errors_stop_the_pass() {
        let body: String = (0..20_000).map(|i| format!("w{} ", i % 97)).collect();
        let src = text(&format!("{body}\n{body}\n"));
        let (v, enc) = load(&src, ReadOptions::default(), 1, None).unwrap();
        let mut sink = OneByOne(Vec::new());
        let (raw, kept) = encode_into(&src, ReadOptions::default(), &v, &mut sink).unwrap();
        assert_eq!((sink.0, raw, kept), (enc.tokens, 40_000, 40_000));
        assert_eq!(
            vocabulary(&src, ReadOptions::default(), 1, None).unwrap(),
            v
        );

        struct Full(usize);
        impl IdSink for Full {
            fn push(&mut self, _: u32) -> Result<()> {
                self.0 += 1;
                match self.0 > 1000 {
                    true => Err(Error::Input("disk full".into())),
                    false => Ok(()),
                }
            }
        }
        let pass = Pass {
            chunk_bytes: 4096,
            ..Pass::default()
        };
        let e =
            encode_into_with(&src, ReadOptions::default(), &pass, &v, &mut Full(0)).unwrap_err();
        assert_eq!(e.to_string(), "disk full");
    }

    #[test]
    fn a_control_character_is_refused_naming_the_corpus_and_its_byte() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.txt");
        let mut text = "good words here\n".repeat(1000).into_bytes();
        text.extend_from_slice(b"bad\x07word\n");
        std::fs::write(&p, &text).unwrap();
        for threads in [1, 3] {
            let pass = Pass {
                threads,
                chunk_bytes: 100,
                ..Pass::default()
            };
            let e = load_into(
                &Source::file(&p),
                ReadOptions::default(),
                &pass,
                1,
                None,
                &mut Vec::new(),
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("c.txt") && e.contains("byte 16003"), "{e}");
            assert!(e.contains("control character") && !e.contains('\n'), "{e}");
        }
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
