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
    fn compact(&mut self, map: &dyn Fn(u32) -> Option<u32>) -> Result<()>;
}

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
    fn compact(&mut self, map: &dyn Fn(u32) -> Option<u32>) -> Result<()> {
        let n = compact_ids(self, map);
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
    fn compact(&mut self, _: &dyn Fn(u32) -> Option<u32>) -> Result<()> {
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
    fn compact(&mut self, _: &dyn Fn(u32) -> Option<u32>) -> Result<()> {
        Err(Error::Input(
            "ids streamed to a sink cannot be rewritten; count with a TokenStore".into(),
        ))
    }
}

/// Maps each word id of `ids` through `map` (`None` drops it) and collapses sentence breaks as
/// encoding does (none first, never two in a row), moving what stays to the front; returns how
/// many ids stay.
pub fn compact_ids(ids: &mut [u32], map: &dyn Fn(u32) -> Option<u32>) -> usize {
    let mut kept = 0;
    let mut break_last = true;
    for r in 0..ids.len() {
        let t = ids[r];
        let out = if t == SENTENCE_BREAK {
            if break_last {
                continue;
            }
            break_last = true;
            t
        } else {
            match map(t) {
                Some(id) => {
                    break_last = false;
                    id
                }
                None => continue,
            }
        };
        ids[kept] = out;
        kept += 1;
    }
    kept
}
