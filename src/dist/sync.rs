//! Averaging the ranks' replicas of `W_in` and `W_out`.
//!
//! After a synchronisation every rank holds the same weights, the *base*. A rank's rows that
//! still equal the base (bit for bit) at the next synchronisation were not touched by its
//! training since; rows every rank left alone are the same everywhere, so their mean is the row
//! itself. Sparse synchronisation therefore gathers each rank's touched row ids, takes their
//! union, and sums only those rows over the ranks (then divides by the number of ranks): the
//! mean of every row, at the bytes of the touched ones. Dense synchronisation sums every row.
//! The sums are bit-identical on every rank ([`Comm::sum_f32`]) and every rank divides them the
//! same way, so the ranks leave with the same bits.

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
    /// one process's threads updating one model do (the default).
    #[default]
    Sum,
}

/// What synchronisations cost, summed over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SyncTotals {
    pub syncs: u64,
    /// Rows of `W_in` and `W_out` summed over ranks.
    pub rows_in: u64,
    pub rows_out: u64,
    /// Bytes of rows each rank sent into the sums (rows × dim × 4), ids excluded.
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
    base_in: Vec<f32>,
    base_out: Vec<f32>,
}

impl Replica {
    /// The base every rank starts from (the same initialisation or checkpoint everywhere).
    pub fn new(dim: usize, w_in: &[f32], w_out: &[f32]) -> Replica {
        Replica {
            dim,
            base_in: w_in.to_vec(),
            base_out: w_out.to_vec(),
        }
    }

    /// Replaces `w_in` and `w_out` (this rank's trained replica) by the ranks' rows combined
    /// (`merge`), which become the new base.
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
        let rows_in = rows_to_sum(comm, mode, w_in, &self.base_in, dim);
        let rows_out = rows_to_sum(comm, mode, w_out, &self.base_out, dim);
        match merge {
            Merge::Mean => {
                average_rows(comm, w_in, &rows_in, dim);
                average_rows(comm, w_out, &rows_out, dim);
            }
            Merge::Sum => {
                sum_changes(comm, w_in, &self.base_in, &rows_in, dim);
                sum_changes(comm, w_out, &self.base_out, &rows_out, dim);
            }
        }
        for &r in &rows_in {
            let r = r as usize * dim..(r as usize + 1) * dim;
            self.base_in[r.clone()].copy_from_slice(&w_in[r]);
        }
        for &r in &rows_out {
            let r = r as usize * dim..(r as usize + 1) * dim;
            self.base_out[r.clone()].copy_from_slice(&w_out[r]);
        }
        let rows = (rows_in.len() + rows_out.len()) as u64;
        SyncTotals {
            syncs: 1,
            rows_in: rows_in.len() as u64,
            rows_out: rows_out.len() as u64,
            bytes: rows * dim as u64 * 4,
            seconds: t0.elapsed().as_secs_f64(),
        }
    }
}

/// Ids of the rows of `w` (`[rows, dim]`) that differ from `base` in any bit.
pub fn touched_rows(w: &[f32], base: &[f32], dim: usize) -> Vec<u32> {
    w.chunks_exact(dim)
        .zip(base.chunks_exact(dim))
        .enumerate()
        .filter(|(_, (a, b))| {
            a.iter()
                .zip(b.iter())
                .any(|(x, y)| x.to_bits() != y.to_bits())
        })
        .map(|(r, _)| r as u32)
        .collect()
}

/// The rows to sum: every row (dense), or the sorted union of every rank's touched rows.
fn rows_to_sum(comm: &dyn Comm, mode: SyncMode, w: &[f32], base: &[f32], dim: usize) -> Vec<u32> {
    let rows = w.len() / dim;
    match mode {
        SyncMode::Dense => (0..rows as u32).collect(),
        SyncMode::Sparse => {
            let mut union: Vec<u32> = comm.allgather_u32(&touched_rows(w, base, dim)).concat();
            union.sort_unstable();
            union.dedup();
            union
        }
    }
}

/// Rows `ids` of `w` replaced by their mean over ranks (sum, then division by the rank count).
pub fn average_rows(comm: &dyn Comm, w: &mut [f32], ids: &[u32], dim: usize) {
    let mut packed = Vec::with_capacity(ids.len() * dim);
    for &r in ids {
        packed.extend_from_slice(&w[r as usize * dim..(r as usize + 1) * dim]);
    }
    comm.sum_f32(&mut packed);
    let size = comm.size() as f32;
    for (&r, row) in ids.iter().zip(packed.chunks_exact(dim)) {
        for (dst, &sum) in w[r as usize * dim..(r as usize + 1) * dim]
            .iter_mut()
            .zip(row)
        {
            *dst = sum / size;
        }
    }
}

/// Rows `ids` of `w` replaced by `base` plus the sum over ranks of their change from `base`.
pub fn sum_changes(comm: &dyn Comm, w: &mut [f32], base: &[f32], ids: &[u32], dim: usize) {
    let rows = |r: u32| r as usize * dim..(r as usize + 1) * dim;
    let mut packed = Vec::with_capacity(ids.len() * dim);
    for &r in ids {
        packed.extend(w[rows(r)].iter().zip(&base[rows(r)]).map(|(x, b)| x - b));
    }
    comm.sum_f32(&mut packed);
    for (&r, change) in ids.iter().zip(packed.chunks_exact(dim)) {
        for ((dst, &b), &d) in w[rows(r)].iter_mut().zip(&base[rows(r)]).zip(change) {
            *dst = b + d;
        }
    }
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
        assert_eq!(touched_rows(&w_in, &rep.base_in, 2), Vec::<u32>::new());
    }
}
