//! `encode`, and how every command gets its encoded corpus: from the reuse cache when it holds this
//! corpus with these vocabulary settings (checked, never trusted), else by reading the text into a
//! new cache; in memory when the ids fit `--memory-budget`, else streamed from the cache file.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use super::{CacheArgs, EncodeArgs, FlagContext};
use crate::input::cache::{CacheFile, CacheWriter, Fnv, Refused};
use crate::input::corpus::{self, Encoded};
use crate::input::pass::{Pass, DEFAULT_TABLE_BUDGET};
use crate::input::sink::{Discard, IdSink};
use crate::input::source::Source;
use crate::input::vocab::Vocab;
use crate::train::progress::thousands;
use crate::train::session::Corpus;
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

/// What a cache is built from: each corpus file's identity (its full path, size and modification
/// time) and every setting that shapes the vocabulary or the ids.
fn cache_key(files: &[PathBuf], c: &CorpusConfig) -> anyhow::Result<u64> {
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
        .field(format!("{:?} {:?}", c.max_vocab, c.vocab_budget).as_bytes());
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

/// A bar over the words encoded into a cache (hidden when stderr is not a terminal).
fn encoding_bar(words: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let target = if std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::stderr_with_hz(5)
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let bar = indicatif::ProgressBar::with_draw_target(Some(words), target);
    let style = indicatif::ProgressStyle::with_template(
        "encoding into the cache {bar:30.cyan/blue} {percent:>3}% {human_pos}/{human_len} words  {per_sec:.green}  ETA {eta}",
    )
    .expect("the template is valid")
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

/// The cache writer as the encoder's sink, moving the bar every 2^20 words.
struct Counted<'a> {
    w: &'a mut CacheWriter,
    bar: &'a indicatif::ProgressBar,
    words: u64,
}

impl crate::input::sink::IdSink for Counted<'_> {
    #[inline]
    fn push(&mut self, id: u32) -> crate::Result<()> {
        self.w.push(id)?;
        if id != crate::train::plan::SENTENCE_BREAK {
            self.words += 1;
            if self.words % (1 << 20) == 0 {
                self.bar.set_position(self.words);
            }
        }
        Ok(())
    }
}

/// A checked cache: the file, and its ids when they were read into memory.
struct Opened {
    file: CacheFile,
    ids: Option<Vec<u32>>,
    built: bool,
}

/// Opens the cache `file` for `key`, reading its ids into memory while checking them when the
/// file fits `budget`.
fn open_cache(
    file: &Path,
    key: u64,
    budget: u64,
) -> std::result::Result<(CacheFile, Option<Vec<u32>>), Refused> {
    let fits = std::fs::metadata(file).is_ok_and(|m| m.len() <= budget);
    if fits {
        let mut ids = Vec::new();
        let f = CacheFile::open_loaded(file, key, &mut ids)?;
        Ok((f, Some(ids)))
    } else {
        CacheFile::open(file, key, (budget / 4).max(1) as usize).map(|f| (f, None))
    }
}

/// The cache of a corpus, opened (built first when missing, stale or damaged, or `force`).
/// Says in one line on stderr when an existing cache is rebuilt, and why.
fn cached(
    src: &Source,
    files: &[PathBuf],
    c: &CorpusConfig,
    pass: &Pass,
    cache: &CacheArgs,
    force: bool,
) -> anyhow::Result<Opened> {
    let key = cache_key(files, c)?;
    let dir = cache.dir();
    let file = dir.join(format!("corpus-{key:016x}.w2v-ids"));
    let budget = cache.budget();
    if !force {
        match open_cache(&file, key, budget) {
            Ok((file, ids)) => {
                return Ok(Opened {
                    file,
                    ids,
                    built: false,
                })
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
    std::fs::create_dir_all(&dir).with_context(|| {
        format!(
            "--cache-dir: cannot create '{}'; give a writable folder or --no-cache",
            dir.display()
        )
    })?;
    // One pass over the text when its ids surely fit the budget: count and encode into memory,
    // then write the cache from there. Otherwise (or when the text size is unknown) count first,
    // then encode straight into the cache file, so memory stays within the budget.
    if src.ids_bound().is_some_and(|b| b <= budget) {
        let mut ids = Vec::new();
        let l = corpus::load_into(src, c.read, pass, c.min_count, c.max_vocab, &mut ids)?;
        if let Some(p) = &l.pruning {
            eprintln!("{p}");
        }
        let mut w = CacheWriter::create(&file, key).flag("--cache-dir")?;
        w.extend_ids(&ids).flag("--cache-dir")?;
        w.finish(&l.vocab, l.raw_words).flag("--cache-dir")?;
        let f = CacheFile::open(&file, key, (budget / 4).max(1) as usize).map_err(|r| {
            anyhow::anyhow!(
                "cache '{}' was written but does not read back: {r:?}",
                file.display()
            )
        })?;
        return Ok(Opened {
            file: f,
            ids: Some(ids),
            built: true,
        });
    }
    let counted = corpus::load_into(src, c.read, pass, c.min_count, c.max_vocab, &mut Discard)?;
    if let Some(p) = &counted.pruning {
        eprintln!("{p}");
    }
    let vocab = counted.vocab;
    let mut w = CacheWriter::create(&file, key).flag("--cache-dir")?;
    let bar = encoding_bar(vocab.total());
    let mut sink = Counted {
        w: &mut w,
        bar: &bar,
        words: 0,
    };
    let (raw, _) = corpus::encode_into(src, c.read, &vocab, &mut sink)?;
    bar.finish_and_clear();
    w.finish(&vocab, raw).flag("--cache-dir")?;
    let (f, ids) = open_cache(&file, key, budget).map_err(|r| match r {
        Refused::Io(e) => anyhow::Error::new(e),
        other => anyhow::anyhow!(
            "cache '{}' was written but does not read back: {other:?}",
            file.display()
        ),
    })?;
    Ok(Opened {
        file: f,
        ids,
        built: true,
    })
}

/// A file corpus for a run through the cache (`None` where it is not cached: `--no-cache`,
/// standard input, a FIFO), in memory when its ids fit the budget, else read from the cache file
/// in chunks.
pub(super) fn load_cached(
    src: &Source,
    c: &CorpusConfig,
    pass: &Pass,
    cache: &CacheArgs,
) -> anyhow::Result<Option<Loaded>> {
    let files = match cacheable(src) {
        Some(f) if !cache.no_cache => f,
        _ => return Ok(None),
    };
    let Opened { file, ids, .. } = cached(src, &files, c, pass, cache, false)?;
    let vocab = file.vocab().clone();
    let corpus = if let Some(tokens) = ids {
        Corpus::Memory(Encoded {
            tokens,
            raw_words: file.header().raw_words,
        })
    } else {
        eprintln!(
            "corpus: its ids ({}) exceed --memory-budget {}: training reads them from '{}' in chunks",
            fmt_size(file.id_bytes()),
            fmt_size(cache.budget()),
            file.path().display()
        );
        Corpus::File(file)
    };
    Ok(Some(Loaded { vocab, corpus }))
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
    let pass = Pass {
        table_budget: c.vocab_budget.unwrap_or(DEFAULT_TABLE_BUDGET),
        ..Pass::default()
    };
    let Opened { file, built, .. } = cached(&src, &files, &c, &pass, &a.cache, a.force)?;
    let secs = t0.elapsed().as_secs_f64();
    let h = *file.header();
    let mb = bytes as f64 / 1e6;
    let rate = |words: u64, s: f64| words as f64 / s.max(1e-9) / 1e6;
    if built {
        println!(
            "encoded '{}': {} words ({} in vocabulary, {} distinct kept), {mb:.1} MB of text in {secs:.2} s: {:.1}M words/s, {:.1} MB/s",
            src.name(),
            thousands(h.raw_words),
            thousands(h.words),
            thousands(file.vocab().len() as u64),
            rate(h.raw_words, secs),
            mb / secs.max(1e-9),
        );
    }
    // What a run does with a cache hit: check the ids and read them into memory in one pass when
    // they fit the budget, else check them a block at a time (training then reads chunks).
    let t1 = Instant::now();
    let fits = file.id_bytes() <= a.cache.budget();
    let back = |r: Refused| {
        anyhow::anyhow!(
            "cache '{}' does not read back: {r:?}",
            file.path().display()
        )
    };
    if fits {
        let mut ids = Vec::new();
        CacheFile::open_loaded(file.path(), h.key, &mut ids).map_err(back)?;
    } else {
        CacheFile::open(file.path(), h.key, 1).map_err(back)?;
    }
    let load = t1.elapsed().as_secs_f64();
    println!(
        "cache '{}'{}: {} tokens ({}); {} in {load:.3} s: {:.0}M words/s, {:.0} MB/s",
        file.path().display(),
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
