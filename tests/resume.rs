//! `train --resume` against the user: flags that contradict the checkpoint, a longer run, another
//! corpus, a moved corpus and another working directory.

mod common;

use common::bin::{assert_one_line_error, run, stdout, write};
use w2v_gpu::output::checkpoint::{load_checkpoint, save_checkpoint, SaveDtype};

const TRAIN: [&str; 10] = [
    "--dim",
    "12",
    "--threads",
    "1",
    "--device",
    "cpu",
    "--min-count",
    "1",
    "--seed",
    "4",
];

#[test]
fn resume_checks_the_flags_and_the_corpus_against_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let text = "the quick brown fox jumps over the lazy dog again and again\n".repeat(60);
    write(d, "c.txt", &text);
    write(d, "other.txt", &text.replace("fox", "cat"));
    let mut first = vec!["train", "--corpus", "c.txt", "--epochs", "2"];
    first.extend(TRAIN);
    first.extend(["--checkpoint", "ck-{epoch}.safetensors"]);
    stdout(&run(d, &first));

    let resume = |extra: &[&str]| {
        let mut a = vec!["train", "--resume", "ck-1.safetensors", "--device", "cpu"];
        a.extend(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let check = |extra: &[&str], needle: &str| {
        let a = resume(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        assert_one_line_error(d, &a, needle);
    };
    check(
        &["--dim", "50"],
        "--dim 50 contradicts checkpoint 'ck-1.safetensors', which was trained with --dim 12; \
         leave --dim out",
    );
    check(&["--model", "cbow"], "--model cbow contradicts");
    check(&["--min-count", "5"], "trained with --min-count 1");
    check(&["--lr", "0.5"], "trained with --lr 0.05");
    check(&["--fixed-window"], "--fixed-window true contradicts");
    check(
        &["--corpus", "other.txt"],
        "same size as the corpus the checkpoint was trained on",
    );
    check(&["--epochs", "1"], "already trained 1 epochs");
    assert_one_line_error(
        d,
        &["train", "--resume", "ck-2.safetensors", "--device", "cpu"],
        "give --epochs N above 2",
    );

    // Flags equal to the checkpoint's are fine, and --epochs extends the run.
    let s = stdout(&run(
        d,
        &[
            "train",
            "--resume",
            "ck-2.safetensors",
            "--dim",
            "12",
            "--epochs",
            "3",
            "--device",
            "cpu",
            "-o",
            "v.bin",
        ],
    ));
    assert!(
        s.contains("after epoch 2 of 3; corpus verified") && s.contains("epoch 3/3"),
        "{s}"
    );

    // The corpus path is recorded absolute: another working directory finds it.
    std::fs::create_dir(d.join("sub")).unwrap();
    let s = stdout(&run(
        &d.join("sub"),
        &[
            "train",
            "--resume",
            "../ck-1.safetensors",
            "--device",
            "cpu",
        ],
    ));
    assert!(s.contains("corpus verified"), "{s}");

    // Moved: the error says the path came from the checkpoint; --corpus gives the new place.
    std::fs::rename(d.join("c.txt"), d.join("moved.txt")).unwrap();
    assert_one_line_error(
        d,
        &["train", "--resume", "ck-1.safetensors", "--device", "cpu"],
        "the corpus recorded in checkpoint 'ck-1.safetensors' (give --corpus if it moved): cannot read corpus",
    );
    let s = stdout(&run(
        d,
        &[
            "train",
            "--resume",
            "ck-1.safetensors",
            "--corpus",
            "moved.txt",
            "--device",
            "cpu",
        ],
    ));
    assert!(s.contains("corpus verified"), "{s}");

    // A checkpoint from before corpus identities resumes, saying the corpus is not verified.
    let mut ck = load_checkpoint(&d.join("ck-1.safetensors")).unwrap();
    let mut settings: serde_json::Value = serde_json::from_str(&ck.settings_json).unwrap();
    settings.as_object_mut().unwrap().remove("corpus_identity");
    ck.settings_json = settings.to_string();
    save_checkpoint(&d.join("old.safetensors"), &ck, SaveDtype::F32).unwrap();
    let s = stdout(&run(
        d,
        &[
            "train",
            "--resume",
            "old.safetensors",
            "--corpus",
            "other.txt",
            "--device",
            "cpu",
        ],
    ));
    assert!(s.contains("corpus not verified"), "{s}");
}
