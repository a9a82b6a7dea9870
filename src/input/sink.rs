//! Where a corpus's encoded ids go: the seam between the one pass and memory or a file.

use crate::error::{Error, Result};
use crate::train::plan::SENTENCE_BREAK;

/// Where encoded ids go, in order: memory ([`Vec<u32>`]) or a file. Ids are word ids or
/// [`SENTENCE_BREAK`].
pub trait IdSink {
    fn push(&mut self, id: u32) -> Result<()>;
    /// Appends `ids` in order (one [`IdSink::push`] each unless a sink does better).
    fn extend_ids(&mut self, ids: &[u32]) -> Result<()> {
        ids.iter().try_for_each(|&id| self.push(id))
    }
}

/// A sink whose stored ids can be rewritten in place, as counting needs: pruning drops words
/// already stored, and the remap to frequency order rewrites every id ([`compact_ids`]).
pub trait TokenStore: IdSink {
    /// Maps each word id `id` stored to `new_id[id]` ([`DROPPED`] drops it), as [`compact_ids`].
    fn compact(&mut self, new_id: &[u32]) -> Result<()>;
}

/// In a table of new ids, a word that is dropped.
pub const DROPPED: u32 = u32::MAX;

impl IdSink for Vec<u32> {
    fn push(&mut self, id: u32) -> Result<()> {
        Vec::push(self, id);
        Ok(())
    }

    fn extend_ids(&mut self, ids: &[u32]) -> Result<()> {
        self.extend_from_slice(ids);
        Ok(())
    }
}

impl TokenStore for Vec<u32> {
    fn compact(&mut self, new_id: &[u32]) -> Result<()> {
        let n = compact_in_blocks(self, new_id, 1 << 20);
        self.truncate(n);
        Ok(())
    }
}

/// Counting without keeping the ids ([`vocabulary`]).
pub(crate) struct Discard;

impl IdSink for Discard {
    fn push(&mut self, _: u32) -> Result<()> {
        Ok(())
    }

    fn extend_ids(&mut self, _: &[u32]) -> Result<()> {
        Ok(())
    }
}

impl TokenStore for Discard {
    fn compact(&mut self, _: &[u32]) -> Result<()> {
        Ok(())
    }
}

/// An append-only sink under the pass, which with a fixed vocabulary only appends.
pub(crate) struct Appending<'a, S: IdSink + ?Sized>(pub &'a mut S);

impl<S: IdSink + ?Sized> IdSink for Appending<'_, S> {
    fn push(&mut self, id: u32) -> Result<()> {
        self.0.push(id)
    }

    fn extend_ids(&mut self, ids: &[u32]) -> Result<()> {
        self.0.extend_ids(ids)
    }
}

impl<S: IdSink + ?Sized> TokenStore for Appending<'_, S> {
    fn compact(&mut self, _: &[u32]) -> Result<()> {
        Err(Error::Input(
            "ids streamed to a sink cannot be rewritten; count with a TokenStore".into(),
        ))
    }
}

/// Maps each word id `id` of `ids` to `new_id[id]` ([`DROPPED`] drops it) and collapses sentence
/// breaks as encoding does (none first, never two in a row), moving what stays to the front;
/// returns how many ids stay.
pub fn compact_ids(ids: &mut [u32], new_id: &[u32]) -> usize {
    Compaction::default().block(ids, new_id)
}

/// [`compact_ids`] on every core: blocks of `block` ids compacted at once, each as if the id
/// before it were a word, then moved together in order, the break a block starts with dropped
/// where the ids before it end on one (or none is kept): what one sequential pass would keep.
fn compact_in_blocks(ids: &mut [u32], new_id: &[u32], block: usize) -> usize {
    use rayon::prelude::*;
    if ids.len() <= block {
        return compact_ids(ids, new_id);
    }
    let kept: Vec<usize> = ids
        .par_chunks_mut(block)
        .map(|b| Compaction { break_last: false }.block(b, new_id))
        .collect();
    let (mut out, mut break_last) = (0, true);
    for (i, &k) in kept.iter().enumerate() {
        let (mut from, mut k) = (i * block, k);
        if k > 0 && break_last && ids[from] == SENTENCE_BREAK {
            (from, k) = (from + 1, k - 1);
        }
        ids.copy_within(from..from + k, out);
        out += k;
        if k > 0 {
            break_last = ids[out - 1] == SENTENCE_BREAK;
        }
    }
    out
}

/// [`compact_ids`] over ids that come a block at a time (a file read in blocks): whether the last
/// id kept is a break carries from one block to the next, so blocks compact as the whole would.
pub struct Compaction {
    break_last: bool,
}

impl Default for Compaction {
    fn default() -> Compaction {
        Compaction { break_last: true }
    }
}

impl Compaction {
    /// Compacts the next block in place; returns how many of its ids stay (at its front).
    pub fn block(&mut self, ids: &mut [u32], new_id: &[u32]) -> usize {
        let mut kept = 0;
        for r in 0..ids.len() {
            let t = ids[r];
            let out = if t == SENTENCE_BREAK {
                if self.break_last {
                    continue;
                }
                self.break_last = true;
                t
            } else {
                match new_id[t as usize] {
                    DROPPED => continue,
                    id => {
                        self.break_last = false;
                        id
                    }
                }
            };
            ids[kept] = out;
            kept += 1;
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_compact_as_the_whole_does() {
        const B: u32 = SENTENCE_BREAK;
        let ids = [B, 3, 1, B, 2, B, B, 1, 4, B, 2, 2, B, 0];
        // Odd ids dropped, even ones halved: breaks left doubled or first must collapse.
        let map: Vec<u32> = (0..5)
            .map(|id| if id % 2 == 0 { id / 2 } else { DROPPED })
            .collect();
        let mut whole = ids;
        let n = compact_ids(&mut whole, &map);
        assert_eq!(whole[..n], [1, B, 2, B, 1, 1, B, 0]);
        for size in 1..ids.len() {
            let mut c = Compaction::default();
            let mut got = Vec::new();
            for block in ids.chunks(size) {
                let mut b = block.to_vec();
                let k = c.block(&mut b, &map);
                got.extend_from_slice(&b[..k]);
            }
            assert_eq!(got, whole[..n], "blocks of {size}");
            let mut parallel = ids;
            let k = compact_in_blocks(&mut parallel, &map, size);
            assert_eq!(parallel[..k], whole[..n], "parallel blocks of {size}");
        }
        // Random runs of breaks and dropped words across block edges.
        let mut x = 99u64;
        for case in 0..300 {
            let ids: Vec<u32> = (0..1 + case % 60)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    match (x >> 60) % 3 {
                        0 => B,
                        _ => ((x >> 40) % 5) as u32,
                    }
                })
                .collect();
            let mut whole = ids.clone();
            let n = compact_ids(&mut whole, &map);
            for size in 1..8 {
                let mut parallel = ids.clone();
                let k = compact_in_blocks(&mut parallel, &map, size);
                assert_eq!(parallel[..k], whole[..n], "{ids:?} in blocks of {size}");
            }
        }
    }
}
