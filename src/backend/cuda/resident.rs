//! The corpus kept resident on the device for the fused step: one span-aligned device chunk (a
//! window of the host chunk the trainer passes, uploaded again only when a piece leaves it,
//! recognised by the host chunk's id), and the step's per-span compaction buffers and loss
//! accumulator, reused across calls.

use super::device::{fmt_bytes, Device, DeviceBuf};
use crate::error::{Error, Result};
use crate::train::plan::{Chunk, SPAN_LEN};

/// Largest default chunk: 256M tokens (1 GiB of u32) covers any corpus a single run streams.
const MAX_DEFAULT_CHUNK: usize = 256 << 20;

/// The resident chunk's size in tokens for a requested `chunk_tokens`, rounded up to whole spans;
/// 0 sizes it from free device memory (a quarter of it, at most 256M tokens).
pub(super) fn chunk_tokens<D: Device>(dev: &D, chunk_tokens: usize) -> Result<usize> {
    let chunk_tokens = if chunk_tokens == 0 {
        let free = dev.free_memory()? as usize;
        (free / 4 / std::mem::size_of::<u32>()).min(MAX_DEFAULT_CHUNK)
    } else {
        chunk_tokens
    };
    Ok(round_to_spans(chunk_tokens))
}

fn round_to_spans(tokens: usize) -> usize {
    tokens.div_ceil(SPAN_LEN).max(1) * SPAN_LEN
}

/// The first multiple of `SPAN_LEN` after `s`.
pub(super) fn next_span_start(s: usize) -> usize {
    s - s % SPAN_LEN + SPAN_LEN
}

/// Device-side state of the fast path, reused across calls.
pub(super) struct Resident<D: Device> {
    /// The device chunk: corpus tokens `start..start + len` (`start` span-aligned) of the host
    /// chunk `chunk_id`.
    pub(super) tokens: Option<DeviceBuf<D, u32>>,
    chunk_id: u64,
    pub(super) start: usize,
    pub(super) len: usize,
    /// Per-span compaction output of `w2v_subsample_compact`, sized for `spans` spans.
    pub(super) kept_ids: Option<DeviceBuf<D, u32>>,
    pub(super) kept_off: Option<DeviceBuf<D, u32>>,
    pub(super) kept_count: Option<DeviceBuf<D, u32>>,
    pub(super) spans: usize,
    pub(super) loss: Option<DeviceBuf<D, f64>>,
}

impl<D: Device> Resident<D> {
    /// Nothing on the device yet: every buffer is allocated on first use.
    pub(super) fn empty() -> Resident<D> {
        Resident {
            tokens: None,
            chunk_id: 0,
            start: 0,
            len: 0,
            kept_ids: None,
            kept_off: None,
            kept_count: None,
            spans: 0,
            loss: None,
        }
    }

    /// Whether the device chunk is a window of `chunk` that holds token `s`.
    pub(super) fn holds(&self, chunk: &Chunk, s: usize) -> bool {
        self.tokens.is_some()
            && self.chunk_id == chunk.id
            && (self.start..self.start + self.len).contains(&s)
    }

    /// Uploads the window of `chunk` (at most `chunk_tokens` tokens) that starts at the span
    /// holding token `s`.
    pub(super) fn upload(
        &mut self,
        dev: &D,
        chunk_tokens: usize,
        chunk: &Chunk,
        s: usize,
    ) -> Result<()> {
        let start = s - s % SPAN_LEN;
        let len = chunk_tokens.min(chunk.end() - start);
        if self.tokens.as_ref().is_none_or(|b| b.len() < len) {
            self.tokens = None;
            self.tokens = Some(dev.zeros::<u32>(len).map_err(|e| {
                Error::Device(format!(
                    "{e} (corpus chunk of {len} tokens, {}; lower the chunk size)",
                    fmt_bytes(len as u64 * 4)
                ))
            })?);
        }
        // Forget the old window first: a failed write leaves nothing that claims to be current.
        self.chunk_id = 0;
        dev.write(
            self.tokens.as_mut().expect("allocated above"),
            0,
            chunk.get(start, start + len),
        )?;
        self.chunk_id = chunk.id;
        self.start = start;
        self.len = len;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_round_up() {
        assert_eq!(round_to_spans(1), SPAN_LEN);
        assert_eq!(round_to_spans(SPAN_LEN), SPAN_LEN);
        assert_eq!(round_to_spans(SPAN_LEN + 1), 2 * SPAN_LEN);
    }
}
