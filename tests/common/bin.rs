//! Driving the `w2v-gpu` binary from a test: run it in a folder, and assert a one-line failure
//! that leaves no file behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_w2v-gpu");

pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        // The encoded-corpus cache goes to a scratch folder, not the user's.
        .env(
            "XDG_CACHE_HOME",
            std::env::temp_dir().join("w2v-gpu-test-cache"),
        )
        .output()
        .expect("the binary runs")
}

/// The files in `dir`, each with its content (a folder with none), to compare before and after.
pub fn files(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut v: Vec<(PathBuf, Option<Vec<u8>>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let content = std::fs::read(&p).ok();
            (p, content)
        })
        .collect();
    v.sort();
    v
}

/// Asserts a failed run: non-zero exit, one stderr line starting `error:` that mentions `needle`,
/// no panic, and no file created, changed or removed in `dir`.
pub fn assert_one_line_error(dir: &Path, args: &[&str], needle: &str) {
    let before = files(dir);
    let out = run(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: stderr is not one line:\n{stderr}"
    );
    assert!(lines[0].starts_with("error: "), "{args:?}: {stderr}");
    assert!(
        lines[0].contains(needle),
        "{args:?}: '{needle}' not in {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    // A cause is said once, not again by each layer of context.
    assert!(lines[0].matches("(os error").count() <= 1, "{stderr}");
    assert!(
        files(dir) == before,
        "{args:?} left files behind or changed them"
    );
}

pub fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

pub fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Writes the built-in corpus with `sentences_per_word` sentences a planted word to `dir/c.txt`.
pub fn synthetic_corpus(dir: &Path, sentences_per_word: usize) {
    let n = sentences_per_word.to_string();
    stdout(&run(
        dir,
        &["synthetic", "--output", "c.txt", "--sentences-per-word", &n],
    ));
}
