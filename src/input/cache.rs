//! The encoded-corpus cache: a corpus's word ids and vocabulary in one binary file, written once
//! and reused by later runs on the same corpus and vocabulary settings, and read a window at a time
//! when the ids do not fit the memory budget.
//!
//! Layout (every integer little-endian; the README's "Corpus cache" section documents it too):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `W2VGPUID` |
//! | 8 | 4 | format version ([`VERSION`]) |
//! | 12 | 4 | header length (72) |
//! | 16 | 8 | key: what the cache was built from (corpus files' paths, sizes, modification times; vocabulary settings) |
//! | 24 | 8 | vocabulary fingerprint (FNV-1a 64 of the vocabulary section) |
//! | 32 | 8 | tokens: word ids and sentence breaks |
//! | 40 | 8 | words: tokens that are not sentence breaks |
//! | 48 | 8 | raw words: every word of the text, in the vocabulary or not |
//! | 56 | 8 | vocabulary section length in bytes |
//! | 64 | 4 | CRC-32 of everything after the header (ids, then vocabulary) |
//! | 68 | 4 | CRC-32 of bytes 0..68 |
//! | 72 | 4 · tokens | the ids, u32 each; `0xFFFF_FFFF` is a sentence break |
//! | … | vocabulary length | per word, most frequent first: count u64, byte length u32, UTF-8 bytes |
//!
//! Opening checks all of it (magic, version, header checksum, key, file size, body checksum,
//! vocabulary fingerprint, every id below the vocabulary size) and refuses the file with the
//! reason, so a stale or damaged cache is rebuilt, never trusted. Ids are read with positioned
//! reads into the caller's buffer, not mapped: pages of a mapping count in the process's resident
//! memory, and a window read this way keeps it at the window's size. Writing
//! ([`super::cache_write`]) goes to a temporary sibling that is renamed into place when complete
//! and removed on any failure (a full disk leaves no partial cache).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::input::vocab::Vocab;
use crate::train::plan::SENTENCE_BREAK;

pub use crate::input::cache_write::CacheWriter;
pub(crate) use crate::input::cache_write::CACHE_FIX;

pub const MAGIC: [u8; 8] = *b"W2VGPUID";
/// Version of the layout; a file of another version is rebuilt.
pub const VERSION: u32 = 1;
pub const HEADER_LEN: usize = 72;

/// The header's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Header {
    pub key: u64,
    pub vocab_fingerprint: u64,
    pub tokens: u64,
    pub words: u64,
    pub raw_words: u64,
    pub vocab_bytes: u64,
    pub body_crc: u32,
}

impl Header {
    pub(crate) fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        for (i, v) in [
            self.key,
            self.vocab_fingerprint,
            self.tokens,
            self.words,
            self.raw_words,
            self.vocab_bytes,
        ]
        .into_iter()
        .enumerate()
        {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        b[64..68].copy_from_slice(&self.body_crc.to_le_bytes());
        let crc = crc32fast::hash(&b[..68]);
        b[68..72].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// The header in `b`, or why it is not one of ours.
    fn parse(b: &[u8]) -> std::result::Result<Header, String> {
        if b.len() < HEADER_LEN || b[0..8] != MAGIC {
            return Err("not a w2v-gpu corpus cache (no header)".into());
        }
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        let version = u32_at(8);
        if version != VERSION || u32_at(12) as usize != HEADER_LEN {
            return Err(format!(
                "written by another version of w2v-gpu (cache format {version}, this one reads {VERSION})"
            ));
        }
        if crc32fast::hash(&b[..68]) != u32_at(68) {
            return Err("its header is damaged (checksum mismatch)".into());
        }
        Ok(Header {
            key: u64_at(16),
            vocab_fingerprint: u64_at(24),
            tokens: u64_at(32),
            words: u64_at(40),
            raw_words: u64_at(48),
            vocab_bytes: u64_at(56),
            body_crc: u32_at(64),
        })
    }
}

/// FNV-1a, 64 bits: a stable hash (the same in every build) for keys and fingerprints.
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn write(&mut self, bytes: &[u8]) -> &mut Fnv {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }
    /// A length-prefixed field, so that field boundaries are part of the hash.
    pub fn field(&mut self, bytes: &[u8]) -> &mut Fnv {
        self.write(&(bytes.len() as u64).to_le_bytes()).write(bytes)
    }
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// The vocabulary section's bytes.
pub(crate) fn vocab_bytes(vocab: &Vocab) -> Vec<u8> {
    let mut b = Vec::with_capacity(vocab.words.iter().map(|w| w.len() + 12).sum());
    for (w, &c) in vocab.words.iter().zip(&vocab.counts) {
        b.extend_from_slice(&c.to_le_bytes());
        b.extend_from_slice(&(w.len() as u32).to_le_bytes());
        b.extend_from_slice(w.as_bytes());
    }
    b
}

fn parse_vocab(b: &[u8]) -> std::result::Result<Vocab, String> {
    let (mut words, mut counts) = (Vec::new(), Vec::new());
    let mut at = 0;
    while at < b.len() {
        let bad = || "its vocabulary section is damaged".to_string();
        let head = b.get(at..at + 12).ok_or_else(bad)?;
        let count = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(head[8..].try_into().expect("4 bytes")) as usize;
        let word = b.get(at + 12..at + 12 + len).ok_or_else(bad)?;
        words.push(String::from_utf8(word.to_vec()).map_err(|_| bad())?);
        counts.push(count);
        at += 12 + len;
    }
    Ok(Vocab::from_parts(words, counts))
}

/// Why a cache file was not used.
#[derive(Debug)]
pub enum Refused {
    /// There is none (the first run on this corpus and these settings).
    Missing,
    /// There is one, but it is stale or damaged: the reason, for the one line that says so.
    Invalid(String),
    /// It could not be read at all.
    Io(Error),
}

/// An opened, checked cache: its header and vocabulary, and its ids read on demand.
#[derive(Debug)]
pub struct CacheFile {
    path: PathBuf,
    file: File,
    header: Header,
    vocab: Vocab,
    window: usize,
}

/// Bytes read at a time when checking or loading a cache.
const READ_BLOCK: usize = 8 << 20;

impl CacheFile {
    /// Opens and checks the cache at `path` built for `key`. `window_tokens` is how many ids a
    /// training session reads at a time from it (its share of the memory budget).
    pub fn open(
        path: &Path,
        key: u64,
        window_tokens: usize,
    ) -> std::result::Result<CacheFile, Refused> {
        Self::open_into(path, key, window_tokens, None)
    }

    /// [`CacheFile::open`] that also reads every id into `ids` while it checks them (one pass
    /// over the file instead of two, for a corpus that fits in memory).
    pub fn open_loaded(
        path: &Path,
        key: u64,
        ids: &mut Vec<u32>,
    ) -> std::result::Result<CacheFile, Refused> {
        let f = Self::open_into(path, key, usize::MAX, Some(ids))?;
        if cfg!(target_endian = "big") {
            ids.iter_mut().for_each(|v| *v = u32::from_le(*v));
        }
        Ok(f)
    }

    fn open_into(
        path: &Path,
        key: u64,
        window_tokens: usize,
        into: Option<&mut Vec<u32>>,
    ) -> std::result::Result<CacheFile, Refused> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Refused::Missing),
            Err(e) => return Err(Refused::Io(Error::io("cannot read cache", path, e))),
        };
        let io = |e| Refused::Io(Error::io("cannot read cache", path, e));
        let len = file.metadata().map_err(io)?.len();
        let mut head = [0u8; HEADER_LEN];
        if len < HEADER_LEN as u64 {
            return Err(Refused::Invalid(format!("it is truncated ({len} bytes)")));
        }
        file.read_exact_at(&mut head, 0).map_err(io)?;
        let header = Header::parse(&head).map_err(Refused::Invalid)?;
        if header.key != key {
            return Err(Refused::Invalid(
                "it was built from another corpus or with other vocabulary settings".into(),
            ));
        }
        let want = header
            .tokens
            .checked_mul(4)
            .and_then(|b| b.checked_add(HEADER_LEN as u64 + header.vocab_bytes));
        if want != Some(len) {
            return Err(Refused::Invalid(format!(
                "its size is wrong ({len} bytes, the header says {}): truncated or damaged",
                want.map_or("more than 2^64".into(), |w| w.to_string())
            )));
        }
        // One pass over the body: the checksum, and every id a word of the vocabulary or a break.
        let vocab_start = HEADER_LEN as u64 + 4 * header.tokens;
        let mut v = vec![0u8; header.vocab_bytes as usize];
        file.read_exact_at(&mut v, vocab_start).map_err(io)?;
        if Fnv::default().write(&v).finish() != header.vocab_fingerprint {
            return Err(Refused::Invalid("its vocabulary is damaged".into()));
        }
        let vocab = parse_vocab(&v).map_err(Refused::Invalid)?;
        let mut crc = crc32fast::Hasher::new();
        // Read into the caller's memory when loading (one pass), else through one block.
        let mut block = Vec::new();
        let body: &mut [u8] = match into {
            Some(ids) => {
                // Zeroed by the allocator (fresh pages), not by a pass over them.
                *ids = vec![0u32; header.tokens as usize];
                bytemuck::cast_slice_mut(ids.as_mut_slice())
            }
            None => {
                block.resize(READ_BLOCK, 0);
                &mut block
            }
        };
        let whole = body.len() as u64 == 4 * header.tokens;
        let n_vocab = vocab.len() as u64;
        // Checks a block of ids: its checksum, its words, whether one is beyond the vocabulary.
        let check = |part: &[u8]| {
            let mut crc = crc32fast::Hasher::new();
            crc.update(part);
            let (mut words, mut beyond) = (0u64, false);
            let mut scan = |id: u32| {
                let id = u32::from_le(id);
                let word = id != SENTENCE_BREAK;
                words += word as u64;
                beyond |= word & (id as u64 >= n_vocab);
            };
            match bytemuck::try_cast_slice::<u8, u32>(part) {
                Ok(ids) => ids.iter().for_each(|&id| scan(id)),
                Err(_) => part
                    .chunks_exact(4)
                    .for_each(|b| scan(u32::from_ne_bytes(b.try_into().expect("4 bytes")))),
            }
            (crc, words, beyond)
        };
        let (mut words, mut beyond) = (0u64, false);
        let mut at = HEADER_LEN as u64;
        if whole {
            // Loading: the blocks are read and checked on every core (the cost is faulting in
            // fresh pages and copying them, which parallelises), then combined in file order.
            use rayon::prelude::*;
            let parts: Vec<std::io::Result<(crc32fast::Hasher, u64, bool)>> = body
                .par_chunks_mut(READ_BLOCK)
                .enumerate()
                .map(|(i, part)| {
                    file.read_exact_at(part, at + (i * READ_BLOCK) as u64)?;
                    Ok(check(part))
                })
                .collect();
            for part in parts {
                let (c, w, b) = part.map_err(io)?;
                crc.combine(&c);
                words += w;
                beyond |= b;
            }
            at = vocab_start;
        }
        while at < vocab_start {
            let n = (vocab_start - at).min(READ_BLOCK as u64) as usize;
            let o = if whole {
                (at - HEADER_LEN as u64) as usize
            } else {
                0
            };
            let part = &mut body[o..o + n];
            file.read_exact_at(part, at).map_err(io)?;
            let (c, w, b) = check(part);
            crc.combine(&c);
            words += w;
            beyond |= b;
            at += n as u64;
        }
        if beyond {
            return Err(Refused::Invalid(format!(
                "it is damaged: it holds ids beyond its {}-word vocabulary",
                vocab.len()
            )));
        }
        crc.update(&v);
        if crc.finalize() != header.body_crc {
            return Err(Refused::Invalid(
                "its contents are damaged (checksum mismatch)".into(),
            ));
        }
        if words != header.words {
            return Err(Refused::Invalid("its word count is wrong".into()));
        }
        Ok(CacheFile {
            path: path.to_path_buf(),
            file,
            header,
            vocab,
            window: window_tokens.max(1),
        })
    }

    /// A cache this process has just written (header, vocabulary and ids as given), not read
    /// back or checked.
    pub(crate) fn written(path: PathBuf, file: File, header: Header, vocab: Vocab) -> CacheFile {
        CacheFile {
            path,
            file,
            header,
            vocab,
            window: usize::MAX,
        }
    }

    /// Sets how many ids a session reads at a time.
    pub fn set_window(&mut self, window_tokens: usize) {
        self.window = window_tokens.max(1);
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Ids (tokens) in the cache.
    pub fn tokens(&self) -> usize {
        self.header.tokens as usize
    }

    /// Ids a session reads at a time.
    pub fn window_tokens(&self) -> usize {
        self.window
    }

    /// Bytes the ids take in memory.
    pub fn id_bytes(&self) -> u64 {
        4 * self.header.tokens
    }

    /// Ids `start..start + out.len()` into `out`.
    pub fn read_ids(&self, start: usize, out: &mut [u32]) -> Result<()> {
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(out);
        self.file
            .read_exact_at(bytes, HEADER_LEN as u64 + 4 * start as u64)
            .map_err(|e| Error::io("cannot read cache", &self.path, e))?;
        if cfg!(target_endian = "big") {
            out.iter_mut().for_each(|v| *v = u32::from_le(*v));
        }
        Ok(())
    }

    /// Every id, in memory.
    pub fn load_all(&self) -> Result<Vec<u32>> {
        let mut ids = vec![0u32; self.tokens()];
        for (i, part) in ids.chunks_mut(READ_BLOCK / 4).enumerate() {
            self.read_ids(i * READ_BLOCK / 4, part)?;
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn vocab() -> Vocab {
        Vocab::from_parts(vec!["the".into(), "wörd".into(), "x".into()], vec![9, 4, 1])
    }

    fn write(path: &Path, key: u64, ids: &[u32]) {
        let mut w = CacheWriter::create(path, key).unwrap();
        for &id in ids {
            w.push(id).unwrap();
        }
        w.finish(&vocab(), 77).unwrap();
    }

    const IDS: [u32; 7] = [0, 1, SENTENCE_BREAK, 2, 0, 0, 1];

    #[test]
    fn a_written_cache_reads_back_whole_and_in_windows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        write(&p, 5, &IDS);
        let c = CacheFile::open(&p, 5, 3).unwrap();
        assert_eq!(c.vocab(), &vocab());
        assert_eq!(
            (c.tokens(), c.header().words, c.header().raw_words),
            (7, 6, 77)
        );
        assert_eq!(c.load_all().unwrap(), IDS);
        let mut ids = Vec::new();
        CacheFile::open_loaded(&p, 5, &mut ids).unwrap();
        assert_eq!(ids, IDS);
        let mut w = [0u32; 3];
        c.read_ids(2, &mut w).unwrap();
        assert_eq!(w, IDS[2..5]);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn every_damage_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        write(&p, 5, &IDS);
        let good = fs::read(&p).unwrap();
        let refused = |bytes: &[u8], key: u64| {
            fs::write(&p, bytes).unwrap();
            match CacheFile::open(&p, key, 8) {
                Err(Refused::Invalid(why)) => why,
                other => panic!("accepted or wrong refusal: {other:?}"),
            }
        };
        assert!(refused(&good, 6).contains("another corpus"));
        assert!(refused(&good[..good.len() - 1], 5).contains("size"));
        assert!(refused(&good[..10], 5).contains("truncated"));
        let mut v = good.clone();
        v[8] = 9;
        assert!(refused(&v, 5).contains("another version"));
        for at in [20, HEADER_LEN + 5, good.len() - 2] {
            let mut v = good.clone();
            v[at] ^= 0x10;
            let why = refused(&v, 5);
            assert!(why.contains("damaged"), "byte {at}: {why}");
        }
        assert!(matches!(
            CacheFile::open(&dir.path().join("none"), 5, 8),
            Err(Refused::Missing)
        ));
    }

    #[test]
    fn an_unfinished_cache_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        write(&p, 5, &IDS);
        let before = fs::read(&p).unwrap();
        {
            let mut w = CacheWriter::create(&p, 6).unwrap();
            for i in 0..100_000 {
                w.push(i % 3).unwrap();
            }
            // Dropped without finish: what a failed write (e.g. a full disk) does.
        }
        assert_eq!(fs::read(&p).unwrap(), before, "the earlier cache is kept");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
