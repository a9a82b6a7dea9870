//! Per-epoch training metrics to a CSV or JSON-lines file, rewritten whole after every epoch so
//! that the file on disk is always complete (an interrupted run leaves the epochs it finished).
//!
//! CSV columns: `epoch,words,loss,words_per_sec,lr,analogy`, then one `spearman:<name>` column per
//! similarity benchmark; missing values are empty cells. JSON lines: one object per epoch with
//! the same fields, `analogy` `null` when not evaluated and `similarity` an object name → Spearman.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::output::fsutil::{check_writable, write_atomic};

/// What one epoch of training reports.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: u32,
    /// Raw corpus words processed so far (all epochs).
    pub words: u64,
    /// Mean binary cross-entropy per example over the epoch.
    pub loss: f64,
    pub words_per_sec: f64,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Total analogy accuracy, when evaluated.
    pub analogy: Option<f64>,
    /// Spearman correlation per similarity benchmark (name, value).
    pub similarity: Vec<(String, f64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Csv,
    JsonLines,
}

/// Accumulates epochs and keeps `path` up to date.
#[derive(Debug)]
pub struct MetricsWriter {
    path: PathBuf,
    layout: Layout,
    rows: Vec<EpochMetrics>,
}

impl MetricsWriter {
    /// Chooses the layout by extension (`.csv`, or `.jsonl` / `.json` for JSON lines) and checks
    /// now, before training, that the file can be written.
    pub fn create(path: &Path) -> Result<MetricsWriter> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let layout = match ext.as_deref() {
            Some("csv") => Layout::Csv,
            Some("jsonl" | "json" | "ndjson") => Layout::JsonLines,
            _ => {
                return Err(Error::Config(format!(
                    "--metrics '{}': unknown file type; name it *.csv or *.jsonl",
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
            Layout::JsonLines => json_lines(&self.rows),
        };
        write_atomic(&self.path, |w| w.write_all(text.as_bytes()))
    }
}

/// Benchmark names in order of first appearance.
fn similarity_names(rows: &[EpochMetrics]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in rows.iter().flat_map(|r| &r.similarity) {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    names
}

fn csv(rows: &[EpochMetrics]) -> String {
    let names = similarity_names(rows);
    let mut out = String::from("epoch,words,loss,words_per_sec,lr,analogy");
    for name in &names {
        out.push(',');
        out.push_str(&csv_field(&format!("spearman:{name}")));
    }
    out.push('\n');
    let cell = |x: Option<f64>| {
        x.filter(|v| v.is_finite())
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    for r in rows {
        let _ = write!(
            out,
            "{},{},{},{},{},{}",
            r.epoch,
            r.words,
            cell(Some(r.loss)),
            cell(Some(r.words_per_sec)),
            cell(Some(r.lr)),
            cell(r.analogy)
        );
        for name in &names {
            let value = r
                .similarity
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| *v);
            let _ = write!(out, ",{}", cell(value));
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

fn json_lines(rows: &[EpochMetrics]) -> String {
    use serde_json::{json, Map, Value};
    let number = |x: f64| if x.is_finite() { json!(x) } else { Value::Null };
    let mut out = String::new();
    for r in rows {
        let similarity: Map<String, Value> = r
            .similarity
            .iter()
            .map(|(n, v)| (n.clone(), number(*v)))
            .collect();
        // Fields in a fixed, readable order: serde_json's map would sort them.
        let fields = [
            ("epoch", json!(r.epoch)),
            ("words", json!(r.words)),
            ("loss", number(r.loss)),
            ("words_per_sec", number(r.words_per_sec)),
            ("lr", number(r.lr)),
            ("analogy", r.analogy.map_or(Value::Null, number)),
            ("similarity", Value::Object(similarity)),
        ];
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        let _ = writeln!(out, "{{{}}}", body.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(e: u32, analogy: Option<f64>, sims: &[(&str, f64)]) -> EpochMetrics {
        EpochMetrics {
            epoch: e,
            words: 1000 * u64::from(e),
            loss: 0.5 / f64::from(e),
            words_per_sec: 12345.5,
            lr: 0.02 / f64::from(e),
            analogy,
            similarity: sims.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn csv_has_a_header_and_one_whole_row_per_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        let mut w = MetricsWriter::create(&p).unwrap();
        w.write(&epoch(1, None, &[])).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "epoch,words,loss,words_per_sec,lr,analogy\n1,1000,0.5,12345.5,0.02,\n"
        );
        w.write(&epoch(
            2,
            Some(0.75),
            &[("ws,353", 0.6), ("simlex", f64::NAN)],
        ))
        .unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "epoch,words,loss,words_per_sec,lr,analogy,\"spearman:ws,353\",spearman:simlex"
        );
        assert_eq!(lines[1], "1,1000,0.5,12345.5,0.02,,,");
        assert_eq!(lines[2], "2,2000,0.25,12345.5,0.01,0.75,0.6,");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary files left"
        );
    }

    #[test]
    fn json_lines_parse_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.jsonl");
        let mut w = MetricsWriter::create(&p).unwrap();
        w.write(&epoch(1, Some(0.5), &[("ws", 0.61)])).unwrap();
        w.write(&epoch(2, None, &[])).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let rows: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["similarity"]["ws"], 0.61);
        assert_eq!(rows[0]["analogy"], 0.5);
        assert!(rows[1]["analogy"].is_null());
        assert_eq!(rows[1]["words"], 2000);
        assert!(text.starts_with("{\"epoch\":1,\"words\":1000,"));
    }

    #[test]
    fn unknown_extension_and_unwritable_path_fail_early() {
        let dir = tempfile::tempdir().unwrap();
        assert!(MetricsWriter::create(&dir.path().join("m.xlsx"))
            .unwrap_err()
            .to_string()
            .contains("--metrics"));
        assert!(MetricsWriter::create(&dir.path().join("no/dir/m.csv")).is_err());
    }
}
