//! Word vectors in word2vec's file formats (binary and text): writing, reading, format detection.
//!
//! Both formats start with the header line `VOCAB_SIZE DIM`. Then, per word:
//! - binary: the word's UTF-8 bytes, one space, `DIM` little-endian `f32`s. word2vec.c ends each
//!   record with `\n`, gensim does not; the reader accepts both because it skips whitespace before
//!   every word, as word2vec.c's own tools do.
//! - text: `word v1 v2 ... vDIM` on one line; values are written with Rust's shortest round-trip
//!   formatting, so text files read back bit-identical. Trailing spaces (word2vec.c) are accepted.
//!
//! A word can hold no whitespace in either format, so writing such a word is refused.
//!
//! Reading (`read.rs`, the text body in parallel in `text.rs`) checks the header's promise against
//! the file's length before allocating anything, and refuses NaN and infinite values unless
//! [`ReadOptions::allow_nonfinite`] is set.

use std::path::Path;

use crate::error::{Error, Result};
use crate::output::fsutil::write_atomic;

mod read;
mod text;

pub use read::{
    parse_vectors, parse_vectors_rows, parse_vectors_with, read_vectors, read_vectors_limit,
    read_vectors_with, ReadOptions,
};

/// A vocabulary with one vector per word: row `i` of `data` belongs to `words[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Embeddings {
    pub words: Vec<String>,
    pub dim: usize,
    /// Row-major `[words.len(), dim]`.
    pub data: Vec<f32>,
}

impl Embeddings {
    /// Panics when `data.len() != words.len() * dim` (a programming error, not a user input).
    pub fn new(words: Vec<String>, dim: usize, data: Vec<f32>) -> Embeddings {
        assert_eq!(
            data.len(),
            words.len() * dim,
            "embeddings data must be [words, dim]"
        );
        Embeddings { words, dim, data }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

/// On-disk layout of a vectors file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorFormat {
    /// word2vec binary (`-binary 1`), what gensim reads with `binary=True`.
    Bin,
    /// word2vec text, one word and its values per line.
    Text,
}

impl VectorFormat {
    /// The format of a vectors file named `path`: `explicit` when given, else by extension
    /// (`.bin` binary, `.txt` or `.vec` text); any other name needs `explicit`.
    pub fn for_path(path: &Path, explicit: Option<VectorFormat>) -> Result<VectorFormat> {
        if let Some(f) = explicit {
            return Ok(f);
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("bin") => Ok(VectorFormat::Bin),
            Some("txt" | "vec") => Ok(VectorFormat::Text),
            _ => Err(Error::Config(format!(
                "--output '{}': cannot tell the format from the name; name it *.bin or *.txt, or \
                 give --output-format bin|text",
                path.display()
            ))),
        }
    }
}

/// The first word the word2vec formats cannot hold (empty, or with whitespace, Unicode spaces
/// included), as a refusal naming `path`: checked before training, so a run is never lost to it.
pub fn check_words(path: &Path, words: &[String]) -> Result<()> {
    match words
        .iter()
        .enumerate()
        .find(|(_, w)| w.is_empty() || w.contains(char::is_whitespace))
    {
        Some((i, w)) => Err(Error::Input(format!(
            "cannot write '{}': word #{} {:?} is empty or contains whitespace, which the word2vec \
             format cannot hold; tokenise the corpus on whitespace",
            path.display(),
            i + 1,
            w
        ))),
        None => Ok(()),
    }
}

/// Writes `emb` to `path` whole or not at all; refuses words the format cannot hold.
pub fn write_vectors(path: &Path, emb: &Embeddings, format: VectorFormat) -> Result<()> {
    if emb.dim == 0 {
        return Err(Error::Input(format!(
            "cannot write '{}': vectors have dimension 0",
            path.display()
        )));
    }
    check_words(path, &emb.words)?;
    write_atomic(path, |out| {
        use std::io::Write;
        writeln!(out, "{} {}", emb.len(), emb.dim)?;
        for (i, word) in emb.words.iter().enumerate() {
            out.write_all(word.as_bytes())?;
            match format {
                VectorFormat::Bin => {
                    out.write_all(b" ")?;
                    for v in emb.row(i) {
                        out.write_all(&v.to_le_bytes())?;
                    }
                }
                VectorFormat::Text => {
                    for v in emb.row(i) {
                        write!(out, " {v}")?;
                    }
                }
            }
            out.write_all(b"\n")?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Embeddings {
        let words = ["the", "königin", "a", "x1"].map(String::from).to_vec();
        let data = vec![
            0.1,
            -2.5e-8,
            3.0,
            0.0,
            f32::MIN_POSITIVE,
            1.0 / 3.0,
            -0.0,
            1e30,
            7.25,
            -1.0,
            0.333,
            123456.78,
        ];
        Embeddings::new(words, 3, data)
    }

    #[test]
    fn a_limit_reads_the_first_rows_even_of_a_file_cut_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let emb = sample();
        for format in [VectorFormat::Bin, VectorFormat::Text] {
            let p = dir.path().join("v");
            write_vectors(&p, &emb, format).unwrap();
            let opts = ReadOptions::default();
            let two = read_vectors_limit(&p, opts, Some(2)).unwrap();
            assert_eq!(two.words, emb.words[..2]);
            assert_eq!(two.data, emb.data[..6]);
            assert_eq!(read_vectors_limit(&p, opts, Some(99)).unwrap(), emb);
            // Cut inside the third record: only a limit of two or less still loads.
            let bytes = std::fs::read(&p).unwrap();
            let third = bytes
                .windows(2)
                .position(|w| w == b"a ")
                .expect("the third word");
            std::fs::write(&p, &bytes[..third + 3]).unwrap();
            assert_eq!(read_vectors_limit(&p, opts, Some(2)).unwrap(), two);
            assert!(read_vectors_limit(&p, opts, Some(3)).is_err(), "{format:?}");
        }
    }

    #[test]
    fn bin_and_text_round_trip_bit_exact() {
        let dir = tempfile::tempdir().unwrap();
        let emb = sample();
        for format in [VectorFormat::Bin, VectorFormat::Text] {
            let p = dir.path().join(format!("v.{format:?}"));
            write_vectors(&p, &emb, format).unwrap();
            let back = read_vectors(&p).unwrap();
            assert_eq!(back.words, emb.words);
            assert_eq!(back.dim, 3);
            let bits = |e: &Embeddings| e.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&back), bits(&emb), "{format:?}");
        }
    }

    #[test]
    fn binary_layout_is_word2vec_c() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.bin");
        write_vectors(
            &p,
            &Embeddings::new(vec!["ab".into()], 2, vec![1.0, -2.0]),
            VectorFormat::Bin,
        )
        .unwrap();
        let mut expected = b"1 2\nab ".to_vec();
        expected.extend(1.0f32.to_le_bytes());
        expected.extend((-2.0f32).to_le_bytes());
        expected.push(b'\n');
        assert_eq!(std::fs::read(&p).unwrap(), expected);
    }

    #[test]
    fn reads_gensim_binary_without_newlines_and_c_text_with_trailing_spaces() {
        let mut bin = b"2 2\nfoo ".to_vec();
        for v in [1.5f32, -0.5, 2.0, 4.0] {
            if v == 2.0 {
                bin.extend(b"bar ");
            }
            bin.extend(v.to_le_bytes());
        }
        let e = parse_vectors(&bin, Path::new("g.bin")).unwrap();
        assert_eq!(e.words, ["foo", "bar"]);
        assert_eq!(e.data, [1.5, -0.5, 2.0, 4.0]);

        let text = b"2 2\r\nfoo 1.500000 -0.500000 \r\n\nbar 2 4 \n";
        let e = parse_vectors(text, Path::new("c.txt")).unwrap();
        assert_eq!(e.words, ["foo", "bar"]);
        assert_eq!(e.data, [1.5, -0.5, 2.0, 4.0]);
    }

    #[test]
    fn binary_whose_floats_start_with_a_newline_byte_is_still_binary() {
        let v = f32::from_le_bytes([b'\n', 0, 0, 0x3f]);
        let emb = Embeddings::new(vec!["w".into(), "x".into()], 2, vec![v, 1.0, -v, 2.0]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.bin");
        write_vectors(&p, &emb, VectorFormat::Bin).unwrap();
        assert_eq!(read_vectors(&p).unwrap(), emb);
    }

    #[test]
    fn damaged_files_give_errors_naming_file_and_place() {
        let err = |bytes: &[u8]| {
            parse_vectors(bytes, Path::new("bad.vec"))
                .unwrap_err()
                .to_string()
        };
        assert!(err(b"").contains("empty"));
        assert!(err(b"two 3\n").contains("line 1"));
        assert!(err(b"2 0\n").contains("DIM > 0"));
        let e = err(b"2 2\nfoo 1 2\nbar 1\n");
        assert!(
            e.contains("'bad.vec'") && e.contains("line 3") && e.contains("expected 2 values"),
            "{e}"
        );
        let e = err(b"2 2\nfoo 1 2\n");
        assert!(e.contains("truncated"), "{e}");
        let e = err(b"1 2\nfoo 1 zz\n");
        assert!(e.contains("line 2") && e.contains("\"zz\""), "{e}");
        let e = err(b"1 2\nfoo 1 2\nbar 3 4\n");
        assert!(e.contains("more vectors"), "{e}");
        let mut bin = b"2 2\nfoo ".to_vec();
        bin.extend([0u8; 8]);
        bin.extend(b"bar \0\0\0\0");
        let e = err(&bin);
        assert!(e.contains("record 2") && e.contains("truncated"), "{e}");
        bin.extend([0u8; 4]);
        bin.extend(b"extra");
        assert!(err(&bin).contains("follow the header"));
    }

    #[test]
    fn nonfinite_values_are_refused_with_place_and_word_unless_allowed() {
        let allow = ReadOptions {
            allow_nonfinite: true,
        };
        let text = b"2 2\nfoo 1 2\nbar nan 4\n";
        let e = parse_vectors(text, Path::new("v.txt"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'v.txt'")
                && e.contains("line 3")
                && e.contains("\"bar\"")
                && e.contains("not a finite"),
            "{e}"
        );
        assert!(parse_vectors_with(text, Path::new("v.txt"), allow)
            .unwrap()
            .data[2]
            .is_nan());
        // Finite in decimal, infinite as f32.
        assert!(parse_vectors(b"1 1\nx 1e39\n", Path::new("v.txt")).is_err());

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.bin");
        let emb = Embeddings::new(
            vec!["a".into(), "b".into()],
            2,
            vec![1.0, 2.0, 3.0, f32::NEG_INFINITY],
        );
        write_vectors(&p, &emb, VectorFormat::Bin).unwrap();
        let e = read_vectors(&p).unwrap_err().to_string();
        assert!(
            e.contains("record 2, value 2") && e.contains("\"b\"") && e.contains("-inf"),
            "{e}"
        );
        assert_eq!(read_vectors_with(&p, allow).unwrap(), emb);
    }

    #[test]
    fn headers_promising_more_than_the_file_holds_are_refused_before_allocating() {
        let huge = [
            "1 18446744073709551615",
            "2 4611686018427387904",
            "1 1000000000000",
            "18446744073709551615 1",
        ];
        for header in huge {
            for body in [&b"foo 1 2\n"[..], b"foo \0\0\0\0\0\0\0\0"] {
                let file = [header.as_bytes(), b"\n", body].concat();
                let e = parse_vectors(&file, Path::new("h.bin"))
                    .unwrap_err()
                    .to_string();
                assert!(
                    e.contains("line 1") && e.contains("promises"),
                    "{header}: {e}"
                );
            }
        }
        // Exactly as many bytes as the smallest records need are enough.
        assert_eq!(
            parse_vectors(b"2 1\na 1\nb 2", Path::new("t.txt"))
                .unwrap()
                .len(),
            2
        );
        let mut bin = b"1 1\na ".to_vec();
        bin.extend(1.0f32.to_le_bytes());
        assert_eq!(parse_vectors(&bin, Path::new("b.bin")).unwrap().len(), 1);
    }

    #[test]
    fn words_with_whitespace_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.txt");
        let emb = Embeddings::new(vec!["ok".into(), "new york".into()], 1, vec![1.0, 2.0]);
        let e = write_vectors(&p, &emb, VectorFormat::Text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("#2") && e.contains("new york") && e.contains("whitespace"),
            "{e}"
        );
        assert!(!p.exists());
    }
}
