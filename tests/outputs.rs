//! The files people read after `train`: the loss plot (SVG that parses, PNG that decodes, drawn
//! in-process) and the metrics (.csv, .jsonl, .json) with consistent, complete fields.

mod common;

use std::path::Path;

use common::bin::{assert_one_line_error, run};

/// A corpus of `n` words over a 300-word vocabulary with a skewed frequency (a fixed LCG).
fn write_corpus(path: &Path, n: usize) {
    let mut x: u64 = 12345;
    let mut text = String::with_capacity(n * 6);
    for i in 0..n {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        text.push_str(&format!("w{}", (300f64.powf(u) as usize).min(299)));
        text.push(if i % 10 == 9 { '\n' } else { ' ' });
    }
    std::fs::write(path, text).unwrap();
}

/// Trains 3 epochs on `c.txt` in `d` with `extra` flags; panics on failure.
fn train(d: &Path, extra: &[&str]) -> String {
    let args = [
        &["train", "--corpus", "corpus-7.txt", "--dim", "16", "--epochs", "3", "--device", "cpu"][..],
        extra,
    ]
    .concat();
    let out = run(d, &args);
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
    let epochs = doc["epochs"].as_array().expect("one document with the epochs");
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
            assert_eq!((a["answered"].as_u64(), a["skipped"].as_u64()), (Some(3), Some(1)), "{r}");
            for part in ["accuracy", "semantic", "syntactic"] {
                let v = a[part].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&v), "{part}: {r}");
            }
            let s = &r["similarity"]["ws"];
            assert_eq!((s["pairs"].as_u64(), s["skipped"].as_u64()), (Some(4), Some(1)), "{r}");
            for c in ["spearman", "pearson"] {
                assert!(s[c].as_f64().unwrap().abs() <= 1.0, "{c}: {r}");
            }
        }
    }
    let csv = std::fs::read_to_string(d.join("m.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    for want in ["words_total", "elapsed", "analogy_semantic", "analogy_skipped", "pearson:ws", "skipped:ws"] {
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
    // No external program can help: PATH is empty for this run.
    let out = std::process::Command::new(common::bin::BIN)
        .args(["train", "--corpus", "corpus-7.txt", "--dim", "16", "--epochs", "3"])
        .args(["--device", "cpu", "--plot", "loss.png"])
        .env("PATH", "")
        .current_dir(d)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(d.join("loss.png")).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
    let (w, h, samples, pixels) = decode_png(&d.join("loss.png"));
    assert_eq!((w, h), (800, 500));
    let dark = pixels
        .chunks(samples)
        .filter(|p| p[..3].iter().all(|&c| c < 100))
        .count();
    assert!(dark > 2000, "axes and text are drawn ({dark} dark pixels)");

    train(d, &["--plot", "loss.svg"]);
    let text = std::fs::read_to_string(d.join("loss.svg")).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert!(texts.contains(&"skipgram loss, corpus-7.txt"), "titled with the file name: {texts:?}");
    for want in ["learning rate", "epoch 1", "epoch 2", "epoch 3"] {
        assert!(texts.contains(&want), "{want}: {texts:?}");
    }
    let class = |c: &str| doc.descendants().filter(|n| n.attribute("class") == Some(c)).count();
    assert_eq!((class("epoch"), class("loss"), class("lr")), (2, 1, 1));
}

#[test]
fn a_plot_no_renderer_knows_is_refused_before_training() {
    let tmp = setup();
    let d = tmp.path();
    for name in ["loss.pdf", "loss.jpeg", "loss"] {
        assert_one_line_error(
            d,
            &["train", "--corpus", "corpus-7.txt", "--plot", name, "-o", "v.bin"],
            "name it *.svg or *.png",
        );
    }
}
