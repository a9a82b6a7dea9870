//! What one training step trains: the exact semantics every backend follows.
//!
//! This is the contract between the trainer, the CPU backend and the CUDA kernels (`kernels/sgns.cu`
//! mirrors it; keep them in step). Four units, each defined once here:
//!
//! - a **span** is `SPAN_LEN` corpus tokens starting at a multiple of [`SPAN_LEN`] (the last one
//!   may be shorter); windows never cross its edge;
//! - a **batch** ([`Batch`]) is a contiguous, span-aligned range of the encoded corpus with one
//!   linear learning-rate ramp over it: the unit the trainer hands a backend, between which
//!   progress is reported;
//! - a **piece** ([`Batch::piece`]) is a span-aligned part of a batch that a backend trains in one
//!   go (a CPU worker's share, one pair of kernel launches); it trains with its *batch's* ramp, so
//!   how a backend cuts a batch into pieces changes no learning rate;
//! - a **chunk** ([`Chunk`]) is a span-aligned window of the encoded corpus held in memory, that
//!   batches are read from; every batch lies inside one chunk. The training session
//!   (`train::session`) makes the host chunks; the CUDA backend keeps a device chunk (a window of
//!   a host chunk) resident and uploads again only when a piece leaves it.
//!
//! Inside a batch:
//!
//! 1. **Spans.** The batch is cut at multiples of [`SPAN_LEN`] counted from the start of the corpus.
//!    Windows never cross a span boundary or a [`SENTENCE_BREAK`] (word2vec.c's sentences).
//! 2. **Subsampling.** Token `i` of the corpus in epoch `e` has key position
//!    `pos = e · corpus_len + i`. It is kept per [`crate::train::sampler::keep_token`]; breaks are always kept.
//!    Kept tokens of a span are compacted in order (word2vec.c drops words before windowing).
//! 3. **Windows.** Each kept, non-break token is a centre. Its half-width is `window` with
//!    `--fixed-window` (the book), else `window − below(draw(seed,pos,WINDOW,0)[0], window)` (word2vec.c's
//!    shrink, 1..=window). Contexts are the kept tokens within that many compacted places on each side,
//!    stopping at a break or the span edge.
//! 4. **Negatives.** `K` negatives per centre from [`crate::train::sampler::negatives_for_centre`], keyed by the
//!    centre's `pos`, shared by all its contexts (HogBatch / FULL-W2V).
//! 5. **Examples.** Orientation as word2vec.c. Skip-gram: for each context `c`, input `h = w_in[c]`,
//!    targets `[centre, neg_1..neg_K]` in `w_out` with labels `[1, 0, …]`. CBOW: one input per centre,
//!    `h = mean(w_in[c] for c in contexts)`, the same targets; the input gradient is added unscaled to
//!    every context row (word2vec.c). Centres with no context train nothing.
//! 6. **Learning rate.** The token at offset `t` of a batch of `len` tokens trains with
//!    `lr_begin + (lr_end − lr_begin) · (t / len)` (f32).
//! 7. **Loss.** Binary cross-entropy per (positive or negative) example; steps report its sum and count.
//!
//! The fast paths (CPU Hogwild, fused CUDA) apply each centre's update before the next centre reads
//! (sequentially with one thread, racily with many). The composed path applies one minibatch update per
//! `batch_size` centres. They agree to first order in the learning rate; tests compare them with a small rate.

use crate::train::rng::{self, below, PURPOSE_WINDOW};
use crate::train::sampler::{keep_token, negatives_for_centre, AliasTable, NegativeMode};

/// Token id that marks a sentence end in the encoded corpus (never a word id).
pub const SENTENCE_BREAK: u32 = u32::MAX;

/// Windows never cross a multiple of this many corpus tokens. Mirrored in `kernels/common.cuh`.
pub const SPAN_LEN: usize = 8192;

/// Model architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ModelKind {
    #[default]
    Skipgram,
    Cbow,
}

/// Everything a step needs besides the parameters; identical on every backend.
#[derive(Clone, Debug)]
pub struct StepConfig {
    pub model: ModelKind,
    pub window: u32,
    pub fixed_window: bool,
    pub negative: u32,
    pub negatives: NegativeMode,
    pub seed: u64,
}

/// A contiguous range of the encoded corpus trained in one call, with its learning-rate ramp
/// (a *batch*; a *piece* of one is a `Batch` from [`Batch::piece`], see the module docs).
#[derive(Clone, Debug)]
pub struct Batch {
    /// Offset of the first token in the encoded corpus.
    pub start: usize,
    pub len: usize,
    /// Epoch number; key positions are `epoch * corpus_len + index`.
    pub epoch: u64,
    pub corpus_len: u64,
    pub lr_begin: f32,
    pub lr_end: f32,
}

impl Batch {
    #[inline(always)]
    pub fn key_pos(&self, index: usize) -> u64 {
        self.epoch * self.corpus_len + index as u64
    }

    #[inline(always)]
    pub fn lr_at(&self, index: usize) -> f32 {
        let t = (index - self.start) as f32 / self.len as f32;
        self.lr_begin + (self.lr_end - self.lr_begin) * t
    }

    /// The piece `s..e` of this batch (`start <= s < e <= start + len`). Its tokens train with this
    /// batch's ramp: a caller that trains a piece takes learning rates from the batch's
    /// [`Batch::lr_at`] (CPU workers, and the kernels through the piece's offset in its batch).
    pub fn piece(&self, s: usize, e: usize) -> Batch {
        debug_assert!(self.start <= s && s < e && e <= self.start + self.len);
        Batch {
            start: s,
            len: e - s,
            ..self.clone()
        }
    }

    /// The spans of this batch: `(start, end)` corpus offsets.
    pub fn spans(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let end = self.start + self.len;
        let mut s = self.start;
        std::iter::from_fn(move || {
            (s < end).then(|| {
                let e = ((s / SPAN_LEN + 1) * SPAN_LEN).min(end);
                let r = (s, e);
                s = e;
                r
            })
        })
    }
}

/// A *chunk*: the corpus tokens `start..start + tokens.len()` held in memory (`start` a multiple of
/// [`SPAN_LEN`]). Steps read a batch's tokens through the chunk that holds it, by corpus offset.
#[derive(Clone, Copy, Debug)]
pub struct Chunk<'a> {
    /// Names these tokens for the process: chunks with one id hold the same tokens, so a backend
    /// that keeps a copy (the CUDA device chunk) knows it is current without looking at them.
    pub id: u64,
    pub start: usize,
    pub tokens: &'a [u32],
}

impl<'a> Chunk<'a> {
    /// The chunk of `tokens` at corpus offset `start`, with an id no other chunk has had.
    pub fn new(start: usize, tokens: &'a [u32]) -> Chunk<'a> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        debug_assert_eq!(start % SPAN_LEN, 0, "chunks start on a span");
        Chunk {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            start,
            tokens,
        }
    }

    /// The whole corpus as one chunk.
    pub fn whole(tokens: &'a [u32]) -> Chunk<'a> {
        Chunk::new(0, tokens)
    }

    /// One past the last corpus offset held.
    pub fn end(&self) -> usize {
        self.start + self.tokens.len()
    }

    /// Corpus tokens `s..e` (inside the chunk).
    #[inline]
    pub fn get(&self, s: usize, e: usize) -> &'a [u32] {
        &self.tokens[s - self.start..e - self.start]
    }

    /// Whether the batch (or piece) lies inside the chunk.
    pub fn holds(&self, batch: &Batch) -> bool {
        self.start <= batch.start && batch.start + batch.len <= self.end()
    }
}

/// Half-width of the window around the centre at key position `pos`.
#[inline(always)]
pub fn effective_window(seed: u64, pos: u64, window: u32, fixed: bool) -> u32 {
    if fixed {
        window
    } else {
        window - below(rng::draw(seed, pos, PURPOSE_WINDOW, 0)[0], window)
    }
}

/// One centre of a span with everything the reference semantics assign it.
#[derive(Clone, Debug, PartialEq)]
pub struct Centre {
    pub word: u32,
    pub pos: u64,
    /// Corpus offset of the centre token (for the learning rate).
    pub index: usize,
    pub contexts: Vec<u32>,
    pub negatives: Vec<u32>,
}

/// The reference enumeration of a batch's centres (steps 1–5 above), in corpus order.
/// The CPU backend's fast loop and the composed path both train exactly these; tests use it to
/// check the kernels' windows and draws.
pub fn centres(
    chunk: &Chunk,
    batch: &Batch,
    keep: &[u32],
    table: &AliasTable,
    cfg: &StepConfig,
    mut visit: impl FnMut(&Centre),
) {
    let mut kept: Vec<(u32, usize)> = Vec::with_capacity(SPAN_LEN);
    let mut c = Centre {
        word: 0,
        pos: 0,
        index: 0,
        contexts: Vec::new(),
        negatives: vec![0; cfg.negative as usize],
    };
    debug_assert!(chunk.holds(batch), "the batch lies in its chunk");
    for (s, e) in batch.spans() {
        kept.clear();
        for (i, &w) in chunk.get(s, e).iter().enumerate() {
            let index = s + i;
            if w == SENTENCE_BREAK || keep_token(keep, cfg.seed, batch.key_pos(index), w) {
                kept.push((w, index));
            }
        }
        for (k, &(word, index)) in kept.iter().enumerate() {
            if word == SENTENCE_BREAK {
                continue;
            }
            let pos = batch.key_pos(index);
            let b = effective_window(cfg.seed, pos, cfg.window, cfg.fixed_window) as usize;
            c.contexts.clear();
            for j in (k.saturating_sub(b)..k).rev() {
                if kept[j].0 == SENTENCE_BREAK {
                    break;
                }
                c.contexts.push(kept[j].0);
            }
            c.contexts.reverse();
            for &(w, _) in kept.iter().skip(k + 1).take(b) {
                if w == SENTENCE_BREAK {
                    break;
                }
                c.contexts.push(w);
            }
            c.word = word;
            c.pos = pos;
            c.index = index;
            negatives_for_centre(table, cfg.seed, pos, word, cfg.negatives, &mut c.negatives);
            visit(&c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(window: u32, fixed: bool) -> StepConfig {
        StepConfig {
            model: ModelKind::Skipgram,
            window,
            fixed_window: fixed,
            negative: 2,
            negatives: NegativeMode::Replace,
            seed: 5,
        }
    }

    fn batch(len: usize) -> Batch {
        Batch {
            start: 0,
            len,
            epoch: 0,
            corpus_len: len as u64,
            lr_begin: 0.1,
            lr_end: 0.0,
        }
    }

    #[test]
    fn fixed_window_gives_book_contexts_and_stops_at_breaks() {
        let tokens = [0, 1, 2, 3, SENTENCE_BREAK, 4, 5];
        let keep = vec![u32::MAX; 6];
        let table = AliasTable::unigram(&[1; 6], 0.75);
        let mut got = Vec::new();
        centres(
            &Chunk::whole(&tokens),
            &batch(tokens.len()),
            &keep,
            &table,
            &cfg(2, true),
            |c| got.push((c.word, c.contexts.clone())),
        );
        assert_eq!(
            got,
            vec![
                (0, vec![1, 2]),
                (1, vec![0, 2, 3]),
                (2, vec![0, 1, 3]),
                (3, vec![1, 2]),
                (4, vec![5]),
                (5, vec![4]),
            ]
        );
    }

    #[test]
    fn dynamic_window_is_uniform_on_one_to_window() {
        let mut hist = [0u32; 6];
        for pos in 0..60_000 {
            hist[effective_window(11, pos, 5, false) as usize] += 1;
        }
        assert_eq!(hist[0], 0);
        for &h in &hist[1..] {
            assert!((11_400..12_600).contains(&h), "{hist:?}");
        }
    }

    #[test]
    fn spans_cut_at_multiples_of_span_len() {
        let b = Batch {
            start: SPAN_LEN - 3,
            len: SPAN_LEN + 10,
            ..batch(0)
        };
        let spans: Vec<_> = b.spans().collect();
        assert_eq!(
            spans,
            vec![
                (SPAN_LEN - 3, SPAN_LEN),
                (SPAN_LEN, 2 * SPAN_LEN),
                (2 * SPAN_LEN, 2 * SPAN_LEN + 7)
            ]
        );
    }

    #[test]
    fn lr_ramps_linearly_over_the_batch() {
        let b = Batch {
            start: 100,
            len: 100,
            ..batch(0)
        };
        assert_eq!(b.lr_at(100), 0.1);
        assert!((b.lr_at(150) - 0.05).abs() < 1e-7);
    }
}
