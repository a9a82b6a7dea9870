//! SIGINT and SIGTERM sent to a real training process: it stops between batches, checkpoints,
//! leaves no temporary file, exits 130 or 143 with one line, and the checkpoint resumes to the
//! very vectors of the uninterrupted run (`--threads 1`).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::bin::{run, stdout, synthetic_corpus, BIN};
use w2v_gpu::output::checkpoint::load_checkpoint;

const SETTINGS: [&str; 12] = [
    "--corpus",
    "c.txt",
    "--device",
    "cpu",
    "--threads",
    "1",
    "--dim",
    "16",
    "--epochs",
    "4",
    "--seed",
    "3",
];

/// Starts training with `extra` flags, waits for its first epoch line, sends `signals` with
/// `kill`, and returns the exit code and stderr.
/// Every signal in `signals` is sent by its own `kill`, one right after the other.
fn interrupt(dir: &Path, signals: &[&str], extra: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .arg("train")
        .args(SETTINGS)
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().starts_with("epoch 1/") {
            break;
        }
    }
    for signal in signals {
        // The process may be gone after the first: a later kill may fail.
        let _ = Command::new("kill")
            .args([*signal, &child.id().to_string()])
            .status();
    }
    for _ in lines {}
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn no_partial_files(dir: &Path) {
    let partial: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(partial.is_empty(), "left behind: {partial:?}");
}

#[test]
fn sigint_checkpoints_and_the_resumed_run_equals_the_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    synthetic_corpus(d, 250);
    let mut whole = vec!["train"];
    whole.extend(SETTINGS);
    whole.extend(["-o", "whole.bin"]);
    stdout(&run(d, &whole));

    let (code, stderr) = interrupt(
        d,
        &["-INT"],
        &["--checkpoint", "ck.safetensors", "-o", "v.bin"],
    );
    assert_eq!(code, Some(130), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("error: interrupted by SIGINT: stopped")
            && lines[0].contains("--resume 'ck.safetensors'"),
        "{stderr}"
    );
    assert!(
        !d.join("v.bin").exists(),
        "an interrupted run writes no vectors"
    );
    no_partial_files(d);
    let ck = load_checkpoint(&d.join("ck.safetensors")).unwrap();
    assert!(ck.epoch < 4, "stopped before the end: {}", ck.epoch);

    let s = stdout(&run(
        d,
        &[
            "train",
            "--resume",
            "ck.safetensors",
            "--device",
            "cpu",
            "--threads",
            "1",
            "-o",
            "v.bin",
        ],
    ));
    assert!(s.contains("resuming from 'ck.safetensors'"), "{s}");
    assert_eq!(
        std::fs::read(d.join("whole.bin")).unwrap(),
        std::fs::read(d.join("v.bin")).unwrap(),
        "resumed at token {} of epoch {}",
        ck.next_token,
        ck.epoch + 1
    );
    no_partial_files(d);
}

#[test]
fn sigterm_without_a_checkpoint_exits_143_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    synthetic_corpus(d, 250);
    let (code, stderr) = interrupt(d, &["-TERM"], &["-o", "v.bin"]);
    assert_eq!(code, Some(143), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("SIGTERM") && stderr.contains("no checkpoint"),
        "{stderr}"
    );
    assert!(!d.join("v.bin").exists());
    no_partial_files(d);
}

/// A second signal does not wait: it exits at once (130), in one line, leaving no temporary.
#[test]
fn a_second_sigint_exits_at_once_and_leaves_no_temporary() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    synthetic_corpus(d, 250);
    let (code, stderr) = interrupt(d, &["-INT", "-INT"], &["--checkpoint", "ck.safetensors"]);
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: interrupted by SIGINT"),
        "{stderr}"
    );
    no_partial_files(d);
}
