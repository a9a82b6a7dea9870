//! Interoperability with the Python tools users already have, checked with the real packages:
//! gensim reads our vector files and we read gensim's, our evaluation numbers equal gensim's, and
//! numpy loads our checkpoints through `safetensors`.
//!
//! The Python environment comes from `scripts/python-env.sh` (`.ci-cache/venv`) or `$W2V_PYTHON`,
//! so these tests are ignored by a plain `cargo test` (which lists them as ignored, with the
//! reason); scripts/test.sh (and so CI) creates the environment and runs them with `--ignored`,
//! and there a missing environment fails them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use w2v_gpu::output::checkpoint::{load_checkpoint, save_checkpoint, Checkpoint, SaveDtype};
use w2v_gpu::output::vectors::{read_vectors, write_vectors, Embeddings, VectorFormat};
use w2v_gpu::query::eval::{evaluate_analogies, read_analogies};
use w2v_gpu::query::similarity::Index;
use w2v_gpu::query::wordsim::{evaluate_similarity, read_similarity};

/// The interpreter with gensim, numpy, scipy and safetensors; fails the test without one.
fn python() -> PathBuf {
    let candidate = std::env::var_os("W2V_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci-cache/venv/bin/python"));
    let ok = Command::new(&candidate)
        .args(["-c", "import gensim, numpy, scipy, safetensors"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "interop tests need Python with gensim, numpy, scipy and safetensors at '{}' (or $W2V_PYTHON); \
         create it with bash scripts/python-env.sh",
        candidate.display()
    );
    candidate
}

/// Passes a test that cannot run here with a note, or fails it under `CI`, which must run it.
fn skip(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "{why}");
    // Straight to the process's stderr: the test harness captures `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// Runs `code` with `args` and parses its stdout as JSON.
fn run_python(python: &Path, dir: &Path, code: &str, args: &[&Path]) -> Value {
    let script = dir.join("check.py");
    std::fs::write(&script, code).unwrap();
    let out = Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "python printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Deterministic uniform numbers in [-1, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
    fn vec(&mut self, dim: usize, scale: f32) -> Vec<f32> {
        (0..dim).map(|_| scale * self.next()).collect()
    }
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
        })
        .collect()
}

fn words(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * x.abs().max(1.0),
            "{what}: value {i}: {x} vs {y}"
        );
    }
}

const GENSIM_LOADS: &str = r#"
import json, sys
from gensim.models import KeyedVectors
out = {}
for name, path, binary in [("bin", sys.argv[1], True), ("txt", sys.argv[2], False)]:
    kv = KeyedVectors.load_word2vec_format(path, binary=binary)
    out[name] = {"words": list(kv.index_to_key), "vectors": kv.vectors.astype(float).tolist()}
print(json.dumps(out))
"#;

#[test]
#[ignore = "needs the Python env: bash scripts/python-env.sh (scripts/test.sh runs these)"]
fn gensim_reads_our_bin_and_text() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Lcg(7);
    let mut names: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
    names.extend(["café", "straße", "Ünïcode", "<eos>", "N"].map(String::from));
    let data: Vec<f32> = (0..names.len())
        .flat_map(|i| rng.vec(13, 10f32.powi(i as i32 % 7 - 4)))
        .collect();
    let emb = Embeddings::new(names, 13, data);
    let (bin, txt) = (dir.path().join("v.bin"), dir.path().join("v.txt"));
    write_vectors(&bin, &emb, VectorFormat::Bin).unwrap();
    write_vectors(&txt, &emb, VectorFormat::Text).unwrap();
    let got = run_python(&py, dir.path(), GENSIM_LOADS, &[&bin, &txt]);
    for format in ["bin", "txt"] {
        assert_eq!(words(&got[format]["words"]), emb.words, "{format}");
    }
    assert_eq!(
        floats(&got["bin"]["vectors"]),
        emb.data,
        "binary vectors are bit-identical"
    );
    assert_close(
        &floats(&got["txt"]["vectors"]),
        &emb.data,
        1e-6,
        "text vectors",
    );
}

const GENSIM_WRITES: &str = r#"
import json, sys
import numpy as np
from gensim.models import KeyedVectors
rng = np.random.default_rng(3)
words = ["the", "of", "königin", "x_y", "1999"] + [f"w{i}" for i in range(40)]
vectors = (rng.standard_normal((len(words), 9)) * 0.3).astype(np.float32)
kv = KeyedVectors(9)
kv.add_vectors(words, vectors)
kv.save_word2vec_format(sys.argv[1], binary=True)
kv.save_word2vec_format(sys.argv[2], binary=False)
print(json.dumps({"words": words, "vectors": vectors.astype(float).tolist()}))
"#;

#[test]
#[ignore = "needs the Python env: bash scripts/python-env.sh (scripts/test.sh runs these)"]
fn we_read_gensim_bin_without_newlines_and_its_text() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let (bin, txt) = (dir.path().join("g.bin"), dir.path().join("g.txt"));
    let expected = run_python(&py, dir.path(), GENSIM_WRITES, &[&bin, &txt]);
    let (expected_words, expected_data) = (words(&expected["words"]), floats(&expected["vectors"]));
    // gensim's binary layout has no newline after a vector: header + per word "word " + 9 floats.
    let body: usize = expected_words.iter().map(|w| w.len() + 1 + 4 * 9).sum();
    assert_eq!(
        std::fs::metadata(&bin).unwrap().len() as usize,
        format!("{} 9\n", expected_words.len()).len() + body
    );
    let from_bin = read_vectors(&bin).unwrap();
    assert_eq!(from_bin.words, expected_words);
    assert_eq!(from_bin.data, expected_data);
    let from_txt = read_vectors(&txt).unwrap();
    assert_eq!(from_txt.words, expected_words);
    assert_close(&from_txt.data, &expected_data, 1e-6, "gensim text");
}

const GENSIM_EVAL: &str = r#"
import json, sys
from gensim.models import KeyedVectors
kv = KeyedVectors.load_word2vec_format(sys.argv[1], binary=True)
out = {}
for rv in [len(kv), int(sys.argv[4])]:
    _, sections = kv.evaluate_word_analogies(sys.argv[2], restrict_vocab=rv)
    out[str(rv)] = [[s["section"], len(s["correct"]), len(s["incorrect"])] for s in sections]
pearson, spearman, oov = kv.evaluate_word_pairs(sys.argv[3], restrict_vocab=len(kv))
out["pearson"] = float(pearson[0])
out["spearman"] = float(spearman[0])
out["oov_ratio"] = float(oov)
print(json.dumps(out))
"#;

/// Vectors with planted relations (pairs `a_i → b_i = a_i + r + noise` per section) among filler
/// words, case variants and non-ASCII words; the analogy and word-pair files that go with them.
fn structured_benchmark(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let dim = 24;
    let mut rng = Lcg(2024);
    let mut rows: Vec<(String, Vec<f32>)> = Vec::new();
    let mut questions = String::new();
    for (s, (section, left, right)) in [
        ("capital-world", "country", "Capital"),
        ("family", "he", "she"),
        ("gram1-plural", "cat", "cats"),
        ("gram7-past", "go", "went"),
    ]
    .into_iter()
    .enumerate()
    {
        let relation = rng.vec(dim, 1.0);
        let noise = 1.2 + 0.3 * s as f32;
        questions.push_str(&format!(": {section}\n"));
        let pairs: Vec<(String, String)> = (0..8)
            .map(|i| (format!("{left}{i}"), format!("{right}{i}")))
            .collect();
        for (a, b) in &pairs {
            let va = rng.vec(dim, 1.0);
            let vb: Vec<f32> = va
                .iter()
                .zip(&relation)
                .map(|(x, r)| x + r + noise * rng.next())
                .collect();
            rows.push((a.clone(), va));
            rows.push((b.clone(), vb));
        }
        for (i, (a, b)) in pairs.iter().enumerate() {
            for (j, (c, d)) in pairs.iter().enumerate() {
                if i != j {
                    // Mixed case in the questions: matching is case-insensitive.
                    let q = if (i + j) % 3 == 0 {
                        format!("{} {b} {c} {}", a.to_uppercase(), d.to_lowercase())
                    } else {
                        format!("{a} {b} {c} {d}")
                    };
                    questions.push_str(&q);
                    questions.push('\n');
                }
            }
        }
        questions.push_str(&format!("{left}0 {right}0 zebra{s} {right}1\n"));
    }
    // Interleave fillers so that a restricted vocabulary cuts through every section.
    let mut ordered = Vec::new();
    for (k, row) in rows.into_iter().enumerate() {
        ordered.push(row);
        if k % 2 == 1 {
            let filler = format!("filler{k}");
            ordered.push((filler, rng.vec(dim, 1.0)));
        }
    }
    for (w, scale) in [
        ("café", 1.0),
        ("straße", 1.0),
        ("STRASSE", 0.5),
        ("CAT3", 0.8),
        ("Country2", 1.0),
    ] {
        let v = if w == "CAT3" || w == "Country2" {
            let twin = ordered
                .iter()
                .find(|(x, _)| x.eq_ignore_ascii_case(w))
                .unwrap()
                .1
                .clone();
            twin.iter().map(|x| x * scale + 0.05 * rng.next()).collect()
        } else {
            rng.vec(dim, scale)
        };
        ordered.push((w.to_string(), v));
    }
    let names: Vec<String> = ordered.iter().map(|r| r.0.clone()).collect();
    let emb = Embeddings::new(
        names.clone(),
        dim,
        ordered.into_iter().flat_map(|r| r.1).collect(),
    );
    let vectors = dir.join("structured.bin");
    write_vectors(&vectors, &emb, VectorFormat::Bin).unwrap();
    let analogies = dir.join("questions.txt");
    std::fs::write(&analogies, questions).unwrap();
    let similarity = dir.join("pairs.tsv");
    write_pairs(
        &emb,
        &similarity,
        &mut rng,
        "unicorn\tcat1\t3.5\nstraße\tcafé\t1.25\n",
    );
    (vectors, analogies, similarity)
}

/// Word pairs over `emb`'s words whose human scores follow the vectors' cosine loosely, on a
/// half-point scale (so with ties), some with upper-cased words, then `extra` lines.
fn write_pairs(emb: &Embeddings, path: &Path, rng: &mut Lcg, extra: &str) {
    let index = Index::new(emb);
    let n = emb.len();
    let mut pairs = String::from("# synthetic word pairs\n# Word 1\tWord 2\tHuman (mean)\n");
    for k in 0..150 {
        let (i, j) = ((k * 7) % n, (k * 13 + 5) % n);
        let b = if k % 4 == 0 {
            emb.words[j].to_uppercase()
        } else {
            emb.words[j].clone()
        };
        let score = ((index.similarity(i, j) + 0.4 * rng.next()) * 10.0 + 10.0).round() / 2.0;
        pairs.push_str(&format!("{}\t{b}\t{score}\n", emb.words[i]));
    }
    pairs.push_str(extra);
    std::fs::write(path, pairs).unwrap();
}

#[test]
#[ignore = "needs the Python env: bash scripts/python-env.sh (scripts/test.sh runs these)"]
fn evaluation_equals_gensim() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let (vectors, analogies, similarity) = structured_benchmark(dir.path());
    assert_evaluation_matches_gensim(&py, dir.path(), &vectors, &analogies, &similarity, 90);
}

/// The built-in corpus trained by the binary (one thread, fixed seed), then scored both ways.
#[test]
#[ignore = "needs the Python env: bash scripts/python-env.sh (scripts/test.sh runs these)"]
fn evaluation_equals_gensim_on_trained_vectors() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_w2v-gpu");
    let (corpus, analogies, vectors) = (
        dir.path().join("corpus.txt"),
        dir.path().join("q.txt"),
        dir.path().join("v.bin"),
    );
    let run = |args: &[&str]| {
        let out = Command::new(exe).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "w2v-gpu {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let synthetic = [
        "synthetic",
        "--output",
        &path(&corpus),
        "--questions",
        &path(&analogies),
        "--seed",
        "3",
    ];
    run(&[&synthetic[..], &["--sentences-per-word", "45"]].concat());
    if !corpus.exists() {
        skip("the w2v-gpu binary wrote no corpus: it was built without the CLI");
        return;
    }
    let train = [
        "train",
        "--corpus",
        &path(&corpus),
        "--output",
        &path(&vectors),
        "--device",
        "cpu",
    ];
    run(&[
        &train[..],
        &[
            "--threads",
            "1",
            "--seed",
            "3",
            "--epochs",
            "3",
            "--dim",
            "32",
            "--min-count",
            "40",
        ],
    ]
    .concat());
    let emb = read_vectors(&vectors).unwrap();
    let similarity = dir.path().join("pairs.tsv");
    write_pairs(&emb, &similarity, &mut Lcg(9), "unicorn\tqueen\t3.5\n");
    assert_evaluation_matches_gensim(
        &py,
        dir.path(),
        &vectors,
        &analogies,
        &similarity,
        // Planted words are rarer than the filler: keep most rows so that some remain.
        emb.len() * 7 / 8,
    );
}

/// Our analogy counts (all rows and the first `restrict`) and word-pair correlations equal
/// gensim's `evaluate_word_analogies` / `evaluate_word_pairs` on the same files.
fn assert_evaluation_matches_gensim(
    py: &Path,
    dir: &Path,
    vectors: &Path,
    analogies: &Path,
    similarity: &Path,
    restrict: usize,
) {
    let restrict_arg = PathBuf::from(restrict.to_string());
    let gensim = run_python(
        py,
        dir,
        GENSIM_EVAL,
        &[vectors, analogies, similarity, &restrict_arg],
    );

    let emb = read_vectors(vectors).unwrap();
    let index = Index::new(&emb);
    let sections = read_analogies(analogies).unwrap();
    let questions: usize = sections.iter().map(|s| s.questions.len()).sum();
    for (key, limit) in [
        (emb.len().to_string(), None),
        (restrict.to_string(), Some(restrict)),
    ] {
        let ours = evaluate_analogies(&index, &sections, limit);
        let theirs = gensim[&key].as_array().unwrap();
        assert_eq!(
            theirs.len(),
            ours.sections.len() + 1,
            "sections plus gensim's total"
        );
        for (s, t) in ours.sections.iter().chain([&ours.total]).zip(theirs) {
            let (correct, incorrect) = (
                t[1].as_u64().unwrap() as usize,
                t[2].as_u64().unwrap() as usize,
            );
            assert_eq!(
                (s.correct, s.answered),
                (correct, correct + incorrect),
                "restrict {key}: section {} vs gensim {t}",
                s.name
            );
        }
        assert_eq!(ours.total.answered + ours.total.skipped, questions);
        // Both passes must score some questions, right and wrong ones, for the comparison to bite.
        assert!(
            ours.total.correct > 0 && ours.total.correct < ours.total.answered,
            "restrict {key}: a benchmark with right and wrong answers"
        );
        eprintln!("{ours}");
    }

    let pairs = read_similarity(similarity).unwrap();
    let ours = evaluate_similarity(&index, "pairs", &pairs);
    eprintln!("{ours}");
    assert!(
        (ours.spearman - gensim["spearman"].as_f64().unwrap()).abs() < 1e-6,
        "spearman {} vs {}",
        ours.spearman,
        gensim["spearman"]
    );
    assert!(
        (ours.pearson - gensim["pearson"].as_f64().unwrap()).abs() < 1e-6,
        "pearson {} vs {}",
        ours.pearson,
        gensim["pearson"]
    );
    let oov_ratio = 100.0 * ours.skipped as f64 / pairs.len() as f64;
    assert!((oov_ratio - gensim["oov_ratio"].as_f64().unwrap()).abs() < 1e-9);
    assert!(ours.skipped >= 1 && ours.used > 100);
}

const NUMPY_LOADS: &str = r#"
import json, sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file
out = []
for path in sys.argv[1:]:
    t = load_file(path)
    with safe_open(path, framework="np") as f:
        meta = f.metadata()
    out.append({
        "dtypes": {k: str(v.dtype) for k, v in t.items()},
        "shapes": {k: list(v.shape) for k, v in t.items()},
        "w_in": t["w_in"].astype(float).tolist(),
        "w_out": t["w_out"].astype(float).tolist(),
        "adam_v_out": t["adam_v_out"].astype(float).tolist(),
        "counts": [int(c) for c in t["counts"]],
        "words": json.loads(meta["words"]),
        "settings": json.loads(meta["settings"]),
        "next_token": int(meta["next_token"]),
    })
print(json.dumps(out))
"#;

#[test]
#[ignore = "needs the Python env: bash scripts/python-env.sh (scripts/test.sh runs these)"]
fn numpy_loads_our_checkpoint() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Lcg(5);
    let (v, d) = (6, 5);
    let ck = Checkpoint {
        words: ["the", "a", "naïve", "\"q\"", "<unk>", "N"]
            .map(String::from)
            .to_vec(),
        counts: vec![1 << 40, 900, 80, 7, 6, 5],
        dim: d,
        w_in: rng.vec(v * d, 0.1),
        w_out: rng.vec(v * d, 0.01),
        adam: Some([
            rng.vec(v * d, 1e-3),
            rng.vec(v * d, 1e-8),
            rng.vec(v * d, 1e-3),
            rng.vec(v * d, 1e-9),
        ]),
        adam_t: 11,
        epoch: 1,
        next_token: 98_765,
        settings_json: r#"{"model":"cbow","dim":5}"#.into(),
        seed: 42,
    };
    let (p32, p16) = (
        dir.path().join("ck32.safetensors"),
        dir.path().join("ck16.safetensors"),
    );
    save_checkpoint(&p32, &ck, SaveDtype::F32).unwrap();
    save_checkpoint(&p16, &ck, SaveDtype::F16).unwrap();
    let got = run_python(&py, dir.path(), NUMPY_LOADS, &[&p32, &p16]);
    for (k, (file, dtype)) in [(&p32, "float32"), (&p16, "float16")]
        .into_iter()
        .enumerate()
    {
        let g = &got[k];
        assert_eq!(g["dtypes"]["w_in"], dtype);
        assert_eq!(g["dtypes"]["adam_m_in"], "float32");
        assert_eq!(g["dtypes"]["counts"], "uint64");
        assert_eq!(g["shapes"]["w_out"], serde_json::json!([v, d]));
        assert_eq!(words(&g["words"]), ck.words);
        assert_eq!(g["settings"]["model"], "cbow");
        assert_eq!(g["next_token"], 98_765);
        let counts: Vec<u64> = g["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .collect();
        assert_eq!(counts, ck.counts);
        assert_eq!(floats(&g["adam_v_out"]), ck.adam.as_ref().unwrap()[3]);
        // numpy sees exactly what our loader sees.
        let ours = load_checkpoint(file).unwrap();
        assert_eq!(floats(&g["w_in"]), ours.w_in);
        assert_eq!(floats(&g["w_out"]), ours.w_out);
    }
    assert_eq!(floats(&got[0]["w_in"]), ck.w_in);
}

/// benches/compare_gensim.py end to end on a small corpus: it finds our summary line and scores
/// both vector sets (no benchmark data from outside the repository).
#[test]
#[ignore = "needs the Python env: bash scripts/python-env.sh (scripts/test.sh runs these)"]
fn gensim_comparison_script_runs() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_w2v-gpu"));
    let (corpus, analogies) = (dir.path().join("corpus.txt"), dir.path().join("q.txt"));
    let synthetic = Command::new(exe)
        .args([
            "synthetic",
            "--output",
            corpus.to_str().unwrap(),
            "--questions",
            analogies.to_str().unwrap(),
        ])
        .args(["--sentences-per-word", "30"])
        .output()
        .unwrap();
    assert!(
        synthetic.status.success(),
        "{}",
        String::from_utf8_lossy(&synthetic.stderr)
    );
    if !corpus.exists() {
        skip("the w2v-gpu binary wrote no corpus: it was built without the CLI");
        return;
    }
    let pairs = dir.path().join("pairs.tsv");
    std::fs::write(&pairs, "# pairs\nking\tqueen\t8.5\nman\twoman\t8.0\nking\tman\t5.5\nqueen\twoman\t5.0\nking\twoman\t3.0\n").unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/compare_gensim.py");
    let out = Command::new(&py)
        .arg(&script)
        .args([
            "--corpus".as_ref(),
            corpus.as_os_str(),
            "--binary".as_ref(),
            exe.as_os_str(),
        ])
        .args([
            "--wordsim".as_ref(),
            pairs.as_os_str(),
            "--simlex".as_ref(),
            pairs.as_os_str(),
        ])
        .args(["--analogies".as_ref(), analogies.as_os_str()])
        .args(["--epochs", "1", "--threads", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "| words/s |",
        "| peak memory (MiB) |",
        "| WordSim-353 Spearman",
        "| SimLex-999 Spearman",
        "| analogy accuracy",
    ] {
        assert!(stdout.contains(row), "no row {row:?} in:\n{stdout}");
    }
}

const GENSIM_QUERIES: &str = r#"
import json, sys
from gensim.models import KeyedVectors
kv = KeyedVectors.load_word2vec_format(sys.argv[1], binary=True)
queries = json.loads(open(sys.argv[2]).read())
out = []
for q in queries:
    add = kv.most_similar(positive=q["pos"], negative=q["neg"], topn=8)
    mul = kv.most_similar_cosmul(positive=q["pos"], negative=q["neg"], topn=8)
    out.append({"add": [w for w, _ in add], "mul": [w for w, _ in mul],
                "odd": kv.doesnt_match(q["pos"] + q["neg"]),
                "sim": float(kv.similarity(q["pos"][0], (q["pos"] + q["neg"])[-1]))})
print(json.dumps(out))
"#;

/// `similar` with several positive and negative words, `--cosmul`, `doesnt-match` and `similarity`
/// answer as gensim's `most_similar`, `most_similar_cosmul`, `doesnt_match` and `similarity` do on
/// the same file (random vectors, so no answer is forced by structure).
#[test]
#[ignore = "needs the Python env: bash scripts/python-env.sh (scripts/test.sh runs these)"]
fn queries_equal_gensims() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Lcg(77);
    let names: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
    let data: Vec<f32> = (0..names.len()).flat_map(|_| rng.vec(16, 1.0)).collect();
    let emb = Embeddings::new(names, 16, data);
    let bin = dir.path().join("v.bin");
    write_vectors(&bin, &emb, VectorFormat::Bin).unwrap();
    let queries: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["w1", "w2"], vec!["w3"]),
        (vec!["w10", "w20", "w30"], vec![]),
        (vec!["w5"], vec!["w6", "w7"]),
        (vec!["w100", "w200"], vec!["w150", "w250"]),
    ];
    let spec = serde_json::json!(queries
        .iter()
        .map(|(p, n)| serde_json::json!({"pos": p, "neg": n}))
        .collect::<Vec<_>>());
    let qfile = dir.path().join("q.json");
    std::fs::write(&qfile, spec.to_string()).unwrap();
    let gensim = run_python(&py, dir.path(), GENSIM_QUERIES, &[&bin, &qfile]);
    let bin_s = bin.to_str().unwrap();
    let ours = |args: &[&str]| -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_w2v-gpu"))
            .args(args)
            .args(["--vectors", bin_s, "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let answer_words = |v: &Value| -> Vec<String> {
        v["neighbours"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["word"].as_str().unwrap().to_string())
            .collect()
    };
    for ((pos, neg), theirs) in queries.iter().zip(gensim.as_array().unwrap()) {
        let mut args = vec!["similar", "-k", "8"];
        args.extend(pos);
        for n in neg {
            args.extend(["--negative", n]);
        }
        assert_eq!(
            answer_words(&ours(&args)),
            words(&theirs["add"]),
            "{pos:?} - {neg:?}"
        );
        args.push("--cosmul");
        assert_eq!(
            answer_words(&ours(&args)),
            words(&theirs["mul"]),
            "cosmul {pos:?} - {neg:?}"
        );
        let all: Vec<&str> = pos.iter().chain(neg).copied().collect();
        let mut odd = vec!["doesnt-match"];
        odd.extend(&all);
        assert_eq!(ours(&odd)["doesnt_match"], theirs["odd"], "{all:?}");
        let sim = ours(&["similarity", all[0], all[all.len() - 1]])["similarity"]
            .as_f64()
            .unwrap();
        assert!(
            (sim - theirs["sim"].as_f64().unwrap()).abs() < 1e-5,
            "{all:?}"
        );
    }
}

const LOADS_EXPORTS: &str = r#"
import json, sys
import numpy as np
from gensim.models import KeyedVectors
from safetensors.numpy import load_file
d = sys.argv[1]
out = {}
for name, binary in [("in.bin", True), ("out.txt", False), ("avg.vec", False)]:
    kv = KeyedVectors.load_word2vec_format(f"{d}/{name}", binary=binary)
    out[name] = {"words": list(kv.index_to_key), "vectors": kv.vectors.astype(float).tolist()}
a = np.load(f"{d}/top.npy")
vocab = [l.split(" ") for l in open(f"{d}/top.vocab", encoding="utf-8").read().splitlines()]
out["top.npy"] = {"dtype": str(a.dtype), "shape": list(a.shape), "vectors": a.astype(float).tolist(),
                  "words": [w for w, _ in vocab], "counts": [int(c) for _, c in vocab]}
t = load_file(f"{d}/all.safetensors")
out["all.safetensors"] = {"dtype": str(t["vectors"].dtype), "vectors": t["vectors"].astype(float).tolist(),
                          "words": bytes(t["words"]).decode("utf-8").split("\n")[:-1],
                          "counts": [int(c) for c in t["counts"]]}
print(json.dumps(out))
"#;

/// `export` writes every format so that the tools load it: gensim reads the bin/text/vec exports of
/// W_in, W_out and their mean; numpy reads the `.npy` (and its vocabulary file), and
/// `safetensors.numpy.load_file` reads the vectors, counts and the vocabulary tensor; each holds
/// exactly the checkpoint's rows.
#[test]
#[ignore = "needs the Python env: bash scripts/python-env.sh (scripts/test.sh runs these)"]
fn tools_load_every_export_format() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Lcg(8);
    let (v, d) = (7, 4);
    let ck = Checkpoint {
        words: ["the", "of", "königin", "x_y", "1999", "<unk>", "rare"]
            .map(String::from)
            .to_vec(),
        counts: vec![500, 300, 40, 20, 9, 5, 1],
        dim: d,
        w_in: rng.vec(v * d, 0.5),
        w_out: rng.vec(v * d, 0.5),
        adam: None,
        adam_t: 0,
        epoch: 2,
        next_token: 0,
        settings_json: "{}".into(),
        seed: 1,
    };
    let ckp = dir.path().join("ck.safetensors");
    save_checkpoint(&ckp, &ck, SaveDtype::F32).unwrap();
    let export = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_w2v-gpu"))
            .arg("export")
            .arg(&ckp)
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    export(&["-o", "in.bin"]);
    export(&["-o", "out.txt", "--which", "out"]);
    export(&["-o", "avg.vec", "--which", "sum"]);
    export(&["-o", "top.npy", "--limit", "3"]);
    export(&["-o", "all.safetensors", "--min-count", "5"]);
    let got = run_python(&py, dir.path(), LOADS_EXPORTS, &[dir.path()]);
    let avg: Vec<f32> = ck
        .w_in
        .iter()
        .zip(&ck.w_out)
        .map(|(a, b)| (a + b) / 2.0)
        .collect();
    assert_eq!(words(&got["in.bin"]["words"]), ck.words);
    assert_eq!(
        floats(&got["in.bin"]["vectors"]),
        ck.w_in,
        "binary is exact"
    );
    assert_close(
        &floats(&got["out.txt"]["vectors"]),
        &ck.w_out,
        1e-6,
        "W_out as text",
    );
    assert_close(
        &floats(&got["avg.vec"]["vectors"]),
        &avg,
        1e-6,
        "the mean as .vec",
    );
    let top = &got["top.npy"];
    assert_eq!(top["dtype"], "float32");
    assert_eq!(top["shape"], serde_json::json!([3, d]));
    assert_eq!(floats(&top["vectors"]), ck.w_in[..3 * d]);
    assert_eq!(words(&top["words"]), ck.words[..3]);
    assert_eq!(top["counts"], serde_json::json!([500, 300, 40]));
    let all = &got["all.safetensors"];
    assert_eq!(all["dtype"], "float32");
    assert_eq!(
        words(&all["words"]),
        ck.words[..6],
        "words counted 5 times or more"
    );
    assert_eq!(floats(&all["vectors"]), ck.w_in[..6 * d]);
    assert_eq!(all["counts"], serde_json::json!([500, 300, 40, 20, 9, 5]));
}

/// Reads `before` and `after` (word2vec binary) with gensim; for each word of `words` (a file, one
/// a line): whether its vector is the same in both, and how many of its 10 nearest neighbours in
/// `before` are still among its 10 in `after`.
const NEIGHBOURS_KEPT: &str = r#"
import json, sys
from gensim.models import KeyedVectors
before = KeyedVectors.load_word2vec_format(sys.argv[1], binary=True)
after = KeyedVectors.load_word2vec_format(sys.argv[2], binary=True)
words = open(sys.argv[3]).read().split()
old = len(before.key_to_index)
near = lambda kv, w, r=None: {n for n, _ in kv.most_similar(w, topn=10, restrict_vocab=r)}
print(json.dumps({
    "same": sum(bool((before[w] == after[w]).all()) for w in words),
    "kept": [len(near(before, w) & near(after, w)) for w in words],
    "kept_old": [len(near(before, w) & near(after, w, old)) for w in words],
    "after_len": len(after.key_to_index),
}))
"#;

#[test]
#[ignore = "needs the Python env: bash scripts/python-env.sh (scripts/test.sh runs these)"]
fn gensim_sees_old_words_keep_their_vectors_and_neighbours_after_a_continue() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bin = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_w2v-gpu"))
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {err}");
    };
    bin(&[
        "synthetic",
        "--output",
        "old.txt",
        "--sentences-per-word",
        "20",
    ]);
    let common = [
        "--dim",
        "16",
        "--min-count",
        "1",
        "--threads",
        "1",
        "--device",
        "cpu",
    ];
    let mut first = vec!["train", "--corpus", "old.txt", "--epochs", "3"];
    first.extend(["--checkpoint", "ck.safetensors", "--output", "before.bin"]);
    first.extend(common);
    bin(&first);
    // New text: 30 words the model never saw, among four frequent old ones.
    let mut rng = Lcg(3);
    let mut new = String::new();
    for _ in 0..600 {
        for _ in 0..8 {
            let r = (rng.next() + 1.0) / 2.0;
            let old = ["the", "of", "a", "in"];
            let w = match (r * 40.0) as usize {
                i if i < 4 => old[i].to_string(),
                i => format!("zq{}", i % 30),
            };
            new.push_str(&w);
            new.push(' ');
        }
        new.push('\n');
    }
    std::fs::write(d.join("new.txt"), &new).unwrap();
    let mut cont = vec![
        "train",
        "--resume",
        "ck.safetensors",
        "--continue-on",
        "new.txt",
    ];
    cont.extend(["--update-vocab", "--output", "after.bin", "--device", "cpu"]);
    cont.extend(["--threads", "1"]);
    bin(&cont);
    let before = read_vectors(&d.join("before.bin")).unwrap();
    let in_new: std::collections::HashSet<&str> = new.split_whitespace().collect();
    let absent: Vec<&str> = before
        .words
        .iter()
        .map(String::as_str)
        .filter(|w| !in_new.contains(w))
        .collect();
    std::fs::write(d.join("absent.txt"), absent.join("\n")).unwrap();
    let got = run_python(
        &py,
        d,
        NEIGHBOURS_KEPT,
        &[
            &d.join("before.bin"),
            &d.join("after.bin"),
            &d.join("absent.txt"),
        ],
    );
    assert_eq!(got["after_len"], before.len() + 30);
    // Words absent from the new text: the same vectors bit for bit, as gensim reads them.
    assert_eq!(got["same"], absent.len());
    // And their neighbourhoods: among the old words (gensim's restrict_vocab), of their 10
    // nearest at least 9 on average are still there (9.6 here: only the four old words the new
    // text moved can displace one). Over the whole vocabulary the 30 new words, trained apart
    // from them, take some places: at least 6 of 10 stay (6.9 here).
    let mean = |key: &str| {
        let k = got[key].as_array().unwrap();
        k.iter().map(|k| k.as_f64().unwrap()).sum::<f64>() / k.len() as f64
    };
    assert!(
        mean("kept_old") >= 9.0,
        "old neighbours kept: {}",
        mean("kept_old")
    );
    assert!(mean("kept") >= 6.0, "neighbours kept: {}", mean("kept"));
}

const GENSIM_INIT: &str = r#"
import json, sys
import numpy as np
from gensim.models import KeyedVectors
d = sys.argv[1]
if sys.argv[2] == "write":
    rng = np.random.default_rng(11)
    words = ["king", "queen", "paris", "dogs", "walked", "zzunknown"]
    kv = KeyedVectors(16)
    kv.add_vectors(words, (rng.standard_normal((len(words), 16)) * 0.3).astype(np.float32))
    kv.save_word2vec_format(f"{d}/init.vec", binary=False)
    print(json.dumps({"words": words}))
else:
    init = KeyedVectors.load_word2vec_format(f"{d}/init.vec", binary=False)
    ours = KeyedVectors.load_word2vec_format(f"{d}/out.bin", binary=True)
    kept = [w for w in init.index_to_key if w in ours.key_to_index]
    diff = max(float(np.abs(init[w] - ours[w]).max()) for w in kept)
    moved = float(np.abs(ours["throne"]).max())
    print(json.dumps({"kept": kept, "max_diff": diff, "unknown_in_ours": "zzunknown" in ours.key_to_index, "moved": moved}))
"#;

/// `--init-vectors` with `--freeze-init` on a fastText/gensim `.vec` file that gensim wrote: gensim
/// reads our output and finds every matched word's vector exactly as it wrote it, the word the
/// corpus lacks absent, and the other words trained.
#[test]
#[ignore = "needs the Python env: bash scripts/python-env.sh (scripts/test.sh runs these)"]
fn gensim_finds_its_vectors_frozen_after_init_vectors() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let d_arg = d.to_path_buf();
    run_python(&py, d, GENSIM_INIT, &[&d_arg, Path::new("write")]);
    let out = Command::new(env!("CARGO_BIN_EXE_w2v-gpu"))
        .args(["train", "--dim", "16", "--epochs", "1", "--device", "cpu"])
        .args([
            "--init-vectors",
            "init.vec",
            "--freeze-init",
            "-o",
            "out.bin",
        ])
        .current_dir(d)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("init: 5 of"), "{stdout}");
    let got = run_python(&py, d, GENSIM_INIT, &[&d_arg, Path::new("check")]);
    assert_eq!(
        words(&got["kept"]),
        ["king", "queen", "paris", "dogs", "walked"]
    );
    assert!(got["max_diff"].as_f64().unwrap() < 1e-6, "{got}");
    assert_eq!(got["unknown_in_ours"], false);
    assert!(got["moved"].as_f64().unwrap() > 0.0, "{got}");
}
