//! Where corpus text comes from (files, directories of shards, standard input, text made in
//! memory), decompressed when it starts with gzip, bzip2, xz or zstd magic, and cut into chunks
//! that end at whitespace.
//!
//! `--corpus` may repeat; each input is read in the order given. A directory stands for every
//! regular file in it (symbolic links followed), sorted by name; names starting with `.` and
//! subdirectories are skipped, anything else that is not a file or a pipe is refused. `-` is
//! standard input. Inputs are read back to back as one text, with a line end between two inputs
//! when the first does not end with one, so shards split at line ends read as the whole file.

use std::cell::Cell;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::input::read::check_kind;
use crate::input::tokenize::cut_point;

/// What errors say when a corpus cannot be read.
const ACTION: &str = "cannot read corpus";
/// The longest run of text without whitespace (a word) that is read; past it the input is not text.
pub(crate) const MAX_WORD_BYTES: usize = 64 << 20;

/// One input of a corpus.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    File(PathBuf),
    Stdin,
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "standard input".into(),
        }
    }

    fn path(&self) -> PathBuf {
        match self {
            Input::File(p) => p.clone(),
            Input::Stdin => PathBuf::from("standard input"),
        }
    }
}

/// A corpus: inputs read back to back, or text made in memory (the built-in corpus).
#[derive(Clone, Debug)]
pub enum Source {
    Inputs {
        /// What summaries and errors call the whole corpus.
        label: String,
        inputs: Vec<Input>,
        /// The inputs' bytes on disk, when every one is a regular file (for progress).
        size: Option<u64>,
    },
    Text {
        name: String,
        text: String,
    },
}

/// A compression format, told by its magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Codec {
    fn detect(head: &[u8]) -> Option<Codec> {
        let magic: [(&[u8], Codec); 4] = [
            (&[0x1f, 0x8b], Codec::Gzip),
            (b"BZh", Codec::Bzip2),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0], Codec::Xz),
            (&[0x28, 0xb5, 0x2f, 0xfd], Codec::Zstd),
        ];
        magic
            .iter()
            .find(|(m, _)| head.starts_with(m))
            .map(|&(_, c)| c)
    }

    fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Bzip2 => "bzip2",
            Codec::Xz => "xz",
            Codec::Zstd => "zstd",
        }
    }
}

impl Source {
    /// One file.
    pub fn file(path: impl Into<PathBuf>) -> Source {
        let path = path.into();
        Source::Inputs {
            label: path.display().to_string(),
            inputs: vec![Input::File(path)],
            size: None,
        }
    }

    /// The corpus `--corpus` names: directories expanded, `-` as standard input. Every input is
    /// opened once here, so a missing, unreadable or unsuitable one is refused before any work.
    pub fn resolve(paths: &[PathBuf]) -> Result<Source> {
        let mut inputs = Vec::new();
        let mut size = Some(0u64);
        for p in paths {
            if p.as_os_str() == "-" {
                if inputs.contains(&Input::Stdin) {
                    return Err(Error::Input(
                        "--corpus - is given twice: standard input can be read once; give it once"
                            .into(),
                    ));
                }
                inputs.push(Input::Stdin);
                size = None;
                continue;
            }
            let meta = fs::metadata(p).map_err(|e| Error::io(ACTION, p, e))?;
            let files = if meta.is_dir() {
                let files = list_dir(p)?;
                if files.is_empty() {
                    return Err(Error::format(
                        p,
                        "is a directory without corpus files (names starting with '.' and \
                         subdirectories are skipped); put text files in it or give the files",
                    ));
                }
                files
            } else {
                vec![(p.clone(), meta)]
            };
            for (f, meta) in files {
                check_kind(&f, meta.file_type())?;
                // A FIFO is not opened twice: its writer would see its only reader go away.
                if meta.is_file() {
                    File::open(&f).map_err(|e| Error::io(ACTION, &f, e))?;
                }
                size = size.filter(|_| meta.is_file()).map(|s| s + meta.len());
                inputs.push(Input::File(f));
            }
        }
        let mut label = paths
            .iter()
            .map(|p| match p.as_os_str() == "-" {
                true => Input::Stdin.name(),
                false => p.display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        if inputs.len() != paths.len() {
            label += &format!(" ({} files)", inputs.len());
        }
        Ok(Source::Inputs {
            label,
            inputs,
            size,
        })
    }

    /// The name errors and summaries show.
    pub fn name(&self) -> String {
        match self {
            Source::Inputs { label, .. } => label.clone(),
            Source::Text { name, .. } => name.clone(),
        }
    }

    /// Bytes to read (compressed bytes for compressed files), when known in advance.
    pub fn size(&self) -> Option<u64> {
        match self {
            Source::Inputs { size, .. } => *size,
            Source::Text { text, .. } => Some(text.len() as u64),
        }
    }

    /// The files read, in order, directories expanded (to identify the corpus for `--resume`);
    /// `None` when standard input or text in memory is part of it.
    pub fn files(&self) -> Option<Vec<PathBuf>> {
        match self {
            Source::Inputs { inputs, .. } => inputs
                .iter()
                .map(|i| match i {
                    Input::File(p) => Some(p.clone()),
                    Input::Stdin => None,
                })
                .collect(),
            Source::Text { .. } => None,
        }
    }
}

/// The entries of `dir` that are not directories, sorted by name, with their metadata (links
/// followed); hidden names and subdirectories skipped.
fn list_dir(dir: &Path) -> Result<Vec<(PathBuf, fs::Metadata)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(ACTION, dir, e))? {
        let entry = entry.map_err(|e| Error::io(ACTION, dir, e))?;
        if entry.file_name().as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let path = entry.path();
        let meta = fs::metadata(&path).map_err(|e| Error::io(ACTION, &path, e))?;
        if !meta.is_dir() {
            files.push((path, meta));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// Where a chunk came from, for errors that name a place.
#[derive(Debug)]
pub(crate) struct Origin {
    pub name: String,
    pub codec: Option<Codec>,
}

impl Origin {
    /// "byte N" of a plain input, "decompressed byte N" of a compressed one.
    pub fn place(&self, offset: u64) -> String {
        match self.codec {
            Some(c) => format!("byte {offset} of the decompressed {} text", c.name()),
            None => format!("byte {offset}"),
        }
    }
}

/// A piece of the corpus text that starts and ends at word boundaries.
pub(crate) struct Chunk {
    pub bytes: Vec<u8>,
    pub origin: Arc<Origin>,
    /// Offset of `bytes` in its input's (decompressed) text.
    pub offset: u64,
}

/// Reads `src` in order, handing `emit` chunks of about `size` bytes; `emit` returns false to
/// stop. `consumed` is told the bytes taken from disk so far (compressed bytes for compressed
/// inputs), for progress.
pub(crate) fn read_chunks(
    src: &Source,
    size: usize,
    consumed: &dyn Fn(u64),
    emit: &mut dyn FnMut(Chunk) -> bool,
) -> Result<()> {
    let inputs = match src {
        Source::Text { name, text } => {
            let origin = Arc::new(Origin {
                name: name.clone(),
                codec: None,
            });
            let mut r = text.as_bytes();
            return match chunk_input(&mut r, &origin, size, true, emit) {
                Ok(_) => Ok(()),
                Err(ReadError::Other(e)) => Err(e),
                Err(ReadError::Io(e)) => {
                    Err(Error::Input(format!("cannot read corpus '{name}': {e}")))
                }
            };
        }
        Source::Inputs { inputs, .. } => inputs,
    };
    let mut before = 0u64;
    for (i, input) in inputs.iter().enumerate() {
        let count = Rc::new(Cell::new(0u64));
        let raw: Box<dyn Read> = match input {
            Input::Stdin => Box::new(io::stdin().lock()),
            Input::File(p) => Box::new(File::open(p).map_err(|e| Error::io(ACTION, p, e))?),
        };
        let base = before;
        let report = move |n| consumed(base + n);
        let mut counted = Counted {
            inner: raw,
            count: count.clone(),
            report: &report,
        };
        let head = peek(&mut counted, 6).map_err(|e| Error::io(ACTION, input.path(), e))?;
        let codec = Codec::detect(&head);
        let body = io::Cursor::new(head).chain(counted);
        let mut reader: Box<dyn Read + '_> = match codec {
            None => Box::new(body),
            Some(Codec::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(body)),
            Some(Codec::Bzip2) => Box::new(bzip2::read::MultiBzDecoder::new(body)),
            Some(Codec::Xz) => Box::new(liblzma::read::XzDecoder::new_multi_decoder(body)),
            Some(Codec::Zstd) => Box::new(
                zstd::stream::read::Decoder::new(body)
                    .map_err(|e| Error::io(ACTION, input.path(), e))?,
            ),
        };
        let origin = Arc::new(Origin {
            name: input.name(),
            codec,
        });
        let last = i + 1 == inputs.len();
        let read = chunk_input(&mut reader, &origin, size, last, emit).map_err(|e| match e {
            ReadError::Io(e) => match codec {
                None => Error::io(ACTION, input.path(), e),
                Some(c) => Error::format(
                    input.path(),
                    format!(
                        "the {} data is corrupt or truncated near compressed byte {} ({e}); \
                         re-create or re-download the file",
                        c.name(),
                        count.get()
                    ),
                ),
            },
            ReadError::Other(e) => e,
        })?;
        match read {
            None => return Ok(()),
            Some(0) if *input == Input::Stdin => {
                return Err(Error::Input(
                    "standard input (--corpus -) is empty; pipe a corpus into it, e.g. \
                     `zcat corpus.gz | w2v-gpu train --corpus -`"
                        .into(),
                ))
            }
            Some(_) => {}
        }
        before += count.get();
    }
    Ok(())
}

enum ReadError {
    Io(io::Error),
    Other(Error),
}

/// Cuts one input into chunks. `Some(bytes read)` at its end, `None` when `emit` asked to stop.
fn chunk_input(
    r: &mut dyn Read,
    origin: &Arc<Origin>,
    size: usize,
    last: bool,
    emit: &mut dyn FnMut(Chunk) -> bool,
) -> std::result::Result<Option<u64>, ReadError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut offset = 0u64;
    let mut target = size.max(1);
    loop {
        let eof = fill(r, &mut buf, target).map_err(ReadError::Io)?;
        if eof {
            let total = offset + buf.len() as u64;
            if !last && total > 0 && buf.last() != Some(&b'\n') {
                buf.push(b'\n');
            }
            if !buf.is_empty() {
                let chunk = Chunk {
                    bytes: buf,
                    origin: origin.clone(),
                    offset,
                };
                if !emit(chunk) {
                    return Ok(None);
                }
            }
            return Ok(Some(total));
        }
        match cut_point(&buf) {
            Some(cut) => {
                let rest = buf.split_off(cut);
                let bytes = std::mem::replace(&mut buf, rest);
                let n = bytes.len() as u64;
                let chunk = Chunk {
                    bytes,
                    origin: origin.clone(),
                    offset,
                };
                if !emit(chunk) {
                    return Ok(None);
                }
                offset += n;
                target = size.max(1);
            }
            None if buf.len() >= MAX_WORD_BYTES => {
                return Err(ReadError::Other(Error::Input(format!(
                    "corpus '{}': no whitespace in the {} MiB from {}: this is not text of \
                     whitespace-separated words; give a text corpus",
                    origin.name,
                    MAX_WORD_BYTES >> 20,
                    origin.place(offset)
                ))));
            }
            None => target = (buf.len() * 2).min(MAX_WORD_BYTES),
        }
    }
}

/// Reads into `buf` until it holds `target` bytes (false) or the input ends (true).
fn fill(r: &mut dyn Read, buf: &mut Vec<u8>, target: usize) -> io::Result<bool> {
    if buf.len() >= target {
        return Ok(false);
    }
    buf.reserve_exact(target - buf.len());
    r.take((target - buf.len()) as u64).read_to_end(buf)?;
    Ok(buf.len() < target)
}

/// Up to `n` first bytes of `r` (fewer only when it ends first).
fn peek(r: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// A reader that counts the bytes it hands out and reports the running total.
struct Counted<'a> {
    inner: Box<dyn Read>,
    count: Rc<Cell<u64>>,
    report: &'a dyn Fn(u64),
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        (self.report)(self.count.get());
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_expand_to_their_files_by_name_and_name_the_corpus() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("shards")).unwrap();
        std::fs::create_dir(d.join("shards/sub")).unwrap();
        for name in ["b.txt", "a.gz", ".hidden", "sub/c.txt"] {
            std::fs::write(d.join("shards").join(name), "w\n").unwrap();
        }
        std::fs::write(d.join("one.txt"), "w\n").unwrap();
        let src = Source::resolve(&[d.join("one.txt"), d.join("shards")]).unwrap();
        let files = src.files().unwrap();
        let names: Vec<_> = files.iter().map(|p| p.strip_prefix(d).unwrap()).collect();
        assert_eq!(
            names,
            ["one.txt", "shards/a.gz", "shards/b.txt"].map(Path::new)
        );
        assert!(src.name().ends_with("shards (3 files)"), "{}", src.name());
        assert_eq!(src.size(), Some(6));
        let piped = Source::resolve(&["-".into(), d.join("one.txt")]).unwrap();
        assert_eq!((piped.files(), piped.size()), (None, None));
        assert!(piped.name().starts_with("standard input, "));
    }
}
