//! Per-epoch training metrics to a CSV, JSON-lines or JSON file, rewritten whole after every
//! epoch so that the file on disk is always complete (an interrupted run leaves the epochs it
//! finished).
//!
//! CSV columns: `epoch,words,words_total,seconds,elapsed,loss,words_per_sec,lr`, then
//! `analogy,analogy_semantic,analogy_syntactic,analogy_answered,analogy_skipped`, then per
//! similarity benchmark `spearman:<name>,pearson:<name>,pairs:<name>,skipped:<name>`; missing
//! values are empty cells. `.jsonl`: one object per epoch with the same values (`analogy` an
//! object or `null`, `similarity` an object name → scores). `.json`: one document,
//! `{"epochs": [those objects]}`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::output::fsutil::{check_writable, write_atomic};

/// What one epoch of training reports.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: u32,
    /// Raw corpus words of this epoch.
    pub words: u64,
    /// Raw corpus words processed so far in this run (all its epochs).
    pub words_total: u64,
    /// Training time of the epoch (evaluation and checkpoints excluded).
    pub seconds: f64,
    /// Wall time since training started, at the end of the epoch (everything included).
    pub elapsed: f64,
    /// Mean binary cross-entropy per example over the epoch.
    pub loss: f64,
    pub words_per_sec: f64,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Analogy accuracy, when evaluated.
    pub analogy: Option<AnalogyMetrics>,
    /// One entry per similarity benchmark.
    pub similarity: Vec<SimilarityMetrics>,
}

/// Analogy accuracy in total and split; NaN where no question of the group was answered.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalogyMetrics {
    pub total: f64,
    pub semantic: f64,
    pub syntactic: f64,
    /// Questions scored, and skipped (a word outside the vocabulary).
    pub answered: usize,
    pub skipped: usize,
}

/// A similarity benchmark's correlations and the pairs they cover.
#[derive(Clone, Debug, PartialEq)]
pub struct SimilarityMetrics {
    pub name: String,
    pub spearman: f64,
    pub pearson: f64,
    /// Pairs scored, and skipped (a word outside the vocabulary).
    pub pairs: usize,
    pub skipped: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Csv,
    JsonLines,
    Json,
}

/// Accumulates epochs and keeps `path` up to date.
#[derive(Debug)]
pub struct MetricsWriter {
    path: PathBuf,
    layout: Layout,
    rows: Vec<EpochMetrics>,
}

impl MetricsWriter {
    /// Chooses the layout by extension (`.csv`, `.jsonl`/`.ndjson` for JSON lines, `.json` for one
    /// document) and checks now, before training, that the file can be written.
    pub fn create(path: &Path) -> Result<MetricsWriter> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let layout = match ext.as_deref() {
            Some("csv") => Layout::Csv,
            Some("jsonl" | "ndjson") => Layout::JsonLines,
            Some("json") => Layout::Json,
            _ => {
                return Err(Error::Config(format!(
                    "--metrics '{}': unknown file type; name it *.csv, *.jsonl or *.json",
                    path.display()
                )))
            }
        };
        check_writable(path)?;
        Ok(MetricsWriter {
            path: path.to_path_buf(),
            layout,
            rows: Vec::new(),
        })
    }

    /// Adds an epoch and rewrites the file atomically.
    pub fn write(&mut self, m: &EpochMetrics) -> Result<()> {
        self.rows.push(m.clone());
        let text = match self.layout {
            Layout::Csv => csv(&self.rows),
            Layout::JsonLines => self
                .rows
                .iter()
                .map(|r| format!("{}\n", row_json(r)))
                .collect(),
            Layout::Json => {
                let epochs: Vec<Value> = self.rows.iter().map(row_json).collect();
                let doc = json!({ "epochs": epochs });
                format!(
                    "{}\n",
                    serde_json::to_string_pretty(&doc).expect("JSON values print")
                )
            }
        };
        write_atomic(&self.path, |w| w.write_all(text.as_bytes()))
    }
}

/// Benchmark names in order of first appearance.
fn similarity_names(rows: &[EpochMetrics]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for s in rows.iter().flat_map(|r| &r.similarity) {
        if !names.contains(&s.name.as_str()) {
            names.push(&s.name);
        }
    }
    names
}

const CSV_HEAD: &str = "epoch,words,words_total,seconds,elapsed,loss,words_per_sec,lr,analogy,analogy_semantic,analogy_syntactic,analogy_answered,analogy_skipped";

fn csv(rows: &[EpochMetrics]) -> String {
    let names = similarity_names(rows);
    let mut out = String::from(CSV_HEAD);
    for name in &names {
        for what in ["spearman", "pearson", "pairs", "skipped"] {
            out.push(',');
            out.push_str(&csv_field(&format!("{what}:{name}")));
        }
    }
    out.push('\n');
    let cell = |x: Option<f64>| {
        x.filter(|v| v.is_finite())
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    let count = |x: Option<usize>| x.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        let a = r.analogy.as_ref();
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.epoch,
            r.words,
            r.words_total,
            cell(Some(r.seconds)),
            cell(Some(r.elapsed)),
            cell(Some(r.loss)),
            cell(Some(r.words_per_sec)),
            cell(Some(r.lr)),
            cell(a.map(|a| a.total)),
            cell(a.map(|a| a.semantic)),
            cell(a.map(|a| a.syntactic)),
            count(a.map(|a| a.answered)),
            count(a.map(|a| a.skipped)),
        );
        for name in &names {
            let s = r.similarity.iter().find(|s| s.name == *name);
            let _ = write!(
                out,
                ",{},{},{},{}",
                cell(s.map(|s| s.spearman)),
                cell(s.map(|s| s.pearson)),
                count(s.map(|s| s.pairs)),
                count(s.map(|s| s.skipped))
            );
        }
        out.push('\n');
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A finite number, else `null` (JSON has no NaN).
fn number(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

/// One epoch as a JSON object, its fields in the CSV's order (serde_json keeps insertion order
/// here: the `preserve_order` feature).
fn row_json(r: &EpochMetrics) -> Value {
    let analogy = r.analogy.as_ref().map_or(Value::Null, |a| {
        json!({
            "accuracy": number(a.total),
            "semantic": number(a.semantic),
            "syntactic": number(a.syntactic),
            "answered": a.answered,
            "skipped": a.skipped,
        })
    });
    let similarity: Map<String, Value> = r
        .similarity
        .iter()
        .map(|s| {
            let v = json!({
                "spearman": number(s.spearman),
                "pearson": number(s.pearson),
                "pairs": s.pairs,
                "skipped": s.skipped,
            });
            (s.name.clone(), v)
        })
        .collect();
    json!({
        "epoch": r.epoch,
        "words": r.words,
        "words_total": r.words_total,
        "seconds": number(r.seconds),
        "elapsed": number(r.elapsed),
        "loss": number(r.loss),
        "words_per_sec": number(r.words_per_sec),
        "lr": number(r.lr),
        "analogy": analogy,
        "similarity": similarity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(e: u32, analogy: bool, sims: &[(&str, f64)]) -> EpochMetrics {
        EpochMetrics {
            epoch: e,
            words: 1000,
            words_total: 1000 * u64::from(e),
            seconds: 0.5,
            elapsed: 0.75 * f64::from(e),
            loss: 0.5 / f64::from(e),
            words_per_sec: 12345.5,
            lr: 0.02 / f64::from(e),
            analogy: analogy.then_some(AnalogyMetrics {
                total: 0.75,
                semantic: 0.5,
                syntactic: f64::NAN,
                answered: 4,
                skipped: 2,
            }),
            similarity: sims
                .iter()
                .map(|(n, v)| SimilarityMetrics {
                    name: n.to_string(),
                    spearman: *v,
                    pearson: 0.25,
                    pairs: 10,
                    skipped: 3,
                })
                .collect(),
        }
    }

    #[test]
    fn csv_has_a_header_and_one_whole_row_per_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        let mut w = MetricsWriter::create(&p).unwrap();
        w.write(&epoch(1, false, &[])).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            format!("{CSV_HEAD}\n1,1000,1000,0.5,0.75,0.5,12345.5,0.02,,,,,\n")
        );
        w.write(&epoch(2, true, &[("ws,353", 0.6), ("simlex", f64::NAN)]))
            .unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!("{CSV_HEAD},\"spearman:ws,353\",\"pearson:ws,353\",\"pairs:ws,353\",\"skipped:ws,353\",spearman:simlex,pearson:simlex,pairs:simlex,skipped:simlex")
        );
        assert_eq!(
            lines[1],
            "1,1000,1000,0.5,0.75,0.5,12345.5,0.02,,,,,,,,,,,,,"
        );
        assert_eq!(
            lines[2],
            "2,1000,2000,0.5,1.5,0.25,12345.5,0.01,0.75,0.5,,4,2,0.6,0.25,10,3,,0.25,10,3"
        );
        assert_eq!(lines.len(), 3);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary files left"
        );
    }

    #[test]
    fn json_lines_and_json_parse_back_alike() {
        let dir = tempfile::tempdir().unwrap();
        let (pl, pj) = (dir.path().join("m.jsonl"), dir.path().join("m.json"));
        let mut wl = MetricsWriter::create(&pl).unwrap();
        let mut wj = MetricsWriter::create(&pj).unwrap();
        for m in [epoch(1, true, &[("ws", 0.61)]), epoch(2, false, &[])] {
            wl.write(&m).unwrap();
            wj.write(&m).unwrap();
        }
        let text = std::fs::read_to_string(&pl).unwrap();
        let rows: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["similarity"]["ws"]["spearman"], 0.61);
        assert_eq!(rows[0]["similarity"]["ws"]["pearson"], 0.25);
        assert_eq!(rows[0]["similarity"]["ws"]["skipped"], 3);
        assert_eq!(rows[0]["analogy"]["accuracy"], 0.75);
        assert_eq!(rows[0]["analogy"]["semantic"], 0.5);
        assert!(rows[0]["analogy"]["syntactic"].is_null());
        assert!(rows[1]["analogy"].is_null());
        assert_eq!(rows[1]["words_total"], 2000);
        assert_eq!(rows[1]["elapsed"], 1.5);
        assert!(text.starts_with("{\"epoch\":1,\"words\":1000,\"words_total\":1000,"));
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&pj).unwrap()).unwrap();
        assert_eq!(doc["epochs"].as_array().unwrap(), &rows);
    }

    #[test]
    fn unknown_extension_and_unwritable_path_fail_early() {
        let dir = tempfile::tempdir().unwrap();
        let e = MetricsWriter::create(&dir.path().join("m.xlsx"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--metrics") && e.contains("*.json"), "{e}");
        assert!(MetricsWriter::create(&dir.path().join("no/dir/m.csv")).is_err());
    }
}
