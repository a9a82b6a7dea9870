//! `encode`, and how every command gets its encoded corpus: from the reuse cache when it holds this
//! corpus with these vocabulary settings (checked, never trusted), else by reading the text into a
//! new cache; in memory when the ids fit `--memory-budget`, else streamed from the cache file.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use super::{CacheArgs, EncodeArgs, FlagContext};
use crate::input::cache::{CacheFile, CacheWriter, Fnv, Refused, CACHE_FIX};
use crate::input::corpus::{self, Encoded};
use crate::input::pass::{table_budget_for, Pass};
use crate::input::sink::IdSink;
use crate::input::source::Source;
use crate::input::spill::{Budgeted, SpillTo, Stored};
use crate::input::vocab::Vocab;
use crate::train::progress::thousands;
use crate::train::session::{Corpus, CorpusIds};
use crate::train::CorpusConfig;

/// Bytes as MiB, for messages.
fn fmt_size(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// `512M`, `4G`, `1.5G`, `800K`, `1T` or bytes (`K`, `M`, `G`, `T` are powers of 1024; a trailing
/// `B` or `iB` is allowed).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, shift) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        Some('T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * ((1u64 << shift) as f64) < 1.8e19 => {
            Ok((v * (1u64 << shift) as f64) as u64)
        }
        _ => Err(format!(
            "'{s}' is not a size; give bytes or a number with K, M, G or T (e.g. 512M, 4G)"
        )),
    }
}

/// Half the memory available now (`MemAvailable` in /proc/meminfo), or 2 GiB where unknown.
fn default_budget() -> u64 {
    let avail = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemAvailable:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    });
    avail.map_or(2 << 30, |kb| kb * 1024 / 2)
}

impl CacheArgs {
    /// Bytes the encoded corpus may take in memory.
    pub fn budget(&self) -> u64 {
        self.memory_budget.unwrap_or_else(default_budget)
    }

    /// The cache folder.
    pub fn dir(&self) -> PathBuf {
        self.cache_dir.clone().unwrap_or_else(|| {
            dirs::cache_dir()
                .unwrap_or_else(std::env::temp_dir)
                .join("w2v-gpu")
        })
    }
}

/// How the one pass runs for `c`: `threads` workers, and the counting table's budget as
/// `--vocab-budget` gives it, else what `--memory-budget` holds ([`table_budget_for`]).
pub(super) fn pass_for(c: &CorpusConfig, threads: usize, cache: &CacheArgs) -> Pass {
    Pass {
        threads,
        table_budget: c
            .vocab_budget
            .unwrap_or_else(|| table_budget_for(cache.budget())),
        ..Pass::default()
    }
}

/// What a cache is built from: each corpus file's identity (its full path, size and modification
/// time) and every setting that shapes the vocabulary or the ids (the counting table's budget as
/// this run has it, given or derived).
fn cache_key(files: &[PathBuf], c: &CorpusConfig, pass: &Pass) -> anyhow::Result<u64> {
    let mut h = Fnv::default();
    h.field(&crate::input::cache::VERSION.to_le_bytes());
    for path in files {
        let read = || format!("--corpus: cannot read corpus '{}'", path.display());
        let full = std::fs::canonicalize(path).with_context(read)?;
        let meta = std::fs::metadata(&full).with_context(read)?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        h.field(full.as_os_str().as_encoded_bytes())
            .field(&meta.len().to_le_bytes())
            .field(&mtime.to_le_bytes());
    }
    h.field(format!("{:?}", c.read).as_bytes())
        .field(&c.min_count.to_le_bytes())
        .field(format!("{:?} {}", c.max_vocab, pass.table_budget).as_bytes());
    Ok(h.finish())
}

/// The regular files a corpus is read from, when it can be cached (not standard input, no FIFO).
fn cacheable(src: &Source) -> Option<Vec<PathBuf>> {
    let files = src.files()?;
    files
        .iter()
        .all(|f| std::fs::metadata(f).is_ok_and(|m| m.is_file()))
        .then_some(files)
}

/// A corpus read for a run: its vocabulary and ids.
pub(super) struct Loaded {
    pub vocab: Vocab,
    pub corpus: Corpus,
}

/// Opens the cache `file` for `key`, reading its ids into memory while checking them when the
/// file fits `budget`.
fn open_cache(file: &Path, key: u64, budget: u64) -> std::result::Result<Loaded, Refused> {
    if std::fs::metadata(file).is_ok_and(|m| m.len() <= budget) {
        let mut tokens = Vec::new();
        let f = CacheFile::open_loaded(file, key, &mut tokens)?;
        let raw_words = f.header().raw_words;
        return Ok(Loaded {
            vocab: f.vocab().clone(),
            corpus: Corpus::Memory(Encoded { tokens, raw_words }),
        });
    }
    let f = CacheFile::open(file, key, window(budget))?;
    Ok(Loaded {
        vocab: f.vocab().clone(),
        corpus: Corpus::File(f),
    })
}

/// Ids a session reads at a time from a cache file under `budget`.
fn window(budget: u64) -> usize {
    (budget / 4).max(1) as usize
}

/// The advice when the ids of a corpus that is not cached cannot be spilled.
const TEMP_FIX: &str = "free space on its disk, give --cache-dir on another one, or give a \
                        larger --memory-budget";

/// Reads `src` in one pass: counts, encodes and remaps into memory while the ids fit the budget,
/// else into a cache file (at `to`), finished as the cache for reuse when `keep`, else as a
/// temporary file removed when the run ends.
fn build(
    src: &Source,
    c: &CorpusConfig,
    pass: &Pass,
    cache: &CacheArgs,
    to: SpillTo,
    keep: bool,
) -> anyhow::Result<Loaded> {
    let budget = cache.budget();
    let (path, key) = (to.path.clone(), to.key);
    let mut store = Budgeted::new(budget, to);
    let l = corpus::load_into(src, c.read, pass, c.min_count, c.max_vocab, &mut store)?;
    if let Some(mut p) = l.pruning {
        p.derived_from = c.vocab_budget.is_none().then_some(budget);
        eprintln!("{p}");
    }
    let corpus = match store.into_stored() {
        Stored::Memory(tokens) => {
            if keep {
                let mut w = CacheWriter::create(&path, key).flag("--cache-dir")?;
                w.extend_ids(&tokens).flag("--cache-dir")?;
                w.finish(&l.vocab, l.raw_words).flag("--cache-dir")?;
            }
            Corpus::Memory(Encoded::new(tokens, l.raw_words))
        }
        Stored::File(w) => {
            let mut f = match keep {
                true => w.finish(&l.vocab, l.raw_words),
                false => w.finish_temporary(&l.vocab, l.raw_words),
            }
            .flag("--cache-dir")?;
            f.set_window(window(budget));
            eprintln!(
                "corpus: its ids ({}) {} --memory-budget {}: training reads them from {} in chunks",
                fmt_size(f.id_bytes()),
                match f.id_bytes() > budget {
                    true => "exceed",
                    false => "went past",
                },
                fmt_size(budget),
                match keep {
                    true => format!("the cache '{}'", f.path().display()),
                    false => format!(
                        "a temporary file in '{}' (removed when the run ends)",
                        cache.dir().display()
                    ),
                }
            );
            Corpus::File(f)
        }
    };
    Ok(Loaded {
        vocab: l.vocab,
        corpus,
    })
}

/// The cache file of `files` under `key`.
fn cache_path(cache: &CacheArgs, key: u64) -> PathBuf {
    cache.dir().join(format!("corpus-{key:016x}.w2v-ids"))
}

/// The cache of a file corpus, opened when it is current, else built (also when `force`); says
/// in one line on stderr when an existing cache is rebuilt, and why. The bool: built.
fn cached(
    src: &Source,
    files: &[PathBuf],
    c: &CorpusConfig,
    pass: &Pass,
    cache: &CacheArgs,
    force: bool,
) -> anyhow::Result<(Loaded, PathBuf, bool)> {
    let key = cache_key(files, c, pass)?;
    let file = cache_path(cache, key);
    if !force {
        match open_cache(&file, key, cache.budget()) {
            Ok(l) => {
                if let Corpus::File(f) = &l.corpus {
                    eprintln!(
                        "corpus: its ids ({}) exceed --memory-budget {}: training reads them \
                         from '{}' in chunks",
                        fmt_size(f.id_bytes()),
                        fmt_size(cache.budget()),
                        f.path().display()
                    );
                }
                return Ok((l, file, false));
            }
            Err(Refused::Missing) => {}
            Err(Refused::Invalid(why)) => eprintln!(
                "cache '{}' is not usable: {why}; rebuilding it from '{}'",
                file.display(),
                src.name()
            ),
            Err(Refused::Io(e)) => return Err(e).flag("--cache-dir"),
        }
    }
    let dir = cache.dir();
    std::fs::create_dir_all(&dir).with_context(|| {
        format!(
            "--cache-dir: cannot create '{}'; give a writable folder or --no-cache",
            dir.display()
        )
    })?;
    let to = SpillTo {
        path: file.clone(),
        key,
        fix: CACHE_FIX,
    };
    Ok((build(src, c, pass, cache, to, true)?, file, true))
}

/// A corpus for a run, counted and encoded in one pass: through the cache for files (reused when
/// current) unless `--no-cache`; in memory when its ids fit `--memory-budget`, else read from a
/// file in chunks (the cache, or for standard input, a FIFO or `--no-cache` a temporary file).
pub(super) fn load_counted(
    src: &Source,
    c: &CorpusConfig,
    pass: &Pass,
    cache: &CacheArgs,
) -> anyhow::Result<Loaded> {
    match cacheable(src) {
        Some(files) if !cache.no_cache => Ok(cached(src, &files, c, pass, cache, false)?.0),
        _ => {
            let to = SpillTo {
                path: cache.dir().join("uncached.w2v-ids"),
                key: 0,
                fix: TEMP_FIX,
            };
            build(src, c, pass, cache, to, false)
        }
    }
}

/// A corpus encoded with a given vocabulary (resuming, `--read-vocab`), in one pass: in memory
/// when its ids fit `--memory-budget`, else in a temporary file in `--cache-dir`, read in chunks.
pub(super) fn load_encoded(
    src: &Source,
    c: &CorpusConfig,
    pass: &Pass,
    vocab: &Vocab,
    cache: &CacheArgs,
) -> anyhow::Result<Corpus> {
    let budget = cache.budget();
    let to = SpillTo {
        path: cache.dir().join("uncached.w2v-ids"),
        key: 0,
        fix: TEMP_FIX,
    };
    let mut store = Budgeted::new(budget, to);
    let (raw, _) = corpus::encode_into_with(src, c.read, pass, vocab, &mut store)?;
    Ok(match store.into_stored() {
        Stored::Memory(tokens) => Corpus::Memory(Encoded::new(tokens, raw)),
        Stored::File(w) => {
            let mut f = w.finish_temporary(vocab, raw).flag("--cache-dir")?;
            f.set_window(window(budget));
            eprintln!(
                "corpus: its ids ({}) exceed --memory-budget {}: training reads them from a \
                 temporary file in '{}' (removed when the run ends) in chunks",
                fmt_size(f.id_bytes()),
                fmt_size(budget),
                cache.dir().display()
            );
            Corpus::File(f)
        }
    })
}

/// `encode`: builds the cache of `--corpus` (or finds it valid), then times loading it.
pub(super) fn encode(a: &EncodeArgs) -> anyhow::Result<()> {
    let c = a.corpus.config();
    if c.paths.is_empty() {
        anyhow::bail!("encode needs --corpus FILE: the text to encode into the cache");
    }
    if a.cache.no_cache {
        anyhow::bail!("encode builds the cache; --no-cache leaves nothing to build (drop it)");
    }
    let src = Source::resolve(&c.paths)?;
    let Some(files) = cacheable(&src) else {
        anyhow::bail!(
            "--corpus: '{}' includes standard input or a FIFO, which cannot be cached; give files",
            src.name()
        );
    };
    let bytes = src.size().unwrap_or(0);
    let t0 = Instant::now();
    let pass = pass_for(&c, 0, &a.cache);
    let (loaded, path, built) = cached(&src, &files, &c, &pass, &a.cache, a.force)?;
    let secs = t0.elapsed().as_secs_f64();
    let (raw, words, distinct) = (
        loaded.corpus.raw_words(),
        loaded.corpus.words(),
        loaded.vocab.len(),
    );
    drop(loaded);
    let mb = bytes as f64 / 1e6;
    let rate = |words: u64, s: f64| words as f64 / s.max(1e-9) / 1e6;
    if built {
        println!(
            "encoded '{}': {} words ({} in vocabulary, {} distinct kept), {mb:.1} MB of text in {secs:.2} s: {:.1}M words/s, {:.1} MB/s",
            src.name(),
            thousands(raw),
            thousands(words),
            thousands(distinct as u64),
            rate(raw, secs),
            mb / secs.max(1e-9),
        );
    }
    // What a run does with a cache hit, timed: check the ids and read them into memory in one
    // pass when they fit the budget, else check them a block at a time (training then reads
    // chunks).
    let t1 = Instant::now();
    let key = cache_key(&files, &c, &pass)?;
    let back = |r: Refused| anyhow::anyhow!("cache '{}' does not read back: {r:?}", path.display());
    let budget = a.cache.budget();
    let fits = std::fs::metadata(&path).is_ok_and(|m| m.len() <= budget);
    let file = if fits {
        let mut ids = Vec::new();
        CacheFile::open_loaded(&path, key, &mut ids).map_err(back)?
    } else {
        CacheFile::open(&path, key, 1).map_err(back)?
    };
    let load = t1.elapsed().as_secs_f64();
    let h = file.header();
    println!(
        "cache '{}'{}: {} tokens ({}); {} in {load:.3} s: {:.0}M words/s, {:.0} MB/s",
        path.display(),
        if built { "" } else { " is current" },
        thousands(h.tokens),
        fmt_size(file.id_bytes()),
        if fits {
            "checked and loaded into memory"
        } else {
            "checked (beyond --memory-budget, so not loaded)"
        },
        rate(h.raw_words, load),
        file.id_bytes() as f64 / 1e6 / load.max(1e-9),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_binary_suffixes() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("1000"), Ok(1000));
        for bad in ["", "G", "-1G", "0", "12X", "nanG", "99999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
