//! Data-parallel training over MPI (`dist/`): each test starts `mpirun --oversubscribe -np N`,
//! on the binary or, for the averaging itself, on this test binary (a test that finds itself
//! under mpirun runs as one rank). Without the `mpi` feature or without `mpirun` on the PATH the
//! MPI tests print why they were skipped and pass; `.ci/run` runs them with `--features mpi`.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_w2v-gpu");

/// Why the MPI tests cannot run here, if they cannot.
fn skip_reason() -> Option<&'static str> {
    if !cfg!(feature = "mpi") {
        return Some("built without the `mpi` feature (cargo test --features mpi --test dist)");
    }
    let found = Command::new("mpirun")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!found).then_some("no mpirun on the PATH (apt-get install openmpi-bin libopenmpi-dev)")
}

macro_rules! needs_mpi {
    () => {
        if let Some(why) = skip_reason() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

/// `mpirun` for `np` ranks (root allowed, more ranks than cores allowed).
fn mpirun(np: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["--oversubscribe", "-np", &np.to_string()])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none");
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every rank's sync log (`W2V_GPU_SYNC_LOG`), in rank order.
fn sync_logs(dir: &Path, np: usize) -> Vec<Vec<String>> {
    (0..np)
        .map(|r| {
            let p = dir.join(format!("rank-{r}.log"));
            std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .lines()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// Under mpirun (`W2V_DIST_RANK_TEST` set by the test that starts it), this process is a rank:
/// known rows per rank, averaged sparse and dense, against the mean computed directly, and
/// bit-identical across ranks.
#[cfg(feature = "mpi")]
fn averaging_as_a_rank() {
    use w2v_gpu::dist::sync::{touched_rows, Replica};
    use w2v_gpu::dist::{Comm, Merge, SyncMode};
    let world = w2v_gpu::dist::mpi::MpiComm::init().expect("MPI starts once");
    let comm: Box<dyn Comm> = match std::env::var("W2V_DIST_RANK_TEST").as_deref() {
        #[cfg(feature = "nccl")]
        Ok("nccl") => Box::new(w2v_gpu::dist::nccl::NcclRows::open(world).expect("NCCL opens")),
        _ => Box::new(world),
    };
    let comm = &*comm;
    let (rank, size) = (comm.rank(), comm.size());
    let (rows, dim) = (7usize, 3usize);
    let base: Vec<f32> = (0..rows * dim).map(|i| i as f32 * 0.25 - 1.0).collect();
    // Rank r changes the W_in rows r and r + 3, and sets row 2 of W_out to r plus the round
    // (row 6 of W_in and the other rows of W_out stay the base everywhere).
    let changed = |r: usize| [r, r + 3];
    let delta = |r: usize, row: usize, c: usize| (r + 1) as f32 * 0.1 + (row * dim + c) as f32;
    let change = |r: usize, row: usize, c: usize| {
        if changed(r).contains(&row) {
            delta(r, row, c)
        } else {
            0.0
        }
    };
    let ways = [SyncMode::Sparse, SyncMode::Dense]
        .into_iter()
        .flat_map(|m| [Merge::Mean, Merge::Sum, Merge::Mixed, Merge::Touched].map(|g| (m, g)));
    for (mode, merge) in ways {
        let mut rep = Replica::new(dim, &base, &base);
        let (mut start_in, mut start_out) = (base.clone(), base.clone());
        // Twice from one replica: with two ranks the second round exchanges W_in whole (the
        // first's union was most of its rows) and W_out packed.
        for round in 0..2 {
            let mut w_in = start_in.clone();
            for row in changed(rank) {
                for c in 0..dim {
                    w_in[row * dim + c] += delta(rank, row, c);
                }
            }
            let mut w_out = start_out.clone();
            w_out[2 * dim] = (rank + round) as f32;
            let t = rep.average(comm, mode, merge, &mut w_in, &mut w_out);
            let tag = format!("{mode:?} {merge:?} round {round}");
            // The result computed directly, in f64: the replicas' mean, the base plus the sum
            // of the ranks' changes (mixed: the mean for W_in, matrix 0, the sum for W_out), or
            // the base plus the mean change of the ranks that changed the row (touched).
            let want_of = |m: usize, b: f32, d: &dyn Fn(usize) -> f32| -> f64 {
                let mean = (0..size).map(|r| (b + d(r)) as f64).sum::<f64>() / size as f64;
                let changes = (0..size).map(|r| d(r) as f64).sum::<f64>();
                let changed = (0..size).filter(|&r| d(r) != 0.0).count().max(1);
                match (merge, m) {
                    (Merge::Mean, _) | (Merge::Mixed, 0) => mean,
                    (Merge::Touched, _) => b as f64 + changes / changed as f64,
                    _ => b as f64 + changes,
                }
            };
            let want = |b: f32, d: &dyn Fn(usize) -> f32| want_of(0, b, d);
            for row in 0..rows {
                for c in 0..dim {
                    let i = row * dim + c;
                    let w = want(start_in[i], &|r| change(r, row, c));
                    assert!(
                        (w_in[i] as f64 - w).abs() <= 1e-5 * w.abs().max(1.0),
                        "{tag} rank {rank} W_in[{row}][{c}] {} != {w}",
                        w_in[i]
                    );
                }
            }
            let b = start_out[2 * dim];
            let w = want_of(1, b, &|r| r as f32 + round as f32 - b);
            assert!((w_out[2 * dim] as f64 - w).abs() < 1e-5, "{tag}");
            assert_eq!(&w_out[..2 * dim], &start_out[..2 * dim], "{tag}");
            assert_eq!(&w_out[2 * dim + 1..], &start_out[2 * dim + 1..], "{tag}");
            let mut union: Vec<usize> = (0..size).flat_map(changed).filter(|&r| r < rows).collect();
            union.sort_unstable();
            union.dedup();
            match mode {
                SyncMode::Sparse => {
                    assert_eq!((t.rows_in, t.rows_out), (union.len() as u64, 1), "{tag}")
                }
                SyncMode::Dense => {
                    assert_eq!((t.rows_in, t.rows_out), (rows as u64, rows as u64), "{tag}")
                }
            }
            // Every rank holds the same bits, and nothing is left to exchange.
            let bits: Vec<u32> = w_in.iter().chain(&w_out).map(|v| v.to_bits()).collect();
            let all = comm.allgather_u32(&bits);
            assert!(all.iter().all(|b| b == &bits), "{tag}: ranks differ");
            if round == 1 {
                let mut again = (w_in.clone(), w_out.clone());
                let t = rep.average(comm, SyncMode::Sparse, merge, &mut again.0, &mut again.1);
                assert_eq!(again, (w_in.clone(), w_out.clone()), "{tag}");
                assert_eq!((t.rows_in, t.rows_out), (0, 0), "{tag}");
                assert!(touched_rows(&again.0, &w_in, dim).is_empty());
            }
            (start_in, start_out) = (w_in, w_out);
        }
    }
    println!("rank {rank} of {size}: averaging ok");
}

#[test]
fn averaged_rows_equal_the_result_computed_directly_on_2_and_3_ranks() {
    #[cfg(feature = "mpi")]
    if std::env::var_os("W2V_DIST_RANK_TEST").is_some() {
        averaging_as_a_rank();
        return;
    }
    needs_mpi!();
    let me = std::env::current_exe().unwrap();
    for np in [2, 3] {
        let o = mpirun(np)
            .arg(&me)
            .args([
                "--exact",
                "averaged_rows_equal_the_result_computed_directly_on_2_and_3_ranks",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("W2V_DIST_RANK_TEST", "1")
            .output()
            .unwrap();
        let out = text(&o);
        assert!(o.status.success(), "{np} ranks: {out}");
        for r in 0..np {
            assert!(
                out.contains(&format!("rank {r} of {np}: averaging ok")),
                "{out}"
            );
        }
    }
}

/// GPUs `nvidia-smi` lists.
fn gpus() -> usize {
    Command::new("nvidia-smi")
        .arg("-L")
        .output()
        .map_or(0, |o| String::from_utf8_lossy(&o.stdout).lines().count())
}

/// The same averaging with the f32 sums through NCCL, one GPU a rank (scripts/gpu-check.sh runs
/// it when two GPUs are lent).
#[test]
fn nccl_sums_on_two_gpus_equal_the_result_computed_directly() {
    needs_mpi!();
    if !cfg!(feature = "nccl") {
        eprintln!("skipped: built without the `nccl` feature (--features mpi,nccl)");
        return;
    }
    let n = gpus();
    if n < 2 {
        eprintln!("skipped: needs two GPUs, this machine has {n}");
        return;
    }
    let o = mpirun(2)
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "averaged_rows_equal_the_result_computed_directly_on_2_and_3_ranks",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("W2V_DIST_RANK_TEST", "nccl")
        .output()
        .unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("rank 1 of 2: averaging ok"), "{out}");
}

/// A run of `np` ranks on the built-in corpus, logging the weights' CRCs after every sync.
fn run_builtin(np: usize, dir: &Path, extra: &[&str]) -> Output {
    mpirun(np)
        .arg(BIN)
        .args(["train", "--device", "cpu", "--threads", "1"])
        .args(extra)
        .env("W2V_GPU_SYNC_LOG", dir)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn assert_identical_syncs(dir: &Path, np: usize, at_least: usize) {
    let logs = sync_logs(dir, np);
    assert!(logs[0].len() >= at_least, "{:?}", logs[0]);
    for (r, log) in logs.iter().enumerate().skip(1) {
        assert_eq!(log, &logs[0], "rank {r}'s weights differ from rank 0's");
    }
    // The weights move between syncs (the CRCs are not all of one state).
    let distinct: std::collections::HashSet<&String> = logs[0].iter().collect();
    assert_eq!(distinct.len(), logs[0].len(), "{:?}", logs[0]);
}

#[test]
fn two_ranks_hold_identical_weights_after_every_sync_and_pass_the_planted_analogies() {
    needs_mpi!();
    let dir = tempfile::tempdir().unwrap();
    let o = run_builtin(2, dir.path(), &["--sync-words", "20000", "-o", "v.txt"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert_identical_syncs(dir.path(), 2, 20);
    let acc: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("planted-analogy accuracy: "))
        .unwrap_or_else(|| panic!("no accuracy line: {out}"))
        .trim()
        .parse()
        .unwrap();
    // The single-process tests' threshold (tests/training.rs).
    assert!(acc >= 0.9, "accuracy {acc}: {out}");
    assert!(
        out.contains("ranks: rank 0 ") && out.contains("rank 1 "),
        "{out}"
    );
    // Only rank 0 printed the summary and wrote the vectors.
    assert_eq!(out.matches("trained ").count(), 1, "{out}");
    assert!(dir.path().join("v.txt").is_file());
}

#[test]
fn three_ranks_dense_hold_identical_weights_after_every_sync() {
    needs_mpi!();
    let dir = tempfile::tempdir().unwrap();
    let o = run_builtin(
        3,
        dir.path(),
        &["--sync-words", "20000", "--sync", "dense", "--epochs", "1"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_identical_syncs(dir.path(), 3, 2);
}

#[test]
fn every_rank_resumes_from_rank_zeros_checkpoint() {
    needs_mpi!();
    let dir = tempfile::tempdir().unwrap();
    let first = run_builtin(
        2,
        dir.path(),
        &[
            "--epochs",
            "1",
            "--sync-words",
            "50000",
            "--checkpoint",
            "ck.safetensors",
        ],
    );
    assert!(first.status.success(), "{}", text(&first));
    let logs = dir.path().join("resumed");
    std::fs::create_dir(&logs).unwrap();
    let o = mpirun(2)
        .arg(BIN)
        .args([
            "train",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--epochs",
            "2",
        ])
        .args(["--sync-words", "50000", "--resume", "ck.safetensors"])
        .env("W2V_GPU_SYNC_LOG", &logs)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("resuming from 'ck.safetensors' after epoch 1 of 2"),
        "{out}"
    );
    assert!(
        out.contains("epoch 2/2") && !out.contains("epoch 1/2"),
        "{out}"
    );
    assert_identical_syncs(&logs, 2, 2);
}

#[test]
fn ranks_with_different_settings_are_refused_in_one_line() {
    needs_mpi!();
    let o = Command::new("mpirun")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args([
            "--oversubscribe",
            "-np",
            "1",
            BIN,
            "train",
            "--device",
            "cpu",
            "--dim",
            "20",
        ])
        .args([
            ":", "-np", "1", BIN, "train", "--device", "cpu", "--dim", "30",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let ours: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(ours.len(), 1, "{err}");
    assert!(
        ours[0].contains("rank 1's settings or corpus differ from rank 0's"),
        "{err}"
    );
}

#[test]
fn a_rank_that_cannot_read_its_corpus_stops_the_job() {
    needs_mpi!();
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.txt");
    std::fs::write(&corpus, "a b c\n".repeat(100)).unwrap();
    let missing = dir.path().join("missing.txt");
    let o = Command::new("mpirun")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args([
            "--oversubscribe",
            "-np",
            "1",
            BIN,
            "train",
            "--device",
            "cpu",
            "--min-count",
            "1",
        ])
        .arg("--corpus")
        .arg(&corpus)
        .args([
            ":",
            "-np",
            "1",
            BIN,
            "train",
            "--device",
            "cpu",
            "--min-count",
            "1",
        ])
        .arg("--corpus")
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("missing.txt"), "{err}");
    assert!(err.contains("rank 1 of 2 failed to start"), "{err}");
}

#[test]
fn a_killed_rank_makes_the_others_exit_and_the_checkpoint_stays_intact() {
    needs_mpi!();
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck.safetensors");
    // The ranks are mpirun's children; kill the second (by its own pid).
    let (mut job, pids) = long_job_until_checkpoint(&ck, &[]);
    let victim = pids[1];
    assert!(Command::new("kill")
        .args(["-9", &victim.to_string()])
        .status()
        .unwrap()
        .success());
    let t1 = Instant::now();
    loop {
        if let Some(status) = job.try_wait().unwrap() {
            assert!(!status.success());
            break;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(60),
            "the other rank did not exit after a rank was killed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The last checkpoint reads back whole (written atomically by rank 0).
    let out = dir.path().join("v.txt");
    let o = Command::new(BIN)
        .arg("export")
        .arg(&ck)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

/// A 2-rank job of 500 epochs with `extra` flags, checkpointing to `ck`, once the first checkpoint
/// is there; with its two ranks' pids.
fn long_job_until_checkpoint(ck: &Path, extra: &[&str]) -> (std::process::Child, Vec<i32>) {
    let job = mpirun(2)
        .arg(BIN)
        .args([
            "train",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--epochs",
            "500",
        ])
        .args(extra)
        .args(["-q", "--checkpoint"])
        .arg(ck)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !ck.exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pids = ranks_of(&job);
    assert_eq!(pids.len(), 2, "{pids:?}");
    (job, pids)
}

/// The pids of `job`'s ranks (mpirun's children), lowest first.
fn ranks_of(job: &std::process::Child) -> Vec<i32> {
    let kids = Command::new("pgrep")
        .args(["-P", &job.id().to_string()])
        .output()
        .unwrap();
    let mut pids: Vec<i32> = String::from_utf8_lossy(&kids.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

#[test]
fn a_signal_to_one_rank_stops_every_rank_at_the_next_sync_with_one_line() {
    needs_mpi!();
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck.safetensors");
    let (job, pids) = long_job_until_checkpoint(&ck, &["--sync-words", "20000"]);
    let term = ["-TERM", &pids[1].to_string()];
    assert!(Command::new("kill").args(term).status().unwrap().success());
    let o = job.wait_with_output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let ours: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(ours.len(), 1, "{err}");
    assert!(
        ours[0].contains("at a synchronisation of the 2 ranks"),
        "{err}"
    );
    assert!(ours[0].contains("continue with --resume"), "{err}");
}

#[test]
fn zero_sync_words_is_refused_in_one_line() {
    let o = Command::new(BIN)
        .args(["train", "--sync-words", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--sync-words") && err.contains("positive"),
        "{err}"
    );
}

#[test]
fn mpirun_without_the_feature_is_refused_in_one_line() {
    if cfg!(feature = "mpi") {
        eprintln!("skipped: this build has the `mpi` feature (the refusal is the plain build's)");
        return;
    }
    let o = Command::new(BIN)
        .args(["train", "--device", "cpu"])
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("rebuild with --features mpi"), "{err}");
}

/// `bench` of one short epoch on the built-in corpus, one thread a rank.
const BENCH: [&str; 7] = [
    "bench",
    "--device",
    "cpu",
    "--threads",
    "1",
    "--epochs",
    "1",
];

#[test]
fn bench_under_mpirun_reports_each_rank_and_the_job() {
    needs_mpi!();
    let o = mpirun(2).arg(BIN).args(BENCH).output().unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    // Rank 0 alone prints: one table, one ranks line with both ranks and the job.
    assert_eq!(out.matches("words trained").count(), 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("ranks: "))
        .unwrap_or_else(|| panic!("no ranks line: {out}"));
    assert!(
        line.contains("rank 0 ") && line.contains("rank 1 ") && line.contains("s synchronising"),
        "{line}"
    );
    assert!(line.contains("the job "), "{line}");
    assert!(out.contains("for 2 ranks merging by touched"), "{out}");
    let o = mpirun(2)
        .arg(BIN)
        .args(BENCH)
        .arg("--json")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(out.lines().count(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["ranks"], 2);
    let each = v["rank_words_per_sec"].as_array().unwrap();
    assert_eq!(each.len(), 2);
    assert!(each.iter().all(|r| r.as_f64().unwrap() > 0.0), "{v}");
    assert_eq!(v["rank_sync_s"].as_array().unwrap().len(), 2);
}

#[test]
fn bench_of_several_devices_under_mpirun_is_refused_in_one_line() {
    let o = Command::new(BIN)
        .args(["bench", "--device", "cpu,emulator"])
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("times one device"), "{err}");
}

/// A corpus with what the built-in one lacks for this: a 5,000-word Zipf vocabulary, whose
/// frequent rows every rank trains between two syncs while the rare ones are one rank's. Each
/// next word is a near neighbour of the last (70 %) or a fresh Zipf draw, so the pairs have
/// structure to learn. 20,000 sentences of 20 words, from a fixed xorshift.
fn zipf_corpus(path: &Path) {
    let vocab = 5_000usize;
    let mut cum = Vec::with_capacity(vocab);
    let mut total = 0.0f64;
    for i in 0..vocab {
        total += 1.0 / (i + 1) as f64;
        cum.push(total);
    }
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = String::new();
    for _ in 0..20_000 {
        let mut w = cum
            .partition_point(|&c| c < uniform() * total)
            .min(vocab - 1);
        for j in 0..20 {
            if j > 0 {
                out.push(' ');
            }
            out += &format!("w{w}");
            w = if uniform() < 0.7 {
                let step = [1, 2, 3, vocab - 1, vocab - 2][(uniform() * 5.0) as usize % 5];
                (w + step) % vocab
            } else {
                cum.partition_point(|&c| c < uniform() * total)
                    .min(vocab - 1)
            };
        }
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

/// The summary line's final loss.
fn final_loss(out: &str) -> f64 {
    out.lines()
        .find_map(|l| l.split("final loss ").nth(1))
        .unwrap_or_else(|| panic!("no final loss: {out}"))
        .trim()
        .parse()
        .unwrap()
}

/// `--rank-lr auto` (the default: × √ranks with `--merge touched`) says what it did and brings
/// two and three ranks' loss closer to one process's than the rate as given does: averaging the
/// ranks' changes of a row every rank trains slows it down by the number of ranks.
#[test]
fn the_scaled_learning_rate_brings_the_ranks_loss_back_towards_one_process() {
    needs_mpi!();
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("zipf.txt");
    zipf_corpus(&corpus);
    let train = ["train", "--device", "cpu", "--threads", "1", "--corpus"];
    let one = Command::new(BIN).args(train).arg(&corpus).output().unwrap();
    assert!(one.status.success(), "{}", text(&one));
    let one = final_loss(&text(&one));
    for np in [2usize, 3] {
        let run = |rank_lr: &str| {
            let o = mpirun(np)
                .arg(BIN)
                .args(train)
                .arg(&corpus)
                .args(["--rank-lr", rank_lr])
                .output()
                .unwrap();
            let out = text(&o);
            assert!(o.status.success(), "{out}");
            out
        };
        let (auto, same) = (run("auto"), run("same"));
        let factor = format!(
            "0.05 × {:.3} for {np} ranks merging by touched",
            (np as f64).sqrt()
        );
        assert!(auto.contains(&factor), "{auto}");
        assert!(!same.contains("learning rate: "), "{same}");
        let (auto, same) = (final_loss(&auto), final_loss(&same));
        assert!(
            (auto - one).abs() < (same - one).abs(),
            "{np} ranks: loss {auto} scaled, {same} as given, one process {one}"
        );
    }
}
