//! Writing the corpus cache ([`super::cache`]'s layout): ids appended as a pass makes them and,
//! while counting, rewritten in place (pruning, the remap to frequency order), so ids that do not
//! fit in memory are counted and encoded in the one pass over the text; then the vocabulary and
//! the header, and the file renamed into place (or, for a corpus that is not cached, unlinked and
//! kept open for the run).
//!
//! Every write is positioned (`pwrite`) from one bounded buffer, and a rewrite reads and writes
//! the ids a block at a time, so the writer's memory is a few MiB whatever the corpus size. The
//! checksum and the word count of the ids are kept up to date as they are written, so finishing
//! needs no read back, and the [`CacheFile`] it returns is trusted without a check: it was just
//! written by this process.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::input::cache::{vocab_bytes, CacheFile, Fnv, Header, HEADER_LEN};
use crate::input::sink::{Compaction, IdSink, TokenStore};
use crate::input::vocab::Vocab;
use crate::train::plan::SENTENCE_BREAK;

/// Bytes of ids gathered before a write.
const WRITE_BUF: usize = 1 << 20;
/// Bytes of ids read at a time when they are rewritten.
const REWRITE_BLOCK: usize = 4 << 20;

/// Writes a cache file as ids arrive: [`CacheWriter::push`] each id (or rewrite them with
/// [`TokenStore::compact`]), then [`CacheWriter::finish`] with the vocabulary. Dropped unfinished
/// (an error, a full disk), it removes its temporary file and leaves any earlier cache at `path`
/// as it was.
pub struct CacheWriter {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
    /// What to do when a write fails (the end of its error line).
    fix: &'static str,
    /// Offset where the next ids go (the end of the ids written).
    end: u64,
    /// CRC-32 of the ids written (the buffer's not yet in it).
    crc: crc32fast::Hasher,
    buf: Vec<u8>,
    header: Header,
}

/// The advice when a cache cannot be written.
pub(crate) const CACHE_FIX: &str =
    "free space on its disk, give --cache-dir on another one, or read the text with --no-cache";

impl CacheWriter {
    /// Starts the cache `path` for `key`.
    pub fn create(path: &Path, key: u64) -> Result<CacheWriter> {
        Self::create_for(path, key, CACHE_FIX)
    }

    /// Starts a cache file whose write errors end with `fix` (for a temporary one that is not a
    /// cache for reuse, whose fix is another).
    pub(crate) fn create_for(path: &Path, key: u64, fix: &'static str) -> Result<CacheWriter> {
        let tmp = crate::output::fsutil::begin_temp(path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp);
        let mut w = CacheWriter {
            path: path.to_path_buf(),
            tmp,
            file: None,
            fix,
            end: HEADER_LEN as u64,
            crc: crc32fast::Hasher::new(),
            buf: Vec::with_capacity(WRITE_BUF),
            header: Header {
                key,
                ..Header::default()
            },
        };
        w.file = Some(file.map_err(|e| w.failed(e))?);
        // A placeholder, rewritten whole when the counts are known.
        w.write_at(&[0u8; HEADER_LEN], 0)?;
        Ok(w)
    }

    /// The one line a failed write gives: the cache (not its temporary), the cause, the fix.
    fn failed(&self, e: std::io::Error) -> Error {
        Error::format(
            &self.path,
            format!("cannot write the encoded corpus ({e}); {}", self.fix),
        )
    }

    fn file(&self) -> &File {
        self.file.as_ref().expect("open until finished")
    }

    fn write_at(&self, bytes: &[u8], at: u64) -> Result<()> {
        self.file()
            .write_all_at(bytes, at)
            .map_err(|e| self.failed(e))
    }

    /// Appends one id (a word id or [`SENTENCE_BREAK`]).
    #[inline]
    pub fn push(&mut self, id: u32) -> Result<()> {
        self.buf.extend_from_slice(&id.to_le_bytes());
        self.header.tokens += 1;
        self.header.words += (id != SENTENCE_BREAK) as u64;
        if self.buf.len() >= WRITE_BUF {
            self.flush_ids()?;
        }
        Ok(())
    }

    fn flush_ids(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.write_at(&self.buf, self.end)?;
        self.crc.update(&self.buf);
        self.end += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Ids pushed so far.
    pub fn tokens(&self) -> u64 {
        self.header.tokens
    }

    /// Writes the vocabulary and the header, syncs, and renames the file into place; returns it
    /// opened (read `usize::MAX` ids at a time until [`CacheFile::set_window`] says otherwise).
    pub fn finish(self, vocab: &Vocab, raw_words: u64) -> Result<CacheFile> {
        self.finish_as(vocab, raw_words, true)
    }

    /// [`CacheWriter::finish`] for a corpus that is not cached: the file is unlinked at once and
    /// lives as long as the returned handle (nothing is left behind, even by a killed run).
    pub(crate) fn finish_temporary(self, vocab: &Vocab, raw_words: u64) -> Result<CacheFile> {
        self.finish_as(vocab, raw_words, false)
    }

    fn finish_as(mut self, vocab: &Vocab, raw_words: u64, keep: bool) -> Result<CacheFile> {
        self.flush_ids()?;
        let v = vocab_bytes(vocab);
        self.write_at(&v, self.end)?;
        let mut crc = self.crc.clone();
        crc.update(&v);
        self.header.vocab_bytes = v.len() as u64;
        self.header.vocab_fingerprint = Fnv::default().write(&v).finish();
        self.header.raw_words = raw_words;
        self.header.body_crc = crc.finalize();
        self.write_at(&self.header.to_bytes(), 0)?;
        let file = self.file.take().expect("open until finished");
        let at = if keep {
            file.sync_all().map_err(|e| self.failed(e))?;
            fs::rename(&self.tmp, &self.path).map_err(|e| self.failed(e))?;
            self.path.clone()
        } else {
            fs::remove_file(&self.tmp).map_err(|e| self.failed(e))?;
            self.tmp.clone()
        };
        crate::output::fsutil::end_temp(&self.tmp);
        Ok(CacheFile::written(at, file, self.header, vocab.clone()))
    }
}

impl IdSink for CacheWriter {
    #[inline]
    fn push(&mut self, id: u32) -> Result<()> {
        CacheWriter::push(self, id)
    }

    fn extend_ids(&mut self, ids: &[u32]) -> Result<()> {
        for part in ids.chunks(WRITE_BUF / 4) {
            if cfg!(target_endian = "little") {
                self.buf.extend_from_slice(bytemuck::cast_slice(part));
            } else {
                part.iter()
                    .for_each(|id| self.buf.extend_from_slice(&id.to_le_bytes()));
            }
            self.header.tokens += part.len() as u64;
            self.header.words += part.iter().filter(|&&id| id != SENTENCE_BREAK).count() as u64;
            if self.buf.len() >= WRITE_BUF {
                self.flush_ids()?;
            }
        }
        Ok(())
    }
}

impl TokenStore for CacheWriter {
    /// Rewrites the ids in place a block at a time (what stays moves towards the front, never
    /// past what is still to be read), then cuts the file after them; the checksum and counts are
    /// those of the new ids.
    fn compact(&mut self, new_id: &[u32]) -> Result<()> {
        self.flush_ids()?;
        let mut block = vec![0u32; REWRITE_BLOCK / 4];
        let mut c = Compaction::default();
        let (mut read, mut written) = (HEADER_LEN as u64, HEADER_LEN as u64);
        self.crc = crc32fast::Hasher::new();
        (self.header.tokens, self.header.words) = (0, 0);
        while read < self.end {
            let n = ((self.end - read) as usize).min(REWRITE_BLOCK) / 4;
            let ids = &mut block[..n];
            self.file()
                .read_exact_at(bytemuck::cast_slice_mut(ids), read)
                .map_err(|e| self.failed(e))?;
            read += 4 * n as u64;
            ids.iter_mut().for_each(|id| *id = u32::from_le(*id));
            let kept = c.block(ids, new_id);
            let ids = &mut ids[..kept];
            self.header.tokens += kept as u64;
            self.header.words += ids.iter().filter(|&&id| id != SENTENCE_BREAK).count() as u64;
            ids.iter_mut().for_each(|id| *id = id.to_le());
            let bytes: &[u8] = bytemuck::cast_slice(ids);
            self.write_at(bytes, written)?;
            self.crc.update(bytes);
            written += bytes.len() as u64;
        }
        self.file().set_len(written).map_err(|e| self.failed(e))?;
        self.end = written;
        Ok(())
    }
}

impl Drop for CacheWriter {
    fn drop(&mut self) {
        if self.file.take().is_none() {
            return;
        }
        // Unfinished (or failed in finishing before the rename): the temporary goes.
        if fs::remove_file(&self.tmp).is_ok() || !self.tmp.exists() {
            crate::output::fsutil::end_temp(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::sink::DROPPED;

    fn vocab(n: usize) -> Vocab {
        Vocab::from_parts(
            (0..n).map(|i| format!("w{i}")).collect(),
            (0..n as u64).rev().map(|c| c + 1).collect(),
        )
    }

    #[test]
    fn ids_rewritten_in_the_file_read_back_as_rewritten_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        // Over three rewrite blocks, with breaks that dropped words leave doubled or first.
        let mut ids: Vec<u32> = (0..2_600_000u32)
            .map(|i| match i % 7 {
                0 => SENTENCE_BREAK,
                _ => (i * 2_654_435_761) % 1000,
            })
            .collect();
        let mut w = CacheWriter::create(&p, 9).unwrap();
        w.extend_ids(&ids[..1_000_000]).unwrap();
        for &id in &ids[1_000_000..] {
            w.push(id).unwrap();
        }
        let table = |f: &dyn Fn(u32) -> Option<u32>, n: u32| -> Vec<u32> {
            (0..n).map(|id| f(id).unwrap_or(DROPPED)).collect()
        };
        let maps = [
            table(&|id| (id % 3 != 0).then_some(id / 2), 1000),
            table(&|id| (id < 200).then_some(199 - id), 500),
        ];
        for map in &maps {
            TokenStore::compact(&mut w, map).unwrap();
            ids.compact(map).unwrap();
        }
        assert_eq!(w.tokens(), ids.len() as u64);
        let f = w.finish(&vocab(200), 5).unwrap();
        assert_eq!(f.load_all().unwrap(), ids);
        assert_eq!(
            f.header().words,
            ids.iter().filter(|&&i| i != SENTENCE_BREAK).count() as u64
        );
        // What was trusted unchecked passes every check of a fresh open.
        let opened = CacheFile::open(&p, 9, 10).unwrap();
        assert_eq!((opened.header(), opened.vocab()), (f.header(), f.vocab()));
    }

    #[test]
    fn a_temporary_file_is_gone_from_the_folder_but_reads_while_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = CacheWriter::create(&dir.path().join("c"), 3).unwrap();
        w.extend_ids(&[0, 1, SENTENCE_BREAK, 1]).unwrap();
        let f = w.finish_temporary(&vocab(2), 4).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        assert_eq!(f.load_all().unwrap(), [0, 1, SENTENCE_BREAK, 1]);
    }
}
