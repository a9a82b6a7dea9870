//! The query commands end to end on a small hand-made vectors file: several words added and
//! subtracted, 3CosMul, `doesnt-match`, `similarity`, `--json`, and the interactive mode that reads
//! one query a line from standard input; `info --json`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_w2v-gpu");

/// Royalty on the first axis, gender on the second, fruit on the third.
const VECTORS: &str = "7 3
man 1.0 0.1 0.0
woman 1.0 0.9 0.0
king 3.0 0.3 0.1
queen 3.0 2.7 0.1
apple 0.0 0.1 2.0
pear 0.1 0.0 2.1
prince 2.5 0.2 0.2
";

fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn setup() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("v.txt"), VECTORS).unwrap();
    tmp
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn first_words(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect()
}

#[test]
fn several_words_negatives_cosmul_and_json() {
    let tmp = setup();
    let d = tmp.path();
    let out = run(
        d,
        &[
            "similar",
            "--vectors",
            "v.txt",
            "king",
            "woman",
            "--negative",
            "man",
            "-k",
            "2",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(first_words(&text(&out.stdout)), ["queen", "prince"]);

    for extra in [&[][..], &["--cosmul"][..]] {
        let mut args = vec![
            "analogy",
            "--vectors",
            "v.txt",
            "man",
            "king",
            "woman",
            "--json",
            "-k",
            "1",
        ];
        args.extend_from_slice(extra);
        let out = run(d, &args, "");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["positive"], serde_json::json!(["king", "woman"]), "{v}");
        assert_eq!(v["negative"], serde_json::json!(["man"]));
        assert_eq!(v["neighbours"][0]["word"], "queen", "{extra:?}: {v}");
        assert!(v["neighbours"][0]["similarity"].as_f64().unwrap() > 0.5);
    }

    let out = run(
        d,
        &[
            "doesnt-match",
            "--vectors",
            "v.txt",
            "king",
            "queen",
            "apple",
            "prince",
        ],
        "",
    );
    assert_eq!(text(&out.stdout).trim(), "apple");
    let out = run(
        d,
        &[
            "similarity",
            "--vectors",
            "v.txt",
            "apple",
            "pear",
            "--json",
        ],
        "",
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["similarity"].as_f64().unwrap() > 0.99, "{v}");
}

#[test]
fn unknown_words_are_all_named_in_one_line() {
    let tmp = setup();
    for args in [
        &[
            "similar",
            "--vectors",
            "v.txt",
            "king",
            "zebra",
            "--negative",
            "yak",
        ][..],
        &["doesnt-match", "--vectors", "v.txt", "zebra", "king", "yak"][..],
    ] {
        let out = run(tmp.path(), args, "");
        let stderr = text(&out.stderr);
        assert!(!out.status.success());
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("error: words 'zebra', 'yak' are not in the vocabulary"),
            "{stderr}"
        );
    }
}

#[test]
fn interactive_mode_answers_each_line_skips_empty_ones_and_reports_failures() {
    let tmp = setup();
    let d = tmp.path();
    let out = run(
        d,
        &["similar", "--vectors", "v.txt", "-k", "1"],
        "king woman -man\n\n   \napple\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(first_words(&text(&out.stdout)), ["queen", "pear"]);

    let out = run(
        d,
        &["similar", "--vectors", "v.txt", "-k", "1", "--json"],
        "zebra\nqueen -woman\n",
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("'zebra'") && stderr.contains("1 of 2 queries failed"),
        "{stderr}"
    );
    let answers: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0]["negative"], serde_json::json!(["woman"]));
}

#[test]
fn eval_json_is_one_document_with_every_score() {
    let tmp = setup();
    let d = tmp.path();
    std::fs::write(
        d.join("q.txt"),
        ": family\nman woman king queen\nman king woman queen\nking queen man zebra\n",
    )
    .unwrap();
    std::fs::write(
        d.join("pairs.tsv"),
        "king\tqueen\t8\napple\tpear\t9\nking\tapple\t1\nman\tpear\t2\n",
    )
    .unwrap();
    let out = run(
        d,
        &[
            "eval",
            "--vectors",
            "v.txt",
            "--analogies",
            "q.txt",
            "--similarity",
            "pairs.tsv",
            "--json",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["words"], 7);
    assert_eq!(v["analogies"]["total"]["scored"], 2, "{v}");
    assert_eq!(v["analogies"]["total"]["skipped"], 1);
    assert_eq!(v["similarity"][0]["name"], "pairs.tsv");
    assert_eq!(v["similarity"][0]["pairs"], 4);
}

#[test]
fn info_json_is_one_document_with_the_report_s_figures() {
    let tmp = setup();
    let d = tmp.path();
    let args = [
        "info",
        "--vocab",
        "1000",
        "--dim",
        "10",
        "--optimizer",
        "adam",
    ];
    let out = run(d, &[&args[..], &["--json"]].concat(), "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let model = &v["model"];
    assert_eq!(
        (&model["vocab"], &model["dim"], &model["optimizer"]),
        (
            &serde_json::json!(1000),
            &serde_json::json!(10),
            &serde_json::json!("adam")
        )
    );
    assert_eq!(model["host_bytes"], 2 * 1000 * 10 * 4);
    assert!(v["cpu"]["cores"].as_u64().is_some_and(|n| n >= 1), "{v}");
    let report = text(&run(d, &args, "").stdout);
    assert!(report.contains("1,000 words x dim 10"), "{report}");
    if v["cuda"].is_null() {
        assert!(
            report.contains("built without the `cuda` feature"),
            "{report}"
        );
        return;
    }
    // Adam composes and keeps four moment matrices beside the two weight matrices.
    let device = &model["device"];
    assert_eq!(device["step"], "composed", "{v}");
    assert_eq!(device["adam_bytes"], 4 * 1000 * 10 * 4);
    assert!(
        report.contains(v["cuda"]["kernels"].as_str().unwrap()),
        "{report}"
    );
    assert_eq!(v["cuda"]["emulator"], cfg!(feature = "emulator"));
}
