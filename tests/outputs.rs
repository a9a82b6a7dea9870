//! The files people read after `train`: the loss plot (SVG that parses, PNG that decodes, drawn
//! in-process) and the metrics (.csv, .jsonl, .json) with consistent, complete fields.

mod common;

use std::path::Path;

use common::bin::assert_one_line_error;

/// A corpus of `n` words over a 300-word vocabulary.
fn write_corpus(path: &Path, n: usize) {
    common::words::write_corpus(path, n, 300, 12345, 10);
}

/// Trains 3 epochs on `corpus-7.txt` in `d` with `extra` flags, no PATH; panics on failure.
fn train(d: &Path, extra: &[&str]) -> String {
    let args = [
        &[
            "train",
            "--corpus",
            "corpus-7.txt",
            "--dim",
            "16",
            "--epochs",
            "3",
            "--device",
            "cpu",
        ][..],
        extra,
    ]
    .concat();
    // No external program can help draw or write anything: PATH is empty.
    let out = std::process::Command::new(common::bin::BIN)
        .args(&args)
        .env("PATH", "")
        .current_dir(d)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn setup() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_corpus(&d.join("corpus-7.txt"), 30_000);
    // Two semantic questions (one answerable), one syntactic, one with an unknown word.
    std::fs::write(
        d.join("q.txt"),
        ": family\nw1 w2 w3 w4\nw5 w6 w7 w8\n: gram1-x\nw2 w3 w4 w5\nw1 w2 w3 nosuchword\n",
    )
    .unwrap();
    std::fs::write(
        d.join("ws.tsv"),
        "w1\tw2\t5.0\nw3\tw4\t2.0\nw5\tw6\t7.5\nw7\tw8\t1.0\nw1\tzzz\t3.0\n",
    )
    .unwrap();
    tmp
}

#[test]
fn metrics_carry_time_words_and_every_score() {
    let tmp = setup();
    let d = tmp.path();
    let evals = ["--eval-analogies", "q.txt", "--eval-similarity", "ws.tsv"];
    train(d, &[&evals[..], &["--metrics", "m.jsonl"]].concat());
    train(d, &[&evals[..], &["--metrics", "m.json"]].concat());
    train(d, &[&evals[..], &["--metrics", "m.csv"]].concat());
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(d.join("m.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("m.json")).unwrap()).unwrap();
    let epochs = doc["epochs"]
        .as_array()
        .expect("one document with the epochs");
    assert_eq!(epochs.len(), 3);
    for rows in [&lines[..], &epochs[..]] {
        let mut before = (0u64, 0f64);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r["epoch"], i as u64 + 1);
            let words = r["words"].as_u64().unwrap();
            let total = r["words_total"].as_u64().unwrap();
            let elapsed = r["elapsed"].as_f64().unwrap();
            assert_eq!(words, 30_000, "{r}");
            assert_eq!(total, before.0 + words, "cumulative words: {r}");
            assert!(elapsed > before.1, "elapsed time grows: {r}");
            assert!(r["seconds"].as_f64().unwrap() <= elapsed);
            before = (total, elapsed);
            let a = &r["analogy"];
            assert_eq!(
                (a["answered"].as_u64(), a["skipped"].as_u64()),
                (Some(3), Some(1)),
                "{r}"
            );
            for part in ["accuracy", "semantic", "syntactic"] {
                let v = a[part].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&v), "{part}: {r}");
            }
            let s = &r["similarity"]["ws"];
            assert_eq!(
                (s["pairs"].as_u64(), s["skipped"].as_u64()),
                (Some(4), Some(1)),
                "{r}"
            );
            for c in ["spearman", "pearson"] {
                assert!(s[c].as_f64().unwrap().abs() <= 1.0, "{c}: {r}");
            }
        }
    }
    let csv = std::fs::read_to_string(d.join("m.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    for want in [
        "words_total",
        "elapsed",
        "analogy_semantic",
        "analogy_skipped",
        "pearson:ws",
        "skipped:ws",
    ] {
        assert!(rows[0].contains(&want), "{want} missing: {csv}");
    }
    assert!(rows.iter().all(|r| r.len() == rows[0].len()), "{csv}");
    let col = |name: &str| rows[0].iter().position(|c| *c == name).unwrap();
    assert_eq!(rows[3][col("words_total")], "90000");
    assert_eq!(rows[2][col("skipped:ws")], "1");
}

/// Decodes a PNG file to (width, height, RGB(A) samples per pixel, pixels).
fn decode_png(p: &Path) -> (u32, u32, usize, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(p).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    (info.width, info.height, info.color_type.samples(), buf)
}

#[test]
fn the_plot_is_drawn_in_process_as_svg_and_png() {
    let tmp = setup();
    let d = tmp.path();
    train(d, &["--plot", "loss.png"]);
    assert!(std::fs::read(d.join("loss.png"))
        .unwrap()
        .starts_with(b"\x89PNG\r\n\x1a\n"));
    let (w, h, samples, pixels) = decode_png(&d.join("loss.png"));
    assert_eq!((w, h), (800, 500));
    let count = |rows: std::ops::Range<u32>, keep: &dyn Fn(&[u8]) -> bool| {
        rows.flat_map(|y| (0..w).map(move |x| (y * w + x) as usize * samples))
            .filter(|&i| keep(&pixels[i..i + 3]))
            .count()
    };
    let dark = |p: &[u8]| p.iter().all(|&c| c < 100);
    assert_eq!(count(0..8, &dark), 0, "a white background");
    assert!(
        count(12..40, &dark) > 100,
        "the title is drawn (the built-in font)"
    );
    assert!(count(470..495, &dark) > 100, "the x axis label is drawn");
    let blue = |p: &[u8]| p[0] < 80 && p[2] > 140;
    assert!(count(60..430, &blue) > 100, "the loss line is drawn");

    train(d, &["--plot", "loss.svg"]);
    let text = std::fs::read_to_string(d.join("loss.svg")).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        texts.contains(&"skipgram loss, corpus-7.txt"),
        "titled with the file name: {texts:?}"
    );
    for want in ["learning rate", "epoch 1", "epoch 2", "epoch 3"] {
        assert!(texts.contains(&want), "{want}: {texts:?}");
    }
    let class = |c: &str| {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some(c))
            .count()
    };
    assert_eq!((class("epoch"), class("loss"), class("lr")), (2, 1, 1));
}

#[test]
fn a_plot_no_renderer_knows_is_refused_before_training() {
    let tmp = setup();
    let d = tmp.path();
    for name in ["loss.pdf", "loss.jpeg", "loss"] {
        assert_one_line_error(
            d,
            &[
                "train",
                "--corpus",
                "corpus-7.txt",
                "--plot",
                name,
                "-o",
                "v.bin",
            ],
            "name it *.svg or *.png",
        );
    }
}
