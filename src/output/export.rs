//! `export`: a checkpoint's vectors in the formats other tools load.
//!
//! - word2vec binary or text (`.bin`, `.txt`/`.vec`): gensim's `load_word2vec_format`, fastText's
//!   `.vec` readers, word2vec.c's tools;
//! - `.npy` (numpy's `np.load`, via `ndarray-npy`): a `float32` `[words, dim]` array, with the
//!   vocabulary beside it in `NAME.vocab` (word2vec.c's `-save-vocab` layout: `word count` a line,
//!   row order);
//! - `.safetensors` (`safetensors.numpy.load_file`): tensors `vectors` (`F32 [words, dim]`),
//!   `counts` (`I64 [words]`) and `words` (`U8`: the words in row order, UTF-8, each followed by
//!   `\n`), so the vocabulary survives a loader that drops the metadata; `NAME.vocab` is written
//!   beside it too.
//!
//! Which matrix: `in` (W_in, what `train -o` writes), `out` (W_out, the context vectors) or `avg`
//! (their mean, `(W_in + W_out) / 2`; `sum` is accepted as another name, since cosine rankings do
//! not depend on the scale). `--limit N` keeps the first N rows (the most frequent words),
//! `--min-count N` the words counted at least N times.

use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::ArrayView2;
use ndarray_npy::WriteNpyExt;
use safetensors::tensor::{Dtype, TensorView};

use crate::error::{Error, Result};
use crate::output::checkpoint::Checkpoint;
use crate::output::fsutil::write_atomic;
use crate::output::vectors::{write_vectors, Embeddings, VectorFormat};

/// Which of the model's matrices is exported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Which {
    /// W_in, the word vectors.
    #[default]
    In,
    /// W_out, the context (output) vectors.
    Out,
    /// `(W_in + W_out) / 2`.
    Avg,
}

/// The file format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Bin,
    Text,
    Npy,
    Safetensors,
}

impl ExportFormat {
    /// The format an output name implies: `.bin`, `.txt`/`.vec`, `.npy`, `.safetensors`.
    pub fn from_extension(path: &Path) -> Option<ExportFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "bin" => ExportFormat::Bin,
            "txt" | "vec" => ExportFormat::Text,
            "npy" => ExportFormat::Npy,
            "safetensors" => ExportFormat::Safetensors,
            _ => return None,
        })
    }
}

/// The rows an export keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub which: Which,
    /// At most this many rows, the first ones (most frequent words first).
    pub limit: Option<usize>,
    /// Only words counted at least this many times.
    pub min_count: u64,
}

/// The selected vectors of `ck` and the counts of their words.
pub fn select(ck: &Checkpoint, sel: Selection) -> Result<(Embeddings, Vec<u64>)> {
    let (v, d) = (ck.words.len(), ck.dim);
    if sel.which != Which::In && ck.w_out.len() != v * d {
        return Err(Error::Input(format!(
            "the checkpoint's W_out has {} rows, not one per word ({v}); export --which in",
            ck.w_out.len() / d.max(1)
        )));
    }
    let keep: Vec<usize> = (0..v)
        .filter(|&i| ck.counts[i] >= sel.min_count)
        .take(sel.limit.unwrap_or(usize::MAX))
        .collect();
    if keep.is_empty() {
        return Err(Error::Input(format!(
            "no word is left to export: the checkpoint has {v} words, none counted {} times or more; lower --min-count",
            sel.min_count
        )));
    }
    let mut data = Vec::with_capacity(keep.len() * d);
    for &i in &keep {
        let rows = i * d..(i + 1) * d;
        match sel.which {
            Which::In => data.extend_from_slice(&ck.w_in[rows.clone()]),
            Which::Out => data.extend_from_slice(&ck.w_out[rows.clone()]),
            Which::Avg => data.extend(
                ck.w_in[rows.clone()]
                    .iter()
                    .zip(&ck.w_out[rows.clone()])
                    .map(|(a, b)| (a + b) / 2.0),
            ),
        }
    }
    let words = keep.iter().map(|&i| ck.words[i].clone()).collect();
    let counts = keep.iter().map(|&i| ck.counts[i]).collect();
    Ok((Embeddings::new(words, d, data), counts))
}

/// The vocabulary file written beside a `.npy` or `.safetensors` export: `NAME.vocab`.
pub fn vocab_sidecar(path: &Path) -> PathBuf {
    path.with_extension("vocab")
}

/// Writes `emb` (with `counts`) to `path` as `format`, each file whole or not at all; returns the
/// files written (the sidecar vocabulary first, then the vectors).
pub fn write_export(
    path: &Path,
    format: ExportFormat,
    emb: &Embeddings,
    counts: &[u64],
) -> Result<Vec<PathBuf>> {
    match format {
        ExportFormat::Bin => write_vectors(path, emb, VectorFormat::Bin).map(|()| vec![]),
        ExportFormat::Text => write_vectors(path, emb, VectorFormat::Text).map(|()| vec![]),
        ExportFormat::Npy | ExportFormat::Safetensors => {
            let vocab = vocab_sidecar(path);
            let existed = vocab.exists();
            write_vocab(&vocab, &emb.words, counts)?;
            let written = if format == ExportFormat::Npy {
                write_npy(path, emb)
            } else {
                write_safetensors(path, emb, counts)
            };
            if written.is_err() && !existed {
                let _ = std::fs::remove_file(&vocab);
            }
            written.map(|()| vec![vocab])
        }
    }
    .map(|mut files| {
        files.push(path.to_path_buf());
        files
    })
}

/// word2vec.c's vocabulary layout: `word count` a line.
pub fn write_vocab(path: &Path, words: &[String], counts: &[u64]) -> Result<()> {
    write_atomic(path, |out| {
        for (w, c) in words.iter().zip(counts) {
            writeln!(out, "{w} {c}")?;
        }
        Ok(())
    })
}

fn write_npy(path: &Path, emb: &Embeddings) -> Result<()> {
    let array = ArrayView2::from_shape((emb.len(), emb.dim), &emb.data[..])
        .expect("embeddings are [words, dim]");
    write_atomic(path, |out| {
        array.write_npy(out).map_err(std::io::Error::other)
    })
}

fn write_safetensors(path: &Path, emb: &Embeddings, counts: &[u64]) -> Result<()> {
    let vectors: Vec<u8> = emb.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    let counts: Vec<u8> = counts
        .iter()
        .flat_map(|&c| i64::try_from(c).unwrap_or(i64::MAX).to_le_bytes())
        .collect();
    let words: Vec<u8> = emb
        .words
        .iter()
        .flat_map(|w| w.bytes().chain([b'\n']))
        .collect();
    let bad = |e: safetensors::SafeTensorError| {
        Error::Input(format!("cannot write '{}': {e}", path.display()))
    };
    let tensors = [
        (
            "vectors",
            TensorView::new(Dtype::F32, vec![emb.len(), emb.dim], &vectors).map_err(bad)?,
        ),
        (
            "counts",
            TensorView::new(Dtype::I64, vec![emb.len()], &counts).map_err(bad)?,
        ),
        (
            "words",
            TensorView::new(Dtype::U8, vec![words.len()], &words).map_err(bad)?,
        ),
    ];
    let metadata = [
        ("format".to_string(), "w2v-gpu-vectors".to_string()),
        (
            "words_layout".to_string(),
            "UTF-8, each word followed by a newline, in row order".to_string(),
        ),
    ]
    .into_iter()
    .collect();
    let bytes = safetensors::serialize(tensors, Some(metadata)).map_err(bad)?;
    write_atomic(path, |out| out.write_all(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            words: ["the", "cat", "sat", "mat"].map(String::from).to_vec(),
            counts: vec![9, 5, 3, 1],
            dim: 2,
            w_in: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            w_out: vec![-1.0, 0.0, 1.0, 0.0, 3.0, 2.0, 1.0, 0.5],
            adam: None,
            adam_t: 0,
            epoch: 1,
            next_token: 0,
            settings_json: "{}".into(),
            seed: 1,
        }
    }

    #[test]
    fn selection_picks_the_matrix_and_trims_by_count_and_limit() {
        let ck = checkpoint();
        let sel = |which, limit, min_count| Selection {
            which,
            limit,
            min_count,
        };
        let (e, c) = select(&ck, sel(Which::In, None, 0)).unwrap();
        assert_eq!(
            (e.words.len(), e.data, c),
            (4, ck.w_in.clone(), ck.counts.clone())
        );
        let (e, _) = select(&ck, sel(Which::Out, Some(2), 0)).unwrap();
        assert_eq!(e.data, [-1.0, 0.0, 1.0, 0.0]);
        let (e, c) = select(&ck, sel(Which::Avg, None, 3)).unwrap();
        assert_eq!(e.words, ["the", "cat", "sat"]);
        assert_eq!(c, [9, 5, 3]);
        assert_eq!(e.data, [0.0, 1.0, 2.0, 2.0, 4.0, 4.0]);
        let err = select(&ck, sel(Which::In, None, 10))
            .unwrap_err()
            .to_string();
        assert!(err.contains("lower --min-count"), "{err}");
    }

    #[test]
    fn formats_follow_the_extension() {
        let f = |p: &str| ExportFormat::from_extension(Path::new(p));
        assert_eq!(f("v.bin"), Some(ExportFormat::Bin));
        assert_eq!(f("v.VEC"), Some(ExportFormat::Text));
        assert_eq!(f("v.txt"), Some(ExportFormat::Text));
        assert_eq!(f("a/v.npy"), Some(ExportFormat::Npy));
        assert_eq!(f("v.safetensors"), Some(ExportFormat::Safetensors));
        assert_eq!(f("v.pt"), None);
        assert_eq!(f("v"), None);
    }

    #[test]
    fn safetensors_and_npy_exports_hold_the_vocabulary_and_the_values() {
        let dir = tempfile::tempdir().unwrap();
        let ck = checkpoint();
        let (emb, counts) = select(&ck, Selection::default()).unwrap();
        let st = dir.path().join("v.safetensors");
        let files = write_export(&st, ExportFormat::Safetensors, &emb, &counts).unwrap();
        assert_eq!(files, [dir.path().join("v.vocab"), st.clone()]);
        let bytes = std::fs::read(&st).unwrap();
        let t = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(t.tensor("words").unwrap().data(), b"the\ncat\nsat\nmat\n");
        assert_eq!(t.tensor("vectors").unwrap().shape(), [4, 2]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("v.vocab")).unwrap(),
            "the 9\ncat 5\nsat 3\nmat 1\n"
        );
        let npy = dir.path().join("w.npy");
        write_export(&npy, ExportFormat::Npy, &emb, &counts).unwrap();
        let bytes = std::fs::read(&npy).unwrap();
        assert!(bytes.starts_with(b"\x93NUMPY"));
        let tail: Vec<f32> = bytes[bytes.len() - 32..]
            .chunks(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(tail, ck.w_in);
    }
}
