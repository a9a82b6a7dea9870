//! Seeded mutation fuzzing of every file reader (vectors text and binary, checkpoints, analogy
//! questions, word pairs, vocabularies, the encoded-corpus cache): no panic, no abort, no hang and a bounded allocation on hostile input.
//!
//! Each reader starts from small valid files this test writes itself and reads mutated copies:
//! bit flips, byte insertions and deletions, truncations, numbers replaced by huge, zero or
//! negative ones, non-finite values, splices of another seed. A mutated file must either be
//! accepted, with the reader's guarantees holding (consistent shapes, finite values), or refused
//! with one line naming the file. A counting global allocator aborts the binary, naming the case,
//! when the test's live heap would pass [`CAP`]; a watchdog aborts it when a case runs over
//! [`HANG`]. `READERS_FUZZ_CASES` (cases per reader, default 10 000) and `READERS_FUZZ_SEED` set
//! the run; run with `-- --nocapture` to see the accepted and refused counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod cache;
mod mutate;

use mutate::{mutate, mutate_checkpoint, Rng};
use w2v_gpu::input::vocab::read_vocab;
use w2v_gpu::output::checkpoint::{load_checkpoint, save_checkpoint, Checkpoint, SaveDtype};
use w2v_gpu::output::vectors::{
    read_vectors, read_vectors_with, write_vectors, Embeddings, ReadOptions, VectorFormat,
};
use w2v_gpu::query::eval::read_analogies;
use w2v_gpu::query::wordsim::read_similarity;

/// Live heap the whole test binary may hold; every seed is under 2 KiB, so a reader that wants
/// more was talked into it by a header.
const CAP: usize = 256 << 20;
/// A case that runs this long is a hang.
const HANG: Duration = Duration::from_secs(10);

struct CappedAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The case this thread is reading, named when the allocator or the watchdog aborts.
    static CASE: Cell<(&'static str, u64)> = const { Cell::new(("-", 0)) };
}

// SAFETY: every call is forwarded to `System` with the caller's layout; the counter only decides
// whether to abort first, so the allocator's contract is `System`'s.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        reserve(layout.size());
        // SAFETY: same layout as asked, non-zero size by `GlobalAlloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        reserve(layout.size());
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            reserve(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from `System` with `layout`; `new_size` is non-zero by contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Counts `size` more live bytes, or aborts naming the case when that passes [`CAP`]. It never
/// unwinds (a global allocator must not) and writes its message without allocating.
fn reserve(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed).saturating_add(size);
    if live > CAP {
        let (reader, case) = CASE.with(Cell::get);
        let _ = writeln!(
            std::io::stderr(),
            "readers_fuzz: {reader} case {case} allocates {size} bytes ({live} live, cap {CAP}); \
             rerun with the same READERS_FUZZ_SEED to reproduce"
        );
        std::process::abort();
    }
}

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

/// Start time (ms since the watchdog began, 0 = idle) and case of each reader's running case.
static RUNNING: [AtomicU64; READERS.len()] = [const { AtomicU64::new(0) }; READERS.len()];

/// Aborts the binary when any reader's case runs over [`HANG`] (a hang cannot be caught).
fn watchdog() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(|| {
        let start = Instant::now();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let now = start.elapsed().as_millis() as u64;
            for (slot, r) in RUNNING.iter().zip(READERS) {
                let began = slot.load(Ordering::Relaxed);
                if began != 0 && now.saturating_sub(began) > HANG.as_millis() as u64 {
                    eprintln!("readers_fuzz: a {} case hangs (> {HANG:?})", r.name);
                    std::process::abort();
                }
            }
        });
        start
    })
}

/// Makes a case from a seed, the reader's other seeds (for splices) and the case's generator.
type Mutator = fn(&[u8], &[Vec<u8>], &mut Rng) -> Vec<u8>;

/// One reader under test: its name, valid seeds, and how to read a file and check what it got.
struct Reader {
    name: &'static str,
    seeds: fn(&Path) -> Vec<Vec<u8>>,
    mutate: Mutator,
    /// `Ok` when accepted (and the accepted value's guarantees hold), `Err(message)` when refused.
    read: fn(&Path) -> Result<(), String>,
}

const READERS: [Reader; 7] = [
    Reader {
        name: "vectors text",
        seeds: |dir| vector_seeds(dir, VectorFormat::Text),
        mutate,
        read: read_vectors_checked,
    },
    Reader {
        name: "vectors binary",
        seeds: |dir| vector_seeds(dir, VectorFormat::Bin),
        mutate,
        read: read_vectors_checked,
    },
    Reader {
        name: "checkpoint",
        seeds: checkpoint_seeds,
        mutate: mutate_checkpoint,
        read: read_checkpoint_checked,
    },
    Reader {
        name: "questions",
        seeds: |_| question_seeds(),
        mutate,
        read: |p| {
            let s = read_analogies(p).map_err(|e| e.to_string())?;
            let ok = s.iter().any(|s| !s.questions.is_empty());
            ok.then_some(())
                .ok_or("accepted a file without questions".into())
        },
    },
    Reader {
        name: "word pairs",
        seeds: |_| pair_seeds(),
        mutate,
        read: |p| {
            let pairs = read_similarity(p).map_err(|e| e.to_string())?;
            if pairs.is_empty() {
                return Err("accepted a file without pairs".into());
            }
            Ok(())
        },
    },
    Reader {
        name: "vocabulary",
        seeds: |_| vocab_seeds(),
        mutate,
        read: read_vocab_checked,
    },
    Reader {
        name: "corpus cache",
        seeds: cache::seeds,
        mutate: cache::mutate_cache,
        read: cache::read,
    },
];

fn embeddings() -> Embeddings {
    let words = ["the", "of", "königin", "x1", "z"]
        .map(String::from)
        .to_vec();
    let data = (0..15).map(|i| (i as f32 - 7.3) / 3.0).collect();
    Embeddings::new(words, 3, data)
}

fn vector_seeds(dir: &Path, format: VectorFormat) -> Vec<Vec<u8>> {
    let p = dir.join("seed.vec");
    write_vectors(&p, &embeddings(), format).unwrap();
    let written = std::fs::read(&p).unwrap();
    let other = match format {
        // word2vec.c's text: fixed decimals and a trailing space; CRLF line ends.
        VectorFormat::Text => b"2 2\r\nfoo 1.500000 -0.500000 \r\nbar 2 4 \r\n".to_vec(),
        // gensim's binary: no newline after each record.
        VectorFormat::Bin => {
            let mut b = b"2 2\nfoo ".to_vec();
            [1.5f32, -0.5]
                .iter()
                .for_each(|v| b.extend(v.to_le_bytes()));
            b.extend(b"bar ");
            [2.0f32, 4.0].iter().for_each(|v| b.extend(v.to_le_bytes()));
            b
        }
    };
    vec![written, other]
}

/// Accepted vectors have a row per word and only finite values (the default refuses NaN and inf).
fn read_vectors_checked(p: &Path) -> Result<(), String> {
    let e = read_vectors(p).map_err(|e| e.to_string())?;
    if e.dim == 0 || e.data.len() != e.words.len() * e.dim {
        return Err(format!(
            "accepted dim {} with {} values",
            e.dim,
            e.data.len()
        ));
    }
    if let Some(v) = e.data.iter().find(|v| !v.is_finite()) {
        return Err(format!("accepted the non-finite value {v}"));
    }
    Ok(())
}

fn sample_checkpoint(adam: bool) -> Checkpoint {
    let w = |s: f32| (0..6).map(|i| s * (i as f32 - 2.5)).collect::<Vec<f32>>();
    Checkpoint {
        words: vec!["a".into(), "bé".into(), "c".into()],
        counts: vec![9, 4, 1],
        dim: 2,
        w_in: w(0.1),
        w_out: w(-0.01),
        adam: adam.then(|| [w(0.5), w(1e-6), w(0.25), w(1e-7)]),
        adam_t: 17,
        epoch: 1,
        next_token: 12_345,
        settings_json: r#"{"model":"skipgram","window":5}"#.into(),
        seed: 7,
    }
}

fn checkpoint_seeds(dir: &Path) -> Vec<Vec<u8>> {
    let p = dir.join("seed.safetensors");
    let mut written = Vec::new();
    for (adam, dtype) in [
        (false, SaveDtype::F32),
        (true, SaveDtype::F32),
        (false, SaveDtype::F16),
    ] {
        save_checkpoint(&p, &sample_checkpoint(adam), dtype).unwrap();
        written.push(std::fs::read(&p).unwrap());
    }
    // As written before checksums: the only checkpoints a random mutation of the tensors or the
    // metadata can get past the checksum with, and so the ones that reach the deeper checks.
    let mut seeds: Vec<Vec<u8>> = written.iter().map(|s| canonical(s)).collect();
    let legacy: Vec<Vec<u8>> = seeds
        .iter()
        .map(|s| canonical(&without_checksum(s)))
        .collect();
    seeds.extend(legacy);
    seeds
}

/// `bytes` with its header's keys in sorted order: the metadata comes from a `HashMap`, so each
/// run would otherwise start from differently laid out seeds and draw different cases.
fn canonical(bytes: &[u8]) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut header = serde_json::to_vec(&header).unwrap();
    header.resize(header.len().next_multiple_of(8), b' ');
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend(header);
    b.extend(&bytes[8 + n..]);
    b
}

fn without_checksum(bytes: &[u8]) -> Vec<u8> {
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    assert!(meta.remove("checksum").is_some());
    let tensors = safetensors::SafeTensors::deserialize(bytes).unwrap();
    safetensors::serialize(tensors.tensors(), Some(meta)).unwrap()
}

/// Accepted checkpoints have the shapes [`save_checkpoint`] guarantees.
fn read_checkpoint_checked(p: &Path) -> Result<(), String> {
    let ck = load_checkpoint(p).map_err(|e| e.to_string())?;
    let (v, d) = (ck.words.len(), ck.dim);
    let adam_ok = ck.adam.as_ref().is_none_or(|a| {
        a.iter()
            .map(Vec::len)
            .eq([v * d, v * d, ck.w_out.len(), ck.w_out.len()])
    });
    if d == 0
        || ck.w_in.len() != v * d
        || ck.counts.len() != v
        || ck.w_out.len() % d != 0
        || !adam_ok
    {
        return Err("accepted inconsistent shapes".into());
    }
    Ok(())
}

fn question_seeds() -> Vec<Vec<u8>> {
    vec![
        b": capital-common-countries\nAthens Greece Baghdad Iraq\nAthens Greece Bangkok Thailand\n\
          : gram1-adjective-to-adverb\namazing amazingly apparent apparently\n"
            .to_vec(),
        b": s\r\nk\xc3\xb6nig k\xc3\xb6nigin mann frau\r\n".to_vec(),
    ]
}

fn pair_seeds() -> Vec<Vec<u8>> {
    vec![
        b"# WordSim-353\nWord 1\tWord 2\tHuman (mean)\nlove\tsex\t6.77\ntiger\tcat\t7.35\n"
            .to_vec(),
        b"old new 1.58\r\nsmart intelligent 9.2\r\n".to_vec(),
    ]
}

fn vocab_seeds() -> Vec<Vec<u8>> {
    vec![
        b"the 1061396\nof 593677\nk\xc3\xb6nigin 12\nz 5\n".to_vec(),
        b"</s> 71290\r\nanarchism 303\r\nautism 185\r\n".to_vec(),
    ]
}

/// An accepted vocabulary has words, no word twice, none holding whitespace, counts descending.
fn read_vocab_checked(p: &Path) -> Result<(), String> {
    let v = read_vocab(p).map_err(|e| e.to_string())?;
    let distinct: std::collections::HashSet<&String> = v.words.iter().collect();
    if v.is_empty() || distinct.len() != v.len() || v.words.len() != v.counts.len() {
        return Err("accepted an empty or inconsistent vocabulary".into());
    }
    if v.words
        .iter()
        .any(|w| w.is_empty() || w.contains(char::is_whitespace))
    {
        return Err(format!("accepted a word with whitespace: {:?}", v.words));
    }
    if v.counts.windows(2).any(|c| c[0] < c[1]) {
        return Err("accepted counts out of order".into());
    }
    Ok(())
}

/// Tallies of one reader's run.
#[derive(Default)]
struct Tally {
    accepted: usize,
    refused: usize,
    failures: Vec<String>,
}

/// Reads `cases` mutated files with reader `r`; every panic, accepted value that breaks the
/// reader's guarantees, and refusal that is not one line naming the file is a failure.
fn fuzz(r: usize, cases: u64, seed: u64) -> Tally {
    let start = watchdog();
    let reader = &READERS[r];
    // Each case rewrites one file: on tmpfs that costs microseconds, on ext4 (which flushes a
    // file truncated and rewritten) milliseconds.
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let seeds = (reader.seeds)(dir.path());
    let path = dir.path().join("case.in");
    let file = path.file_name().unwrap().to_str().unwrap().to_string();
    let mut tally = Tally::default();
    let mut slowest = Duration::ZERO;
    for case in 0..cases {
        let mut rng = Rng(seed ^ ((r as u64) << 56) ^ case);
        let base: &Vec<u8> = rng.pick(&seeds);
        let input = (reader.mutate)(base, &seeds, &mut rng);
        std::fs::write(&path, &input).unwrap();
        CASE.with(|c| c.set((reader.name, case)));
        RUNNING[r].store(start.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
        let began = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| (reader.read)(&path)));
        slowest = slowest.max(began.elapsed());
        RUNNING[r].store(0, Ordering::Relaxed);
        let failure = match outcome {
            Ok(Ok(())) => {
                tally.accepted += 1;
                None
            }
            Ok(Err(msg)) if msg.starts_with("accepted") => Some(msg),
            Ok(Err(msg)) if msg.contains('\n') || !msg.contains(&file) => {
                Some(format!("refusal is not one line naming the file: {msg:?}"))
            }
            Ok(Err(_)) => {
                tally.refused += 1;
                None
            }
            Err(_) => Some("panicked".into()),
        };
        if let Some(f) = failure {
            let head = String::from_utf8_lossy(&input[..input.len().min(80)]).into_owned();
            tally
                .failures
                .push(format!("case {case}: {f}; input starts {head:?}"));
        }
    }
    println!(
        "{}: {cases} cases (seed {seed:#x}): {} accepted, {} refused, {} failures; slowest case {slowest:?}",
        reader.name,
        tally.accepted,
        tally.refused,
        tally.failures.len()
    );
    tally
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| {
        let v = v.trim();
        let parsed = match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => v.parse(),
        };
        parsed.unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

fn run(r: usize) {
    let cases = env_u64("READERS_FUZZ_CASES", 10_000);
    let seed = env_u64("READERS_FUZZ_SEED", 0x5EED_2026);
    let tally = fuzz(r, cases, seed);
    assert!(
        tally.failures.is_empty(),
        "{} failures, the first: {:#?}",
        tally.failures.len(),
        &tally.failures[..tally.failures.len().min(5)]
    );
    // A mutator that only ever breaks the file tests nothing but the first check.
    assert!(
        tally.accepted > 0 && tally.refused > 0,
        "{} accepted, {} refused",
        tally.accepted,
        tally.refused
    );
}

#[test]
fn fuzz_vectors_text() {
    run(0);
}

#[test]
fn fuzz_vectors_binary() {
    run(1);
}

#[test]
fn fuzz_checkpoint() {
    run(2);
}

#[test]
fn fuzz_questions() {
    run(3);
}

#[test]
fn fuzz_word_pairs() {
    run(4);
}

#[test]
fn fuzz_corpus_cache() {
    run(6);
}

/// Inputs the mutator found crashing or fooling the readers before they checked headers and
/// values: divide-by-zero and capacity-overflow panics, multi-gigabyte and terabyte allocations,
/// accepted NaN and inf. Each must now be one line naming the file.
#[test]
fn former_crashes_are_one_line_refusals() {
    let bin = |header: &str| {
        let mut b = format!("{header}\nfoo ").into_bytes();
        [1.5f32, -0.5]
            .iter()
            .for_each(|v| b.extend(v.to_le_bytes()));
        b.extend(b"bar \0\0\0@\0\0\x80@");
        b
    };
    let text = |header: &str, rows: &str| format!("{header}\r\n{rows}").into_bytes();
    let rows = "foo 1.500000 -0.500000 \r\nbar 2 4 \r\n";
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (bin("2 4611686018427387904"), "promises"),
        (bin("5 18446744073709551615"), "promises"),
        (bin("5 9223372036854775807"), "promises"),
        (bin("5 1000000000000"), "promises"),
        (bin("18446744073709551615 2"), "promises"),
        (text("2 1000000000000", rows), "promises"),
        (text("2 4294967296", rows), "promises"),
        (
            text("2 2", "foo 1.5 -0.5\nbar inf 99999999999999999999999\n"),
            "not a finite",
        ),
        (text("2 2", "foo 1.5 -0.5\nbar 2 -1e39\n"), "not a finite"),
        (text("1 2", "foo NaN 1\n"), "not a finite"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("crash.vec");
    for (bytes, expected) in cases {
        std::fs::write(&p, &bytes).unwrap();
        let e = read_vectors(&p).unwrap_err().to_string();
        assert!(
            e.contains("crash.vec") && e.contains(expected) && !e.contains('\n'),
            "{:?}: {e}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
        );
    }
}

/// `--allow-nonfinite`'s reader keeps NaN and inf bit for bit; the default refuses them.
#[test]
fn nonfinite_values_load_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut emb = embeddings();
    emb.data[4] = f32::NAN;
    emb.data[11] = f32::INFINITY;
    let allow = ReadOptions {
        allow_nonfinite: true,
    };
    for format in [VectorFormat::Text, VectorFormat::Bin] {
        let p = dir.path().join(format!("nan.{format:?}"));
        write_vectors(&p, &emb, format).unwrap();
        let e = read_vectors(&p).unwrap_err().to_string();
        assert!(e.contains("\"of\"") && e.contains("not a finite"), "{e}");
        let back = read_vectors_with(&p, allow).unwrap();
        let bits = |e: &Embeddings| e.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&emb), "{format:?}");
    }
}

#[test]
fn fuzz_vocabulary() {
    run(5);
}
