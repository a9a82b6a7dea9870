//! Reading word2vec vectors files, binary or text (told apart by the first record), fast on large
//! files: a regular file is memory-mapped rather than copied, a text body is parsed by rayon's
//! workers a few MiB at a time, and a binary body's floats are decoded in parallel once one
//! sequential pass has found where each record starts.
//!
//! Every check is the sequential reader's, with the same messages and the same order: the header's
//! promise is checked against the file's length before anything is allocated; records are the
//! non-blank lines (text) or whitespace-separated `word floats` (binary); a record's error is
//! reported only when that record is needed (`limit`), the first one in file order; NaN and
//! infinite values are refused unless [`ReadOptions::allow_nonfinite`]; with no limit, anything
//! after the header's count is refused.

use std::ops::Range;
use std::path::Path;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::input::read::{check_kind, read_input};

use super::Embeddings;

/// How strict the readers of vectors and checkpoints are about the values they hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Accept NaN and infinite values (a diverged run's output, kept for inspection) instead of
    /// refusing the file: one NaN row tops every neighbour list and zeroes every benchmark.
    pub allow_nonfinite: bool,
}

/// Reads a word2vec binary or text file, telling them apart by the first record; refuses
/// non-finite values.
pub fn read_vectors(path: &Path) -> Result<Embeddings> {
    read_vectors_with(path, ReadOptions::default())
}

/// [`read_vectors`] with the strictness of `options`.
pub fn read_vectors_with(path: &Path, options: ReadOptions) -> Result<Embeddings> {
    read_vectors_limit(path, options, None)
}

/// [`read_vectors_with`] keeping only the first `limit` vectors (gensim's `limit`: the most
/// frequent words of a file this project or word2vec.c wrote); the rest of the file is not parsed,
/// so a file truncated after them still loads.
pub fn read_vectors_limit(
    path: &Path,
    options: ReadOptions,
    limit: Option<usize>,
) -> Result<Embeddings> {
    let bytes = FileBytes::load(path)?;
    parse_vectors_rows(bytes.as_slice(), path, options, limit)
}

/// A file's bytes: mapped when it is a regular file, else (a FIFO) read whole.
enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl FileBytes {
    fn load(path: &Path) -> Result<FileBytes> {
        const ACTION: &str = "cannot read vectors";
        let meta = std::fs::metadata(path).map_err(|e| Error::io(ACTION, path, e))?;
        check_kind(path, meta.file_type())?;
        // A FIFO is read as a stream (opening it twice would lose its writer); an empty file
        // cannot be mapped.
        if meta.is_file() && meta.len() > 0 {
            let file = std::fs::File::open(path).map_err(|e| Error::io(ACTION, path, e))?;
            // SAFETY: the map is only read, and only while `self` lives. Another process that
            // truncated the file meanwhile would make a read fault (SIGBUS), as with any mapped
            // reader (numpy's mmap_mode, gensim's); vectors files are written whole by a rename
            // (this project, gensim) or once, so none is cut under a running query.
            if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
                #[cfg(unix)]
                let _ = map.advise(memmap2::Advice::Sequential);
                return Ok(FileBytes::Mapped(map));
            }
        }
        read_input(path, ACTION).map(FileBytes::Read)
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m,
            FileBytes::Read(v) => v,
        }
    }
}

/// Parses the bytes of a vectors file, refusing non-finite values; `path` only names the file in
/// errors.
pub fn parse_vectors(bytes: &[u8], path: &Path) -> Result<Embeddings> {
    parse_vectors_with(bytes, path, ReadOptions::default())
}

/// [`parse_vectors`] with the strictness of `options`. Nothing is allocated before the header's
/// promise is checked against the bytes that follow it.
pub fn parse_vectors_with(bytes: &[u8], path: &Path, options: ReadOptions) -> Result<Embeddings> {
    parse_vectors_rows(bytes, path, options, None)
}

/// [`parse_vectors_with`] reading at most `limit` vectors.
pub fn parse_vectors_rows(
    bytes: &[u8],
    path: &Path,
    options: ReadOptions,
    limit: Option<usize>,
) -> Result<Embeddings> {
    let fail = |msg: String| Error::format(path, msg);
    let header_end = bytes.iter().position(|&b| b == b'\n').ok_or_else(|| {
        fail(if bytes.is_empty() {
            "the file is empty; expected a word2vec vectors file starting with 'VOCAB_SIZE DIM'".into()
        } else {
            "no complete header line; expected a word2vec vectors file starting with 'VOCAB_SIZE DIM'".into()
        })
    })?;
    let header = String::from_utf8_lossy(&bytes[..header_end]);
    let (count, dim) = parse_header(&header).ok_or_else(|| {
        fail(format!(
            "line 1: expected the header 'VOCAB_SIZE DIM' with DIM > 0, found {:?}",
            header.trim_end()
        ))
    })?;
    // With a limit below the header's count, the rest of the file is neither parsed nor checked.
    let (count, whole) = match limit {
        Some(l) if l < count => (l, false),
        _ => (count, true),
    };
    let body = &bytes[header_end + 1..];
    let text = looks_like_text(body);
    if least_body_bytes(count, dim, text).is_none_or(|n| n > body.len()) {
        return Err(fail(format!(
            "line 1: the header promises {count} vectors of {dim} values, more than the {} bytes after it can \
             hold; the file is truncated or its header is wrong",
            body.len()
        )));
    }
    // From here every allocation is bounded by the file's length: `count · dim` values take at
    // least two bytes each.
    let shape = Shape {
        count,
        dim,
        allow_nonfinite: options.allow_nonfinite,
        whole,
    };
    let (words, data) = if text {
        super::text::parse(body, &shape).map_err(fail)?
    } else {
        parse_binary(body, &shape).map_err(fail)?
    };
    Ok(Embeddings::new(words, dim, data))
}

/// What the header promised and how much of it is read.
pub(super) struct Shape {
    /// Records to read (the header's count, or the limit below it).
    pub count: usize,
    pub dim: usize,
    pub allow_nonfinite: bool,
    /// No limit cut the file short: anything after `count` records is an error.
    pub whole: bool,
}

/// The fewest bytes `count` records of `dim` values can take after the header, `None` when that
/// overflows: a one-byte word, then per value a space and one digit (text) or a space and four
/// bytes (binary); text records are also separated by line breaks.
fn least_body_bytes(count: usize, dim: usize, text: bool) -> Option<usize> {
    let record = if text {
        dim.checked_mul(2)?.checked_add(2)?
    } else {
        dim.checked_mul(4)?.checked_add(2)?
    };
    let total = record.checked_mul(count)?;
    Some(if text { total.saturating_sub(1) } else { total })
}

fn parse_header(line: &str) -> Option<(usize, usize)> {
    let mut parts = line.split_ascii_whitespace();
    let count = parts.next()?.parse().ok()?;
    let dim: usize = parts.next()?.parse().ok()?;
    (parts.next().is_none() && dim > 0).then_some((count, dim))
}

/// The refusal of a NaN or infinite value, naming where it is and the way around it.
pub(super) fn nonfinite(place: String, word: &str, value: &str) -> String {
    format!(
        "{place} (word {word:?}): the value {value} is not a finite number; the vectors come from a diverged run \
         or the file is damaged (--allow-nonfinite reads it anyway)"
    )
}

/// A text file's first record is a printable line `word number ...`. A binary record is `word `
/// and raw floats, which may hold a `\n` byte (cutting the "line" short) but practically never
/// spell a printable number before it.
fn looks_like_text(body: &[u8]) -> bool {
    let line = body.split(|&b| b == b'\n').next().unwrap_or_default();
    let Ok(line) = std::str::from_utf8(line) else {
        return false;
    };
    if line
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\r')
    {
        return false;
    }
    line.split_ascii_whitespace()
        .nth(1)
        .is_some_and(|v| v.parse::<f32>().is_ok())
}

/// Binary records: one sequential pass finds each word and where its floats start (cheap: a
/// word is a few bytes, the floats are skipped), then the floats are decoded and checked in
/// parallel. Errors keep file order: a non-finite value in a record before the first structural
/// error is the one reported.
fn parse_binary(body: &[u8], s: &Shape) -> Result<(Vec<String>, Vec<f32>), String> {
    let (count, dim) = (s.count, s.dim);
    let need = 4 * dim; // fits: the header's check bounded `dim` by the file's length
    let mut words = Vec::with_capacity(count);
    let mut starts: Vec<usize> = Vec::with_capacity(count);
    let mut pos = 0;
    let skip_space = |pos: &mut usize| {
        while *pos < body.len() && body[*pos].is_ascii_whitespace() {
            *pos += 1;
        }
    };
    let mut structural = None;
    for record in 1..=count {
        match binary_record(body, &mut pos, record, count, dim, skip_space) {
            Ok(word) => {
                words.push(word);
                starts.push(pos);
                pos += need;
            }
            Err(e) => {
                structural = Some(e);
                break;
            }
        }
    }
    let mut data = vec![0f32; starts.len() * dim];
    let first_bad = data
        .par_chunks_mut(dim)
        .zip(starts.par_iter())
        .enumerate()
        .filter_map(|(i, (row, &at))| {
            for (v, b) in row.iter_mut().zip(body[at..at + need].chunks_exact(4)) {
                *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            let bad = row.iter().position(|v| !v.is_finite());
            bad.filter(|_| !s.allow_nonfinite).map(|k| (i, k))
        })
        .min();
    if let Some((i, k)) = first_bad {
        let v = data[i * dim + k];
        return Err(nonfinite(
            format!("record {}, value {}", i + 1, k + 1),
            &words[i],
            &v.to_string(),
        ));
    }
    if let Some(e) = structural {
        return Err(e);
    }
    skip_space(&mut pos);
    if s.whole && pos != body.len() {
        return Err(format!(
            "{} bytes follow the header's {count} vectors; fix the header's vocabulary size or the file is garbled",
            body.len() - pos
        ));
    }
    Ok((words, data))
}

/// The word of binary record `record` at `*pos` (whitespace before it skipped), leaving `*pos`
/// at its first float once the floats are known to be there.
fn binary_record(
    body: &[u8],
    pos: &mut usize,
    record: usize,
    count: usize,
    dim: usize,
    skip_space: impl Fn(&mut usize),
) -> Result<String, String> {
    skip_space(pos);
    let truncated = || {
        format!("the header promises {count} vectors but the file ends in record {record}; the file is truncated")
    };
    if *pos == body.len() {
        return Err(truncated());
    }
    let len = body[*pos..]
        .iter()
        .position(|&b| b == b' ')
        .ok_or_else(truncated)?;
    let word = word_at(body, *pos..*pos + len, record)?;
    *pos += len + 1;
    let need = 4 * dim;
    if body.len() - *pos < need {
        return Err(format!(
            "record {record} (word {word:?}): expected {dim} floats ({need} bytes) but only {} bytes remain; the file is truncated",
            body.len() - *pos
        ));
    }
    Ok(word)
}

fn word_at(body: &[u8], at: Range<usize>, record: usize) -> Result<String, String> {
    let word = std::str::from_utf8(&body[at])
        .map_err(|_| format!("record {record}: the word is not valid UTF-8; the file is garbled or not in word2vec binary format"))?;
    if word.contains(|c: char| c.is_control()) {
        return Err(format!("record {record}: the word {word:?} holds control characters; the file is garbled or not in word2vec binary format"));
    }
    Ok(word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(records: &[(&[u8], [f32; 2])]) -> Vec<u8> {
        let mut b = format!("{} 2\n", records.len()).into_bytes();
        for (word, row) in records {
            b.extend(*word);
            b.push(b' ');
            for v in row {
                b.extend(v.to_le_bytes());
            }
            b.push(b'\n');
        }
        b
    }

    #[test]
    fn binary_errors_keep_file_order_between_values_and_structure() {
        let ok = [1.0f32, 2.0];
        let inf = [1.0, f32::INFINITY];
        let err = |b: &[u8]| {
            parse_vectors(b, Path::new("v.bin"))
                .unwrap_err()
                .to_string()
        };
        // A non-finite value in record 3 comes before a control character in record 5's word.
        let b = binary(&[
            (b"a", ok),
            (b"b", ok),
            (b"c", inf),
            (b"d", ok),
            (b"e\x01", ok),
        ]);
        assert!(err(&b).contains("record 3, value 2"), "{}", err(&b));
        // A word that is not UTF-8 in record 2 comes before record 4's infinity.
        let b = binary(&[(b"a", ok), (b"\xff", ok), (b"c", ok), (b"d", inf)]);
        assert!(
            err(&b).contains("record 2: the word is not valid UTF-8"),
            "{}",
            err(&b)
        );
        // With a limit of 2, record 3's infinity is never read.
        let b = binary(&[(b"a", ok), (b"b", ok), (b"c", inf)]);
        let two = parse_vectors_rows(&b, Path::new("v.bin"), ReadOptions::default(), Some(2));
        assert_eq!(two.unwrap().data, [1.0, 2.0, 1.0, 2.0]);
    }

    #[cfg(unix)]
    #[test]
    fn a_pipe_is_read_as_a_stream_and_a_file_mapped_alike() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.bin");
        let bytes = binary(&[(b"a", [1.0, 2.0]), (b"b", [3.0, 4.0])]);
        std::fs::write(&file, &bytes).unwrap();
        let mapped = read_vectors(&file).unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo here: the mapped half was still checked
        }
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, bytes).unwrap())
        };
        assert_eq!(read_vectors(&fifo).unwrap(), mapped);
        writer.join().unwrap();
        assert_eq!(mapped.words, ["a", "b"]);
    }
}
