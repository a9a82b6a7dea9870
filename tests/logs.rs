//! What `train` prints where: one progress line every `--log-interval` when stderr is not a
//! terminal (it is a pipe here), `-q` (nothing but errors) and `-v` (timings, the chosen step).

mod common;

use std::path::Path;

use common::bin::{assert_one_line_error, run};

/// A corpus of `n` words over a 400-word vocabulary.
fn write_corpus(path: &Path, n: usize) {
    common::words::write_corpus(path, n, 400, 0x9E37_79B9_7F4A_7C15, 12);
}

fn utf8(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

/// `progress 12.5% 1,000/8,000 words, 5,000 words/s, loss 0.6931, lr 0.024000, epoch 1/3,
/// elapsed 0.2 s, ETA 1 s`, parsed into (percent, words done, words total, words/s, epoch).
fn parse_line(line: &str) -> (f64, u64, u64, u64, u32) {
    let num = |s: &str| -> u64 {
        s.replace(',', "")
            .parse()
            .unwrap_or_else(|_| panic!("{line}"))
    };
    let rest = line.strip_prefix("progress ").expect(line);
    let (pct, rest) = rest.split_once("% ").expect(line);
    let (done, rest) = rest.split_once('/').expect(line);
    let (total, rest) = rest.split_once(" words, ").expect(line);
    let (rate, rest) = rest.split_once(" words/s, loss ").expect(line);
    let (loss, rest) = rest.split_once(", lr ").expect(line);
    let (lr, rest) = rest.split_once(", epoch ").expect(line);
    let (epoch, rest) = rest.split_once("/3, elapsed ").expect(line);
    let (elapsed, eta) = rest.split_once(" s, ETA ").expect(line);
    assert!(loss.parse::<f64>().unwrap().is_finite(), "{line}");
    assert!(lr.parse::<f64>().unwrap() > 0.0, "{line}");
    assert!(elapsed.parse::<f64>().unwrap() > 0.0, "{line}");
    assert!(
        eta == "?" || eta.strip_suffix(" s").unwrap().parse::<u64>().is_ok(),
        "{line}"
    );
    let pct: f64 = pct.parse().unwrap();
    (
        pct,
        num(done),
        num(total),
        num(rate),
        epoch.parse().unwrap(),
    )
}

#[test]
fn piped_stderr_gets_a_progress_line_every_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_corpus(&d.join("c.txt"), 300_000);
    let started = std::time::Instant::now();
    let out = run(
        d,
        &[
            "train",
            "--corpus",
            "c.txt",
            "--dim",
            "32",
            "--epochs",
            "3",
            "--min-count",
            "1",
            "--threads",
            "1",
            "--device",
            "cpu",
            "--log-interval",
            "0.05",
            "-o",
            "v.bin",
        ],
    );
    let seconds = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", utf8(&out.stderr));
    let stderr = utf8(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("progress "))
        .collect();
    assert_eq!(
        lines.len(),
        stderr.lines().count(),
        "only progress lines: {stderr}"
    );
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "no bar: {stderr:?}"
    );
    // One line per 0.05 s of training at most, plus the last; at least two in a run this long.
    assert!(lines.len() >= 2, "{stderr}");
    assert!(
        lines.len() as f64 <= seconds / 0.05 + 2.0,
        "{} lines in {seconds:.2} s",
        lines.len()
    );
    let parsed: Vec<_> = lines.iter().map(|l| parse_line(l)).collect();
    let total = parsed[0].2;
    assert_eq!(total, 3 * 300_000);
    for w in parsed.windows(2) {
        assert!(
            w[1].0 >= w[0].0 && w[1].1 > w[0].1 && w[1].4 >= w[0].4,
            "{w:?}"
        );
    }
    for p in &parsed {
        assert!(p.1 <= total && p.3 > 0, "{p:?}");
        assert!(
            (p.0 - 100.0 * p.1 as f64 / total as f64).abs() < 0.06,
            "{p:?}"
        );
    }
    assert_eq!(
        parsed.last().unwrap().1,
        total,
        "the last line is the run's end"
    );
    // The per-epoch lines and the summary stay on stdout.
    let stdout = utf8(&out.stdout);
    assert!(
        stdout.contains("epoch 3/3: loss ") && stdout.contains("trained 900,000 words"),
        "{stdout}"
    );
}

#[test]
fn quiet_prints_nothing_and_verbose_prints_timings() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_corpus(&d.join("c.txt"), 20_000);
    let args = [
        "train", "--corpus", "c.txt", "--dim", "16", "--epochs", "2", "--device", "cpu",
    ];
    let quiet = run(
        d,
        &[&args[..], &["-q", "-o", "q.bin", "--log-interval", "0.001"]].concat(),
    );
    assert!(quiet.status.success());
    assert_eq!(
        (utf8(&quiet.stdout), utf8(&quiet.stderr)),
        (String::new(), String::new())
    );
    assert!(d.join("q.bin").metadata().unwrap().len() > 0);

    let verbose = run(d, &[&args[..], &["--verbose"]].concat());
    assert!(verbose.status.success());
    let stdout = utf8(&verbose.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("step: Fused; ")),
        "{stdout}"
    );
    let epochs: Vec<&str> = stdout.lines().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(epochs.len(), 2, "{stdout}");
    for l in epochs {
        assert!(
            l.contains("; trained in ") && l.contains(" s elapsed"),
            "{l}"
        );
    }
    let normal = run(d, &args);
    assert!(!utf8(&normal.stdout).contains("trained in "));
}

#[test]
fn bad_log_flags_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_corpus(&d.join("c.txt"), 1000);
    for (flags, needle) in [
        (&["--log-interval", "0"][..], "--log-interval"),
        (&["--log-interval", "-1"], "above 0"),
        (&["--log-interval", "soon"], "not a number of seconds"),
        (&["--log-interval", "inf"], "above 0"),
        (&["-q", "-v"], "cannot be used with"),
    ] {
        let args = [&["train", "--corpus", "c.txt", "-o", "v.bin"][..], flags].concat();
        assert_one_line_error(d, &args, needle);
    }
}

/// `-v` on a CUDA device (here the emulated one) names the fused step's kernel: v2 by default, v1
/// with `--kernel v1`.
#[cfg(feature = "emulator")]
#[test]
fn verbose_names_the_step_kernel_on_the_emulated_device() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_corpus(&d.join("c.txt"), 5_000);
    for (kernel, want) in [
        ("v2", "step: Fused (kernel w2v_skipgram_step_v2_1); "),
        ("v1", "step: Fused (kernel w2v_skipgram_step); "),
    ] {
        let out = run(
            d,
            &[
                "train", "--corpus", "c.txt", "--dim", "16", "--epochs", "1", "--device",
                "emulator", "--kernel", kernel, "-v",
            ],
        );
        let stdout = utf8(&out.stdout);
        assert!(out.status.success(), "{}", utf8(&out.stderr));
        assert!(
            stdout.lines().any(|l| l.starts_with(want)),
            "{kernel}: {stdout}"
        );
    }
}
