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
//!   go (one pair of kernel launches); it trains with its *batch's* ramp, so how a backend cuts a
//!   batch into pieces changes no learning rate. A CPU worker's share is a range of the batch's
//!   centres instead ([`centres_in`]), cut anywhere, with windows over whole spans;
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

use crate::train::rng::{self, below, LANES, PURPOSE_NEGATIVE, PURPOSE_SUBSAMPLE, PURPOSE_WINDOW};
use crate::train::sampler::{negatives_for_centre, AliasTable, NegativeMode};

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
///
/// The draws are those of [`keep_token`](crate::train::sampler::keep_token), [`effective_window`] and [`negatives_for_centre`], made
/// many blocks at a time ([`rng::philox_lanes`]): a span's subsampling draws in runs of [`LANES`] tokens, and
/// the window and negative draws of up to [`GROUP`] kept tokens before those centres are visited.
/// The same words come out (`centres_are_those_of_the_one_by_one_draws` checks it).
pub fn centres(
    chunk: &Chunk,
    batch: &Batch,
    keep: &[u32],
    table: &AliasTable,
    cfg: &StepConfig,
    visit: impl FnMut(&Centre),
) {
    let all = batch.start..batch.start + batch.len;
    centres_in(chunk, batch, all, keep, table, cfg, visit)
}

/// The centres of [`centres`] whose corpus offset lies in `range`, in order: windows, draws and
/// contexts are those of the whole batch (each span of `batch` is subsampled whole), so cutting a
/// batch into ranges anywhere, even inside a span, and visiting each range gives every centre of
/// the batch exactly once, unchanged. The CPU backend shares a batch out to its threads so.
pub fn centres_in(
    chunk: &Chunk,
    batch: &Batch,
    range: std::ops::Range<usize>,
    keep: &[u32],
    table: &AliasTable,
    cfg: &StepConfig,
    mut visit: impl FnMut(&Centre),
) {
    let mut kept: Vec<(u32, usize)> = Vec::with_capacity(SPAN_LEN);
    let mut draws = GroupDraws::new(cfg);
    let mut c = Centre {
        word: 0,
        pos: 0,
        index: 0,
        contexts: Vec::new(),
        negatives: vec![0; cfg.negative as usize],
    };
    debug_assert!(chunk.holds(batch), "the batch lies in its chunk");
    for (s, e) in batch.spans() {
        if e <= range.start || range.end <= s {
            continue;
        }
        kept.clear();
        subsample(chunk.get(s, e), s, batch, keep, cfg.seed, &mut kept);
        let first = kept.partition_point(|&(_, i)| i < range.start);
        let end = kept.partition_point(|&(_, i)| i < range.end);
        for g in (first..end).step_by(GROUP) {
            let group = &kept[g..(g + GROUP).min(end)];
            draws.make(group, batch, table, cfg);
            for (n, &(word, index)) in group.iter().enumerate() {
                if word == SENTENCE_BREAK {
                    continue;
                }
                let k = g + n;
                let b = draws.window[n] as usize;
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
                c.pos = batch.key_pos(index);
                c.index = index;
                match cfg.negatives {
                    NegativeMode::Replace => c.negatives.copy_from_slice(draws.negatives(n)),
                    NegativeMode::Distinct => negatives_for_centre(
                        table,
                        cfg.seed,
                        c.pos,
                        word,
                        cfg.negatives,
                        &mut c.negatives,
                    ),
                }
                visit(&c);
            }
        }
    }
}

/// Kept tokens whose window and negative draws [`centres`] makes together.
pub const GROUP: usize = 64;

/// Step 2 for the span `tokens` starting at corpus offset `s`: pushes its kept tokens and breaks,
/// with their offsets, onto `kept`, deciding [`LANES`] tokens at a time (a run with no token that
/// subsampling can drop draws nothing).
fn subsample(
    tokens: &[u32],
    s: usize,
    batch: &Batch,
    keep: &[u32],
    seed: u64,
    kept: &mut Vec<(u32, usize)>,
) {
    let may_drop = |w: u32| w != SENTENCE_BREAK && keep[w as usize] != u32::MAX;
    let mut c = [[0; LANES]; 4];
    for (r, run) in tokens.chunks(LANES).enumerate() {
        let first = s + r * LANES;
        if !run.iter().any(|&w| may_drop(w)) {
            kept.extend(run.iter().enumerate().map(|(i, &w)| (w, first + i)));
            continue;
        }
        for i in 0..LANES {
            rng::set_lane(&mut c, i, batch.key_pos(first + i), PURPOSE_SUBSAMPLE, 0);
        }
        let [d, ..] = rng::philox_lanes(&c, seed);
        for (i, &w) in run.iter().enumerate() {
            if !may_drop(w) || d[i] < keep[w as usize] {
                kept.push((w, first + i));
            }
        }
    }
}

/// The window half-widths and Replace-mode negatives of one group of kept tokens (steps 3 and 4),
/// by the token's place in the group (a break's entries are drawn and unused). Every Philox block
/// the group needs (a window's, then each negative block's, token by token) is one lane of
/// [`rng::philox_lanes`].
struct GroupDraws {
    window: [u32; GROUP],
    /// `negative` slots per token.
    negatives: Vec<u32>,
    k: usize,
    /// The blocks of the group, in request order.
    blocks: Vec<[u32; 4]>,
}

impl GroupDraws {
    fn new(cfg: &StepConfig) -> Self {
        let k = cfg.negative as usize;
        GroupDraws {
            window: [cfg.window; GROUP],
            negatives: vec![0; GROUP * k],
            k,
            blocks: Vec::with_capacity(GROUP * (1 + k)),
        }
    }

    fn negatives(&self, n: usize) -> &[u32] {
        &self.negatives[n * self.k..(n + 1) * self.k]
    }

    fn make(
        &mut self,
        group: &[(u32, usize)],
        batch: &Batch,
        table: &AliasTable,
        cfg: &StepConfig,
    ) {
        let dynamic = !cfg.fixed_window;
        let neg_blocks = if cfg.negatives == NegativeMode::Replace {
            self.k.div_ceil(2)
        } else {
            0
        };
        let per = dynamic as usize + neg_blocks;
        if per == 0 {
            return;
        }
        // Token by token: its window's block first if dynamic, then its negative blocks 0, 1, …
        self.blocks.clear();
        let mut c = [[0; LANES]; 4];
        let mut l = 0;
        let flush = |c: &[[u32; LANES]; 4], l: usize, blocks: &mut Vec<[u32; 4]>| {
            let w = rng::philox_lanes(c, cfg.seed);
            blocks.extend((0..l).map(|l| [w[0][l], w[1][l], w[2][l], w[3][l]]));
        };
        for &(_, index) in group {
            let pos = batch.key_pos(index);
            for j in 0..per {
                let (purpose, block) = match (dynamic, j) {
                    (true, 0) => (PURPOSE_WINDOW, 0),
                    (true, j) => (PURPOSE_NEGATIVE, j as u32 - 1),
                    (false, j) => (PURPOSE_NEGATIVE, j as u32),
                };
                rng::set_lane(&mut c, l, pos, purpose, block);
                l += 1;
                if l == LANES {
                    flush(&c, l, &mut self.blocks);
                    l = 0;
                }
            }
        }
        if l > 0 {
            flush(&c, l, &mut self.blocks);
        }
        for n in 0..group.len() {
            let blocks = &self.blocks[n * per..(n + 1) * per];
            if dynamic {
                self.window[n] = cfg.window - below(blocks[0][0], cfg.window);
            }
            // Slots 2b and 2b+1 of a token share its Philox block b (as negatives_for_centre).
            let row = &mut self.negatives[n * self.k..(n + 1) * self.k];
            for (s, o) in row.iter_mut().enumerate().take(neg_blocks * 2) {
                let w = &blocks[dynamic as usize + s / 2];
                let h = 2 * (s % 2);
                *o = table.sample(w[h], w[h + 1]);
            }
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

    /// Steps 1–5 a token at a time with the single draws: what [`centres`] must give.
    fn centres_one_by_one(
        chunk: &Chunk,
        batch: &Batch,
        keep: &[u32],
        table: &AliasTable,
        cfg: &StepConfig,
    ) -> Vec<Centre> {
        use crate::train::sampler::keep_token;
        let mut out = Vec::new();
        for (s, e) in batch.spans() {
            let kept: Vec<(u32, usize)> = (s..e)
                .map(|i| (chunk.get(i, i + 1)[0], i))
                .filter(|&(w, i)| {
                    w == SENTENCE_BREAK || keep_token(keep, cfg.seed, batch.key_pos(i), w)
                })
                .collect();
            for (k, &(word, index)) in kept.iter().enumerate() {
                if word == SENTENCE_BREAK {
                    continue;
                }
                let pos = batch.key_pos(index);
                let b = effective_window(cfg.seed, pos, cfg.window, cfg.fixed_window) as usize;
                let left = kept[k.saturating_sub(b)..k]
                    .iter()
                    .rev()
                    .take_while(|x| x.0 != SENTENCE_BREAK);
                let mut contexts: Vec<u32> = left.map(|x| x.0).collect();
                contexts.reverse();
                contexts.extend(
                    kept.iter()
                        .skip(k + 1)
                        .take(b)
                        .take_while(|x| x.0 != SENTENCE_BREAK)
                        .map(|x| x.0),
                );
                let mut negatives = vec![0; cfg.negative as usize];
                negatives_for_centre(table, cfg.seed, pos, word, cfg.negatives, &mut negatives);
                out.push(Centre {
                    word,
                    pos,
                    index,
                    contexts,
                    negatives,
                });
            }
        }
        out
    }

    #[test]
    fn centres_are_those_of_the_one_by_one_draws() {
        use crate::train::rng::Philox;
        use rand::RngExt;
        let mut gen = Philox::new(3, rng::PURPOSE_GENERIC, 77);
        for case in 0..24 {
            let vocab = 3 + gen.random_range(0..40usize);
            let len = 1 + gen.random_range(0..3 * SPAN_LEN);
            let tokens: Vec<u32> = (0..len)
                .map(|_| {
                    if gen.random_range(0..20) == 0 {
                        SENTENCE_BREAK
                    } else {
                        gen.random_range(0..vocab as u32)
                    }
                })
                .collect();
            // Some words always kept, the others at a random threshold (case 0: nothing dropped).
            let keep: Vec<u32> = (0..vocab)
                .map(|_| {
                    if case == 0 || gen.random_range(0..3) == 0 {
                        u32::MAX
                    } else {
                        gen.random_range(0..u32::MAX)
                    }
                })
                .collect();
            let counts: Vec<u64> = (0..vocab).map(|_| 1 + gen.random_range(0..1000)).collect();
            let table = AliasTable::unigram(&counts, 0.75);
            let cfg = StepConfig {
                model: ModelKind::Skipgram,
                window: 1 + gen.random_range(0..8),
                fixed_window: case % 4 == 1,
                negative: gen.random_range(0..8),
                negatives: if case % 3 == 2 {
                    NegativeMode::Distinct
                } else {
                    NegativeMode::Replace
                },
                seed: gen.random_range(0..u64::MAX),
            };
            let start = gen.random_range(0..len);
            let b = Batch {
                start,
                len: len - start,
                epoch: gen.random_range(0..4),
                corpus_len: len as u64,
                lr_begin: 0.1,
                lr_end: 0.0,
            };
            let chunk = Chunk::whole(&tokens);
            let mut got = Vec::new();
            centres(&chunk, &b, &keep, &table, &cfg, |c| got.push(c.clone()));
            let want = centres_one_by_one(&chunk, &b, &keep, &table, &cfg);
            assert!(
                !want.is_empty() || len - start < 20,
                "case {case} trains nothing"
            );
            assert_eq!(got, want, "case {case}: {cfg:?}");
        }
    }

    #[test]
    fn ranges_anywhere_visit_every_centre_once() {
        let tokens: Vec<u32> = (0..2 * SPAN_LEN + 500)
            .map(|i| {
                if i % 37 == 0 {
                    SENTENCE_BREAK
                } else {
                    (i * 7 % 23) as u32
                }
            })
            .collect();
        let keep: Vec<u32> = (0..23)
            .map(|w| if w % 3 == 0 { u32::MAX } else { 1 << 31 })
            .collect();
        let table = AliasTable::unigram(&[3; 23], 0.75);
        let (chunk, b) = (Chunk::whole(&tokens), batch(tokens.len()));
        let mut whole = Vec::new();
        centres(&chunk, &b, &keep, &table, &cfg(4, false), |c| {
            whole.push(c.clone())
        });
        for cuts in [
            vec![0, 1, tokens.len()],
            vec![
                0,
                100,
                SPAN_LEN - 3,
                SPAN_LEN + 4,
                2 * SPAN_LEN,
                tokens.len(),
            ],
        ] {
            let mut got = Vec::new();
            for r in cuts.windows(2) {
                centres_in(&chunk, &b, r[0]..r[1], &keep, &table, &cfg(4, false), |c| {
                    got.push(c.clone())
                });
            }
            assert_eq!(got, whole, "cuts {cuts:?}");
        }
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
