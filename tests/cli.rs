//! The binary end to end: every bad input fails with one `error:` line and leaves no file behind;
//! the commands that succeed produce what they promise.

mod common;

use common::bin::{assert_one_line_error, run, stdout, synthetic_corpus, write};

#[test]
fn bad_inputs_fail_with_one_line_and_no_partial_output() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ok = write(
        d,
        "ok.txt",
        &"alpha beta gamma delta epsilon zeta eta theta\n".repeat(20),
    );
    let empty = write(d, "empty.txt", "");
    let blank = write(d, "blank.txt", " \n\n\t\n");
    let rare = write(d, "rare.txt", "one two three two three three\n");
    std::fs::create_dir(d.join("a_dir")).unwrap();
    let out = ["-o", "out.bin"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--corpus", "missing.txt"],
            "cannot read corpus 'missing.txt'",
        ),
        (vec!["--corpus", &empty], "corpus 'empty.txt' is empty"),
        (vec!["--corpus", &blank], "corpus 'blank.txt' is empty"),
        (
            vec!["--corpus", "a_dir"],
            "'a_dir': is a directory without corpus files",
        ),
        (
            vec!["--corpus", &rare],
            "no word with count >= 5; lower --min-count",
        ),
        (vec!["--corpus", &ok, "--dim", "0"], "--dim"),
        (vec!["--corpus", &ok, "--window", "0"], "--window"),
        (vec!["--corpus", &ok, "--epochs", "0"], "--epochs"),
        (vec!["--corpus", &ok, "--sample=-0.1"], "--sample"),
        (
            vec![
                "--corpus",
                &ok,
                "--negative",
                "0",
                "--negatives",
                "distinct",
            ],
            "--negative",
        ),
        (
            vec![
                "--corpus",
                &ok,
                "--negative",
                "20",
                "--negatives",
                "distinct",
                "--min-count",
                "1",
            ],
            "--negative",
        ),
        (
            vec!["--corpus", &ok, "--device", "tpu"],
            "invalid value 'tpu' for '--device",
        ),
        (vec!["--corpus", &ok, "--device", "cuda:0"], "cuda:0"),
        (vec!["--corpus", &ok, "--dim", "ten"], "--dim"),
        (
            vec!["--corpus", &ok, "--storage", "f16", "--device", "cpu"],
            "--storage f16",
        ),
        (
            vec!["--corpus", &ok, "--storage", "f16", "--optimizer", "adam"],
            "--storage f16",
        ),
        (
            vec!["--corpus", &ok, "--storage", "f16", "--step", "composed"],
            "--storage f16",
        ),
        (vec!["--corpus", &ok, "--storage", "f8"], "--storage"),
        // The step is decided when the device opens, before the corpus is read.
        (
            vec![
                "--corpus",
                "missing.txt",
                "--storage",
                "f16",
                "--device",
                "cpu",
            ],
            "keeps f32",
        ),
        (
            vec!["--corpus", &ok, "--max-vocab", "0"],
            "--max-vocab must be at least 1",
        ),
        (
            vec!["--corpus", &ok, "--resume", "nothing.safetensors"],
            "nothing.safetensors",
        ),
    ];
    for (args, needle) in cases {
        let mut all = vec!["train"];
        all.extend(&args);
        all.extend(out);
        assert_one_line_error(d, &all, needle);
    }
    assert_one_line_error(
        d,
        &["train", "--corpus", &ok, "-o", "no/such/dir/v.bin"],
        "no/such/dir/v.bin",
    );
    assert_one_line_error(
        d,
        &["train", "--corpus", &ok, "--metrics", "no/dir/m.csv"],
        "--metrics: cannot write 'no/dir/m.csv'",
    );
    assert_one_line_error(
        d,
        &["train", "--corpus", &ok, "--eval-analogies", "q.txt"],
        "--eval-analogies: cannot read analogies 'q.txt'",
    );
    assert_one_line_error(
        d,
        &["bench", "--corpus", &ok, "--device", "cpu,tpu"],
        "invalid value 'tpu' for '--device",
    );
    assert_one_line_error(
        d,
        &["bench", "--corpus", &ok, "--device", "cpu", "--window", "0"],
        "--window must be at least 1",
    );
    assert_one_line_error(
        d,
        &["similar", "--vectors", "missing.bin", "king"],
        "missing.bin",
    );
    assert_one_line_error(d, &["eval", "--vectors", "missing.bin"], "--analogies");
    assert_one_line_error(d, &["frobnicate"], "frobnicate");
}

#[cfg(unix)]
#[test]
fn unreadable_corpus_is_one_line() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let p = write(d, "secret.txt", &"a b c d e\n".repeat(10));
    std::fs::set_permissions(d.join(&p), std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(d.join(&p)).is_ok() {
        // Running as root: permissions do not stop reads (a directory stands in above).
        return;
    }
    assert_one_line_error(
        d,
        &["train", "--corpus", &p, "-o", "v.bin"],
        "cannot read corpus 'secret.txt'",
    );
}

#[test]
fn builtin_corpus_trains_saves_and_answers_queries() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let s = stdout(&run(
        d,
        &[
            "train",
            "--dim",
            "40",
            "--epochs",
            "3",
            "-o",
            "v.txt",
            "--output-format",
            "text",
        ],
    ));
    assert!(
        s.contains("nearest neighbours:") && s.contains("trained "),
        "{s}"
    );
    let acc: f64 = s
        .lines()
        .find_map(|l| l.strip_prefix("planted-analogy accuracy: "))
        .expect("accuracy line")
        .parse()
        .unwrap();
    assert!(acc >= 0.9, "{s}");
    let near = stdout(&run(
        d,
        &["similar", "--vectors", "v.txt", "queen", "-k", "3"],
    ));
    assert_eq!(near.lines().count(), 3);
    let ans = stdout(&run(
        d,
        &[
            "analogy",
            "--vectors",
            "v.txt",
            "man",
            "woman",
            "king",
            "-k",
            "1",
        ],
    ));
    assert!(ans.starts_with("queen "), "{ans}");
    stdout(&run(
        d,
        &[
            "synthetic",
            "--output",
            "c.txt",
            "--questions",
            "q.txt",
            "--sentences-per-word",
            "20",
        ],
    ));
    let ev = stdout(&run(
        d,
        &["eval", "--vectors", "v.txt", "--analogies", "q.txt"],
    ));
    assert!(ev.contains("total"), "{ev}");
    let bench = stdout(&run(
        d,
        &["bench", "--epochs", "1", "--dim", "20", "--json"],
    ));
    let v: serde_json::Value = serde_json::from_str(bench.trim()).unwrap();
    assert!(v["words_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["peak_memory_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn resuming_a_checkpoint_with_one_thread_equals_the_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    synthetic_corpus(d, 60);
    let common = [
        "--corpus",
        "c.txt",
        "--threads",
        "1",
        "--dim",
        "24",
        "--epochs",
        "3",
    ];
    for optimizer_args in [&[][..], &["--optimizer", "adam"]] {
        let mut a = vec![
            "train",
            "-o",
            "full.bin",
            "--checkpoint",
            "ck-{epoch}.safetensors",
        ];
        a.extend(common);
        a.extend(optimizer_args);
        stdout(&run(d, &a));
        let s = stdout(&run(
            d,
            &[
                "train",
                "--resume",
                "ck-1.safetensors",
                "--threads",
                "1",
                "-o",
                "resumed.bin",
            ],
        ));
        assert!(
            s.contains("resuming from 'ck-1.safetensors' after epoch 1 of 3"),
            "{s}"
        );
        assert_eq!(
            std::fs::read(d.join("full.bin")).unwrap(),
            std::fs::read(d.join("resumed.bin")).unwrap(),
            "{optimizer_args:?}"
        );
    }
    assert_one_line_error(
        d,
        &["train", "--resume", "ck-3.safetensors"],
        "already finished all 3 epochs",
    );
}

/// A checkpoint's settings go through the same validation as the command line's: one edited
/// setting is refused in one line that says where it came from.
#[test]
fn settings_read_from_a_checkpoint_are_validated() {
    use w2v_gpu::output::checkpoint::{load_checkpoint, save_checkpoint, SaveDtype};
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let corpus = write(
        d,
        "c.txt",
        &"alpha beta gamma delta epsilon zeta\n".repeat(40),
    );
    stdout(&run(
        d,
        &[
            "train",
            "--corpus",
            &corpus,
            "--dim",
            "8",
            "--epochs",
            "2",
            "--threads",
            "1",
            "--device",
            "cpu",
            "--checkpoint",
            "ck.safetensors",
        ],
    ));
    let mut ck = load_checkpoint(&d.join("ck.safetensors")).unwrap();
    let mut settings: serde_json::Value = serde_json::from_str(&ck.settings_json).unwrap();
    settings["train"]["epochs"] = 3.into();
    for (key, value, needle) in [
        (
            "window",
            serde_json::json!(0),
            "--window must be at least 1",
        ),
        ("lr", serde_json::json!(-1.0), "--lr must be positive"),
        (
            "batch_size",
            serde_json::json!(0),
            "--batch-size must be at least 1",
        ),
    ] {
        let mut bad = settings.clone();
        bad["train"][key] = value;
        ck.settings_json = bad.to_string();
        save_checkpoint(&d.join("bad.safetensors"), &ck, SaveDtype::F32).unwrap();
        assert_one_line_error(
            d,
            &["train", "--resume", "bad.safetensors", "--device", "cpu"],
            &format!("settings recorded in checkpoint 'bad.safetensors': {needle}"),
        );
    }
    // The same checkpoint with its settings intact resumes (the third epoch).
    ck.settings_json = settings.to_string();
    save_checkpoint(&d.join("good.safetensors"), &ck, SaveDtype::F32).unwrap();
    let s = stdout(&run(
        d,
        &["train", "--resume", "good.safetensors", "--device", "cpu"],
    ));
    assert!(s.contains("after epoch 2 of 3"), "{s}");
}

#[test]
fn queries_refuse_nonfinite_vectors_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let vec = write(dir, "v.txt", "3 2\nking 1 0\nqueen 0.9 0.1\nbad NaN 1\n");
    assert_one_line_error(
        dir,
        &["similar", "--vectors", &vec, "king"],
        "--allow-nonfinite",
    );
    let out = run(
        dir,
        &["similar", "--vectors", &vec, "king", "--allow-nonfinite"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("queen"), "{}", stdout(&out));
}

#[test]
fn a_diverging_run_stops_with_one_line_and_writes_no_vectors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert_one_line_error(
        dir,
        &[
            "train", "--device", "cpu", "--lr", "1e30", "--epochs", "2", "-o", "v.bin",
        ],
        "training diverged in epoch 1",
    );
}
