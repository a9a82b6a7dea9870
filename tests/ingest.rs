//! Reading corpora end to end: every way a corpus can arrive (plain, gzip, bzip2, xz, zstd, piped,
//! split into files, a directory) trains bit-identical vectors with one thread; vocabularies save
//! and read back; Unicode spaces split words; every word the tokenizer makes can be written and
//! read back; bad inputs are one line before any training, with nothing written.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use w2v_gpu::input::corpus::{load, ReadOptions, Source};
use w2v_gpu::output::checkpoint::{load_checkpoint, save_checkpoint, Checkpoint, SaveDtype};
use w2v_gpu::output::vectors::{read_vectors, write_vectors, Embeddings, VectorFormat};

const BIN: &str = env!("CARGO_BIN_EXE_w2v-gpu");
/// A small, fast, deterministic run.
const TRAIN: [&str; 13] = [
    "train",
    "--device",
    "cpu",
    "--threads",
    "1",
    "--epochs",
    "1",
    "--dim",
    "8",
    "--min-count",
    "2",
    "--seed",
    "3",
];

fn run(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        // The default cache folder is a scratch one, never the user's.
        .env(
            "XDG_CACHE_HOME",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("ingest-cache"),
        )
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Splitmix64.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// Lines of words drawn from a small vocabulary, with Unicode spaces among the ASCII ones.
fn corpus_lines(seed: u64, lines: usize) -> Vec<String> {
    let mut rng = Rng(seed);
    let spaces = [" ", " ", " ", "\t", "\u{a0}", "\u{2003}", "\u{3000}"];
    (0..lines)
        .map(|_| {
            let n = 3 + rng.below(12);
            let mut line = String::new();
            for i in 0..n {
                if i > 0 {
                    line += spaces[rng.below(spaces.len() as u64) as usize];
                }
                let spread = 1 + rng.below(300);
                let k = 1 + rng.below(spread);
                line += &format!("w{k}");
            }
            line + "\n"
        })
        .collect()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn bzip2(b: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn xz(b: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 3).unwrap()
}

/// Trains on `corpus` args (and `stdin`), returning the vectors file's bytes.
fn vectors(dir: &Path, corpus: &[&str], stdin: Option<&[u8]>, extra: &[&str]) -> Vec<u8> {
    let out = dir.join("out.bin");
    let _ = std::fs::remove_file(&out);
    let mut args: Vec<&str> = TRAIN.to_vec();
    for c in corpus {
        args.extend(["--corpus", c]);
    }
    args.extend(extra);
    args.extend(["-o", "out.bin"]);
    let o = run(dir, &args, stdin);
    assert!(
        o.status.success(),
        "{corpus:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(out).unwrap()
}

#[test]
fn every_way_a_corpus_arrives_trains_the_same_vectors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let lines = corpus_lines(1, 3000);
    let text = lines.concat().into_bytes();
    let parts = [
        lines[..1000].concat(),
        lines[1000..1001].concat(),
        lines[1001..].concat(),
    ];
    std::fs::write(d.join("plain.txt"), &text).unwrap();
    for (name, bytes) in [
        ("c.gz", gzip(&text)),
        ("c.bz2", bzip2(&text)),
        ("c.xz", xz(&text)),
        ("c.zst", zstd(&text)),
        ("gz_named_txt.txt", gzip(&text)),
        // Concatenated gzip members, as `cat a.gz b.gz` makes.
        (
            "members.gz",
            [
                gzip(parts[0].as_bytes()),
                gzip(&[parts[1].clone(), parts[2].clone()].concat().into_bytes()),
            ]
            .concat(),
        ),
        ("p0.txt", parts[0].clone().into_bytes()),
        ("p1.txt.zst", zstd(parts[1].as_bytes())),
        ("p2.txt.xz", xz(parts[2].as_bytes())),
    ] {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    std::fs::create_dir(d.join("shards")).unwrap();
    std::fs::write(d.join("shards/00.txt"), &parts[0]).unwrap();
    std::fs::write(d.join("shards/01.gz"), gzip(parts[1].as_bytes())).unwrap();
    std::fs::write(d.join("shards/02.bz2"), bzip2(parts[2].as_bytes())).unwrap();
    std::fs::write(d.join("shards/.hidden"), "skipped words\n").unwrap();
    std::fs::create_dir(d.join("shards/sub")).unwrap();
    std::fs::write(d.join("shards/sub/x.txt"), "also skipped\n").unwrap();

    let want = vectors(d, &["plain.txt"], None, &[]);
    let ways: [(&[&str], Option<&[u8]>); 11] = [
        (&["/dev/stdin"], Some(&text)),
        (&["c.gz"], None),
        (&["c.bz2"], None),
        (&["c.xz"], None),
        (&["c.zst"], None),
        (&["gz_named_txt.txt"], None),
        (&["members.gz"], None),
        (&["-"], Some(&text)),
        (&["p0.txt", "p1.txt.zst", "p2.txt.xz"], None),
        (&["shards"], None),
        (&["p0.txt", "-", "p2.txt.xz"], Some(parts[1].as_bytes())),
    ];
    // Each way again with ids beyond a 4 KiB memory budget: counted and encoded in the one pass
    // into a file (the cache, or a temporary one for what is not cached), pruning and the remap
    // rewritten there.
    let spilled = ["--memory-budget", "4K", "--cache-dir", "spill"];
    for (corpus, stdin) in ways {
        assert!(
            vectors(d, corpus, stdin, &[]) == want,
            "{corpus:?} trained other vectors"
        );
        assert!(
            vectors(d, corpus, stdin, &spilled) == want,
            "{corpus:?} beyond the memory budget trained other vectors"
        );
    }
    // Piped into a compressed standard input too.
    assert!(vectors(d, &["-"], Some(&gzip(&text)), &[]) == want);
    assert!(vectors(d, &["-"], Some(&gzip(&text)), &spilled) == want);
    // Standard input beyond the budget goes through a temporary file that the run leaves nowhere;
    // the one pass says where the ids went.
    let mut args: Vec<&str> = TRAIN.to_vec();
    args.extend([
        "--corpus",
        "-",
        "-o",
        "out.bin",
        "--cache-dir",
        "stdin-spill",
    ]);
    args.extend(&spilled[..2]);
    let o = run(d, &args, Some(&text));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("exceed --memory-budget") && err.contains("a temporary file in"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(d.join("stdin-spill")).unwrap().count(), 0);
    assert!(std::fs::read(d.join("out.bin")).unwrap() == want);

    // A vocabulary saved and read back trains the same vectors, and word2vec.c's `</s>` line is
    // skipped.
    assert!(vectors(d, &["plain.txt"], None, &["--save-vocab", "v.txt"]) == want);
    let saved = std::fs::read_to_string(d.join("v.txt")).unwrap();
    let first = saved.lines().next().unwrap();
    assert!(
        first.starts_with('w') && first.split(' ').count() == 2,
        "{first}"
    );
    std::fs::write(d.join("w2v.txt"), format!("</s> 3000\n{saved}")).unwrap();
    assert!(vectors(d, &["c.zst"], None, &["--read-vocab", "w2v.txt"]) == want);
    // Encoding with a given vocabulary beyond the budget goes through a temporary file too.
    let read_spilled = [&["--read-vocab", "w2v.txt"][..], &spilled].concat();
    assert!(vectors(d, &["-"], Some(&text), &read_spilled) == want);
    // One cache for each of the 8 file corpora above; nothing of the piped runs is left.
    assert_eq!(std::fs::read_dir(d.join("spill")).unwrap().count(), 8);
}

#[test]
fn pruning_says_so_in_one_line_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // More than one 4 MiB chunk (pruning happens between chunks), most words seen once.
    let lines: String = (0..300_000)
        .map(|i| format!("w{} w{} common\n", i % 7, i))
        .collect();
    std::fs::write(d.join("tail.txt"), lines).unwrap();
    // A run on tail.txt with `budget`: its one line on stderr (the pruning's).
    let pruned = |budget: [&str; 2]| {
        let mut args: Vec<&str> = TRAIN.to_vec();
        args.extend(["--corpus", "tail.txt"]);
        args.extend(budget);
        args.extend(["-o", "out.bin"]);
        let o = run(d, &args, None);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    };
    let err = pruned(["--vocab-budget", "1000"]);
    assert!(
        err.starts_with("vocabulary: the counting table outgrew its 1000 words"),
        "{err}"
    );
    let emb = read_vectors(&d.join("out.bin")).unwrap();
    for w in ["common", "w0", "w6"] {
        assert!(emb.words.iter().any(|x| x == w), "{w} was pruned");
    }
    // Without pruning every word seen twice is kept; with it the tail is gone.
    assert!(emb.words.len() < 100, "{} words kept", emb.words.len());

    // Without --vocab-budget the table holds what --memory-budget does (13 MiB at 200 bytes a
    // word: 65,536 words, a power of two), and the line says where its size came from.
    let err = pruned(["--memory-budget", "13M"]);
    assert!(
        err.starts_with(
            "vocabulary: the counting table outgrew its 65536 words (what --memory-budget 13.0 \
             MiB holds at 200 bytes a word)"
        ) && err.contains("give --vocab-budget or raise --memory-budget"),
        "{err}"
    );
}

#[test]
fn unicode_spaces_split_words_in_the_vectors_written() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let text = "new\u{a0}york and\u{2003}tokyo\u{3000}city\u{1f}far\n".repeat(50);
    std::fs::write(d.join("u.txt"), text).unwrap();
    for format in ["bin", "text"] {
        vectors(d, &["u.txt"], None, &["--output-format", format]);
        let emb = read_vectors(&d.join("out.bin")).unwrap();
        let mut words = emb.words.clone();
        words.sort();
        assert_eq!(words, ["and", "city", "far", "new", "tokyo", "york"]);
    }
}

/// Every word the tokenizer makes from random text over all of Unicode (and bytes that are not
/// UTF-8) is written and read back unchanged by both vectors formats and by checkpoints; text it
/// refuses is refused for a control character.
#[test]
fn every_word_the_tokenizer_makes_is_written_and_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut rng = Rng(5);
    let mut refused = 0;
    for case in 0..60 {
        let mut text = String::new();
        for _ in 0..400 {
            let c = match rng.below(4) {
                0 => ' ',
                1 => char::from_u32(rng.below(0x250) as u32).unwrap(),
                _ => loop {
                    if let Some(c) = char::from_u32(rng.below(0x11_0000) as u32) {
                        break c;
                    }
                },
            };
            // Half the cases keep control characters in, to see them refused.
            if case % 2 == 0 || !c.is_control() || c.is_whitespace() {
                text.push(c);
            }
        }
        let src = Source::Text {
            name: format!("case {case}"),
            text,
        };
        let (vocab, _) = match load(&src, ReadOptions::default(), 1, None) {
            Ok(v) => v,
            Err(e) => {
                assert!(
                    e.to_string().contains("control character"),
                    "case {case}: {e}"
                );
                refused += 1;
                continue;
            }
        };
        let dim = 2;
        let values: Vec<f32> = (0..vocab.len() * dim).map(|i| i as f32 * 0.5).collect();
        let emb = Embeddings::new(vocab.words.clone(), dim, values.clone());
        for format in [VectorFormat::Bin, VectorFormat::Text] {
            let p = d.join("v");
            write_vectors(&p, &emb, format).unwrap_or_else(|e| panic!("case {case}: {e}"));
            let back = read_vectors(&p).unwrap_or_else(|e| panic!("case {case} {format:?}: {e}"));
            assert_eq!(back.words, vocab.words, "case {case} {format:?}");
        }
        let ck = Checkpoint {
            words: vocab.words.clone(),
            counts: vocab.counts.clone(),
            dim,
            w_in: values.clone(),
            w_out: values,
            adam: None,
            adam_t: 0,
            epoch: 1,
            next_token: 0,
            settings_json: "{}".into(),
            seed: 1,
        };
        let p = d.join("ck.safetensors");
        save_checkpoint(&p, &ck, SaveDtype::F32).unwrap();
        assert_eq!(
            load_checkpoint(&p).unwrap().words,
            vocab.words,
            "case {case}"
        );
    }
    assert!(refused > 10 && refused < 60, "{refused} refused");
}

/// A refused run: its arguments, its standard input, what its error names.
type Case<'a> = (&'a [&'a str], Option<&'a [u8]>, &'a str);

/// Asserts a failed run: non-zero exit, one `error:` line naming `needle`, no new file.
fn assert_refused(dir: &Path, args: &[&str], stdin: Option<&[u8]>, needle: &str) {
    let before: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let mut all: Vec<&str> = TRAIN.to_vec();
    all.extend(args);
    all.extend(["-o", "out.bin", "--save-vocab", "vocab.txt"]);
    let o = run(dir, &all, stdin);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{args:?} succeeded");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(
        err.starts_with("error: ") && err.contains(needle),
        "{args:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let after: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(after.len(), before.len(), "{args:?} left a file");
}

#[test]
fn bad_corpora_are_one_line_before_training_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let text = corpus_lines(2, 2000).concat().into_bytes();
    let gz = gzip(&text);
    std::fs::write(d.join("cut.gz"), &gz[..gz.len() / 2]).unwrap();
    let mut zst = zstd(&text);
    let mid = zst.len() / 2;
    zst[mid..mid + 16].iter_mut().for_each(|b| *b ^= 0x5a);
    std::fs::write(d.join("bad.zst"), zst).unwrap();
    let x = xz(&text);
    std::fs::write(d.join("cut.xz"), &x[..x.len() - 9]).unwrap();
    std::fs::create_dir(d.join("empty_dir")).unwrap();
    std::fs::create_dir(d.join("dir")).unwrap();
    std::fs::write(d.join("dir/a.txt"), "a b c\n").unwrap();
    std::os::unix::fs::symlink(d.join("gone"), d.join("dir/b.txt")).unwrap();
    let mut ctrl = text.clone();
    ctrl.extend_from_slice(b"bell\x07word\n");
    std::fs::write(d.join("ctrl.txt"), &ctrl).unwrap();
    std::fs::write(d.join("ok.txt"), &text).unwrap();
    std::fs::write(d.join("bad_vocab.txt"), "w1 10\nw2 many\n").unwrap();
    let ctrl_at = format!("byte {}", text.len() + 4);
    let cases: [Case; 11] = [
        (
            &["--corpus", "cut.gz"],
            None,
            "'cut.gz': the gzip data is corrupt or truncated near compressed byte",
        ),
        (
            &["--corpus", "bad.zst"],
            None,
            "'bad.zst': the zstd data is corrupt or truncated",
        ),
        (
            &["--corpus", "cut.xz"],
            None,
            "'cut.xz': the xz data is corrupt or truncated",
        ),
        (
            &["--corpus", "empty_dir"],
            None,
            "'empty_dir': is a directory without corpus files",
        ),
        (&["--corpus", "dir"], None, "cannot read corpus 'dir/b.txt'"),
        (
            &["--corpus", "-"],
            Some(b""),
            "standard input (--corpus -) is empty",
        ),
        (
            &["--corpus", "-", "--corpus", "-"],
            Some(b"a b\n"),
            "--corpus - is given twice",
        ),
        (&["--corpus", "/dev/zero"], None, "is not a regular file"),
        (&["--corpus", "ctrl.txt"], None, &ctrl_at),
        (
            &["--corpus", "ok.txt", "--read-vocab", "bad_vocab.txt"],
            None,
            "'bad_vocab.txt': line 2: the count \"many\"",
        ),
        (
            &["--corpus", "ok.txt", "--read-vocab", "missing.txt"],
            None,
            "cannot read vocabulary 'missing.txt'",
        ),
    ];
    for (args, stdin, needle) in cases {
        assert_refused(d, args, stdin, needle);
    }
}
