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
//! The epoch's batches of each rank are grouped into `R` rounds, the same `R` on every rank; the
//! ranks average their replicas after the last batch of each round, so the epoch's last batch
//! always ends in a synchronisation and every rank holds the same weights at an epoch's end.

use crate::train::plan::SPAN_LEN;

/// Rank `rank`'s shard `lo..hi` of the epoch's tokens `from..n`; `from` is span-aligned.
pub fn shard(from: usize, n: usize, rank: usize, size: usize) -> (usize, usize) {
    let spans = (n - from).div_ceil(SPAN_LEN);
    let at = |r: usize| (from + r * spans / size * SPAN_LEN).min(n);
    (at(rank), at(rank + 1))
}

/// The rounds of one epoch: how many, and after which of a rank's batches each one ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rounds {
    /// Synchronisations in the epoch (at least 1).
    pub count: usize,
    /// This rank's batches in the epoch.
    pub batches: usize,
}

impl Rounds {
    /// Rounds for shards of `from..n` split over `size` ranks in batches of `batch` tokens, about
    /// one every `sync_tokens` tokens of a rank (never more than the smallest shard has batches);
    /// `rank`'s batch count is kept for [`Rounds::ends_round`].
    pub fn new(
        from: usize,
        n: usize,
        size: usize,
        rank: usize,
        batch: usize,
        sync_tokens: u64,
    ) -> Rounds {
        let batches_of = |r: usize| {
            let (lo, hi) = shard(from, n, r, size);
            (hi - lo).div_ceil(batch)
        };
        let fewest = (0..size).map(batches_of).min().unwrap_or(0).max(1);
        let smallest = (0..size)
            .map(|r| {
                let (lo, hi) = shard(from, n, r, size);
                hi - lo
            })
            .min()
            .unwrap_or(0) as u64;
        let wanted = (smallest as f64 / sync_tokens.max(1) as f64).round() as usize;
        Rounds {
            count: wanted.clamp(1, fewest),
            batches: batches_of(rank),
        }
    }

    /// Whether this rank's batch `i` (0-based in the epoch) is the last of a round.
    pub fn ends_round(&self, i: usize) -> bool {
        let b = self.batches.max(1);
        (i + 1) * self.count / b > i * self.count / b
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
    fn every_rank_has_the_same_number_of_rounds_and_the_last_batch_ends_one() {
        let n = 37 * SPAN_LEN + 5;
        for size in 1..=3 {
            for sync in [1u64, 3 * SPAN_LEN as u64, 1 << 40] {
                let counts: Vec<usize> = (0..size)
                    .map(|rank| {
                        let r = Rounds::new(0, n, size, rank, 2 * SPAN_LEN, sync);
                        assert!(r.ends_round(r.batches - 1));
                        (0..r.batches).filter(|&i| r.ends_round(i)).count()
                    })
                    .collect();
                assert!(
                    counts.iter().all(|&c| c == counts[0]),
                    "{size} {sync}: {counts:?}"
                );
                let r = Rounds::new(0, n, size, 0, 2 * SPAN_LEN, sync);
                assert_eq!(counts[0], r.count);
            }
        }
        // One round per batch when asked for more rounds than batches.
        let r = Rounds::new(0, 8 * SPAN_LEN, 2, 0, SPAN_LEN, 1);
        assert_eq!((r.count, r.batches), (4, 4));
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
