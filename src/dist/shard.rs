//! Which tokens each rank trains, and when the ranks synchronise.
//!
//! An epoch trains the corpus from a span-aligned offset `from` (0, or where a resumed run
//! stopped) to its end `n`. Its spans are dealt out in contiguous runs, rank 0 the first: rank
//! `r` of `size` trains spans `⌊r·S/size⌋..⌊(r+1)·S/size⌋` of the `S` spans. A rank trains its
//! shard in batches of whole spans from the shard's start, with every draw keyed by the tokens'
//! global positions (the batch's `start` is a corpus offset), so the draws are the ones a single
//! process would make for those tokens. Each shard's learning-rate ramp covers the whole
//! epoch's: a rank `p` of the way through its shard trains at the rate a single process has `p`
//! of the way through the epoch, which is the rate of the words all ranks have done together.
//!
//! The epoch's batches of each rank are grouped into `R` rounds, the same `R` on every rank and,
//! but for the epoch's last, of the same spans' count ([`Rounds`]); the ranks average their
//! replicas after the last batch of each round, so the epoch's last batch always ends in a
//! synchronisation and every rank holds the same weights at an epoch's end.

use crate::train::plan::SPAN_LEN;

/// Rank `rank`'s shard `lo..hi` of the epoch's tokens `from..n`; `from` is span-aligned.
pub fn shard(from: usize, n: usize, rank: usize, size: usize) -> (usize, usize) {
    let spans = (n - from).div_ceil(SPAN_LEN);
    let at = |r: usize| (from + r * spans / size * SPAN_LEN).min(n);
    (at(rank), at(rank + 1))
}

/// The rounds of one epoch, the same on every rank: how many, and how a rank cuts its shard into
/// batches so that the ranks' rounds cover the same number of spans.
///
/// Every rank trains `count × per` batches, `per` to a round. Batch `i` of a rank covers the
/// spans `⌊i·common/(count·per)⌋..⌊(i+1)·common/(count·per)⌋` of its shard, `common` being the
/// smallest shard's span count; the last batch runs on to the shard's end (at most one span more,
/// and the corpus's short last span). So every round but the epoch's last is the same work on
/// every rank, and no rank waits at a synchronisation for one that drew a longer round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rounds {
    /// Synchronisations in the epoch (at least 1).
    pub count: usize,
    /// Batches in a round (at least 1).
    pub per: usize,
    /// Spans of the smallest shard (at least `count × per`).
    pub common: usize,
}

impl Rounds {
    /// Rounds for shards of `from..n` split over `size` ranks, about one every `sync_tokens`
    /// tokens of a rank (never more than the smallest shard has spans), in batches of at most
    /// about `batch` tokens; the shards must have a span each.
    pub fn new(from: usize, n: usize, size: usize, batch: usize, sync_tokens: u64) -> Rounds {
        let spans_of = |r: usize| {
            let (lo, hi) = shard(from, n, r, size);
            (hi - lo).div_ceil(SPAN_LEN)
        };
        let common = (0..size).map(spans_of).min().unwrap_or(0).max(1);
        let smallest = (0..size)
            .map(|r| {
                let (lo, hi) = shard(from, n, r, size);
                hi - lo
            })
            .min()
            .unwrap_or(0) as u64;
        let wanted = (smallest as f64 / sync_tokens.max(1) as f64).round() as usize;
        let count = wanted.clamp(1, common);
        let batch_spans = batch.div_ceil(SPAN_LEN).max(1);
        let per = common
            .div_ceil(count * batch_spans)
            .min(common / count)
            .max(1);
        Rounds { count, per, common }
    }

    /// The rank's batches in the epoch.
    pub fn batches(&self) -> usize {
        self.count * self.per
    }

    /// Whether the rank's batch `i` (from 0) is the last of a round.
    pub fn ends_round(&self, i: usize) -> bool {
        (i + 1).is_multiple_of(self.per)
    }

    /// The end (a corpus offset) of the batch starting at `start` in the shard `lo..hi`.
    pub fn batch_end(&self, lo: usize, hi: usize, start: usize) -> usize {
        let b = self.batches();
        // Boundary `i` is span `⌊i·common/b⌋` of the shard; the first one past `start`'s span
        // `k` is the least `i` with `i·common/b ≥ k + 1`.
        let k = (start - lo) / SPAN_LEN;
        let i = ((k + 1) * b).div_ceil(self.common);
        if i >= b {
            hi
        } else {
            (lo + i * self.common / b * SPAN_LEN).min(hi)
        }
    }
}

/// The position (epoch-relative, `0..n`) whose learning rate a single process would train at
/// when it is as far through `from..n` as token `s` is through the shard `lo..hi`.
pub fn ramp_position(s: usize, from: usize, n: usize, lo: usize, hi: usize) -> u64 {
    if hi == lo {
        return from as u64;
    }
    let done = (s - lo) as u128 * (n - from) as u128 / (hi - lo) as u128;
    from as u64 + done as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_tile_the_range_on_span_boundaries() {
        for (from, n) in [
            (0, 10 * SPAN_LEN + 17),
            (3 * SPAN_LEN, 40 * SPAN_LEN),
            (0, 5),
        ] {
            for size in 1..=4 {
                let mut next = from;
                for r in 0..size {
                    let (lo, hi) = shard(from, n, r, size);
                    assert_eq!(lo, next, "{from} {n} {size}");
                    assert!(lo % SPAN_LEN == 0 || lo == n);
                    assert!(hi >= lo);
                    next = hi;
                }
                assert_eq!(next, n);
            }
        }
        // Even shards differ by at most one span.
        let sizes: Vec<usize> = (0..3)
            .map(|r| {
                let (lo, hi) = shard(0, 10 * SPAN_LEN, r, 3);
                hi - lo
            })
            .collect();
        assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= SPAN_LEN);
    }

    #[test]
    fn every_rank_has_the_same_rounds_of_the_same_spans() {
        for n in [37 * SPAN_LEN + 5, 40 * SPAN_LEN, 9 * SPAN_LEN] {
            for size in 1..=3 {
                for sync in [1u64, 3 * SPAN_LEN as u64, 10 * SPAN_LEN as u64, 1 << 40] {
                    for batch in [SPAN_LEN, 2 * SPAN_LEN, 1 << 20] {
                        let r = Rounds::new(0, n, size, batch, sync);
                        assert!(r.count >= 1 && r.per >= 1 && r.batches() <= r.common);
                        assert!(r.ends_round(r.batches() - 1));
                        let mut lens = Vec::new();
                        for rank in 0..size {
                            let (lo, hi) = shard(0, n, rank, size);
                            let (mut s, mut mine) = (lo, Vec::new());
                            while s < hi {
                                let e = r.batch_end(lo, hi, s);
                                assert!(e > s && (e.is_multiple_of(SPAN_LEN) || e == n), "{s} {e}");
                                mine.push(e - s);
                                s = e;
                            }
                            assert_eq!(s, hi);
                            assert_eq!(mine.len(), r.batches(), "{n} {size} {sync} {batch}");
                            lens.push(mine);
                        }
                        // Every batch but the last is the same on every rank.
                        let b = r.batches();
                        assert!(lens.iter().all(|l| l[..b - 1] == lens[0][..b - 1]));
                        // Batches of at most `batch` tokens (2 spans where the shard is
                        // short of spans), so a chunk of a streamed corpus holds them.
                        let most = batch.div_ceil(SPAN_LEN).max(2) * SPAN_LEN;
                        assert!(lens.iter().all(|l| l[..b - 1].iter().all(|&x| x <= most)));
                    }
                }
            }
        }
        // One batch a span when asked for more rounds than spans.
        let r = Rounds::new(0, 8 * SPAN_LEN, 2, SPAN_LEN, 1);
        assert_eq!((r.count, r.per, r.common), (4, 1, 4));
    }

    #[test]
    fn one_shard_ramps_as_the_single_process() {
        let n = 9 * SPAN_LEN + 3;
        for s in [0, SPAN_LEN, n - 1, n] {
            assert_eq!(ramp_position(s, 0, n, 0, n), s as u64);
        }
        // Half-way through the second of two shards is half-way through the epoch.
        let (lo, hi) = shard(0, 8 * SPAN_LEN, 1, 2);
        assert_eq!(
            ramp_position(lo + (hi - lo) / 2, 0, 8 * SPAN_LEN, lo, hi),
            4 * SPAN_LEN as u64
        );
    }
}
