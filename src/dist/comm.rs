//! The collective operations data-parallel training needs, behind one small trait: the ranks of a
//! job, a broadcast, an allgather of row-id lists, sums of f32 rows and f64 counters that every
//! rank gets bit-identical, a barrier and an abort. [`Single`] is the one-process job (always
//! built); `dist::mpi` implements it over MPI (feature `mpi`).

/// A job of `size` processes, each with its `rank`; every method is collective (every rank calls
/// it, in the same order) except `rank`, `size`, `describe` and `abort`.
pub trait Comm {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;
    /// One line for `info` and the logs, e.g. `mpi: Open MPI v4.1.4, 2 ranks`.
    fn describe(&self) -> String;
    /// `root`'s bytes to every rank (`bytes` is replaced, length included, on the others).
    fn broadcast(&self, root: usize, bytes: &mut Vec<u8>);
    /// Every rank's list (lengths may differ), in rank order.
    fn allgather_u32(&self, local: &[u32]) -> Vec<Vec<u32>>;
    /// Element-wise sum over ranks, in place; the same bits on every rank (one rank adds, the
    /// others receive its sums, so no two ranks can round differently).
    fn sum_f32(&self, values: &mut [f32]);
    /// Whether [`Comm::exchange_f32`] works: a job of two ranks whose f32 rows travel through
    /// host memory (not NCCL's device sums).
    fn exchanges(&self) -> bool {
        false
    }
    /// In a job of two ranks (where [`Comm::exchanges`]), `mine` sent to the other rank and its
    /// buffer of the same length received into `theirs`, so that each rank can add the two
    /// itself (`a + b` and `b + a` are the same bits): one pass over the rows instead of the
    /// library's reduction and a copy back.
    fn exchange_f32(&self, _mine: &[f32], _theirs: &mut [f32]) {
        unreachable!("exchange_f32 is called only where Comm::exchanges() holds")
    }
    /// Whether every rank runs on this machine (memory is then cheaper to copy than to pack).
    fn one_machine(&self) -> bool {
        false
    }
    /// [`Comm::sum_f32`] for counters (loss sums, words, flags).
    fn sum_f64(&self, values: &mut [f64]);
    fn barrier(&self);
    /// Ends every rank of the job with `code` (a rank that failed while the others wait in a
    /// collective).
    fn abort(&self, code: i32) -> !;
}

/// The job of one process: every collective is the identity.
#[derive(Clone, Copy, Debug, Default)]
pub struct Single;

impl Comm for Single {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn describe(&self) -> String {
        "one process".into()
    }
    fn broadcast(&self, _root: usize, _bytes: &mut Vec<u8>) {}
    fn allgather_u32(&self, local: &[u32]) -> Vec<Vec<u32>> {
        vec![local.to_vec()]
    }
    fn sum_f32(&self, _values: &mut [f32]) {}
    fn sum_f64(&self, _values: &mut [f64]) {}
    fn barrier(&self) {}
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// How ranks start: the outcome of a step every rank took (loading its corpus, say), agreed
/// across ranks so that all go on or all stop together, never one waiting for a rank that quit.
/// `fingerprint` is `Ok(crc)` of the rank's settings and corpus, or `Err` when its step failed.
/// Returns `Ok` when every rank succeeded with rank 0's fingerprint, else the line to report.
pub fn agree(comm: &dyn Comm, fingerprint: Result<u32, ()>) -> Result<(), String> {
    let mine = match fingerprint {
        Ok(crc) => [1, crc],
        Err(()) => [0, 0],
    };
    let all = comm.allgather_u32(&mine);
    let failed: Vec<String> = (0..all.len())
        .filter(|&r| all[r][0] == 0)
        .map(|r| r.to_string())
        .collect();
    if !failed.is_empty() {
        let who = if failed.len() == 1 { "rank" } else { "ranks" };
        return Err(format!(
            "{who} {} of {} failed to start (its own line says why); fix that and start the job again",
            failed.join(", "),
            all.len()
        ));
    }
    match (1..all.len()).find(|&r| all[r][1] != all[0][1]) {
        None => Ok(()),
        Some(r) => Err(format!(
            "rank {r}'s settings or corpus differ from rank 0's (fingerprint {:08x} against \
             {:08x}); start every rank with the same flags on the same corpus",
            all[r][1], all[0][1]
        )),
    }
}

/// The CRC-32 of `parts`, each length-prefixed (so `["ab", "c"]` and `["a", "bc"]` differ).
pub fn fingerprint(parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_agrees_with_itself_and_reports_its_own_failure() {
        assert_eq!(agree(&Single, Ok(7)), Ok(()));
        let e = agree(&Single, Err(())).unwrap_err();
        assert!(e.starts_with("rank 0 of 1 failed"), "{e}");
    }

    #[test]
    fn fingerprints_separate_the_parts() {
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
        assert_eq!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"ab", b"c"]));
    }
}
