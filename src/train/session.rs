//! The training session: the one owner of the encoded corpus while a run trains. Made once per
//! run, it holds the corpus (in memory or in a cache file), its per-span word counts, the host
//! chunks batches are read from, the batch size and the learning-rate schedule, and hands the
//! epoch loop each batch with its chunk, its ramp and its word count.
//!
//! The units are `plan.rs`'s: spans, batches, pieces, chunks. A host chunk holds whole batches
//! (a multiple of the batch size, at least one batch); an in-memory corpus is one chunk for the
//! whole run (so a backend that keeps a copy uploads it once), a corpus in a cache file is read a
//! chunk at a time into one reused buffer, so its host memory is the chunk's and not the corpus's.

use crate::dist::shard::{ramp_position, Rounds};
use crate::error::Result;
use crate::input::cache::CacheFile;
use crate::input::corpus::Encoded;
use crate::train::plan::{Batch, Chunk, SENTENCE_BREAK, SPAN_LEN};
use crate::train::TrainConfig;

/// The encoded corpus as a session reads it: in memory, or read a window at a time.
pub trait CorpusIds: Sync {
    /// Tokens (word ids and sentence breaks).
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every word the text had, in the vocabulary or not (word2vec.c's count for words/s).
    fn raw_words(&self) -> u64;
    /// All the tokens, where they are in memory.
    fn in_memory(&self) -> Option<&[u32]>;
    /// Tokens `start..start + out.len()` into `out` (a corpus not in memory).
    fn read(&self, start: usize, out: &mut [u32]) -> Result<()>;
    /// The most tokens a host chunk should hold (its memory budget); `usize::MAX` for no bound.
    fn chunk_tokens(&self) -> usize {
        usize::MAX
    }
}

impl CorpusIds for Encoded {
    fn len(&self) -> usize {
        self.tokens.len()
    }
    fn raw_words(&self) -> u64 {
        self.raw_words
    }
    fn in_memory(&self) -> Option<&[u32]> {
        Some(&self.tokens)
    }
    fn read(&self, start: usize, out: &mut [u32]) -> Result<()> {
        out.copy_from_slice(&self.tokens[start..start + out.len()]);
        Ok(())
    }
}

impl CorpusIds for CacheFile {
    fn len(&self) -> usize {
        self.tokens()
    }
    fn raw_words(&self) -> u64 {
        self.header().raw_words
    }
    fn in_memory(&self) -> Option<&[u32]> {
        None
    }
    fn read(&self, start: usize, out: &mut [u32]) -> Result<()> {
        self.read_ids(start, out)
    }
    fn chunk_tokens(&self) -> usize {
        self.window_tokens()
    }
}

/// A run's encoded corpus: in memory, or in a cache file read a chunk at a time.
#[derive(Debug)]
pub enum Corpus {
    Memory(Encoded),
    File(CacheFile),
}

impl Corpus {
    fn ids(&self) -> &dyn CorpusIds {
        match self {
            Corpus::Memory(e) => e,
            Corpus::File(f) => f,
        }
    }

    /// Words (tokens that are not sentence breaks).
    pub fn words(&self) -> u64 {
        match self {
            Corpus::Memory(e) => e.words(),
            Corpus::File(f) => f.header().words,
        }
    }
}

impl CorpusIds for Corpus {
    fn len(&self) -> usize {
        self.ids().len()
    }
    fn raw_words(&self) -> u64 {
        self.ids().raw_words()
    }
    fn in_memory(&self) -> Option<&[u32]> {
        self.ids().in_memory()
    }
    fn read(&self, start: usize, out: &mut [u32]) -> Result<()> {
        self.ids().read(start, out)
    }
    fn chunk_tokens(&self) -> usize {
        self.ids().chunk_tokens()
    }
}

/// Batches per epoch at least, when the corpus is small enough (progress and loss-plot points).
const MIN_BATCHES_PER_EPOCH: usize = 16;

/// Corpus tokens per batch for a corpus of `n` tokens and a backend that prefers `preferred`:
/// smaller for small corpora so an epoch has `MIN_BATCHES_PER_EPOCH` batches, rounded to whole
/// spans (at least one).
pub fn batch_tokens(preferred: usize, n: usize) -> usize {
    let tokens = preferred.min(n / MIN_BATCHES_PER_EPOCH);
    let spans = (tokens + SPAN_LEN / 2) / SPAN_LEN;
    spans.max(1) * SPAN_LEN
}

/// One batch as the session hands it out: the chunk holding it, the batch with its ramp, and the
/// words (non-break tokens) it covers.
pub struct Fed<'s> {
    pub chunk: Chunk<'s>,
    pub batch: Batch,
    pub words: u64,
}

/// The corpus of one run, cut into chunks and batches.
pub struct Session<'c> {
    ids: &'c dyn CorpusIds,
    n: usize,
    /// Non-break tokens of each span of the corpus.
    span_words: Vec<u32>,
    words: u64,
    batch: usize,
    chunk: usize,
    cfg: TrainConfig,
    total_tokens: u64,
    /// The chunk read last (`start`, `end`, id) and its tokens, for a corpus not in memory.
    loaded: Option<(usize, usize, u64)>,
    buf: Vec<u32>,
    /// The id of the in-memory corpus as one chunk, the same for the whole run.
    whole_id: u64,
}

impl<'c> Session<'c> {
    /// The session for training `cfg.epochs` epochs over `ids` in batches of about `preferred`
    /// tokens (the backend's preference); reads the corpus once for the per-span word counts.
    pub fn new(ids: &'c dyn CorpusIds, cfg: &TrainConfig, preferred: usize) -> Result<Session<'c>> {
        let n = ids.len();
        let batch = batch_tokens(preferred, n);
        let chunk = match ids.in_memory() {
            Some(_) => n.max(1),
            None => (ids.chunk_tokens() / batch).max(1) * batch,
        };
        let mut s = Session {
            ids,
            n,
            span_words: Vec::with_capacity(n.div_ceil(SPAN_LEN)),
            words: 0,
            batch,
            chunk,
            cfg: cfg.clone(),
            total_tokens: cfg.epochs as u64 * n as u64,
            loaded: None,
            buf: Vec::new(),
            whole_id: Chunk::new(0, &[]).id,
        };
        let mut start = 0;
        while start < n {
            let end = (start + chunk).min(n);
            let counts: Vec<u32> = s
                .load(start, end)?
                .tokens
                .chunks(SPAN_LEN)
                .map(|sp| sp.iter().filter(|&&w| w != SENTENCE_BREAK).count() as u32)
                .collect();
            s.span_words.extend(counts);
            start = end;
        }
        s.words = s.span_words.iter().map(|&w| w as u64).sum();
        Ok(s)
    }

    /// Tokens in the corpus.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Words (non-break tokens) in the corpus.
    pub fn words(&self) -> u64 {
        self.words
    }

    /// Raw words (word2vec.c's count) per word of the corpus, to report raw words from words.
    pub fn raw_per_word(&self) -> f64 {
        self.ids.raw_words() as f64 / self.words.max(1) as f64
    }

    /// Raw words of one epoch.
    pub fn raw_words(&self) -> u64 {
        self.ids.raw_words()
    }

    /// Tokens per batch.
    pub fn batch_tokens(&self) -> usize {
        self.batch
    }

    /// Tokens per host chunk (a multiple of the batch size).
    pub fn chunk_tokens(&self) -> usize {
        self.chunk
    }

    /// Words in `s..e`, which starts on a span and ends on one or at the corpus end.
    pub fn words_in(&self, s: usize, e: usize) -> u64 {
        debug_assert!(s.is_multiple_of(SPAN_LEN) && (e.is_multiple_of(SPAN_LEN) || e == self.n));
        self.span_words[s / SPAN_LEN..e.div_ceil(SPAN_LEN)]
            .iter()
            .map(|&w| w as u64)
            .sum()
    }

    /// The batch of `epoch` at corpus offset `start`, with the schedule's ramp over it.
    pub fn batch_at(&self, epoch: u64, start: usize) -> Batch {
        self.batch_in(epoch, start, &Part::whole(0, self.n))
    }

    /// The batch of `epoch` at `start` inside `part`: it ends at the part's end at the latest,
    /// and ramps as a single process does at the same fraction of the epoch
    /// ([`crate::dist::shard::ramp_position`]).
    fn batch_in(&self, epoch: u64, start: usize, part: &Part) -> Batch {
        let len = match &part.rounds {
            Some(r) => r.batch_end(part.lo, part.hi, start) - start,
            None => self.batch.min(part.hi - start),
        };
        let at = |s: usize| {
            epoch * self.n as u64 + ramp_position(s, part.from, self.n, part.lo, part.hi)
        };
        Batch {
            start,
            len,
            epoch,
            corpus_len: self.n as u64,
            lr_begin: self.cfg.lr_at(at(start), self.total_tokens),
            lr_end: self.cfg.lr_at(at(start + len), self.total_tokens),
        }
    }

    /// Sets the tokens per batch to `tokens` (whole spans) if that is fewer than now, so that a
    /// rank can synchronise about every `tokens` tokens; host chunks stay whole batches.
    pub fn limit_batch_tokens(&mut self, tokens: usize) {
        let spans = tokens.div_ceil(SPAN_LEN).max(1);
        if spans * SPAN_LEN < self.batch {
            self.batch = spans * SPAN_LEN;
            if self.ids.in_memory().is_none() {
                self.chunk = (self.ids.chunk_tokens() / self.batch).max(1) * self.batch;
            }
        }
    }

    /// The chunk holding `start..end` (for a corpus not in memory, exactly those tokens).
    fn load(&mut self, start: usize, end: usize) -> Result<Chunk<'_>> {
        if let Some(all) = self.ids.in_memory() {
            return Ok(Chunk {
                id: self.whole_id,
                start: 0,
                tokens: all,
            });
        }
        match self.loaded {
            Some((s, e, id)) if (s, e) == (start, end) => Ok(Chunk {
                id,
                start,
                tokens: &self.buf,
            }),
            _ => {
                self.loaded = None;
                self.buf.resize(end - start, 0);
                self.ids.read(start, &mut self.buf)?;
                let id = Chunk::new(start, &[]).id;
                self.loaded = Some((start, end, id));
                Ok(Chunk {
                    id,
                    start,
                    tokens: &self.buf,
                })
            }
        }
    }

    /// Calls `train` for every batch of `epoch` from corpus offset `from` (span-aligned), in
    /// order, each with the chunk that holds it; stops at the first error.
    pub fn epoch(
        &mut self,
        epoch: u64,
        from: usize,
        train: impl FnMut(&Fed) -> Result<()>,
    ) -> Result<()> {
        self.epoch_part(epoch, Part::whole(from, self.n), train)
    }

    /// [`Session::epoch`] over one rank's shard `part.lo..part.hi` of the epoch's tokens
    /// `part.from..` (batches from the shard's start, ramps of the whole epoch).
    pub fn epoch_part(
        &mut self,
        epoch: u64,
        part: Part,
        mut train: impl FnMut(&Fed) -> Result<()>,
    ) -> Result<()> {
        let mut start = part.lo;
        while start < part.hi {
            // Whole batches up to a chunk's tokens (at least one batch).
            let mut batches = Vec::new();
            let mut s = start;
            while s < part.hi {
                let b = self.batch_in(epoch, s, &part);
                if !batches.is_empty() && s + b.len > start + self.chunk {
                    break;
                }
                s += b.len;
                batches.push(b);
            }
            let chunk_end = s;
            let words: Vec<u64> = batches
                .iter()
                .map(|b| self.words_in(b.start, b.start + b.len))
                .collect();
            let chunk = self.load(start, chunk_end)?;
            for (batch, words) in batches.into_iter().zip(words) {
                train(&Fed {
                    chunk,
                    batch,
                    words,
                })?;
            }
            start = chunk_end;
        }
        Ok(())
    }
}

/// The tokens of an epoch one rank trains: its shard `lo..hi` of the epoch's `from..` (the
/// corpus end); one process trains `from..n` whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub from: usize,
    pub lo: usize,
    pub hi: usize,
    /// A rank's rounds, which cut `lo..hi` into its batches; `None`: batches of the session's
    /// size.
    pub rounds: Option<Rounds>,
}

impl Part {
    /// All of `from..n`.
    pub fn whole(from: usize, n: usize) -> Part {
        Part {
            from,
            lo: from,
            hi: n,
            rounds: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(n: usize) -> Encoded {
        let tokens: Vec<u32> = (0..n)
            .map(|i| {
                if i % 13 == 12 {
                    SENTENCE_BREAK
                } else {
                    (i % 7) as u32
                }
            })
            .collect();
        Encoded {
            raw_words: n as u64,
            tokens,
        }
    }

    /// A corpus that is not in memory: the same tokens, read a window at a time.
    struct Windowed(Encoded, usize);
    impl CorpusIds for Windowed {
        fn len(&self) -> usize {
            self.0.tokens.len()
        }
        fn raw_words(&self) -> u64 {
            self.0.raw_words
        }
        fn in_memory(&self) -> Option<&[u32]> {
            None
        }
        fn read(&self, start: usize, out: &mut [u32]) -> Result<()> {
            self.0.read(start, out)
        }
        fn chunk_tokens(&self) -> usize {
            self.1
        }
    }

    fn schedule(s: &mut Session, epochs: u64) -> Vec<(Batch, u64, Vec<u32>)> {
        let mut got = Vec::new();
        for e in 0..epochs {
            s.epoch(e, 0, |f| {
                assert!(f.chunk.holds(&f.batch));
                let t = f.chunk.get(f.batch.start, f.batch.start + f.batch.len);
                got.push((f.batch.clone(), f.words, t.to_vec()));
                Ok(())
            })
            .unwrap();
        }
        got
    }

    #[test]
    fn batches_tile_the_corpus_and_words_are_counted_once() {
        let enc = corpus(40 * SPAN_LEN + 123);
        let cfg = TrainConfig {
            epochs: 2,
            ..TrainConfig::default()
        };
        let mut s = Session::new(&enc, &cfg, 2 * SPAN_LEN).unwrap();
        assert_eq!(s.batch_tokens(), 2 * SPAN_LEN);
        let naive = enc.tokens.iter().filter(|&&t| t != SENTENCE_BREAK).count() as u64;
        assert_eq!(s.words(), naive);
        let got = schedule(&mut s, 2);
        let mut next = 0;
        for (b, w, t) in &got[..got.len() / 2] {
            assert_eq!(b.start, next);
            next += b.len;
            assert_eq!(t, &enc.tokens[b.start..b.start + b.len]);
            assert_eq!(
                *w,
                t.iter().filter(|&&x| x != SENTENCE_BREAK).count() as u64
            );
        }
        assert_eq!(next, enc.tokens.len());
        // The ramp is continuous across batches and epochs.
        for w in got.windows(2) {
            assert_eq!(w[0].0.lr_end, w[1].0.lr_begin);
        }
    }

    #[test]
    fn a_windowed_corpus_gives_the_same_batches_in_bounded_chunks() {
        let enc = corpus(40 * SPAN_LEN + 123);
        let cfg = TrainConfig::default();
        let whole = schedule(&mut Session::new(&enc, &cfg, 2 * SPAN_LEN).unwrap(), 2);
        // Chunks of 5 spans hold two batches of 2 spans; a chunk smaller than a batch holds one.
        for budget in [5 * SPAN_LEN, 100, 1 << 30] {
            let w = Windowed(enc.clone(), budget);
            let mut s = Session::new(&w, &cfg, 2 * SPAN_LEN).unwrap();
            assert!(s.chunk_tokens() <= budget.max(s.batch_tokens()));
            let got = schedule(&mut s, 2);
            assert_eq!(got.len(), whole.len());
            for (a, b) in got.iter().zip(&whole) {
                assert_eq!(
                    (a.0.start, a.0.len, a.1, &a.2),
                    (b.0.start, b.0.len, b.1, &b.2)
                );
                assert_eq!((a.0.lr_begin, a.0.lr_end), (b.0.lr_begin, b.0.lr_end));
            }
        }
    }
}
