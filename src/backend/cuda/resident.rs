//! The corpus kept resident on the device for the fused step: one span-aligned chunk of encoded
//! tokens (uploaded again only when a batch leaves it), its per-span word counts, and the step's
//! per-span compaction buffers and loss accumulator, reused across calls.

use std::hash::{Hash, Hasher};

use super::device::{fmt_bytes, Device, DeviceBuf};
use crate::error::{Error, Result};
use crate::train::plan::{SENTENCE_BREAK, SPAN_LEN};

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
    /// The resident corpus chunk: corpus tokens `start..start + len` (`start` span-aligned).
    pub(super) tokens: Option<DeviceBuf<D, u32>>,
    pub(super) start: usize,
    pub(super) len: usize,
    fingerprint: u64,
    /// Non-break tokens of each whole span of the chunk (for `StepStats::words`).
    span_words: Vec<u32>,
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
            start: 0,
            len: 0,
            fingerprint: 0,
            span_words: Vec::new(),
            kept_ids: None,
            kept_off: None,
            kept_count: None,
            spans: 0,
            loss: None,
        }
    }

    /// Whether the resident chunk is this corpus's and holds token `s`.
    pub(super) fn holds(&self, tokens: &[u32], s: usize) -> bool {
        self.tokens.is_some()
            && (self.start..self.start + self.len).contains(&s)
            && self.start + self.len <= tokens.len()
            && self.fingerprint == fingerprint(tokens, self.start, self.len)
    }

    /// Uploads the chunk of the corpus (at most `chunk_tokens` tokens) that starts at the span
    /// holding token `s`.
    pub(super) fn upload(
        &mut self,
        dev: &D,
        chunk_tokens: usize,
        tokens: &[u32],
        s: usize,
    ) -> Result<()> {
        let start = s - s % SPAN_LEN;
        let len = chunk_tokens.min(tokens.len() - start);
        if self.tokens.as_ref().is_none_or(|b| b.len() < len) {
            self.tokens = None;
            self.tokens = Some(dev.zeros::<u32>(len).map_err(|e| {
                Error::Device(format!(
                    "{e} (corpus chunk of {len} tokens, {}; lower the chunk size)",
                    fmt_bytes(len as u64 * 4)
                ))
            })?);
        }
        let chunk = &tokens[start..start + len];
        dev.write(self.tokens.as_mut().expect("allocated above"), 0, chunk)?;
        self.span_words.clear();
        self.span_words.extend(
            chunk
                .chunks(SPAN_LEN)
                .map(|sp| sp.iter().filter(|&&w| w != SENTENCE_BREAK).count() as u32),
        );
        self.start = start;
        self.len = len;
        self.fingerprint = fingerprint(tokens, start, len);
        Ok(())
    }

    /// Non-break tokens in `s..e` (inside the resident chunk): whole spans from the per-span
    /// counts, at most two partial spans counted on the host.
    pub(super) fn words(&self, tokens: &[u32], s: usize, e: usize) -> u64 {
        let count = |a: usize, b: usize| {
            tokens[a..b]
                .iter()
                .filter(|&&w| w != SENTENCE_BREAK)
                .count() as u64
        };
        let first_full = if s % SPAN_LEN == 0 {
            s
        } else {
            next_span_start(s)
        };
        let last_full = e - e % SPAN_LEN;
        if first_full >= last_full {
            return count(s, e);
        }
        let spans = &self.span_words
            [(first_full - self.start) / SPAN_LEN..(last_full - self.start) / SPAN_LEN];
        count(s, first_full) + spans.iter().map(|&n| n as u64).sum::<u64>() + count(last_full, e)
    }
}

/// Identifies the chunk `start..start + len` of `tokens` cheaply: where the corpus is, its length,
/// and 64 tokens sampled across the chunk (a different corpus at the same address differs there).
fn fingerprint(tokens: &[u32], start: usize, len: usize) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (tokens.as_ptr() as usize, tokens.len(), start, len).hash(&mut h);
    if len > 0 {
        for i in 0..64 {
            tokens[start + i * (len - 1) / 63].hash(&mut h);
        }
    }
    h.finish()
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
