//! The encoded-corpus cache reader under fuzzing: seeds written by `CacheWriter`, mutations that
//! are then (half the time) resealed — fingerprint and checksums recomputed — so that the checks
//! behind the checksums (sizes, vocabulary records, ids beyond the vocabulary) meet hostile values
//! too.

use std::path::Path;

use crate::mutate::{mutate, Rng};
use w2v_gpu::input::cache::{CacheFile, CacheWriter, Fnv, Refused, HEADER_LEN};
use w2v_gpu::input::vocab::Vocab;
use w2v_gpu::train::plan::SENTENCE_BREAK;

/// The key every seed is written with, and the reader asks for.
const KEY: u64 = 0x00C0_FFEE;

pub fn seeds(dir: &Path) -> Vec<Vec<u8>> {
    let vocabs = [
        Vocab::from_parts(vec!["a".into(), "bé".into(), "c".into()], vec![5, 3, 1]),
        Vocab::from_parts(vec!["only".into()], vec![2]),
    ];
    let ids: [&[u32]; 2] = [&[0, 1, SENTENCE_BREAK, 2, 0, 1, 1], &[0, 0, SENTENCE_BREAK]];
    vocabs
        .iter()
        .zip(ids)
        .enumerate()
        .map(|(i, (v, ids))| {
            let p = dir.join(format!("seed{i}"));
            let mut w = CacheWriter::create(&p, KEY).unwrap();
            for &id in ids {
                w.push(id).unwrap();
            }
            w.finish(v, ids.len() as u64 + 2).unwrap();
            std::fs::read(&p).unwrap()
        })
        .collect()
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// Recomputes the fingerprint and both checksums of `b` where its header says where they are.
fn reseal(b: &mut [u8]) {
    if b.len() < HEADER_LEN {
        return;
    }
    let (tokens, vocab_bytes) = (u64_at(b, 32), u64_at(b, 56));
    let vocab_at = tokens
        .checked_mul(4)
        .and_then(|n| n.checked_add(HEADER_LEN as u64));
    if let Some(at) = vocab_at.filter(|&a| a.checked_add(vocab_bytes) == Some(b.len() as u64)) {
        let fp = Fnv::default().write(&b[at as usize..]).finish();
        b[24..32].copy_from_slice(&fp.to_le_bytes());
    }
    let body = crc32fast::hash(&b[HEADER_LEN..]);
    b[64..68].copy_from_slice(&body.to_le_bytes());
    let head = crc32fast::hash(&b[..68]);
    b[68..72].copy_from_slice(&head.to_le_bytes());
}

pub fn mutate_cache(seed: &[u8], others: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let mut b = mutate(seed, others, rng);
    if rng.below(2) == 0 {
        reseal(&mut b);
    }
    b
}

/// Opens and loads the cache; what it accepts must be consistent.
pub fn read(p: &Path) -> Result<(), String> {
    let f = match CacheFile::open(p, KEY, 4) {
        Ok(f) => f,
        Err(Refused::Missing) => return Err(format!("'{}' missing", p.display())),
        Err(Refused::Invalid(why)) => {
            return Err(format!("cache '{}' is not usable: {why}", p.display()))
        }
        Err(Refused::Io(e)) => return Err(e.to_string()),
    };
    let ids = f.load_all().map_err(|e| e.to_string())?;
    // The one-pass open that loads while it checks accepts the same file and reads the same ids.
    let mut loaded = Vec::new();
    if CacheFile::open_loaded(p, KEY, &mut loaded).is_err() || loaded != ids {
        return Err("accepted by open but not by open_loaded, or other ids".into());
    }
    let words = ids.iter().filter(|&&t| t != SENTENCE_BREAK).count() as u64;
    let v = f.vocab().len();
    if ids.len() != f.tokens()
        || words != f.header().words
        || ids.iter().any(|&t| t != SENTENCE_BREAK && t as usize >= v)
    {
        return Err("accepted ids that are not the header's or the vocabulary's".into());
    }
    Ok(())
}
