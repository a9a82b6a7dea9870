//! Words of one chunk of text: split on Python's `str.split()` whitespace, `\n` ends a line,
//! control characters inside words refused, each distinct word given a chunk-local id.
//!
//! The separators are exactly the characters for which Python's `str.isspace()` holds (what
//! gensim's `LineSentence` splits on): Rust's `char::is_whitespace` (Unicode `White_Space`: tab,
//! line feed, vertical tab, form feed, carriage return, space, U+0085, U+00A0, U+1680,
//! U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) plus the four information separators
//! U+001C..U+001F. Only `\n` ends a line (a sentence, or `<eos>` in `--format ptb`), as in gensim.
//!
//! Every other control character (U+0000..U+0008, U+000E..U+001B, U+007F..U+0084,
//! U+0086..U+009F) is refused, naming its byte offset: the word2vec binary format's readers
//! (ours included) treat a word holding one as a damaged file, so such a word could be trained
//! but not read back. Bytes that are not UTF-8 become U+FFFD, as `String::from_utf8_lossy`
//! decodes the whole stream.

use std::hash::Hasher;

use rustc_hash::FxHasher;

use crate::train::plan::SENTENCE_BREAK;

/// Marks a line end among a chunk's local ids.
pub(crate) const LINE_END: u32 = SENTENCE_BREAK;

/// Whether `c` separates words (Python's `str.isspace()`).
pub fn is_separator(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Whether `c` may not appear inside a word (a control character that does not separate words).
pub fn is_refused(c: char) -> bool {
    c.is_control() && !is_separator(c)
}

const WORD: u8 = 0;
const SPACE: u8 = 1;
const LINE: u8 = 2;
const CONTROL: u8 = 3;
const MULTI: u8 = 4;

/// The class of each byte: ASCII is decided by its byte, anything else by its decoded character.
static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut t = [WORD; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = if b >= 0x80 {
            MULTI
        } else if b == b'\n' as usize {
            LINE
        } else if (b >= 0x09 && b <= 0x0d) || (b >= 0x1c && b <= 0x20) {
            SPACE
        } else if b < 0x20 || b == 0x7f {
            CONTROL
        } else {
            WORD
        };
        b += 1;
    }
    t
}

/// The high bit of each byte of `x` (eight bytes of text, little-endian) that is not an ASCII
/// word byte (`0x21..=0x7e`: not a space, a control character or part of a multi-byte
/// character); exact per byte (no carry crosses a byte), so the lowest set bit marks the first.
fn not_word_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low = x & LOW7;
    // Per byte: the high bit of `low + 1` is set where the low seven bits are 0x7f (DEL, 0xff),
    // that of `low + 0x5f` where they are at least 0x21 (no byte overflows into the next).
    let del = low + ONES;
    let printable = low + 0x5f * ONES;
    (x | del | !printable) & HIGH
}

/// Whether a chunk may end after byte `b`: an ASCII separator never sits inside a UTF-8 sequence
/// or a word, so text cut there tokenizes as the whole does.
fn is_ascii_separator(b: u8) -> bool {
    matches!(CLASS[b as usize], SPACE | LINE)
}

/// Where a chunk of `buf` may end: after its last ASCII separator, else after its last multi-byte
/// separator (text spaced only by U+3000, say); `None` when `buf` has no separator at all.
pub(crate) fn cut_point(buf: &[u8]) -> Option<usize> {
    if let Some(i) = buf.iter().rposition(|&b| is_ascii_separator(b)) {
        return Some(i + 1);
    }
    // A lead byte always starts a fresh character for the lossy decoder, so a valid separator
    // found from its lead byte is one in the decoded stream too.
    (0..buf.len()).rev().find_map(|i| {
        let len = match buf[i] {
            0xc2 => 2,
            0xe1..=0xe3 => 3,
            _ => return None,
        };
        let s = std::str::from_utf8(buf.get(i..i + len)?).ok()?;
        s.chars()
            .next()
            .filter(|&c| is_separator(c))
            .map(|_| i + len)
    })
}

/// One chunk's words: its text (valid UTF-8), its distinct words in order of first appearance and
/// their counts, and its tokens as local ids with [`LINE_END`] at line ends.
pub(crate) struct Words {
    text: String,
    /// Byte range of each local word in `text`; `(u32::MAX, 0)` is the `<eos>` of `ptb`.
    spans: Vec<(u32, u32)>,
    pub counts: Vec<u64>,
    pub ids: Vec<u32>,
    /// Tokens read (words, and line ends in `ptb`).
    pub raw: u64,
}

impl Words {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Local word `i`.
    pub fn word(&self, i: usize) -> &str {
        match self.spans[i] {
            (u32::MAX, _) => super::corpus::EOS,
            (s, e) => &self.text[s as usize..e as usize],
        }
    }
}

/// Splits `bytes` (a chunk that starts and ends at word boundaries) into words; `eos` makes each
/// line end the word `<eos>`. A refused control character is `Err` with its byte offset in
/// `bytes`.
pub(crate) fn tokenize(bytes: Vec<u8>, eos: bool) -> Result<Words, usize> {
    match String::from_utf8(bytes) {
        Ok(text) => split(text, eos),
        Err(e) => {
            let raw = e.into_bytes();
            let text = String::from_utf8_lossy(&raw).into_owned();
            split(text, eos).map_err(|pos| raw_offset(&raw, pos))
        }
    }
}

/// The offset in `raw` of byte `pos` of its lossy decoding (each invalid run became 3 bytes).
fn raw_offset(raw: &[u8], pos: usize) -> usize {
    let (mut at_raw, mut at_text) = (0, 0);
    for part in raw.utf8_chunks() {
        let valid = part.valid().len();
        if pos < at_text + valid {
            return at_raw + pos - at_text;
        }
        at_raw += valid + part.invalid().len();
        at_text += valid + '\u{fffd}'.len_utf8();
    }
    at_raw
}

/// A chunk's distinct words by open addressing. A word of up to 8 bytes is its own key (its bytes
/// as a `u64`), so finding it touches only the table; a longer one is keyed by its hash and
/// compared with its first occurrence in the text.
struct Local {
    slots: Vec<Slot>,
    spans: Vec<(u32, u32)>,
    counts: Vec<u64>,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    key: u64,
    /// Local id + 1; 0 is an empty slot.
    id1: u32,
    len: u32,
}

/// The slot a key starts probing from (before masking).
fn mix(key: u64, len: u32) -> usize {
    let m = (key ^ ((len as u64) << 56)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (m ^ (m >> 29)) as usize
}

impl Local {
    fn new() -> Local {
        Local {
            slots: vec![Slot::default(); 1 << 15],
            spans: Vec::new(),
            counts: Vec::new(),
        }
    }

    fn push(&mut self, span: (u32, u32)) -> u32 {
        self.spans.push(span);
        self.counts.push(0);
        self.spans.len() as u32 - 1
    }

    /// The id of `text[start..end]`, counted once more.
    fn add(&mut self, text: &[u8], start: usize, end: usize) -> u32 {
        let word = &text[start..end];
        let len = word.len() as u32;
        let key = if let (true, Some(eight)) = (len <= 8, text.get(start..start + 8)) {
            // Eight bytes read at once, those past the word masked off (no variable-length copy).
            let bytes = u64::from_le_bytes(eight.try_into().expect("eight bytes"));
            bytes & (u64::MAX >> (64 - 8 * len))
        } else if len <= 8 {
            let mut b = [0u8; 8];
            b[..word.len()].copy_from_slice(word);
            u64::from_le_bytes(b)
        } else {
            let mut h = FxHasher::default();
            h.write(word);
            h.finish()
        };
        self.add_keyed(text, start, end, key)
    }

    /// [`Local::add`] with the key computed: a word of up to 8 bytes is its bytes.
    #[inline(always)]
    fn add_keyed(&mut self, text: &[u8], start: usize, end: usize, key: u64) -> u32 {
        let word = &text[start..end];
        let len = word.len() as u32;
        let mask = self.slots.len() - 1;
        let mut i = mix(key, len) & mask;
        let id = loop {
            let slot = self.slots[i];
            if slot.id1 == 0 {
                let id = self.push((start as u32, end as u32));
                self.slots[i] = Slot {
                    key,
                    id1: id + 1,
                    len,
                };
                if self.spans.len() * 2 > self.slots.len() {
                    self.grow();
                }
                break id;
            }
            if slot.key == key && slot.len == len {
                let (s, e) = self.spans[slot.id1 as usize - 1];
                if len <= 8 || same(&text[s as usize..e as usize], word) {
                    break slot.id1 - 1;
                }
            }
            i = (i + 1) & mask;
        };
        self.counts[id as usize] += 1;
        id
    }

    fn grow(&mut self) {
        let mut slots = vec![Slot::default(); self.slots.len() * 2];
        let mask = slots.len() - 1;
        for s in self.slots.iter().filter(|s| s.id1 != 0) {
            let mut i = mix(s.key, s.len) & mask;
            while slots[i].id1 != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = *s;
        }
        self.slots = slots;
    }
}

/// Byte equality without a library call (words are short): eight bytes at a time, then the tail.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    for (p, q) in (&mut x).zip(&mut y) {
        let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().expect("eight bytes"));
        if word(p) != word(q) {
            return false;
        }
    }
    x.remainder().iter().zip(y.remainder()).all(|(p, q)| p == q)
}

fn split(text: String, eos: bool) -> Result<Words, usize> {
    let mut local = Local::new();
    let mut ids = Vec::with_capacity(text.len() / 5);
    let mut raw = 0u64;
    let mut eos_id = None;
    let b = text.as_bytes();
    let n = b.len();
    let char_at = |i: usize| text[i..].chars().next().expect("i is a character boundary");
    let mut i = 0;
    while i < n {
        match CLASS[b[i] as usize] {
            SPACE => {
                i += 1;
                continue;
            }
            LINE => {
                i += 1;
                if !eos {
                    ids.push(LINE_END);
                    continue;
                }
                let id = *eos_id.get_or_insert_with(|| local.push((u32::MAX, 0)));
                local.counts[id as usize] += 1;
                ids.push(id);
                raw += 1;
                continue;
            }
            CONTROL => return Err(i),
            MULTI => {
                let c = char_at(i);
                if is_separator(c) {
                    i += c.len_utf8();
                    continue;
                }
                if is_refused(c) {
                    return Err(i);
                }
            }
            _ => {}
        }
        let start = i;
        // The common word: ASCII, under 8 bytes, ended by an ASCII separator. Its key is the
        // eight bytes just read with those past it masked off.
        if let Some(eight) = b.get(i..i + 8) {
            let x = u64::from_le_bytes(eight.try_into().expect("8 bytes"));
            let len = (not_word_bytes(x).trailing_zeros() / 8) as usize;
            if (1..8).contains(&len) && matches!(CLASS[b[i + len] as usize], SPACE | LINE) {
                let key = x & (u64::MAX >> (64 - 8 * len));
                ids.push(local.add_keyed(b, start, start + len, key));
                raw += 1;
                // The one space that usually follows is passed over here.
                i += len + (b[i + len] == b' ') as usize;
                continue;
            }
        }
        while i < n {
            // Eight bytes at a time while they are all ASCII word bytes (most text), then the
            // byte that is not, one at a time.
            while let Some(eight) = b.get(i..i + 8) {
                let stop = not_word_bytes(u64::from_le_bytes(eight.try_into().expect("8 bytes")));
                if stop != 0 {
                    i += (stop.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            if i >= n {
                break;
            }
            match CLASS[b[i] as usize] {
                WORD => i += 1,
                MULTI => {
                    let c = char_at(i);
                    if is_separator(c) {
                        break;
                    }
                    if is_refused(c) {
                        return Err(i);
                    }
                    i += c.len_utf8();
                }
                CONTROL => return Err(i),
                _ => break,
            }
        }
        ids.push(local.add(b, start, i));
        raw += 1;
    }
    Ok(Words {
        spans: local.spans,
        counts: local.counts,
        text,
        ids,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        let w = tokenize(s.as_bytes().to_vec(), true).unwrap();
        w.ids
            .iter()
            .map(|&i| w.word(i as usize).to_string())
            .collect()
    }

    #[test]
    fn the_separators_are_pythons_str_isspace() {
        // python3 -c "print([hex(i) for i in range(0x110000) if chr(i).isspace()])"
        let python: Vec<u32> = [
            0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000,
            0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028,
            0x2029, 0x202f, 0x205f, 0x3000,
        ]
        .into();
        let ours: Vec<u32> = (0..=0x10ffffu32)
            .filter_map(char::from_u32)
            .filter(|&c| is_separator(c))
            .map(u32::from)
            .collect();
        assert_eq!(ours, python);
        for c in ours.iter().filter_map(|&c| char::from_u32(c)) {
            assert!(!is_refused(c));
            let s = c.to_string();
            let cut = cut_point(format!("ab{s}cd").as_bytes()).unwrap();
            assert_eq!(cut, 2 + s.len(), "{c:?}");
        }
    }

    #[test]
    fn unicode_spaces_split_words_and_only_newline_ends_a_line() {
        assert_eq!(
            words("a\u{a0}b\u{2003}c\u{3000}d\u{1f}e\u{2028}f\r\ng"),
            ["a", "b", "c", "d", "e", "f", "<eos>", "g"]
        );
        let w = tokenize(b"x y\n\nx".to_vec(), false).unwrap();
        assert_eq!(w.ids, [0, 1, LINE_END, LINE_END, 0]);
        assert_eq!((w.counts.clone(), w.raw), (vec![2, 1], 3));
    }

    #[test]
    fn control_characters_inside_words_are_refused_at_their_offset() {
        assert_eq!(tokenize(b"ok b\x1bad".to_vec(), false).err(), Some(4));
        assert_eq!(tokenize(b"\x00".to_vec(), false).err(), Some(0));
        assert_eq!(
            tokenize("ab c\u{9f}".as_bytes().to_vec(), false).err(),
            Some(4)
        );
        // Offsets count the file's bytes, not the U+FFFD that replaced a bad byte.
        assert_eq!(tokenize(b"\xff\xfe a\x7f".to_vec(), false).err(), Some(4));
    }

    #[test]
    fn bytes_that_are_not_utf8_become_replacement_characters() {
        assert_eq!(words("ok"), ["ok"]);
        let w = tokenize(b"a\xffb \xe2\x80 \xe3\x80\xe3\x80\x80z".to_vec(), false).unwrap();
        let got: Vec<&str> = w.ids.iter().map(|&i| w.word(i as usize)).collect();
        assert_eq!(got, ["a\u{fffd}b", "\u{fffd}", "\u{fffd}", "z"]);
    }

    #[test]
    fn eight_bytes_at_once_find_the_first_byte_the_table_does_not_call_a_word_byte() {
        let mut x = 0x1234_5678_9abc_def1u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mostly word bytes, with every byte value somewhere.
            let mut bytes = x.to_le_bytes();
            for (k, b) in bytes.iter_mut().enumerate() {
                if (x >> (8 * k)) & 3 != 0 {
                    *b = 0x21 + *b % 0x5e;
                }
            }
            let want = bytes.iter().position(|&b| CLASS[b as usize] != WORD);
            let got = not_word_bytes(u64::from_le_bytes(bytes));
            assert_eq!(
                (got != 0).then(|| got.trailing_zeros() as usize / 8),
                want,
                "{bytes:x?}"
            );
        }
        for b in 0..=255u8 {
            let got = not_word_bytes(u64::from_le_bytes([b; 8]));
            assert_eq!(got == 0, CLASS[b as usize] == WORD, "{b:#x}");
        }
    }

    #[test]
    fn chunks_end_after_a_separator() {
        assert_eq!(cut_point(b"ab cd"), Some(3));
        assert_eq!(cut_point(b"abcd"), None);
        assert_eq!(cut_point("ab\u{3000}cd".as_bytes()), Some(5));
        assert_eq!(cut_point(b"ab\xe3\x80"), None);
    }
}
