//! Carrying a model forward through the binary: `train --init-vectors` (rows start from a vectors
//! file) and `train --resume CK --continue-on NEW` (a checkpointed model continues on other text,
//! its vocabulary frozen or updated).

mod common;

use std::path::Path;

use common::bin::{assert_one_line_error, run, stdout, write};
use w2v_gpu::output::checkpoint::load_checkpoint;
use w2v_gpu::output::vectors::{read_vectors, Embeddings};

const TRAIN: [&str; 8] = [
    "--dim",
    "8",
    "--threads",
    "1",
    "--min-count",
    "1",
    "--seed",
    "4",
];

/// `train` on the CPU with `first` and the settings above.
fn args<'a>(first: &[&'a str]) -> Vec<&'a str> {
    args_on("cpu", first)
}

fn args_on<'a>(device: &'a str, first: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["train", "--device", device];
    a.extend(first);
    a.extend(TRAIN);
    a
}

fn row<'a>(e: &'a Embeddings, word: &str) -> &'a [f32] {
    let i = e.words.iter().position(|w| w == word).unwrap();
    e.row(i)
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot = |x: &[f32], y: &[f32]| {
        x.iter()
            .zip(y)
            .map(|(&p, &q)| p as f64 * q as f64)
            .sum::<f64>()
    };
    dot(a, b) / (dot(a, a) * dot(b, b)).sqrt()
}

/// `n` sentences over the words `w0..w{k}` of `prefix`, drawn by a fixed LCG.
fn text(prefix: &str, k: u64, n: usize, seed: u64) -> String {
    let mut s = seed;
    let mut out = String::new();
    for _ in 0..n {
        for _ in 0..8 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            out.push_str(&format!("{prefix}{} ", (s >> 33) % k));
        }
        out.push('\n');
    }
    out
}

/// A vectors text file of `dim` values a word: `(word, first value)` rows, the rest counting up.
fn vectors_file(dir: &Path, name: &str, dim: usize, rows: &[(&str, f32)]) {
    let mut s = format!("{} {dim}\n", rows.len());
    for (w, v) in rows {
        s.push_str(w);
        for j in 0..dim {
            s.push_str(&format!(" {}", v + j as f32 * 0.125));
        }
        s.push('\n');
    }
    write(dir, name, &s);
}

#[test]
fn init_vectors_start_the_matched_rows_from_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "c.txt", &text("a", 20, 300, 1));
    // a3 twice: the first (0.5) is the one used; zz is not in the corpus.
    vectors_file(
        d,
        "v.txt",
        8,
        &[("a3", 0.5), ("zz", 1.0), ("a7", -0.75), ("a3", 2.0)],
    );
    // A learning rate far below f32's resolution at these values: the rows stay where they start.
    let a = args(&[
        "--corpus",
        "c.txt",
        "--init-vectors",
        "v.txt",
        "--epochs",
        "1",
    ]);
    let mut a = a;
    a.extend(["--lr", "1e-12", "--output", "out.txt"]);
    let out = stdout(&run(d, &a));
    assert!(
        out.contains("init: 2 of 20 vocabulary words start from 'v.txt' (4 vectors)"),
        "{out}"
    );
    assert!(
        out.contains("word \"a3\" appears again as vector 4; the first (vector 1) is used"),
        "{out}"
    );
    let file = read_vectors(&d.join("v.txt")).unwrap();
    let got = read_vectors(&d.join("out.txt")).unwrap();
    for (w, i) in [("a3", 0), ("a7", 2)] {
        let want = file.row(i);
        let have = row(&got, w);
        assert!(
            have.iter().zip(want).all(|(h, w)| (h - w).abs() < 1e-6),
            "{w}: {have:?} vs {want:?}"
        );
    }
    // The unmatched rows start fresh: within word2vec.c's ±0.5/dim.
    assert!(row(&got, "a0").iter().all(|v| v.abs() <= 0.5 / 8.0 + 1e-6));
}

#[test]
fn init_vectors_refuse_another_dimension_and_warn_on_no_overlap() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "c.txt", &text("a", 20, 100, 2));
    vectors_file(d, "v5.txt", 5, &[("a1", 0.5)]);
    let mut a = args(&["--corpus", "c.txt", "--init-vectors", "v5.txt"]);
    a.extend(["--output", "out.txt"]);
    assert_one_line_error(
        d,
        &a,
        "--init-vectors 'v5.txt' holds vectors of dimension 5, but this run trains --dim 8; give \
         --dim 5",
    );
    vectors_file(d, "none.txt", 8, &[("b1", 0.5), ("b2", 0.25)]);
    let mut a = args(&[
        "--corpus",
        "c.txt",
        "--init-vectors",
        "none.txt",
        "--epochs",
        "1",
    ]);
    a.extend(["--output", "out.txt"]);
    let out = stdout(&run(d, &a));
    assert!(
        out.contains("warning: --init-vectors 'none.txt': none of its 2 words is in the vocabulary of 20 words"),
        "{out}"
    );
    assert!(d.join("out.txt").exists());
    // Not with --resume: a checkpoint has its own rows.
    let e = run(
        d,
        &[
            "train",
            "--resume",
            "x.safetensors",
            "--init-vectors",
            "none.txt",
        ],
    );
    assert!(!e.status.success());
    assert!(String::from_utf8_lossy(&e.stderr).contains("--init-vectors"));
}

#[test]
fn continue_on_new_text_keeps_old_words_and_grows_or_freezes_the_vocabulary() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Old text: a0..a29. New text: a0..a9 again, and b0..b9 the checkpoint never saw.
    write(d, "old.txt", &text("a", 30, 800, 3));
    let mut new = text("a", 10, 400, 4);
    let b = text("b", 10, 400, 5);
    new.push_str(&b);
    write(d, "new.txt", &new);
    let mut a = args(&["--corpus", "old.txt", "--epochs", "3"]);
    a.extend(["--checkpoint", "ck.safetensors", "--output", "before.txt"]);
    stdout(&run(d, &a));
    let before = read_vectors(&d.join("before.txt")).unwrap();

    // Plain --resume on the new text stays an error.
    assert_one_line_error(
        d,
        &[
            "train",
            "--resume",
            "ck.safetensors",
            "--corpus",
            "new.txt",
            "--epochs",
            "4",
        ],
        "not the corpus checkpoint 'ck.safetensors' was trained on",
    );

    // Frozen vocabulary: the b words are skipped and counted.
    let cont = |extra: &[&str]| {
        let mut a = vec![
            "train",
            "--resume",
            "ck.safetensors",
            "--continue-on",
            "new.txt",
        ];
        a.extend(["--device", "cpu", "--threads", "1"]);
        a.extend(extra);
        run(d, &a)
    };
    let out = stdout(&cont(&["--output", "frozen.txt"]));
    let unknown = b.split_whitespace().count();
    let unknown = format!("{},{:03}", unknown / 1000, unknown % 1000);
    assert!(
        out.contains(&format!(
            "vocabulary frozen at 30 words; {unknown} words of the new text are not in it and were skipped"
        )),
        "{out}"
    );
    let frozen = read_vectors(&d.join("frozen.txt")).unwrap();
    assert_eq!(frozen.words, before.words);

    // Updated vocabulary: b0..b9 added after the old words, the old ids kept.
    let out = stdout(&cont(&[
        "--update-vocab",
        "--output",
        "after.txt",
        "--checkpoint",
        "ck2.safetensors",
    ]));
    assert!(
        out.contains("20 of them new") || out.contains("10 of them new"),
        "{out}"
    );
    let after = read_vectors(&d.join("after.txt")).unwrap();
    assert_eq!(&after.words[..30], &before.words[..]);
    assert_eq!(after.len(), 40);
    let mut added: Vec<&str> = after.words[30..].iter().map(String::as_str).collect();
    added.sort();
    assert_eq!(added, (0..10).map(|i| format!("b{i}")).collect::<Vec<_>>());
    let ck2 = load_checkpoint(&d.join("ck2.safetensors")).unwrap();
    let ck = load_checkpoint(&d.join("ck.safetensors")).unwrap();
    // Counts merged: an old word seen in both texts counts both.
    let a0 = ck.words.iter().position(|w| w == "a0").unwrap();
    let in_new = new.split_whitespace().filter(|w| *w == "a0").count() as u64;
    assert_eq!(ck2.counts[a0], ck.counts[a0] + in_new);

    // The continued run's checkpoint names the new text: a plain --resume extends that run.
    let out = stdout(&run(
        d,
        &[
            "train",
            "--resume",
            "ck2.safetensors",
            "--epochs",
            "4",
            "--device",
            "cpu",
        ],
    ));
    assert!(out.contains("after epoch 3 of 4; corpus verified"), "{out}");

    for (label, v) in [("frozen", &frozen), ("updated", &after)] {
        // Words absent from the new text are never a centre or a context there, so their W_in
        // rows are the checkpoint's bit for bit.
        for i in 10..30 {
            let w = format!("a{i}");
            assert_eq!(row(v, &w), row(&before, &w), "{label}: {w} moved");
        }
        // The words trained again move, but stay close to where they were: mean cosine to the
        // pre-update vectors above 0.9
        let mean = (0..10)
            .map(|i| {
                let w = format!("a{i}");
                cosine(row(v, &w), row(&before, &w))
            })
            .sum::<f64>()
            / 10.0;
        // (0.99 here; rows started afresh would be near 0.)
        assert!(mean > 0.9, "{label}: mean cosine {mean}");
    }
}

#[test]
fn continue_flags_need_their_partners() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "c.txt", &text("a", 10, 50, 6));
    for a in [
        &["train", "--continue-on", "c.txt"][..],
        &["train", "--corpus", "c.txt", "--update-vocab"],
        &[
            "train",
            "--resume",
            "ck",
            "--continue-on",
            "c.txt",
            "--corpus",
            "c.txt",
        ],
    ] {
        let e = run(d, a);
        assert!(!e.status.success(), "{a:?}");
        let err = String::from_utf8_lossy(&e.stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.starts_with("error:"), "{err}");
    }
}

#[test]
fn frozen_init_rows_stay_bit_identical_on_every_step() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "c.txt", &text("a", 20, 300, 7));
    vectors_file(d, "v.txt", 8, &[("a3", 0.3), ("a7", -0.2), ("a11", 0.1)]);
    let file = read_vectors(&d.join("v.txt")).unwrap();
    let mut runs = vec![
        ("cpu", vec!["--step", "fused"]),
        ("cpu", vec!["--step", "composed"]),
        ("cpu", vec!["--optimizer", "adam"]),
        ("cpu", vec!["--model", "cbow"]),
        ("cpu", vec!["--model", "cbow", "--step", "composed"]),
    ];
    let flags = [
        "--corpus",
        "c.txt",
        "--init-vectors",
        "v.txt",
        "--freeze-init",
    ];
    if cfg!(feature = "emulator") {
        runs.push(("emulator", vec!["--step", "composed"]));
        let mut a = args_on("emulator", &flags);
        a.extend(["--output", "out.bin"]);
        assert_one_line_error(d, &a, "does not keep rows fixed; add --step composed");
    }
    for (device, extra) in runs {
        let mut a = args_on(device, &flags);
        a.extend(["--epochs", "2", "--output", "out.bin"]);
        a.extend(&extra);
        let out = stdout(&run(d, &a));
        assert!(
            out.contains("(3 vectors) and stay fixed"),
            "{extra:?}: {out}"
        );
        let got = read_vectors(&d.join("out.bin")).unwrap();
        for (w, i) in [("a3", 0), ("a7", 1), ("a11", 2)] {
            let bits = |r: &[f32]| r.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(row(&got, w)),
                bits(file.row(i)),
                "{extra:?}: {w} moved"
            );
        }
        // Without the freeze the same run moves them.
        let unfrozen: Vec<&str> = a
            .iter()
            .copied()
            .filter(|f| *f != "--freeze-init")
            .collect();
        stdout(&run(d, &unfrozen));
        let moved = read_vectors(&d.join("out.bin")).unwrap();
        assert_ne!(row(&moved, "a3"), file.row(0), "{extra:?}");
    }
}
