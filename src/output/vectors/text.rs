//! The word2vec text format's body, parsed in parallel: cut into pieces of a few MiB at line
//! breaks, a wave of pieces (one per rayon worker) parsed at once, the results joined in file
//! order. Line numbers and the first error in file order are the sequential reader's: a piece
//! that stops early (an error, or more records than are still needed) ends the join, so every
//! piece before it was parsed whole and its line count is known.

use rayon::prelude::*;

use super::read::{nonfinite, Shape};

/// Bytes of text a piece holds (then up to the next line break).
const PIECE: usize = 4 << 20;

/// Words and row-major values of the first `s.count` records of `body` (the file from line 2).
pub(super) fn parse(body: &[u8], s: &Shape) -> Result<(Vec<String>, Vec<f32>), String> {
    parse_in(body, s, PIECE)
}

/// [`parse`] with pieces of `piece` bytes (then up to the next line break).
fn parse_in(body: &[u8], s: &Shape, piece: usize) -> Result<(Vec<String>, Vec<f32>), String> {
    let mut words = Vec::with_capacity(s.count);
    let mut data = Vec::with_capacity(s.count * s.dim);
    let mut need = s.count;
    let mut line_base = 2; // the body starts on the file's line 2
    let mut rest = body;
    let wave = rayon::current_num_threads().max(1);
    while !rest.is_empty() {
        let mut pieces = Vec::with_capacity(wave);
        while pieces.len() < wave && !rest.is_empty() {
            let cut = piece_end(rest, piece);
            pieces.push(&rest[..cut]);
            rest = &rest[cut..];
        }
        // No piece needs more than the records still wanted, plus one to see an excess.
        let cap = need + 1;
        let parsed: Vec<Piece> = pieces
            .par_iter()
            .map(|p| Piece::parse(p, s.dim, s.allow_nonfinite, cap))
            .collect();
        for p in parsed {
            let take = need.min(p.words.len());
            words.extend(p.words.into_iter().take(take));
            data.extend_from_slice(&p.data[..take * s.dim]);
            need -= take;
            if need == 0 {
                // The first non-blank line after the last record wanted, if this piece has one.
                let next = p
                    .lines_of
                    .get(take)
                    .copied()
                    .or(p.bad.as_ref().map(|b| b.0));
                match next {
                    Some(line) if s.whole => {
                        return Err(format!(
                            "line {}: more vectors than the header's {}; fix the header's vocabulary size",
                            line_base + line,
                            s.count
                        ))
                    }
                    Some(_) => return Ok((words, data)),
                    None if !s.whole => return Ok((words, data)),
                    None => {}
                }
            } else if let Some((line, bad)) = p.bad {
                return Err(bad.message(line_base + line));
            }
            line_base += p.lines;
        }
    }
    if need > 0 {
        return Err(format!(
            "the header promises {} vectors but the file ends after {}; the file is truncated",
            s.count,
            s.count - need
        ));
    }
    Ok((words, data))
}

/// Where the piece starting at `rest` ends: after the first line break at or past `piece`
/// bytes, or at the end.
fn piece_end(rest: &[u8], piece: usize) -> usize {
    if rest.len() <= piece {
        return rest.len();
    }
    rest[piece..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(rest.len(), |i| piece + i + 1)
}

/// What a line that is not a record says, its message made once its line number is known.
enum Bad {
    NotUtf8,
    NotNumber {
        word: String,
        part: String,
    },
    NonFinite {
        word: String,
        part: String,
    },
    Count {
        word: String,
        got: usize,
        dim: usize,
    },
}

impl Bad {
    fn message(&self, line_no: usize) -> String {
        match self {
            Bad::NotUtf8 => {
                format!("line {line_no}: not valid UTF-8 (a text vectors file must be UTF-8)")
            }
            Bad::NotNumber { word, part } => {
                format!("line {line_no} (word {word:?}): {part:?} is not a number")
            }
            Bad::NonFinite { word, part } => {
                nonfinite(format!("line {line_no}"), word, &format!("{part:?}"))
            }
            Bad::Count { word, got, dim } => format!(
                "line {line_no} (word {word:?}): expected {dim} values as the header says, found {got}{}",
                if got < dim { "; the file is truncated or not in word2vec text format" } else { "" }
            ),
        }
    }
}

/// The records of one piece, up to its end, its first bad line, or `cap` records.
struct Piece {
    words: Vec<String>,
    data: Vec<f32>,
    /// Each record's line, counted from the piece's first line (0).
    lines_of: Vec<usize>,
    /// The first line that is not blank and not a record, with what is wrong with it.
    bad: Option<(usize, Bad)>,
    /// Line breaks in the piece (meaningful when it was parsed to its end).
    lines: usize,
}

impl Piece {
    fn parse(bytes: &[u8], dim: usize, allow_nonfinite: bool, cap: usize) -> Piece {
        let mut p = Piece {
            words: Vec::new(),
            data: Vec::new(),
            lines_of: Vec::new(),
            bad: None,
            lines: 0,
        };
        // `split` yields one slice past a final `\n`: an empty, blank line, as `str::lines` skips.
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            p.lines = i;
            if p.words.len() == cap {
                break;
            }
            let line = match std::str::from_utf8(raw) {
                Ok(l) => l,
                Err(_) => {
                    p.bad = Some((i, Bad::NotUtf8));
                    break;
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            if let Err(bad) = p.record(line, dim, allow_nonfinite) {
                p.bad = Some((i, bad));
                break;
            }
            p.lines_of.push(i);
        }
        p
    }

    /// Appends `word v1 … vDIM` (a trailing `\r` and spaces allowed), or says what is wrong.
    fn record(&mut self, line: &str, dim: usize, allow_nonfinite: bool) -> Result<(), Bad> {
        let mut parts = line.split_ascii_whitespace();
        let word = parts.next().unwrap_or_default();
        let before = self.data.len();
        for part in parts {
            let owned = || (word.to_string(), part.to_string());
            let Ok(v) = part.parse::<f32>() else {
                self.data.truncate(before);
                let (word, part) = owned();
                return Err(Bad::NotNumber { word, part });
            };
            if !v.is_finite() && !allow_nonfinite {
                self.data.truncate(before);
                let (word, part) = owned();
                return Err(Bad::NonFinite { word, part });
            }
            self.data.push(v);
        }
        let got = self.data.len() - before;
        if got != dim {
            self.data.truncate(before);
            let word = word.to_string();
            return Err(Bad::Count { word, got, dim });
        }
        self.words.push(word.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(count: usize, dim: usize, whole: bool) -> Shape {
        Shape {
            count,
            dim,
            allow_nonfinite: false,
            whole,
        }
    }

    /// Bodies with blank lines, `\r\n`, trailing spaces and one defect each (or none) at the
    /// start, middle or end; every piece size must give the one-piece (sequential) answer, with
    /// and without a limit.
    #[test]
    fn any_piece_size_gives_the_sequential_answer_and_error() {
        let good: Vec<String> = (0..40)
            .map(|i| format!("w{i} {} -{}.5 {}e-3", i, i % 7, i * 3))
            .collect();
        let defects = [
            None,
            Some("x 1 2"),
            Some("y 1 2 3 4"),
            Some("z 1 nan 2"),
            Some("q 1 zz 2"),
            Some("\u{3000}"),
            Some("\r"),
        ];
        for defect in defects {
            for at in [0, 1, 17, 39, 40] {
                let mut lines: Vec<&str> = good.iter().map(String::as_str).collect();
                if let Some(d) = defect {
                    lines.insert(at, d);
                }
                let mut body = String::new();
                for (i, l) in lines.iter().enumerate() {
                    body.push_str(l);
                    body.push_str(match i % 5 {
                        0 => "\n",
                        1 => "\r\n",
                        2 => " \n\n",
                        3 => "\n   \n",
                        _ => "\n",
                    });
                }
                let mut bytes = body.into_bytes();
                if defect == Some("\r") {
                    bytes.extend(b"bad \xff 1 2\n");
                }
                for (count, whole) in [(40, true), (39, true), (41, true), (20, false), (1, false)]
                {
                    let s = shape(count, 3, whole);
                    let one = parse_in(&bytes, &s, usize::MAX);
                    for piece in [1, 2, 5, 13, 64, 300] {
                        assert_eq!(
                            parse_in(&bytes, &s, piece),
                            one,
                            "defect {defect:?} at {at}, count {count}, whole {whole}, piece {piece}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn errors_name_the_line_across_pieces() {
        let body = b"a 1\nb 2\n\nc x\nd 4\n";
        for piece in [1, 3, 100] {
            let e = parse_in(body, &shape(4, 1, true), piece).unwrap_err();
            assert!(e.starts_with("line 5 (word \"c\")"), "{piece}: {e}");
            let e = parse_in(b"a 1\nb 2\n\nc 3\n", &shape(2, 1, true), piece).unwrap_err();
            assert!(e.starts_with("line 5: more vectors"), "{piece}: {e}");
            let e = parse_in(b"a 1\n\n", &shape(2, 1, true), piece).unwrap_err();
            assert!(e.contains("ends after 1"), "{piece}: {e}");
            let (w, d) = parse_in(b"a 1\nb 2\nc \xff\n", &shape(2, 1, false), piece).unwrap();
            assert_eq!(
                (w, d),
                (vec!["a".to_string(), "b".to_string()], vec![1.0, 2.0])
            );
        }
    }
}
