//! Averaging the ranks' replicas of `W_in` and `W_out`.
//!
//! After a synchronisation every rank holds the same weights, the *base*. A rank's rows that
//! still equal the base (bit for bit) at the next synchronisation were not touched by its
//! training since; rows every rank left alone are the same everywhere, so their mean is the row
//! itself. Sparse synchronisation therefore combines only the union of the ranks' touched rows:
//! the mean of every row, at the cost of the touched ones. Dense synchronisation combines every
//! row.
//!
//! `--merge` chooses how a row's versions combine: the ranks' mean, the base plus every rank's
//! change, `W_in` by the first and `W_out` by the second, or (the default) the base plus the mean
//! change of the ranks that changed the row.
//!
//! How the rows travel: with more than two ranks (or sums on the GPUs through NCCL) the union's
//! rows are packed and summed by [`Comm::sum_f32`], bit-identical on every rank. Two ranks
//! instead exchange their rows ([`Comm::exchange_f32`]) and each adds the two itself, rank 0's
//! first — `a + b` and `b + a` are the same bits — which saves the library's reduction pass and
//! the copy back. A matrix whose last union was most of its rows (on KJV every row of `W_out`
//! is touched by the negatives between two synchronisations) is exchanged whole, straight from
//! the weights, and its union found on arrival (a row in which either rank differs from the
//! base); the others are packed. Every rank divides or adds the same way, so the ranks leave
//! with the same bits.

use std::time::Instant;

use super::comm::Comm;

/// How replicas are averaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Only the rows some rank changed since the last synchronisation (the default).
    #[default]
    Sparse,
    /// Every row of both matrices.
    Dense,
}

/// How the ranks' rows are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Merge {
    /// The replicas' mean, `Σ w_r / size`: each rank's change counts `1/size` (model averaging).
    Mean,
    /// The base plus every rank's change, `base + Σ (w_r − base)`: each change counts fully, as
    /// one process's threads updating one model do.
    Sum,
    /// `W_in` by [`Merge::Mean`], `W_out` by [`Merge::Sum`]: on two ranks the closest to one
    /// process's loss and scores, but `W_out`'s sum of eight ranks' changes diverges
    /// (benches/RESULTS.md, "Eight ranks").
    Mixed,
    /// The base plus the mean change of the ranks that changed the row,
    /// `base + Σ_changed (w_r − base) / changed` (the default): a row one rank trained keeps
    /// that rank's change whole, as [`Merge::Sum`]; a row every rank trained moves by their
    /// mean change, as [`Merge::Mean`], never further than one rank moved it, for any number of
    /// ranks.
    #[default]
    Touched,
}

impl Merge {
    /// The rule for matrix `m` (0: `W_in`, 1: `W_out`).
    fn rule(self, m: usize) -> Rule {
        match (self, m) {
            (Merge::Mean, _) | (Merge::Mixed, 0) => Rule::Mean,
            (Merge::Touched, _) => Rule::Touched,
            _ => Rule::Sum,
        }
    }
}

/// How one matrix's rows are combined: [`Merge::Mean`]'s, [`Merge::Sum`]'s or
/// [`Merge::Touched`]'s.
#[derive(Clone, Copy, PartialEq)]
enum Rule {
    Mean,
    Sum,
    Touched,
}

impl Rule {
    /// A row from its base `z`, the sum `d` of the ranks' changes (or of their rows, for
    /// [`Rule::Mean`]) and how many ranks changed it (`k`, at least 1 for a row in the union).
    #[inline(always)]
    fn combine(self, z: f32, d: f32, size: f32, k: u32) -> f32 {
        match self {
            Rule::Mean => d / size,
            Rule::Sum => z + d,
            Rule::Touched => z + d / k.max(1) as f32,
        }
    }

    /// Whether the ranks send their changes (not their rows).
    fn sends_changes(self) -> bool {
        self != Rule::Mean
    }
}

/// What synchronisations cost, summed over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SyncTotals {
    pub syncs: u64,
    /// Rows of `W_in` and `W_out` combined over ranks.
    pub rows_in: u64,
    pub rows_out: u64,
    /// Bytes of rows each rank sent (rows × dim × 4; a matrix exchanged whole counts whole),
    /// ids excluded.
    pub bytes: u64,
    /// Wall time in synchronisation (finding rows, exchanging, the waits for slower ranks).
    pub seconds: f64,
}

impl SyncTotals {
    pub fn add(&mut self, o: &SyncTotals) {
        self.syncs += o.syncs;
        self.rows_in += o.rows_in;
        self.rows_out += o.rows_out;
        self.bytes += o.bytes;
        self.seconds += o.seconds;
    }
}

/// A rank's copy of the weights as they were after the last synchronisation.
pub struct Replica {
    dim: usize,
    base: [Vec<f32>; 2],
    /// Per matrix, whether the next synchronisation exchanges it whole (two ranks: the last
    /// one's rows were most of it); the same on every rank, as every rank saw the same rows.
    whole: [bool; 2],
    scratch: Scratch,
}

/// The rows a rank sends, and the other rank's; kept between synchronisations, so no fresh
/// pages each time.
#[derive(Default)]
struct Scratch {
    packed: Vec<f32>,
    theirs: Vec<f32>,
}

/// Two ranks exchange a matrix whole, straight from the weights and with no pass packing rows,
/// when the last synchronisation's rows were at least this share of it: on one machine half
/// (copying memory costs less than packing it; measured on KJV, benches/RESULTS.md), across
/// machines nine tenths (a tenth more bytes on the network at most).
const WHOLE_SHARE: [f64; 2] = [0.9, 0.5];

impl Replica {
    /// The base every rank starts from (the same initialisation or checkpoint everywhere).
    pub fn new(dim: usize, w_in: &[f32], w_out: &[f32]) -> Replica {
        Replica {
            dim,
            base: [w_in.to_vec(), w_out.to_vec()],
            whole: [false; 2],
            scratch: Scratch::default(),
        }
    }

    /// Replaces `w_in` and `w_out` (this rank's trained replica) by the ranks' rows combined
    /// (`merge`), which become the new base.
    ///
    /// A matrix sent packed has its ranks' touched row ids gathered first (both matrices' in
    /// one call; an id at or above `W_in`'s row count `rows` names row `id − rows` of `W_out`),
    /// its union's rows (or changes) packed, summed or exchanged, and written back. A matrix
    /// two ranks exchange whole needs no ids: a row is in the union exactly when this rank's or
    /// the other's differs from the base. Either way each combined row is written to the
    /// replica and the base in one pass.
    pub fn average(
        &mut self,
        comm: &dyn Comm,
        mode: SyncMode,
        merge: Merge,
        w_in: &mut [f32],
        w_out: &mut [f32],
    ) -> SyncTotals {
        let t0 = Instant::now();
        let dim = self.dim;
        let rows = (w_in.len() / dim) as u32;
        let pair = comm.size() == 2 && comm.exchanges();
        let whole = self.whole.map(|w| pair && (w || mode == SyncMode::Dense));
        // The union of the packed matrices' touched rows, and how many ranks touched each
        // (from the gathered lists; dense synchronisation gathers them only for the counts).
        let touched_counts = merge == Merge::Touched;
        let (ids, counts): (Vec<u32>, Vec<u32>) = match mode {
            _ if whole == [true; 2] => (Vec::new(), Vec::new()),
            SyncMode::Dense if !touched_counts => ((0..2 * rows).collect(), Vec::new()),
            _ => {
                let mut mine = Vec::new();
                if !whole[0] {
                    mine = touched_rows(w_in, &self.base[0], dim);
                }
                if !whole[1] {
                    let out = touched_rows(w_out, &self.base[1], dim);
                    mine.extend(out.into_iter().map(|r| r + rows));
                }
                let mut all: Vec<u32> = comm.allgather_u32(&mine).concat();
                all.sort_unstable();
                let (mut union, mut counts) = (Vec::new(), Vec::new());
                for run in all.chunk_by(|a, b| a == b) {
                    union.push(run[0]);
                    counts.push(run.len() as u32);
                }
                if mode == SyncMode::Dense {
                    // Every row of the packed matrices, the untouched ones counted 0.
                    let mut dense = vec![0; 2 * rows as usize];
                    for (&i, &k) in union.iter().zip(&counts) {
                        dense[i as usize] = k;
                    }
                    let keep = |i: &u32| !whole[usize::from(*i >= rows)];
                    let ids: Vec<u32> = (0..2 * rows).filter(keep).collect();
                    let counts = ids.iter().map(|&i| dense[i as usize]).collect();
                    (ids, counts)
                } else {
                    (union, counts)
                }
            }
        };
        let split = ids.partition_point(|&i| i < rows);
        let out_ids: Vec<u32> = ids[split..].iter().map(|&i| i - rows).collect();
        let (in_counts, out_counts) = counts.split_at(if counts.is_empty() { 0 } else { split });
        let (mut bytes, mut combined) = (0, [0u64; 2]);
        let share = WHOLE_SHARE[usize::from(comm.one_machine())];
        let matrices = [
            (&mut *w_in, &ids[..split], in_counts),
            (&mut *w_out, &out_ids[..], out_counts),
        ];
        for (m, (w, ids, counts)) in matrices.into_iter().enumerate() {
            let base = &mut self.base[m];
            let merge = merge.rule(m);
            let (n, sent) = if whole[m] {
                let every = mode == SyncMode::Dense;
                exchange_whole(comm, merge, dim, every, w, base, &mut self.scratch.theirs)
            } else {
                let rows = Rows { dim, ids, counts };
                let sent = combine_packed(comm, pair, merge, rows, w, base, &mut self.scratch);
                (ids.len() as u64, sent)
            };
            combined[m] = n;
            bytes += sent;
            self.whole[m] = pair && n as f64 >= share * (w.len() / dim) as f64;
        }
        SyncTotals {
            syncs: 1,
            rows_in: combined[0],
            rows_out: combined[1],
            bytes,
            seconds: t0.elapsed().as_secs_f64(),
        }
    }
}

/// Rows `ids` (sorted) of a matrix of rows of `dim`, and how many ranks touched each (empty
/// unless the merge is [`Merge::Touched`]).
#[derive(Clone, Copy)]
struct Rows<'a> {
    dim: usize,
    ids: &'a [u32],
    counts: &'a [u32],
}

impl Rows<'_> {
    fn span(&self, r: u32) -> std::ops::Range<usize> {
        r as usize * self.dim..(r as usize + 1) * self.dim
    }

    /// Ranks that touched the `k`-th row (1 where not counted).
    fn count(&self, k: usize) -> u32 {
        self.counts.get(k).copied().unwrap_or(1)
    }
}

fn grow(buf: &mut Vec<f32>, n: usize) {
    if buf.len() < n {
        buf.resize(n, 0.0);
    }
}

/// Two ranks: `w` (whole) sent to the other rank and its `w` received; every row that differs
/// from `base` on either rank (every row: `every`) set, in `w` and `base`, to the two combined,
/// rank 0's first. Returns the rows combined and the bytes sent.
fn exchange_whole(
    comm: &dyn Comm,
    merge: Rule,
    dim: usize,
    every: bool,
    w: &mut [f32],
    base: &mut [f32],
    theirs: &mut Vec<f32>,
) -> (u64, u64) {
    grow(theirs, w.len());
    comm.exchange_f32(w, &mut theirs[..w.len()]);
    let other = &theirs[..w.len()];
    let rank0 = comm.rank() == 0;
    let size = comm.size() as f32;
    let mut n = 0;
    let rows = w.chunks_exact_mut(dim).zip(other.chunks_exact(dim));
    for ((w, other), base) in rows.zip(base.chunks_exact_mut(dim)) {
        let same = |x: &[f32]| {
            bytemuck::cast_slice::<f32, u32>(x) == bytemuck::cast_slice::<f32, u32>(base)
        };
        let k = u32::from(!same(w)) + u32::from(!same(other));
        if !every && k == 0 {
            continue;
        }
        n += 1;
        for ((dst, &th), z) in w.iter_mut().zip(other).zip(base.iter_mut()) {
            let (a, b) = if rank0 { (*dst, th) } else { (th, *dst) };
            let v = match merge {
                Rule::Mean => (a + b) / size,
                _ => merge.combine(*z, (a - *z) + (b - *z), size, k),
            };
            *dst = v;
            *z = v;
        }
    }
    (n, (w.len() * 4) as u64)
}

/// Rows `rows` of `w` and `base` set to the ranks' rows combined, packed: exchanged by two
/// ranks (each adds the two itself, rank 0's first: the same bits on both, as addition
/// commutes), summed through [`Comm::sum_f32`] by more (or where the comm sums on a device).
/// `pair`: the job is two ranks that exchange ([`Comm::exchanges`]). Returns the bytes this
/// rank sent.
fn combine_packed(
    comm: &dyn Comm,
    pair: bool,
    merge: Rule,
    rows: Rows,
    w: &mut [f32],
    base: &mut [f32],
    scratch: &mut Scratch,
) -> u64 {
    let Scratch { packed, theirs } = scratch;
    let dim = rows.dim;
    let size = comm.size() as f32;
    let n = rows.ids.len() * dim;
    if n == 0 {
        return 0;
    }
    grow(packed, n);
    let packed = &mut packed[..n];
    for (&r, dst) in rows.ids.iter().zip(packed.chunks_exact_mut(dim)) {
        let s = rows.span(r);
        if merge.sends_changes() {
            for ((d, &x), &b) in dst.iter_mut().zip(&w[s.clone()]).zip(&base[s]) {
                *d = x - b;
            }
        } else {
            dst.copy_from_slice(&w[s]);
        }
    }
    let other: &mut [f32] = if pair {
        grow(theirs, n);
        let other = &mut theirs[..n];
        comm.exchange_f32(packed, other);
        other
    } else {
        comm.sum_f32(packed);
        &mut []
    };
    let (first, second): (&[f32], &[f32]) = match (pair, comm.rank() == 0) {
        (false, _) => (packed, &[]),
        (true, true) => (packed, other),
        (true, false) => (other, packed),
    };
    for (k, &r) in rows.ids.iter().enumerate() {
        let s = rows.span(r);
        let (w, base) = (&mut w[s.clone()], &mut base[s]);
        let a = &first[k * dim..(k + 1) * dim];
        let touched = rows.count(k);
        if pair {
            let b = &second[k * dim..(k + 1) * dim];
            let sums = a.iter().zip(b).map(|(x, y)| x + y);
            for ((dst, bs), sum) in w.iter_mut().zip(base.iter_mut()).zip(sums) {
                let v = merge.combine(*bs, sum, size, touched);
                *dst = v;
                *bs = v;
            }
        } else {
            write_back(w, base, a, |b, s| merge.combine(b, s, size, touched));
        }
    }
    (n * 4) as u64
}

/// `w` and `base` (one row) both set to `f(base, sum)` of each element of `sums`.
fn write_back(w: &mut [f32], base: &mut [f32], sums: &[f32], f: impl Fn(f32, f32) -> f32) {
    for ((dst, b), &s) in w.iter_mut().zip(base.iter_mut()).zip(sums) {
        let v = f(*b, s);
        *dst = v;
        *b = v;
    }
}

/// Ids of the rows of `w` (`[rows, dim]`) that differ from `base` in any bit.
pub fn touched_rows(w: &[f32], base: &[f32], dim: usize) -> Vec<u32> {
    w.chunks_exact(dim)
        .zip(base.chunks_exact(dim))
        .enumerate()
        .filter(|(_, (a, b))| {
            bytemuck::cast_slice::<f32, u32>(a) != bytemuck::cast_slice::<f32, u32>(b)
        })
        .map(|(r, _)| r as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::comm::Single;

    #[test]
    fn touched_rows_are_the_rows_that_changed_in_any_bit() {
        let base = vec![0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0];
        let mut w = base.clone();
        assert!(touched_rows(&w, &base, 2).is_empty());
        w[3] = 3.0000002;
        w[4] = -0.0_f32 + 4.0;
        assert_eq!(touched_rows(&w, &base, 2), vec![1]);
        w[0] = -0.0;
        assert_eq!(touched_rows(&w, &base, 2), vec![0, 1]);
    }

    #[test]
    fn one_rank_keeps_its_weights_and_moves_its_base() {
        let (mut w_in, mut w_out) = (vec![1.0f32, 2.0, 3.0, 4.0], vec![0.5f32; 4]);
        let mut rep = Replica::new(2, &w_in, &w_out);
        w_in[2] = 7.0;
        let before = (w_in.clone(), w_out.clone());
        let t = rep.average(
            &Single,
            SyncMode::Sparse,
            Merge::Mean,
            &mut w_in,
            &mut w_out,
        );
        assert_eq!((w_in.clone(), w_out.clone()), before);
        assert_eq!((t.rows_in, t.rows_out, t.bytes), (1, 0, 8));
        let t = rep.average(&Single, SyncMode::Dense, Merge::Mean, &mut w_in, &mut w_out);
        assert_eq!((t.rows_in, t.rows_out, t.bytes), (2, 2, 32));
        assert_eq!(touched_rows(&w_in, &rep.base[0], 2), Vec::<u32>::new());
    }
}
