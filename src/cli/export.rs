//! `export`: reads a checkpoint, picks a matrix and rows, writes them in the format asked for.

use anyhow::Context;

use crate::cli::ExportArgs;
use crate::output::checkpoint::load_checkpoint_with;
use crate::output::export::{select, vocab_sidecar, write_export, ExportFormat, Selection, Which};
use crate::output::vectors::ReadOptions;

pub(super) fn export(a: &ExportArgs) -> anyhow::Result<()> {
    let out = &a.output;
    let format = match a.format.or_else(|| ExportFormat::from_extension(out)) {
        Some(f) => f,
        None => anyhow::bail!(
            "-o '{}': the extension names no format; use .bin, .txt, .vec, .npy or .safetensors, or give --format",
            out.display()
        ),
    };
    if a.limit == Some(0) {
        anyhow::bail!("--limit 0 would export nothing; give N >= 1 or leave --limit out");
    }
    let mut targets = vec![out.clone()];
    if matches!(format, ExportFormat::Npy | ExportFormat::Safetensors) {
        let vocab = vocab_sidecar(out);
        if &vocab == out {
            anyhow::bail!(
                "-o '{}': the vocabulary file written beside it would have the same name; choose a name not ending in .vocab",
                out.display()
            );
        }
        targets.push(vocab);
    }
    for t in &targets {
        crate::output::fsutil::check_writable(t)?;
        if super::preflight::same_file(t, &a.checkpoint) {
            anyhow::bail!(
                "'{}' is the checkpoint being exported; write the export to another file",
                t.display()
            );
        }
    }
    let ck = load_checkpoint_with(
        &a.checkpoint,
        ReadOptions {
            allow_nonfinite: a.allow_nonfinite,
        },
    )?;
    let sel = Selection {
        which: a.which,
        limit: a.limit,
        min_count: a.min_count,
    };
    let (emb, counts) =
        select(&ck, sel).with_context(|| format!("'{}'", a.checkpoint.display()))?;
    let files = write_export(out, format, &emb, &counts)?;
    let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let which = match a.which {
        Which::In => "W_in",
        Which::Out => "W_out",
        Which::Avg => "(W_in + W_out) / 2",
    };
    eprintln!(
        "exported {which}: {} words x {} to {}",
        emb.len(),
        emb.dim,
        shown.join(" and ")
    );
    Ok(())
}
