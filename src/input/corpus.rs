//! Streams a text corpus twice: once to count words, once to encode it as u32 ids (4 bytes a token).
//!
//! Tokens are runs of non-whitespace bytes (ASCII whitespace separates them), so a text8-style file
//! that is one 100 MB line streams in fixed-size chunks like any other. Bytes that are not UTF-8
//! become U+FFFD inside their token instead of failing the run.
//!
//! Formats:
//! - `plain`: each line end is a sentence end ([`plan::SENTENCE_BREAK`]; windows never cross it).
//! - `ptb`: the book's `ptb.load_data`: each line end becomes the word `<eos>`, which windows cross;
//!   `<unk>` is an ordinary word.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::input::vocab::{Counter, Vocab};
use crate::train::plan::SENTENCE_BREAK;

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

/// Where a corpus comes from: a file, or text made in memory (the built-in corpus).
#[derive(Clone, Debug)]
pub enum Source {
    File(PathBuf),
    Text { name: String, text: String },
}

impl Source {
    /// The name errors and summaries show.
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Text { name, .. } => name.clone(),
        }
    }

    fn open(&self) -> Result<Box<dyn BufRead + '_>> {
        match self {
            Source::File(p) => {
                let f = File::open(p).map_err(|e| Error::io("cannot read corpus", p, e))?;
                Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
            }
            Source::Text { text, .. } => Ok(Box::new(text.as_bytes())),
        }
    }
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
    /// Tokens that are words (not sentence breaks).
    pub fn words(&self) -> u64 {
        self.tokens.iter().filter(|&&t| t != SENTENCE_BREAK).count() as u64
    }
}

enum Event<'a> {
    Word(&'a str),
    LineEnd,
}

/// Calls `f` for every token and line end of `src`, streaming in chunks.
fn scan(src: &Source, opts: ReadOptions, mut f: impl FnMut(Event)) -> Result<()> {
    let mut reader = src.open()?;
    let mut token: Vec<u8> = Vec::with_capacity(64);
    let mut lowered = String::new();
    let mut emit = |token: &mut Vec<u8>, f: &mut dyn FnMut(Event)| {
        if token.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(token);
        if opts.lowercase {
            lowered.clear();
            lowered.extend(text.chars().flat_map(char::to_lowercase));
            f(Event::Word(&lowered));
        } else {
            f(Event::Word(&text));
        }
        token.clear();
    };
    let read_err = |e| match src {
        Source::File(p) => Error::io("cannot read corpus", p, e),
        Source::Text { name, .. } => Error::Input(format!("cannot read corpus '{name}': {e}")),
    };
    loop {
        let chunk = reader.fill_buf().map_err(read_err)?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        for &b in chunk {
            if b.is_ascii_whitespace() {
                emit(&mut token, &mut f);
                if b == b'\n' {
                    f(Event::LineEnd);
                }
            } else {
                token.push(b);
            }
        }
        reader.consume(n);
    }
    emit(&mut token, &mut f);
    Ok(())
}

/// Reads `src` twice: counts words into a vocabulary (`min_count`, `max_vocab`), then encodes it.
pub fn load(
    src: &Source,
    opts: ReadOptions,
    min_count: u64,
    max_vocab: Option<usize>,
) -> Result<(Vocab, Encoded)> {
    let vocab = vocabulary(src, opts, min_count, max_vocab)?;
    let enc = encode(src, opts, &vocab)?;
    Ok((vocab, enc))
}

/// Counts the words of `src` into a vocabulary (`min_count`, `max_vocab`).
pub fn vocabulary(
    src: &Source,
    opts: ReadOptions,
    min_count: u64,
    max_vocab: Option<usize>,
) -> Result<Vocab> {
    let mut counter = Counter::default();
    let mut raw = 0u64;
    scan(src, opts, |ev| match ev {
        Event::Word(w) => {
            counter.add(w);
            raw += 1;
        }
        Event::LineEnd if opts.format == CorpusFormat::Ptb => {
            counter.add(EOS);
            raw += 1;
        }
        Event::LineEnd => {}
    })?;
    if raw == 0 {
        return Err(Error::Input(format!(
            "corpus '{}' is empty: it has no words; give a text file of whitespace-separated words",
            src.name()
        )));
    }
    let distinct = counter.distinct();
    let vocab = counter.into_vocab(min_count, max_vocab);
    if vocab.is_empty() {
        return Err(Error::Input(format!(
            "corpus '{}' has no word with count >= {min_count}; lower --min-count (it has {raw} words, {distinct} distinct)",
            src.name()
        )));
    }
    Ok(vocab)
}

/// Where encoded ids go, in order: memory (`Vec<u32>`) or a cache file
/// ([`crate::input::cache::CacheWriter`]).
pub trait IdSink {
    fn push(&mut self, id: u32) -> Result<()>;
}

impl IdSink for Vec<u32> {
    #[inline]
    fn push(&mut self, id: u32) -> Result<()> {
        Vec::push(self, id);
        Ok(())
    }
}

/// Encodes `src` with a given vocabulary (out-of-vocabulary words dropped).
pub fn encode(src: &Source, opts: ReadOptions, vocab: &Vocab) -> Result<Encoded> {
    let mut enc = Encoded::default();
    let (raw, _) = encode_into(src, opts, vocab, &mut enc.tokens)?;
    enc.raw_words = raw;
    enc.tokens.shrink_to_fit();
    Ok(enc)
}

/// Encodes `src` with `vocab` into `sink`; returns the raw words read and the words kept.
pub fn encode_into(
    src: &Source,
    opts: ReadOptions,
    vocab: &Vocab,
    sink: &mut impl IdSink,
) -> Result<(u64, u64)> {
    let (mut raw, mut words) = (0u64, 0u64);
    // Whether the last id pushed was a word (a line end after one is a sentence break).
    let mut after_word = false;
    let mut failed = None;
    let eos = vocab.id(EOS);
    let mut push = |id: u32, failed: &mut Option<Error>| {
        if failed.is_none() {
            if let Err(e) = sink.push(id) {
                *failed = Some(e);
            }
        }
    };
    scan(src, opts, |ev| match ev {
        Event::Word(w) => {
            raw += 1;
            if let Some(id) = vocab.id(w) {
                push(id, &mut failed);
                words += 1;
                after_word = true;
            }
        }
        Event::LineEnd => match opts.format {
            CorpusFormat::Ptb => {
                raw += 1;
                if let Some(id) = eos {
                    push(id, &mut failed);
                    words += 1;
                    after_word = true;
                }
            }
            CorpusFormat::Plain => {
                if after_word {
                    push(SENTENCE_BREAK, &mut failed);
                    after_word = false;
                }
            }
        },
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    if words == 0 {
        return Err(Error::Input(format!(
            "corpus '{}' has no word of the vocabulary; train on the corpus the vocabulary came from",
            src.name()
        )));
    }
    Ok((raw, words))
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
        let (v, enc) = load(&Source::File(p), ReadOptions::default(), 1, None).unwrap();
        assert_eq!(v.words, ["ok", "\u{fffd}\u{fffd}"]);
        assert_eq!(enc.raw_words, 3);
    }

    #[test]
    fn a_single_long_line_streams_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("one_line.txt");
        let line: String = (0..300_000).map(|i| format!("w{} ", i % 7)).collect();
        std::fs::write(&p, &line).unwrap();
        let (v, enc) = load(&Source::File(p), ReadOptions::default(), 1, None).unwrap();
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
            &Source::File("/no/such/corpus.txt".into()),
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
