//! The bad-input matrix of issue 10: outputs that would destroy something, outputs that cannot
//! be written or drawn, runs that cannot finish, and a stdout that fails at the end. Every case
//! is one `error:` line and a non-zero exit, and changes or leaves no file, checked before any
//! training; a closed or full stdout loses no vectors.

mod common;

use std::process::{Command, Stdio};

use common::bin::{assert_one_line_error, run, stdout, synthetic_corpus, write, BIN};

#[test]
fn every_bad_output_is_refused_before_training_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let corpus = "alpha beta gamma delta epsilon zeta eta theta\n".repeat(30);
    write(d, "c.txt", &corpus);
    write(d, "q.txt", ": s\nalpha beta gamma delta\n");
    write(d, "pairs.tsv", "alpha\tbeta\t1.0\n");
    write(d, "control.txt", &"alpha beta\u{7}gamma delta\n".repeat(10));
    std::fs::create_dir(d.join("out_dir")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("c.txt", d.join("link.bin")).unwrap();
    let base = [
        "train",
        "--corpus",
        "c.txt",
        "--device",
        "cpu",
        "--min-count",
        "1",
    ];
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["-o", "/dev/null", "--output-format", "bin"],
            "--output: '/dev/null': is not a regular file",
        ),
        (
            vec!["-o", "out_dir", "--output-format", "text"],
            "'out_dir': is a directory",
        ),
        (
            vec!["-o", "c.txt", "--output-format", "text"],
            "--output 'c.txt' is the same file as --corpus 'c.txt'",
        ),
        (
            vec!["--metrics", "c.txt"],
            "--metrics 'c.txt' is the same file as --corpus",
        ),
        (
            vec!["--checkpoint", "q.txt", "--eval-analogies", "q.txt"],
            "--checkpoint 'q.txt' is the same file as --eval-analogies 'q.txt'",
        ),
        (
            vec![
                "--plot",
                "pairs.svg",
                "--eval-similarity",
                "pairs.tsv",
                "-o",
                "./pairs.tsv",
                "--output-format",
                "text",
            ],
            "--output './pairs.tsv' is the same file as --eval-similarity",
        ),
        (
            vec!["-o", "v.bin", "--checkpoint", "v.bin"],
            "--output and --checkpoint both name 'v.bin'",
        ),
        (vec!["-o", "vectors.w2v"], "give --output-format bin|text"),
        (
            vec!["--plot", "loss.pdf"],
            "--plot 'loss.pdf': unknown image type",
        ),
        (
            vec!["--metrics", "m.xlsx"],
            "--metrics 'm.xlsx': unknown file type",
        ),
        (
            vec!["--dim", "200000000", "-o", "v.bin"],
            "the model needs about",
        ),
        (vec!["-o", "no/dir/v.bin"], "cannot write 'no/dir/v.bin'"),
    ];
    #[cfg(unix)]
    cases.push((
        vec!["-o", "link.bin"],
        "--output 'link.bin' is the same file as --corpus 'c.txt'",
    ));
    for (extra, needle) in cases {
        let mut args = base.to_vec();
        args.extend(extra);
        assert_one_line_error(d, &args, needle);
    }
    assert_one_line_error(
        d,
        &[
            "train",
            "--corpus",
            "/dev/zero",
            "--device",
            "cpu",
            "-o",
            "v.bin",
        ],
        "--corpus: '/dev/zero': is not a regular file (a device or socket)",
    );
    // A word no vectors file can hold (a control character inside; Unicode spaces split words)
    // is found before training, at its byte offset.
    assert_one_line_error(
        d,
        &[
            "train",
            "--corpus",
            "control.txt",
            "--device",
            "cpu",
            "-o",
            "v.bin",
        ],
        "a control character at byte 10",
    );
    assert!(std::fs::metadata("/dev/null").is_ok_and(|m| !m.is_file()));
}

/// A stdout that is closed (EPIPE) or full (ENOSPC) when the run reports: the vectors are
/// written first, and the failure is one line saying where they are.
#[cfg(unix)]
#[test]
fn a_failing_stdout_never_loses_the_vectors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    synthetic_corpus(d, 20);
    let train = |out: Stdio, vectors: &str| {
        Command::new(BIN)
            .args([
                "train", "--device", "cpu", "--dim", "8", "--epochs", "1", "-o", vectors,
            ])
            .current_dir(d)
            .stdout(out)
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    let full = std::fs::File::options().write(true).open("/dev/full");
    let mut stdouts = vec![("closed.bin", closed_pipe())];
    if let Ok(f) = full {
        stdouts.push(("full.bin", Stdio::from(f)));
    }
    for (vectors, out) in stdouts {
        let o = train(out, vectors);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{vectors}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{vectors}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: the vectors are safe in '{vectors}'"))
                && stderr.contains("cannot print to stdout"),
            "{stderr}"
        );
        let v = stdout(&run(
            d,
            &["similar", "--vectors", vectors, "king", "-k", "1"],
        ));
        assert_eq!(v.lines().count(), 1, "{v}");
    }
}

/// `--metrics` that stops being writable mid-run (here its name becomes a folder) does not end
/// training: the vectors are written, and the failure is reported after them.
#[test]
fn a_metrics_file_that_fails_mid_run_never_loses_the_vectors() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    synthetic_corpus(d, 250);
    let mut child = Command::new(BIN)
        .args([
            "train",
            "--corpus",
            "c.txt",
            "--device",
            "cpu",
            "--threads",
            "1",
        ])
        .args([
            "--dim",
            "16",
            "--epochs",
            "4",
            "--metrics",
            "m.csv",
            "-o",
            "v.bin",
        ])
        .current_dir(d)
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
    // Epoch 1's metrics may land just after its line: replace the file until a folder stands.
    let folder = (0..1000).any(|_| {
        let _ = std::fs::remove_file(d.join("m.csv"));
        std::fs::create_dir(d.join("m.csv")).is_ok()
    });
    assert!(folder, "m.csv could not be made a folder");
    for _ in lines {}
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: the vectors are safe in 'v.bin', but a later output failed: ")
            && stderr.contains("m.csv"),
        "{stderr}"
    );
    let v = stdout(&run(
        d,
        &["similar", "--vectors", "v.bin", "king", "-k", "1"],
    ));
    assert_eq!(v.lines().count(), 1, "{v}");
}

/// The read end of a pipe that is already closed: writing to it fails with EPIPE.
#[cfg(unix)]
fn closed_pipe() -> Stdio {
    let mut child = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let stdin = child.stdin.take().unwrap();
    child.wait().unwrap();
    Stdio::from(stdin)
}

#[test]
fn bad_exports_are_refused_before_writing_and_touch_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let corpus = "alpha beta gamma delta epsilon zeta eta theta\n".repeat(30);
    write(d, "c.txt", &corpus);
    let out = run(
        d,
        &[
            "train",
            "--corpus",
            "c.txt",
            "--device",
            "cpu",
            "--min-count",
            "1",
            "--epochs",
            "1",
            "--checkpoint",
            "ck.safetensors",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    #[cfg(unix)]
    std::os::unix::fs::symlink("ck.safetensors", d.join("link.bin")).unwrap();
    std::fs::create_dir(d.join("dir.bin")).unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["-o", "ck.safetensors", "--format", "bin"],
            "is the checkpoint being exported",
        ),
        #[cfg(unix)]
        (vec!["-o", "link.bin"], "is the checkpoint being exported"),
        (
            vec!["-o", "ck.vocab", "--format", "npy"],
            "not ending in .vocab",
        ),
        (vec!["-o", "vectors.w2v"], "the extension names no format"),
        (vec!["-o", "v.bin", "--limit", "0"], "--limit 0"),
        (
            vec!["-o", "v.bin", "--min-count", "1000000"],
            "lower --min-count",
        ),
        (
            vec!["-o", "/dev/null", "--format", "bin"],
            "is not a regular file",
        ),
        (vec!["-o", "dir.bin"], "is a directory"),
        (vec!["-o", "missing/v.bin"], "cannot write 'missing/v.bin'"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["export", "ck.safetensors"];
        args.extend(extra);
        assert_one_line_error(d, &args, needle);
    }
    assert_one_line_error(
        d,
        &["export", "nope.safetensors", "-o", "v.bin"],
        "nope.safetensors",
    );
}

/// Runs the binary in `dir` with a file-size limit of `kib` KiB (`ulimit -f`, SIGXFSZ ignored, so
/// a write past it fails with EFBIG as on a full disk).
fn run_with_file_limit(dir: &std::path::Path, kib: u64, args: &[&str]) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {}; exec \"$0\" \"$@\"",
            kib * 2
        ))
        .arg(BIN)
        .args(args)
        .current_dir(dir)
        .env("XDG_CACHE_HOME", dir.join("xdg"))
        .output()
        .expect("sh runs")
}

#[test]
fn a_disk_that_fills_while_the_cache_is_written_leaves_no_partial_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // About 75k tokens: 300 KB of ids, past a 64 KiB limit on any file.
    let text: String = (0..25_000)
        .map(|i| format!("w{} w{} common\n", i % 13, i % 7))
        .collect();
    write(d, "c.txt", &text);
    let run = [
        "train",
        "--corpus",
        "c.txt",
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--dim",
        "4",
        "--min-count",
        "1",
        "--cache-dir",
        "cache",
        "-o",
        "out.bin",
    ];
    // The ids in memory, the cache written after the pass; then ids spilled during the pass.
    for budget in [None, Some("16K")] {
        let mut args = run.to_vec();
        if let Some(b) = budget {
            args.extend(["--memory-budget", b]);
        }
        let out = run_with_file_limit(d, 64, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{budget:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{budget:?}: {err}");
        assert!(
            err.starts_with("error: ")
                && err.contains("cannot write the encoded corpus")
                && err.contains("--cache-dir on another one")
                && !err.contains("panicked"),
            "{budget:?}: {err}"
        );
        let left: Vec<_> = std::fs::read_dir(d.join("cache")).unwrap().collect();
        assert!(
            left.is_empty(),
            "{budget:?}: a partial cache is left: {left:?}"
        );
        assert!(!d.join("out.bin").exists());
    }
    // With room, the same run builds its cache.
    let out = run_with_file_limit(d, 4096, &run);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_dir(d.join("cache")).unwrap().count(), 1);
}

/// A directory with a file that cannot be read is refused naming that file. Root reads every
/// file whatever its mode, so there (where the tests usually run in CI containers) what is
/// checked is that the file is read like any other.
#[test]
fn a_directory_with_an_unreadable_file_is_refused_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir(d.join("shards")).unwrap();
    let text: String = (0..500).map(|i| format!("a b c w{}\n", i % 9)).collect();
    write(d, "shards/a.txt", &text);
    write(d, "shards/b.txt", &text);
    let locked = d.join("shards/b.txt");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let args = [
        "train",
        "--corpus",
        "shards",
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--dim",
        "4",
        "--cache-dir",
        "cache",
        "-o",
        "out.bin",
    ];
    if std::fs::File::open(&locked).is_err() {
        assert_one_line_error(
            d,
            &args,
            "cannot read corpus 'shards/b.txt': Permission denied",
        );
    } else {
        let out = run(d, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(d.join("out.bin").exists());
    }
}
