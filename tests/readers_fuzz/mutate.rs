//! The mutator of the readers' fuzz test: a seeded generator and the byte, number and JSON edits
//! it makes to a valid file.

/// SplitMix64: each case draws from its own stream, so one case reproduces alone.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Numbers that break size arithmetic: zero, one, negatives, powers of two near the word size,
/// values just past `u64`, non-finite spellings.
pub const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "65536",
    "4294967296",
    "1000000000000",
    "1152921504606846976",
    "4611686018427387904",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e39",
    "-0",
];

pub const BYTES: &[u8] = b"\0\n\r\t -+.e9\"[]{}:,\x7f\xff\xc3";

/// Applies one to four seeded mutations to `seed`; `others` are the reader's other seeds, for
/// splices.
pub fn mutate(seed: &[u8], others: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(12) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = *rng.pick(BYTES);
            }
            2 => {
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| *rng.pick(BYTES)).collect();
                b.splice(at..at, bytes);
            }
            3 => {
                let end = (at + 1 + rng.below(16)).min(b.len());
                b.drain(at.min(end)..end);
            }
            4 => b.truncate(at),
            5..=7 => edit_number(&mut b, rng),
            8 => {
                let other = rng.pick(others);
                let from = rng.below(other.len());
                let to = (from + 1 + rng.below(64)).min(other.len());
                b.splice(at..at, other[from..to].iter().copied());
            }
            9 if !b.is_empty() => {
                let from = rng.below(b.len());
                let to = (from + 1 + rng.below(64)).min(b.len());
                let chunk = b[from..to].to_vec();
                b.splice(at..at, chunk);
            }
            10 if b.len() >= 4 => {
                let bits = *rng.pick(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX]);
                let i = rng.below(b.len() - 3);
                b[i..i + 4].copy_from_slice(&bits.to_le_bytes());
            }
            11 if b.len() >= 8 => {
                // The safetensors header length; elsewhere it is just eight odd bytes.
                let n = *rng.pick(&[0u64, 1, 7, u64::MAX, 1 << 40, b.len() as u64]);
                b[..8].copy_from_slice(&n.to_le_bytes());
            }
            _ => b.truncate(at),
        }
    }
    b
}

/// Replaces one run of ASCII digits (a count, a dimension, an offset, a value) with a number
/// from [`NUMBERS`].
pub fn edit_number(b: &mut Vec<u8>, rng: &mut Rng) {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            runs.push(start..i);
        } else {
            i += 1;
        }
    }
    if runs.is_empty() {
        return;
    }
    let run = rng.pick(&runs).clone();
    b.splice(run, rng.pick(NUMBERS).bytes());
}

/// A third of the cases mutate the whole file, a third the bytes of its JSON header, a third the
/// header's values (shapes, offsets, dtypes, metadata) as JSON; the last two fix up the length
/// prefix, so they get past the safetensors framing to the checkpoint's own checks.
pub fn mutate_checkpoint(seed: &[u8], others: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let n = u64::from_le_bytes(seed[..8].try_into().unwrap()) as usize;
    let header = match rng.below(3) {
        0 => return mutate(seed, others, rng),
        1 => mutate(&seed[8..8 + n], others, rng),
        _ => {
            let mut json: serde_json::Value = serde_json::from_slice(&seed[8..8 + n]).unwrap();
            for _ in 0..1 + rng.below(3) {
                mutate_json(&mut json, rng);
            }
            serde_json::to_vec(&json).unwrap()
        }
    };
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend(header);
    b.extend(&seed[8 + n..]);
    b
}

/// Changes one value somewhere in `v`: drops or repeats a key or element, or replaces a number,
/// or edits a string's digits (metadata values are decimal strings).
pub fn mutate_json(v: &mut serde_json::Value, rng: &mut Rng) {
    use serde_json::Value;
    match v {
        Value::Object(map) if !map.is_empty() => {
            let key = rng.pick(&map.keys().cloned().collect::<Vec<_>>()).clone();
            if rng.below(8) == 0 {
                map.remove(&key);
            } else {
                mutate_json(map.get_mut(&key).unwrap(), rng);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = rng.below(items.len());
            match rng.below(8) {
                0 => drop(items.remove(i)),
                1 => items.insert(i, items[i].clone()),
                _ => mutate_json(&mut items[i], rng),
            }
        }
        Value::Number(_) => {
            let number: &&str = rng.pick(NUMBERS);
            *v = match serde_json::from_str(number) {
                Ok(n) => n,
                Err(_) => Value::from(rng.next()),
            }
        }
        Value::String(text) => {
            let mut bytes = std::mem::take(text).into_bytes();
            edit_number(&mut bytes, rng);
            *text = String::from_utf8_lossy(&bytes).into_owned();
        }
        _ => *v = Value::from(rng.next() % 4),
    }
}
