//! The native checkpoint: the whole training state in one safetensors file, to resume training
//! or to load the weights from numpy (`safetensors.numpy.load_file`).
//!
//! Tensors (row-major):
//! - `w_in`, `w_out`: `[rows, dim]`, `F32`, or `F16` with `--save-dtype f16` (loading converts back
//!   to f32, so an f16 checkpoint resumes from rounded weights);
//! - `adam_m_in`, `adam_v_in`, `adam_m_out`, `adam_v_out`: Adam's moments when the run uses Adam,
//!   always `F32` (second moments underflow in f16);
//! - `counts`: `[vocab]`, `U64`, the corpus count of each word (`I64` is accepted on load).
//!
//! The metadata map (string → string) holds `format` = `w2v-gpu-checkpoint`, `version` = `1`,
//! `words` (a JSON array of the vocabulary in id order), `dim`, `epoch`, `next_token`, `adam_t`,
//! `seed` (decimal integers), `settings` (the run's settings as a JSON object) and `checksum`: a
//! JSON object mapping each tensor's name, and `metadata`, to the CRC-32 (8 hex digits) of that
//! tensor's name, dtype, shape and bytes, or of every other metadata key and value in key order.
//! Loading verifies it, so bit rot is refused instead of resumed; checkpoints written before it
//! existed (no `checksum` key) load unverified.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use half::f16;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::input::read::read_input;
use crate::output::fsutil::write_atomic;
use crate::output::vectors::ReadOptions;

const FORMAT: &str = "w2v-gpu-checkpoint";
const VERSION: &str = "1";
const ADAM_NAMES: [&str; 4] = ["adam_m_in", "adam_v_in", "adam_m_out", "adam_v_out"];
const CHECKSUM: &str = "checksum";

/// Element type of the stored weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveDtype {
    /// Exact weights (resuming continues bit-for-bit).
    F32,
    /// Half the size; weights rounded to 11 significant bits.
    F16,
}

/// Everything needed to continue a run where it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub words: Vec<String>,
    pub counts: Vec<u64>,
    pub dim: usize,
    /// `[words.len(), dim]`.
    pub w_in: Vec<f32>,
    /// `[w_out.len() / dim, dim]`.
    pub w_out: Vec<f32>,
    /// Adam's moments `m_in, v_in, m_out, v_out`, shaped as `w_in, w_in, w_out, w_out`.
    pub adam: Option<[Vec<f32>; 4]>,
    /// Adam steps taken so far.
    pub adam_t: u64,
    /// Epochs completed.
    pub epoch: u64,
    /// Position in the encoded corpus (tokens) where the next step starts.
    pub next_token: u64,
    /// The run's settings as a JSON object.
    pub settings_json: String,
    pub seed: u64,
}

/// Writes `ck` to `path` as safetensors, whole or not at all.
pub fn save_checkpoint(path: &Path, ck: &Checkpoint, dtype: SaveDtype) -> Result<()> {
    let bad = |msg: String| {
        Error::Input(format!(
            "cannot save checkpoint '{}': {msg}",
            path.display()
        ))
    };
    let (v, d) = (ck.words.len(), ck.dim);
    if d == 0 || ck.w_in.len() != v * d || ck.counts.len() != v || !ck.w_out.len().is_multiple_of(d)
    {
        return Err(bad(format!(
            "inconsistent shapes: {v} words, {} counts, dim {d}, w_in {} values, w_out {} values",
            ck.counts.len(),
            ck.w_in.len(),
            ck.w_out.len()
        )));
    }
    if let Some(adam) = &ck.adam {
        let expected = [ck.w_in.len(), ck.w_in.len(), ck.w_out.len(), ck.w_out.len()];
        if adam.iter().map(Vec::len).ne(expected) {
            return Err(bad("Adam moments do not match the weights' shapes".into()));
        }
    }
    serde_json::from_str::<serde_json::Value>(&ck.settings_json)
        .map_err(|e| bad(format!("settings are not JSON: {e}")))?;

    let out_rows = ck.w_out.len() / d;
    let weight_bytes = |w: &[f32]| -> Vec<u8> {
        match dtype {
            SaveDtype::F32 => f32_bytes(w),
            SaveDtype::F16 => w
                .iter()
                .flat_map(|&x| f16::from_f32(x).to_le_bytes())
                .collect(),
        }
    };
    let weight_dtype = match dtype {
        SaveDtype::F32 => Dtype::F32,
        SaveDtype::F16 => Dtype::F16,
    };
    let mut buffers: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> = vec![
        ("w_in", weight_dtype, vec![v, d], weight_bytes(&ck.w_in)),
        (
            "w_out",
            weight_dtype,
            vec![out_rows, d],
            weight_bytes(&ck.w_out),
        ),
        (
            "counts",
            Dtype::U64,
            vec![v],
            ck.counts.iter().flat_map(|c| c.to_le_bytes()).collect(),
        ),
    ];
    if let Some(adam) = &ck.adam {
        for (k, (name, m)) in ADAM_NAMES.iter().zip(adam).enumerate() {
            let rows = if k < 2 { v } else { out_rows };
            buffers.push((name, Dtype::F32, vec![rows, d], f32_bytes(m)));
        }
    }
    let views = buffers
        .iter()
        .map(|(name, dt, shape, bytes)| Ok((*name, TensorView::new(*dt, shape.clone(), bytes)?)))
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()
        .map_err(|e| bad(e.to_string()))?;
    let words_json = serde_json::to_string(&ck.words).map_err(|e| bad(e.to_string()))?;
    let mut metadata: HashMap<String, String> = [
        ("format", FORMAT.to_string()),
        ("version", VERSION.to_string()),
        ("words", words_json),
        ("dim", d.to_string()),
        ("epoch", ck.epoch.to_string()),
        ("next_token", ck.next_token.to_string()),
        ("adam_t", ck.adam_t.to_string()),
        ("seed", ck.seed.to_string()),
        ("settings", ck.settings_json.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let sums = checksums(
        views
            .iter()
            .map(|(name, t)| (*name, t.dtype(), t.shape(), t.data())),
        &metadata,
    );
    metadata.insert(
        CHECKSUM.into(),
        serde_json::to_string(&sums).map_err(|e| bad(e.to_string()))?,
    );
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| bad(e.to_string()))?;
    write_atomic(path, |w| w.write_all(&bytes))
}

/// Reads a checkpoint written by [`save_checkpoint`] (f32 or f16 weights), refusing a damaged one
/// (checksum mismatch) and one holding NaN or infinite values.
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint> {
    load_checkpoint_with(path, ReadOptions::default())
}

/// [`load_checkpoint`] with the strictness of `options`.
pub fn load_checkpoint_with(path: &Path, options: ReadOptions) -> Result<Checkpoint> {
    let bytes = read_input(path, "cannot read checkpoint")?;
    parse_checkpoint(&bytes, path, options)
}

/// Parses the bytes of a checkpoint; `path` only names the file in errors.
pub fn parse_checkpoint(bytes: &[u8], path: &Path, options: ReadOptions) -> Result<Checkpoint> {
    let fail = |msg: String| {
        Error::format(
            path,
            format!("{msg}; expected a checkpoint written by `w2v-gpu train`"),
        )
    };
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| fail(format!("not a safetensors file ({e})")))?;
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| fail(format!("not a safetensors file ({e})")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    verify_checksums(&tensors, &meta).map_err(|what| {
        Error::format(
            path,
            format!(
                "the checkpoint is damaged (checksum mismatch in {what}); resume from an earlier checkpoint or \
                 train again"
            ),
        )
    })?;
    let get = |key: &str| {
        meta.get(key)
            .ok_or_else(|| fail(format!("metadata has no '{key}'")))
    };
    if get("format")? != FORMAT {
        return Err(fail(format!(
            "metadata 'format' is {:?}, not {FORMAT:?}",
            get("format")?
        )));
    }
    if get("version")? != VERSION {
        return Err(fail(format!(
            "checkpoint version {:?} is not supported (this build reads {VERSION})",
            get("version")?
        )));
    }
    let number = |key: &str| -> Result<u64> {
        let s = get(key)?;
        s.parse().map_err(|_| {
            fail(format!(
                "metadata '{key}' = {s:?} is not a non-negative integer"
            ))
        })
    };
    let words: Vec<String> = serde_json::from_str(get("words")?).map_err(|e| {
        fail(format!(
            "metadata 'words' is not a JSON array of strings ({e})"
        ))
    })?;
    let dim =
        usize::try_from(number("dim")?).map_err(|_| fail("metadata 'dim' is too large".into()))?;
    if dim == 0 {
        return Err(fail("metadata 'dim' is 0".into()));
    }
    let v = words.len();
    let tensor = |name: &str, rows: Option<usize>| -> Result<Vec<f32>> {
        let t = tensors
            .tensor(name)
            .map_err(|_| fail(format!("no tensor '{name}'")))?;
        let shape = t.shape();
        if shape.len() != 2 || shape[1] != dim || rows.is_some_and(|r| r != shape[0]) {
            return Err(fail(format!(
                "tensor '{name}' has shape {shape:?}, expected [{}, {dim}]",
                rows.unwrap_or(shape[0])
            )));
        }
        let values = floats(&t).ok_or_else(|| {
            fail(format!(
                "tensor '{name}' has dtype {:?}, expected F32 or F16",
                t.dtype()
            ))
        })?;
        if let Some(i) = values.iter().position(|x| !x.is_finite()) {
            if !options.allow_nonfinite {
                let (row, word) = (i / dim, words.get(i / dim));
                return Err(Error::format(
                    path,
                    format!(
                        "tensor '{name}' row {row}{} holds {}, not a finite number: the run had diverged when this \
                         checkpoint was written; resume from an earlier checkpoint",
                        word.map(|w| format!(" (word {w:?})")).unwrap_or_default(),
                        values[i]
                    ),
                ));
            }
        }
        Ok(values)
    };
    let w_in = tensor("w_in", Some(v))?;
    let w_out = tensor("w_out", None)?;
    let out_rows = w_out.len() / dim;
    let counts_view = tensors
        .tensor("counts")
        .map_err(|_| fail("no tensor 'counts'".into()))?;
    if counts_view.shape() != [v] {
        return Err(fail(format!(
            "tensor 'counts' has shape {:?}, expected [{v}]",
            counts_view.shape()
        )));
    }
    let counts = integers(&counts_view)
        .ok_or_else(|| fail("tensor 'counts' must hold U64 (or non-negative I64) values".into()))?;
    let adam = match tensors.tensor(ADAM_NAMES[0]) {
        Err(_) => None,
        Ok(_) => Some([
            tensor(ADAM_NAMES[0], Some(v))?,
            tensor(ADAM_NAMES[1], Some(v))?,
            tensor(ADAM_NAMES[2], Some(out_rows))?,
            tensor(ADAM_NAMES[3], Some(out_rows))?,
        ]),
    };
    Ok(Checkpoint {
        words,
        counts,
        dim,
        w_in,
        w_out,
        adam,
        adam_t: number("adam_t")?,
        epoch: number("epoch")?,
        next_token: number("next_token")?,
        settings_json: get("settings")?.clone(),
        seed: number("seed")?,
    })
}

/// The CRC-32 of each tensor and of the metadata but its `checksum` key, as stored under that key.
fn checksums<'a>(
    tensors: impl Iterator<Item = (&'a str, Dtype, &'a [usize], &'a [u8])>,
    meta: &HashMap<String, String>,
) -> BTreeMap<String, String> {
    // Lengths go before every variable-length field, so no two layouts hash the same bytes.
    let field = |h: &mut crc32fast::Hasher, bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    let mut sums: BTreeMap<String, String> = tensors
        .map(|(name, dtype, shape, data)| {
            let mut h = crc32fast::Hasher::new();
            field(&mut h, name.as_bytes());
            // The dtype as the file format spells it ("F32"): fixed by the format, not by a release.
            field(
                &mut h,
                serde_json::to_string(&dtype).unwrap_or_default().as_bytes(),
            );
            let dims: Vec<u8> = shape
                .iter()
                .flat_map(|&n| (n as u64).to_le_bytes())
                .collect();
            field(&mut h, &dims);
            field(&mut h, data);
            (name.to_string(), format!("{:08x}", h.finalize()))
        })
        .collect();
    let mut h = crc32fast::Hasher::new();
    for (key, value) in meta
        .iter()
        .filter(|(k, _)| *k != CHECKSUM)
        .collect::<BTreeMap<_, _>>()
    {
        field(&mut h, key.as_bytes());
        field(&mut h, value.as_bytes());
    }
    sums.insert("metadata".into(), format!("{:08x}", h.finalize()));
    sums
}

/// `Err(what)` when the stored checksums do not match the file's tensors and metadata; a file
/// without checksums predates them and passes.
fn verify_checksums(
    tensors: &SafeTensors<'_>,
    meta: &HashMap<String, String>,
) -> Result<(), String> {
    let Some(stored) = meta.get(CHECKSUM) else {
        return Ok(());
    };
    let stored: BTreeMap<String, String> =
        serde_json::from_str(stored).map_err(|_| "the checksum record itself".to_string())?;
    let views = tensors.tensors();
    let actual = checksums(
        views
            .iter()
            .map(|(name, t)| (name.as_str(), t.dtype(), t.shape(), t.data())),
        meta,
    );
    let differs = |key: &String| stored.get(key) != actual.get(key);
    match actual.keys().chain(stored.keys()).find(|k| differs(k)) {
        None => Ok(()),
        Some(key) if key == "metadata" => Err("the metadata".into()),
        Some(key) if !actual.contains_key(key) => Err(format!("tensor '{key}', which is missing")),
        Some(key) => Err(format!("tensor '{key}'")),
    }
}

fn f32_bytes(w: &[f32]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn floats(t: &TensorView<'_>) -> Option<Vec<f32>> {
    let data = t.data();
    match t.dtype() {
        Dtype::F32 => Some(
            data.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        Dtype::F16 => Some(
            data.chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        ),
        _ => None,
    }
}

fn integers(t: &TensorView<'_>) -> Option<Vec<u64>> {
    let words = t
        .data()
        .chunks_exact(8)
        .map(|b| <[u8; 8]>::try_from(b).expect("chunks of 8"));
    match t.dtype() {
        Dtype::U64 => Some(words.map(u64::from_le_bytes).collect()),
        Dtype::I64 => words
            .map(|b| u64::try_from(i64::from_le_bytes(b)).ok())
            .collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(adam: bool) -> Checkpoint {
        let (v, d) = (3, 4);
        let w = |s: f32| {
            (0..v * d)
                .map(|i| s * (i as f32 - 5.3) / 7.0)
                .collect::<Vec<f32>>()
        };
        Checkpoint {
            words: vec!["the".into(), "\"quoted\"".into(), "ünï".into()],
            counts: vec![u64::MAX, 7, 5],
            dim: d,
            w_in: w(1.0),
            w_out: w(-0.01),
            adam: adam.then(|| [w(0.1), w(1e-9), w(0.2), w(3e-12)]),
            adam_t: 42,
            epoch: 2,
            next_token: 123_456_789_012,
            settings_json: r#"{"model":"skipgram","window":5}"#.into(),
            seed: 0xDEAD_BEEF_1234,
        }
    }

    #[test]
    fn f32_round_trip_is_exact_with_and_without_adam() {
        let dir = tempfile::tempdir().unwrap();
        for adam in [false, true] {
            let p = dir.path().join("ck.safetensors");
            let ck = sample(adam);
            save_checkpoint(&p, &ck, SaveDtype::F32).unwrap();
            assert_eq!(load_checkpoint(&p).unwrap(), ck);
        }
    }

    #[test]
    fn f16_stores_half_precision_weights_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let (p32, p16) = (
            dir.path().join("a.safetensors"),
            dir.path().join("b.safetensors"),
        );
        let ck = sample(true);
        save_checkpoint(&p32, &ck, SaveDtype::F32).unwrap();
        save_checkpoint(&p16, &ck, SaveDtype::F16).unwrap();
        let back = load_checkpoint(&p16).unwrap();
        for (a, b) in ck
            .w_in
            .iter()
            .zip(&back.w_in)
            .chain(ck.w_out.iter().zip(&back.w_out))
        {
            assert!((a - b).abs() <= a.abs() * 1e-3 + 1e-7, "{a} vs {b}");
        }
        assert_eq!(back.adam, ck.adam);
        assert_eq!(
            (back.counts, back.words, back.next_token),
            (ck.counts, ck.words, ck.next_token)
        );
        let saved = std::fs::metadata(&p32).unwrap().len() - std::fs::metadata(&p16).unwrap().len();
        assert_eq!(saved, 2 * 2 * 12);
    }

    /// The same checkpoint as written before checksums existed.
    fn without_checksum(bytes: &[u8]) -> Vec<u8> {
        let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
        let mut meta = header.metadata().clone().unwrap();
        assert!(meta.remove(CHECKSUM).is_some());
        let tensors = SafeTensors::deserialize(bytes).unwrap();
        safetensors::serialize(tensors.tensors(), Some(meta)).unwrap()
    }

    #[test]
    fn checksums_refuse_damage_and_old_checkpoints_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ck.safetensors");
        let ck = sample(true);
        save_checkpoint(&p, &ck, SaveDtype::F32).unwrap();
        let good = std::fs::read(&p).unwrap();
        let load = |bytes: &[u8]| parse_checkpoint(bytes, &p, ReadOptions::default());

        let mut rotten = good.clone();
        *rotten.last_mut().unwrap() ^= 0x10;
        let e = load(&rotten).unwrap_err().to_string();
        assert!(
            e.contains("ck.safetensors") && e.contains("damaged (checksum mismatch in tensor '"),
            "{e}"
        );
        // Same length, so the file still parses: only the checksum sees it.
        let at = good
            .windows(11)
            .position(|w| w == br#""epoch":"2""#)
            .unwrap();
        let mut edited = good.clone();
        edited[at + 9] = b'3';
        let e = load(&edited).unwrap_err().to_string();
        assert!(e.contains("mismatch in the metadata"), "{e}");

        assert_eq!(load(&without_checksum(&good)).unwrap(), ck);
        let mut old_rotten = without_checksum(&good);
        *old_rotten.last_mut().unwrap() ^= 0x10;
        assert_ne!(
            load(&old_rotten).unwrap(),
            ck,
            "no checksum, nothing to catch it"
        );
    }

    #[test]
    fn nonfinite_weights_are_refused_with_tensor_row_and_word_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nan.safetensors");
        let mut ck = sample(false);
        ck.w_in[2 * 4 + 1] = f32::NAN;
        save_checkpoint(&p, &ck, SaveDtype::F32).unwrap();
        let e = load_checkpoint(&p).unwrap_err().to_string();
        assert!(
            e.contains("tensor 'w_in' row 2 (word \"ünï\")")
                && e.contains("NaN")
                && e.contains("diverged"),
            "{e}"
        );
        let allow = ReadOptions {
            allow_nonfinite: true,
        };
        assert!(load_checkpoint_with(&p, allow).unwrap().w_in[9].is_nan());
    }

    #[test]
    fn bad_files_and_shapes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.safetensors");
        std::fs::write(&p, b"not a checkpoint at all").unwrap();
        let e = load_checkpoint(&p).unwrap_err().to_string();
        assert!(
            e.contains("x.safetensors") && e.contains("not a safetensors"),
            "{e}"
        );
        let mut ck = sample(false);
        ck.w_in.pop();
        let e = save_checkpoint(&p, &ck, SaveDtype::F32)
            .unwrap_err()
            .to_string();
        assert!(e.contains("inconsistent shapes"), "{e}");
        assert!(load_checkpoint(&dir.path().join("missing"))
            .unwrap_err()
            .to_string()
            .contains("missing"));
    }
}
