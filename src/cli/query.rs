//! The commands that use trained vectors (`similar`, `analogy`, `eval`) and the small ones
//! (`info`, `synthetic`).

use std::io::Write;

use crate::cli::{AnalogyArgs, EvalArgs, InfoArgs, SimilarArgs, SyntheticArgs};
use crate::error::{Error, Result};
use crate::input::synthetic;
use crate::output::fsutil;
use crate::output::vectors::read_vectors;
use crate::query::eval;
use crate::query::similarity::{Index, Neighbour};

fn print_neighbours(list: &[Neighbour]) {
    let width = list
        .iter()
        .map(|n| n.word.chars().count())
        .max()
        .unwrap_or(0);
    for n in list {
        println!("{:<width$}  {:.4}", n.word, n.similarity);
    }
}

pub(super) fn similar(a: &SimilarArgs) -> Result<()> {
    let index = Index::new(&read_vectors(&a.vectors)?);
    print_neighbours(&index.most_similar(&a.word, a.k)?);
    Ok(())
}

pub(super) fn analogy(a: &AnalogyArgs) -> Result<()> {
    let index = Index::new(&read_vectors(&a.vectors)?);
    print_neighbours(&index.analogy(&a.a, &a.b, &a.c, a.k)?);
    Ok(())
}

pub(super) fn eval(a: &EvalArgs) -> Result<()> {
    if a.analogies.is_none() && a.similarity.is_empty() {
        return Err(Error::Config(
            "eval needs something to score: give --analogies FILE and/or --similarity FILE".into(),
        ));
    }
    // Read every input before the (slow) vectors file so a typo fails at once.
    let sections = a
        .analogies
        .as_deref()
        .map(eval::read_analogies)
        .transpose()?;
    let pairs = a
        .similarity
        .iter()
        .map(|p| Ok((p, eval::read_similarity(p)?)))
        .collect::<Result<Vec<_>>>()?;
    let index = Index::new(&read_vectors(&a.vectors)?);
    if let Some(sections) = &sections {
        println!(
            "{}",
            eval::evaluate_analogies(&index, sections, a.restrict_vocab)
        );
    }
    for (path, pairs) in &pairs {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        println!("{}", eval::evaluate_similarity(&index, &name, pairs));
    }
    Ok(())
}

pub(super) fn info(a: &InfoArgs) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("cpu      {cores} cores available (--device cpu, --threads N; 0 = all)");
    let words = |n: usize| crate::train::progress::thousands(n as u64);
    let matrix = a.vocab as u64 * a.dim as u64 * 4;
    #[cfg(any(feature = "cuda", feature = "emulator"))]
    {
        use crate::backend::cuda;
        print!("{}", cuda::device_report());
        use crate::backend::{OptimizerKind, Storage};
        if a.storage == Storage::F16 && a.optimizer != OptimizerKind::Sgd {
            return Err(crate::backend::f16_storage_unsupported(
                "--optimizer adam (composed path)",
            ));
        }
        let fused = cuda::Footprint::of(a.vocab, a.dim, a.optimizer, false, a.storage);
        println!(
            "model    {} words x dim {}, {:?}, {:?} storage: {fused} on the device, plus {} for a \
             resident corpus chunk of 100M tokens",
            words(a.vocab),
            a.dim,
            a.optimizer,
            a.storage,
            cuda::device::fmt_bytes(cuda::fused_overhead(100_000_000, 1 << 20))
        );
    }
    #[cfg(not(any(feature = "cuda", feature = "emulator")))]
    println!("cuda     not available: this binary was built without the `cuda` feature");
    println!(
        "model    {} words x dim {}: {:.1} MiB for W_in and W_out in host memory (f32)",
        words(a.vocab),
        a.dim,
        (2 * matrix) as f64 / (1 << 20) as f64
    );
    Ok(())
}

pub(super) fn synthetic(a: &SyntheticArgs) -> Result<()> {
    if a.sentences_per_word == 0 {
        return Err(Error::Config(
            "--sentences-per-word must be at least 1 (got 0); try --sentences-per-word 400".into(),
        ));
    }
    if let Some(q) = &a.questions {
        fsutil::check_writable(q)?;
    }
    let s = synthetic::generate(a.seed, a.sentences_per_word);
    fsutil::write_atomic(&a.output, |w| w.write_all(s.text.as_bytes()))?;
    println!(
        "corpus written to '{}' ({} lines)",
        a.output.display(),
        s.text.lines().count()
    );
    if let Some(q) = &a.questions {
        fsutil::write_atomic(q, |w| {
            w.write_all(synthetic::questions_text(&s.sections).as_bytes())
        })?;
        let n: usize = s.sections.iter().map(|s| s.questions.len()).sum();
        println!("questions written to '{}' ({n} questions)", q.display());
    }
    Ok(())
}
