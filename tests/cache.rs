//! The encoded-corpus cache end to end (the binary): a run that reuses the cache trains the same
//! vectors as the run that built it; a stale or damaged cache is rebuilt with one line saying so,
//! never trusted; a corpus whose ids exceed `--memory-budget` trains from the cache file in
//! chunks to the same vectors as in memory (`--threads 1`); `--no-cache` keeps nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

/// Runs the binary in `dir` (with a scratch `XDG_CACHE_HOME`, never the user's cache) and
/// asserts that it succeeds.
fn run(dir: &Path, args: &[&str]) -> Output {
    let out = common::bin::run(dir, args);
    assert!(
        out.status.success(),
        "{args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A corpus of `lines` generated sentences (sentence breaks at line ends).
fn corpus(dir: &Path, lines: usize) -> String {
    let words = [
        "alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota",
    ];
    let mut text = String::new();
    let mut x = 12345u64;
    for _ in 0..lines {
        for _ in 0..12 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            text.push_str(words[(x >> 33) as usize % words.len()]);
            text.push(' ');
        }
        text.push('\n');
    }
    std::fs::write(dir.join("c.txt"), text).unwrap();
    "c.txt".into()
}

/// Trains two epochs with one thread into `out`; returns stderr and the vectors' bytes.
fn train(dir: &Path, out: &str, extra: &[&str]) -> (String, Vec<u8>) {
    let mut args = vec![
        "train",
        "--corpus",
        "c.txt",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--epochs",
        "2",
        "--dim",
        "16",
        "--min-count",
        "1",
        "--output",
        out,
        "--cache-dir",
        "cache",
    ];
    args.extend_from_slice(extra);
    let o = run(dir, &args);
    let vectors = std::fs::read(dir.join(out)).unwrap();
    (String::from_utf8_lossy(&o.stderr).into_owned(), vectors)
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir.join("cache")) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn a_reused_cache_trains_the_same_vectors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    corpus(dir, 3000);
    let (miss_err, miss) = train(dir, "miss.bin", &[]);
    assert!(!miss_err.contains("rebuilding"), "{miss_err}");
    let files = cache_files(dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let built = std::fs::metadata(&files[0]).unwrap().modified().unwrap();
    let (hit_err, hit) = train(dir, "hit.bin", &[]);
    assert!(!hit_err.contains("rebuilding"), "{hit_err}");
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
        built,
        "the cache was rewritten instead of reused"
    );
    assert_eq!(hit, miss, "cache hit and miss train different vectors");
    // Without the cache: the same vectors, and nothing kept.
    std::fs::remove_dir_all(dir.join("cache")).unwrap();
    let (_, none) = train(dir, "none.bin", &["--no-cache"]);
    assert_eq!(none, miss);
    assert!(cache_files(dir).is_empty());
    // Another vocabulary setting is another cache.
    train(dir, "lower.bin", &["--lowercase"]);
    train(dir, "again.bin", &[]);
    assert_eq!(cache_files(dir).len(), 2);
}

#[test]
fn a_stale_or_damaged_cache_is_rebuilt_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    corpus(dir, 2000);
    let (_, want) = train(dir, "want.bin", &[]);
    let file = cache_files(dir).pop().unwrap();
    let good = std::fs::read(&file).unwrap();
    let damage: Vec<(&str, Vec<u8>)> = vec![
        ("a flipped id byte", {
            let mut b = good.clone();
            b[200] ^= 0x01;
            b
        }),
        ("a flipped vocabulary byte", {
            let mut b = good.clone();
            let n = b.len();
            b[n - 3] ^= 0x20;
            b
        }),
        ("a truncated file", good[..good.len() / 2].to_vec()),
        ("another version", {
            let mut b = good.clone();
            b[8] = 99;
            b
        }),
        ("not a cache", b"hello".to_vec()),
    ];
    for (what, bytes) in damage {
        std::fs::write(&file, &bytes).unwrap();
        let (err, got) = train(dir, "got.bin", &[]);
        let said: Vec<&str> = err.lines().filter(|l| l.contains("rebuilding")).collect();
        assert_eq!(said.len(), 1, "{what}: {err}");
        assert!(said[0].contains("not usable"), "{what}: {err}");
        assert_eq!(got, want, "{what}: the rebuilt cache trains other vectors");
        assert_eq!(std::fs::read(&file).unwrap(), good, "{what}: not rebuilt");
    }
    // Another corpus under the same path (new size and time): a new key, a new cache, nothing
    // of the old one used.
    corpus(dir, 1000);
    let (_, other) = train(dir, "other.bin", &[]);
    assert_ne!(other, want);
    assert_eq!(cache_files(dir).len(), 2);
}

#[test]
fn a_corpus_beyond_the_memory_budget_trains_from_the_cache_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // About 130k tokens (520 KB of ids), 16 batches an epoch: a 64K budget holds two of them.
    corpus(dir, 10_000);
    let (_, memory) = train(dir, "memory.bin", &[]);
    let (err, bounded) = train(dir, "bounded.bin", &["--memory-budget", "64K"]);
    assert!(err.contains("exceed --memory-budget"), "{err}");
    assert_eq!(
        bounded, memory,
        "the budget-bounded run trains other vectors"
    );
    // `encode` finds the cache current and reports words and speeds.
    let out = run(
        dir,
        &[
            "encode",
            "--corpus",
            "c.txt",
            "--min-count",
            "1",
            "--cache-dir",
            "cache",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("is current") && text.contains("words/s"),
        "{text}"
    );
}
