//! The vocabulary: word ↔ id, with counts, ids sorted by descending count; and its file, in
//! word2vec.c's `-save-vocab` / `-read-vocab` format.
//!
//! Ties in count are broken by first appearance in the corpus, so the same corpus always gives the
//! same ids (word2vec.c's qsort leaves ties in an unspecified order; we do not).
//!
//! The file has one `word count` line a word, most frequent first. word2vec.c writes its
//! sentence-end entry `</s>` first; reading skips a `</s>` on the first line (we count no such
//! word) and writing never makes one. Reading sorts by descending count, keeping the file's order
//! among equal counts, so a file we wrote reads back in the same id order.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::input::read::{read_input, utf8_lines};
use crate::input::tokenize::{is_refused, is_separator};

/// Words kept for training, most frequent first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vocab {
    pub words: Vec<String>,
    pub counts: Vec<u64>,
    index: HashMap<String, u32>,
}

impl Vocab {
    /// A vocabulary from words and their counts, in the given id order (e.g. from a checkpoint).
    pub fn from_parts(words: Vec<String>, counts: Vec<u64>) -> Vocab {
        debug_assert_eq!(words.len(), counts.len());
        let index = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        Vocab {
            words,
            counts,
            index,
        }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn id(&self, w: &str) -> Option<u32> {
        self.index.get(w).copied()
    }

    /// Sum of the counts of the words kept.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Writes `vocab` as word2vec.c's vocabulary file (`word count` lines, in id order).
pub fn write_vocab(w: &mut impl Write, vocab: &Vocab) -> std::io::Result<()> {
    for (word, count) in vocab.words.iter().zip(&vocab.counts) {
        writeln!(w, "{word} {count}")?;
    }
    Ok(())
}

/// Reads a vocabulary file (`--read-vocab`); every refusal names the file and the line.
pub fn read_vocab(path: &Path) -> Result<Vocab> {
    let bytes = read_input(path, "cannot read vocabulary")?;
    parse_vocab(&bytes, path)
}

/// A vocabulary from the bytes of its file.
pub fn parse_vocab(bytes: &[u8], path: &Path) -> Result<Vocab> {
    let fail = |line: usize, msg: String| {
        Error::format(
            path,
            format!("line {line}: {msg}; give a vocabulary written by --save-vocab or word2vec -save-vocab"),
        )
    };
    let text = utf8_lines(bytes).map_err(|l| fail(l, "not UTF-8 text".into()))?;
    let mut entries: Vec<(String, u64)> = Vec::new();
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    for (i, line) in text.split('\n').enumerate() {
        let n = i + 1;
        let fields: Vec<&str> = line.split(is_separator).filter(|f| !f.is_empty()).collect();
        let (word, count) = match fields[..] {
            [] => continue,
            [word, count] => (word, count),
            _ => {
                return Err(fail(
                    n,
                    format!("expected `word count`, found {} fields", fields.len()),
                ))
            }
        };
        if n == 1 && word == "</s>" {
            continue;
        }
        let count: u64 = count.parse().map_err(|_| {
            fail(
                n,
                format!("the count {count:?} of {word:?} is not a whole number"),
            )
        })?;
        if let Some(c) = word.chars().find(|&c| is_refused(c)) {
            return Err(fail(
                n,
                format!("the word {word:?} holds the control character {c:?}"),
            ));
        }
        if let Some(first) = first_line.insert(word, n) {
            return Err(fail(
                n,
                format!("the word {word:?} is listed twice (first on line {first})"),
            ));
        }
        entries.push((word.to_string(), count));
    }
    if entries.is_empty() {
        return Err(Error::format(
            path,
            "has no words; give a vocabulary written by --save-vocab or word2vec -save-vocab",
        ));
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.1));
    let (words, counts) = entries.into_iter().unzip();
    Ok(Vocab::from_parts(words, counts))
}

impl Vocab {
    /// The words with count ≥ `min_count`, at most `max_vocab` of them, in id order.
    pub fn restricted(self, min_count: u64, max_vocab: Option<usize>) -> Vocab {
        let keep = self
            .counts
            .iter()
            .take_while(|&&c| c >= min_count)
            .count()
            .min(max_vocab.unwrap_or(usize::MAX));
        if keep == self.len() {
            return self;
        }
        let (mut words, mut counts) = (self.words, self.counts);
        words.truncate(keep);
        counts.truncate(keep);
        Vocab::from_parts(words, counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vocab> {
        parse_vocab(text.as_bytes(), Path::new("v.txt"))
    }

    #[test]
    fn a_written_vocabulary_reads_back_in_the_same_order() {
        let v = Vocab::from_parts(
            vec!["the".into(), "über".into(), "a\u{fffd}b".into(), "z".into()],
            vec![9, 4, 4, 1],
        );
        let mut bytes = Vec::new();
        write_vocab(&mut bytes, &v).unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            "the 9\nüber 4\na\u{fffd}b 4\nz 1\n"
        );
        assert_eq!(parse_vocab(&bytes, Path::new("v")).unwrap(), v);
        assert_eq!(v.id("z"), Some(3));
        assert_eq!(v.total(), 18);
    }

    #[test]
    fn word2vec_c_files_read_with_their_sentence_end_skipped_and_counts_sorted() {
        let v = parse("</s> 120\nb 3\r\na 7\n\nc 3\n").unwrap();
        assert_eq!(v.words, ["a", "b", "c"]);
        assert_eq!(v.counts, [7, 3, 3]);
        let kept = v.clone().restricted(3, Some(2));
        assert_eq!(kept.words, ["a", "b"]);
        assert_eq!(v.clone().restricted(4, None).words, ["a"]);
        assert!(v.restricted(8, None).is_empty());
    }

    #[test]
    fn damaged_vocabulary_files_are_refused_naming_the_line() {
        for (text, needle) in [
            ("", "has no words"),
            ("a 1\nb\n", "line 2: expected `word count`, found 1"),
            ("a 1 2\n", "line 1: expected `word count`, found 3"),
            ("a x\n", "line 1: the count \"x\""),
            ("a -1\n", "not a whole number"),
            ("a 99999999999999999999999\n", "not a whole number"),
            (
                "a 1\nb 1\na 2\n",
                "line 3: the word \"a\" is listed twice (first on line 1)",
            ),
            ("a\u{1b}b 1\n", "control character"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(
                e.starts_with("'v.txt': ") && e.contains(needle),
                "{text:?}: {e}"
            );
            assert!(!e.contains('\n'), "{e}");
        }
        let e = parse_vocab(b"a 1\n\xff 2\n", Path::new("v.txt")).unwrap_err();
        assert!(e.to_string().contains("line 2: not UTF-8"), "{e}");
    }
}
