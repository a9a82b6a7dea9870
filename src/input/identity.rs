//! Which corpus a run trained on: per file its absolute path, size and a CRC-32 of its first and
//! last MiB, so that `--resume` can refuse a different corpus without reading it whole.
//!
//! The hashes catch a changed or swapped file, not a hostile one (CRC-32 is no cryptographic
//! hash), and an edit strictly inside a file larger than 2 MiB that keeps its size goes unseen: the
//! price of identifying a 10 GB corpus in milliseconds. A corpus that is not a regular file (a
//! FIFO) cannot be read twice, so it is not identified at all and a resume from it is unverified.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::input::source::Source;

/// Bytes hashed at each end of a file.
const END_BYTES: u64 = 1 << 20;

/// One corpus file as it was when training read it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileIdentity {
    /// Absolute path (the working directory of a resumed run may differ).
    pub path: PathBuf,
    pub bytes: u64,
    /// CRC-32 of the first `min(bytes, 1 MiB)` bytes and of the last, as 8 hex digits.
    pub head_crc32: String,
    pub tail_crc32: String,
}

/// The files of a corpus, in the order they are read.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CorpusIdentity {
    pub files: Vec<FileIdentity>,
}

/// `path` made absolute against the working directory (not resolved: a symlink stays a symlink).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Identifies a resolved corpus (its files, as training reads them); `None` for standard input
/// or another input that is not a regular file.
pub fn identify_source(src: &Source) -> Result<Option<CorpusIdentity>> {
    src.files().map_or(Ok(None), |files| identify(&files))
}

/// Identifies the corpus made of the files `paths`; `None` when one of them is not a regular file
/// (a FIFO or a device), whose content cannot be looked at without consuming it.
pub fn identify(paths: &[PathBuf]) -> Result<Option<CorpusIdentity>> {
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        let io = |e| Error::io("cannot read corpus", p, e);
        let mut f = File::open(p).map_err(io)?;
        let meta = f.metadata().map_err(io)?;
        if !meta.is_file() {
            return Ok(None);
        }
        let bytes = meta.len();
        let head = crc_of(&mut f, 0, bytes.min(END_BYTES)).map_err(io)?;
        let tail_start = bytes.saturating_sub(END_BYTES);
        let tail = crc_of(&mut f, tail_start, bytes - tail_start).map_err(io)?;
        files.push(FileIdentity {
            path: absolute(p),
            bytes,
            head_crc32: format!("{head:08x}"),
            tail_crc32: format!("{tail:08x}"),
        });
    }
    Ok(Some(CorpusIdentity { files }))
}

fn crc_of(f: &mut File, start: u64, len: u64) -> std::io::Result<u32> {
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity(len as usize);
    f.take(len).read_to_end(&mut buf)?;
    Ok(crc32fast::hash(&buf))
}

impl CorpusIdentity {
    /// Why `now` is not the corpus `self` recorded (one clause naming the file), if it is not.
    /// Paths may differ (a moved corpus is the same corpus); sizes and hashes may not.
    pub fn differs_from(&self, now: &CorpusIdentity) -> Option<String> {
        if self.files.len() != now.files.len() {
            return Some(format!(
                "the checkpoint was trained on {} corpus file(s), this run reads {}",
                self.files.len(),
                now.files.len()
            ));
        }
        self.files.iter().zip(&now.files).find_map(|(was, is)| {
            let shown = is.path.display();
            if was.bytes != is.bytes {
                Some(format!(
                    "'{shown}' has {} bytes, the corpus the checkpoint was trained on ('{}') had {}",
                    is.bytes,
                    was.path.display(),
                    was.bytes
                ))
            } else if was.head_crc32 != is.head_crc32 || was.tail_crc32 != is.tail_crc32 {
                Some(format!(
                    "'{shown}' has the same size as the corpus the checkpoint was trained on ('{}') \
                     but different content",
                    was.path.display()
                ))
            } else {
                None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_content_anywhere_is_the_same_corpus_and_any_change_at_an_end_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..3 * END_BYTES as usize + 5)
            .map(|i| b"abc def\n"[i % 8])
            .collect();
        let a = dir.path().join("a.txt");
        let b = dir.path().join("moved.txt");
        std::fs::write(&a, &big).unwrap();
        std::fs::write(&b, &big).unwrap();
        let ia = identify(std::slice::from_ref(&a)).unwrap().unwrap();
        let ib = identify(std::slice::from_ref(&b)).unwrap().unwrap();
        assert!(ia.files[0].path.is_absolute());
        assert_eq!(ia.differs_from(&ib), None);
        for at in [0, big.len() - 1] {
            let mut changed = big.clone();
            changed[at] ^= 1;
            std::fs::write(&b, &changed).unwrap();
            let ic = identify(std::slice::from_ref(&b)).unwrap().unwrap();
            let why = ia.differs_from(&ic).expect("a changed byte is seen");
            assert!(why.contains("different content"), "{why}");
        }
        std::fs::write(&b, &big[1..]).unwrap();
        let id = identify(std::slice::from_ref(&b)).unwrap().unwrap();
        assert!(ia.differs_from(&id).unwrap().contains("bytes"));
        let two = identify(&[a.clone(), a.clone()]).unwrap().unwrap();
        assert!(ia.differs_from(&two).unwrap().contains("corpus file(s)"));
        let e = identify(&[dir.path().join("none")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot read corpus"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_file_that_is_not_regular_is_not_identified() {
        assert_eq!(identify(&[PathBuf::from("/dev/null")]).unwrap(), None);
    }
}
