//! Unigram negative sampling (alias table over counts^power) and word2vec's subsampling thresholds.
//!
//! Both tables hold integer thresholds, not floats, so a draw is the same exact integer compare on
//! the CPU and in `kernels/common.cuh`: column `i = below(a, n)`, then `i` if `b < prob[i]` else
//! `alias[i]`. A column that always accepts has `prob = u32::MAX` and `alias = i`, so the 2^-32
//! chance of `b == u32::MAX` still returns `i`.

use crate::train::rng::{self, below, PURPOSE_NEGATIVE, PURPOSE_SUBSAMPLE};

/// Which negatives a centre gets. `Replace` is the book's GPU path (the centre itself may be drawn);
/// `Distinct` is its CPU path (centre excluded, no repeats within the centre's row).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum NegativeMode {
    #[default]
    Replace,
    Distinct,
}

/// Walker/Vose alias table with u32 thresholds.
#[derive(Clone, Debug)]
pub struct AliasTable {
    pub prob: Vec<u32>,
    pub alias: Vec<u32>,
}

impl AliasTable {
    /// Table for `P(i) ∝ counts[i]^power`. `counts` must be non-empty with a positive sum.
    pub fn unigram(counts: &[u64], power: f64) -> Self {
        let weights: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(power)).collect();
        Self::from_weights(&weights)
    }

    /// Vose's method: O(n) build, O(1) draw.
    pub fn from_weights(weights: &[f64]) -> Self {
        let n = weights.len();
        assert!(
            n > 0 && n < u32::MAX as usize,
            "alias table needs 1..2^32-1 weights"
        );
        let total: f64 = weights.iter().sum();
        assert!(total > 0.0, "alias table needs a positive total weight");
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut prob = vec![u32::MAX; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            prob[s] = (scaled[s] * 4_294_967_296.0).min(u32::MAX as f64) as u32;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Whatever remains is 1 up to rounding: always accept.
        Self { prob, alias }
    }

    pub fn len(&self) -> usize {
        self.prob.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prob.is_empty()
    }

    /// One draw from two uniform words. Both table entries are read and one chosen without a
    /// branch: the choice is a coin toss the branch predictor would miss half the time.
    #[inline(always)]
    pub fn sample(&self, a: u32, b: u32) -> u32 {
        let i = below(a, self.prob.len() as u32) as usize;
        let (p, alias) = (self.prob[i], self.alias[i]);
        std::hint::select_unpredictable(b < p, i as u32, alias)
    }

    /// Exact probability of each outcome implied by the integer thresholds (for tests).
    pub fn implied_probabilities(&self) -> Vec<f64> {
        let n = self.len();
        let mut p = vec![0.0; n];
        for i in 0..n {
            let accept = self.prob[i] as f64 / 4_294_967_296.0;
            p[i] += accept / n as f64;
            p[self.alias[i] as usize] += (1.0 - accept) / n as f64;
        }
        p
    }
}

/// Draws after this many slots stop trying for distinct negatives (tiny or very skewed vocabularies);
/// the rest of the row is filled by the deterministic scan in [`negatives_for_centre`].
pub const DISTINCT_MAX_SLOTS: u32 = 64;

/// The `k` negatives of the centre at key position `pos`, shared by all its contexts.
/// Slot `s` uses words `2(s%2), 2(s%2)+1` of Philox block `s/2` (purpose NEGATIVE).
pub fn negatives_for_centre(
    table: &AliasTable,
    seed: u64,
    pos: u64,
    centre: u32,
    mode: NegativeMode,
    out: &mut [u32],
) {
    let k = out.len();
    let slot = |s: u32| {
        let w = rng::draw(seed, pos, PURPOSE_NEGATIVE, s / 2);
        let h = 2 * (s % 2) as usize;
        table.sample(w[h], w[h + 1])
    };
    match mode {
        NegativeMode::Replace => {
            // Slots 2b and 2b+1 share Philox block b: draw each block once.
            for (b, pair) in out.chunks_mut(2).enumerate() {
                let w = rng::draw(seed, pos, PURPOSE_NEGATIVE, b as u32);
                for (h, o) in pair.iter_mut().enumerate() {
                    *o = table.sample(w[2 * h], w[2 * h + 1]);
                }
            }
        }
        NegativeMode::Distinct => {
            let mut filled = 0;
            let mut s = 0u32;
            while filled < k && s < DISTINCT_MAX_SLOTS * k as u32 {
                let cand = slot(s);
                s += 1;
                if cand != centre && !out[..filled].contains(&cand) {
                    out[filled] = cand;
                    filled += 1;
                }
            }
            // Fallback scan from the centre upward; callers guarantee vocab_size > k.
            let n = table.len() as u32;
            let mut cand = centre;
            while filled < k {
                cand = (cand + 1) % n;
                if cand != centre && !out[..filled].contains(&cand) {
                    out[filled] = cand;
                    filled += 1;
                }
            }
        }
    }
}

/// word2vec.c's subsampling, as integer keep thresholds: a token of word `w` at key position `pos`
/// is kept when `keep[w] == u32::MAX || draw(seed, pos, SUBSAMPLE, 0)[0] < keep[w]`.
/// Keep probability `(sqrt(f / (s·T)) + 1) · (s·T) / f` for count `f`, total `T`; `s = 0` keeps all.
pub fn keep_thresholds(counts: &[u64], sample: f64) -> Vec<u32> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&f| {
            if sample <= 0.0 || f == 0 {
                return u32::MAX;
            }
            let st = sample * total as f64;
            let p = ((f as f64 / st).sqrt() + 1.0) * st / f as f64;
            if p >= 1.0 {
                u32::MAX
            } else {
                (p * 4_294_967_296.0) as u32
            }
        })
        .collect()
}

/// Whether the token of word `id` at key position `pos` survives subsampling.
#[inline(always)]
pub fn keep_token(keep: &[u32], seed: u64, pos: u64, id: u32) -> bool {
    let t = keep[id as usize];
    t == u32::MAX || rng::draw(seed, pos, PURPOSE_SUBSAMPLE, 0)[0] < t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pearson chi-square goodness of fit of alias draws against counts^0.75.
    #[test]
    fn alias_frequencies_fit_unigram_power() {
        let counts: Vec<u64> = (1..=40u64).map(|r| 100_000 / r).collect();
        let table = AliasTable::unigram(&counts, 0.75);
        let w: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(0.75)).collect();
        let total: f64 = w.iter().sum();
        let n_draws = 400_000u64;
        let mut hist = vec![0u64; counts.len()];
        for i in 0..n_draws {
            let r = rng::draw(42, i, PURPOSE_NEGATIVE, 0);
            hist[table.sample(r[0], r[1]) as usize] += 1;
        }
        let chi2: f64 = hist
            .iter()
            .zip(&w)
            .map(|(&o, &wi)| {
                let e = n_draws as f64 * wi / total;
                (o as f64 - e).powi(2) / e
            })
            .sum();
        // 39 degrees of freedom: the 99.9% quantile is 72.05.
        assert!(chi2 < 72.05, "chi2 = {chi2}, hist {hist:?}");
        // The implied distribution is the target up to 2^-32 rounding.
        for (p, wi) in table.implied_probabilities().iter().zip(&w) {
            assert!((p - wi / total).abs() < 1e-8);
        }
    }

    #[test]
    fn distinct_negatives_exclude_centre_and_repeats() {
        let counts = [1000u64, 10, 10, 10, 10, 10, 10, 10];
        let table = AliasTable::unigram(&counts, 0.75);
        let mut out = [0u32; 5];
        for pos in 0..2000 {
            negatives_for_centre(&table, 3, pos, 0, NegativeMode::Distinct, &mut out);
            assert!(!out.contains(&0));
            let mut s = out.to_vec();
            s.sort();
            s.dedup();
            assert_eq!(s.len(), 5);
        }
    }

    #[test]
    fn replace_negatives_may_draw_the_centre() {
        let table = AliasTable::unigram(&[10, 10], 1.0);
        let mut out = [0u32; 4];
        let hits = (0..100)
            .filter(|&pos| {
                negatives_for_centre(&table, 1, pos, 0, NegativeMode::Replace, &mut out);
                out.contains(&0)
            })
            .count();
        assert!(hits > 50);
    }

    /// Replace-mode slot `s` is words `2(s%2), 2(s%2)+1` of Philox block `s/2` (the contract the
    /// kernels' `w2v_negative_slot` follows), for odd and even `k` alike.
    #[test]
    fn replace_negatives_follow_the_slot_layout() {
        let counts: Vec<u64> = (1..=50u64).map(|r| 10_000 / r).collect();
        let table = AliasTable::unigram(&counts, 0.75);
        for k in 1..=9usize {
            let mut out = vec![0u32; k];
            for pos in [0u64, 7, 1 << 33, u64::MAX / 3] {
                negatives_for_centre(&table, 11, pos, 2, NegativeMode::Replace, &mut out);
                let want: Vec<u32> = (0..k as u32)
                    .map(|s| {
                        let w = rng::draw(11, pos, PURPOSE_NEGATIVE, s / 2);
                        let h = 2 * (s % 2) as usize;
                        table.sample(w[h], w[h + 1])
                    })
                    .collect();
                assert_eq!(out, want, "k {k}, pos {pos}");
            }
        }
    }

    #[test]
    fn subsampling_keeps_word2vec_fraction() {
        let counts = [1_000_000u64, 1000, 10];
        let keep = keep_thresholds(&counts, 1e-3);
        assert_eq!(keep[2], u32::MAX);
        let st: f64 = 1e-3 * 1_001_010.0;
        let p0 = ((1e6 / st).sqrt() + 1.0) * st / 1e6;
        let n = 200_000u64;
        let kept = (0..n).filter(|&pos| keep_token(&keep, 9, pos, 0)).count() as f64;
        let sd = (n as f64 * p0 * (1.0 - p0)).sqrt();
        assert!(
            (kept - n as f64 * p0).abs() < 5.0 * sd,
            "kept {kept} expected {}",
            n as f64 * p0
        );
        assert!(keep_thresholds(&counts, 0.0).iter().all(|&t| t == u32::MAX));
    }
}
