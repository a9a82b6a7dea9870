//! The one streaming pass over a corpus: chunks read and decompressed on one thread, split into
//! words on `threads` workers, merged in chunk order on the calling thread.
//!
//! Each worker gives its chunk's distinct words chunk-local ids; the merge maps them, chunk after
//! chunk, to provisional ids in order of first appearance in the whole corpus (or, with a fixed
//! vocabulary, to its ids), so the result is that of one sequential pass whatever the thread
//! count. Chunks are dealt to workers in turn and collected in the same turn, so no reordering
//! buffer is needed and memory stays bounded by the channels.
//!
//! Counting prunes like word2vec.c's `ReduceVocab`: when the table of provisional ids holds more
//! than its budget of words before the next chunk is merged, words seen at most `t` times so far
//! are dropped, with their occurrences already stored, and `t` (first 1) rises by one for the
//! next time. A word that comes back starts counting afresh, so a kept word's count is always the
//! number of its ids stored; one seen more than 1 + 2 + … + `t` times is always kept.

use std::io::IsTerminal;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::input::corpus::{CorpusFormat, ReadOptions, TokenStore};
use crate::input::sink::DROPPED;
use crate::input::source::{read_chunks, Chunk, Origin, Source};
use crate::input::tokenize::{tokenize, Words, LINE_END};
use crate::input::vocab::Vocab;
use crate::train::plan::SENTENCE_BREAK;

/// word2vec.c's counting table: a hash of 21M slots pruned at 70% full.
pub const DEFAULT_TABLE_BUDGET: usize = 14_700_000;

/// What one counted word costs in memory, about: its text twice (the index's key and the word
/// list, each a boxed string on the heap), the index's slot at its load factor, its count, and
/// the remap's and the vocabulary's share at the end.
pub const TABLE_BYTES_PER_WORD: u64 = 200;

/// The table budget a memory budget of `bytes` holds: its words at [`TABLE_BYTES_PER_WORD`],
/// rounded down to a power of two (so a default budget, half the memory available now, names the
/// same table from run to run and the cache key stays put), at least 65,536 words and at most
/// word2vec.c's [`DEFAULT_TABLE_BUDGET`] (a large budget prunes as word2vec.c does).
pub fn table_budget_for(bytes: u64) -> usize {
    let words = (bytes / TABLE_BYTES_PER_WORD).max(1);
    let pow2 = 1u64 << (63 - words.leading_zeros());
    (pow2.max(1 << 16) as usize).min(DEFAULT_TABLE_BUDGET)
}

/// How the pass runs; none of it changes the result except where pruning sets in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pass {
    /// Tokenizing workers; 0 = all cores.
    pub threads: usize,
    /// Bytes of text a worker takes at a time.
    pub chunk_bytes: usize,
    /// Distinct words the counting table holds before rare ones are pruned.
    pub table_budget: usize,
}

impl Default for Pass {
    fn default() -> Pass {
        Pass {
            threads: 0,
            chunk_bytes: 4 << 20,
            table_budget: DEFAULT_TABLE_BUDGET,
        }
    }
}

/// Words seen so far with provisional ids (first-seen order) and counts.
#[derive(Default)]
pub(crate) struct Table {
    index: FxHashMap<Box<str>, u32>,
    pub words: Vec<Box<str>>,
    pub counts: Vec<u64>,
}

impl Table {
    fn add(&mut self, word: &str, n: u64) -> u32 {
        let id = match self.index.get(word) {
            Some(&id) => id,
            None => {
                let id = self.words.len() as u32;
                self.index.insert(word.into(), id);
                self.words.push(word.into());
                self.counts.push(0);
                id
            }
        };
        self.counts[id as usize] += n;
        id
    }
}

/// What the merge maps words to.
pub(crate) enum Ids<'v> {
    /// Provisional ids, counted.
    Count(Table),
    /// A given vocabulary's ids; other words are dropped.
    Fixed(&'v Vocab),
}

/// How often counting pruned, and what.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruning {
    /// Times the table outgrew its budget.
    pub times: u32,
    /// Words dropped in all (a word dropped twice counts twice).
    pub dropped: u64,
    /// Words seen at most this many times were dropped the last time.
    pub threshold: u64,
    pub budget: usize,
    /// The memory budget (bytes) the table's budget was derived from, when no table budget was
    /// given.
    pub derived_from: Option<u64>,
}

impl std::fmt::Display for Pruning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (from, fix) = match self.derived_from {
            Some(b) if self.budget == DEFAULT_TABLE_BUDGET => (
                format!(
                    " (word2vec.c's, the most a --memory-budget sets; {:.1} MiB would hold more)",
                    b as f64 / (1 << 20) as f64
                ),
                "give a larger --vocab-budget",
            ),
            Some(b) => (
                format!(
                    " (what --memory-budget {:.1} MiB holds at {TABLE_BYTES_PER_WORD} bytes a word)",
                    b as f64 / (1 << 20) as f64
                ),
                "give --vocab-budget or raise --memory-budget",
            ),
            None => (String::new(), "raise --vocab-budget"),
        };
        write!(
            f,
            "vocabulary: the counting table outgrew its {} words{from} {} time(s), so {} rare \
             words (seen at most {} times by then) were dropped with their occurrences, as \
             word2vec.c does; {fix} to keep them",
            self.budget, self.times, self.dropped, self.threshold
        )
    }
}

/// The pass's result.
pub(crate) struct Merged<'v> {
    pub ids: Ids<'v>,
    /// Every token read, kept or not.
    pub raw_words: u64,
    /// Word ids stored (before any pruning or remap).
    pub words_kept: u64,
    pub pruning: Option<Pruning>,
}

/// Reads `src` once into `store` as `ids` says.
pub(crate) fn run<'v>(
    src: &Source,
    opts: ReadOptions,
    pass: &Pass,
    ids: Ids<'v>,
    store: &mut dyn TokenStore,
) -> Result<Merged<'v>> {
    let threads = match pass.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let eos = opts.format == CorpusFormat::Ptb;
    let bar = read_bar(src.size());
    let mut merge = Merge {
        ids,
        lowercase: opts.lowercase,
        raw_words: 0,
        words_kept: 0,
        break_last: true,
        scratch: Vec::new(),
        pruning: Pruning {
            budget: pass.table_budget,
            ..Pruning::default()
        },
    };
    let (merged, read) = std::thread::scope(|s| {
        let mut to_workers = Vec::new();
        let mut from_workers = Vec::new();
        for _ in 0..threads {
            let (job_tx, job_rx) = sync_channel::<Chunk>(2);
            let (done_tx, done_rx) = sync_channel(2);
            s.spawn(move || work(job_rx, done_tx, eos));
            to_workers.push(job_tx);
            from_workers.push(done_rx);
        }
        let bar = &bar;
        let reader = s.spawn(move || {
            let mut turn = 0;
            read_chunks(src, pass.chunk_bytes, &|n| bar.set_position(n), &mut |c| {
                let sent = to_workers[turn % threads].send(c).is_ok();
                turn += 1;
                sent
            })
        });
        let merged = (|| -> Result<()> {
            for turn in 0.. {
                let Ok(done) = from_workers[turn % threads].recv() else {
                    return Ok(());
                };
                merge.add(done?, store)?;
                bar.set_message(format!("{} words", indicatif::HumanCount(merge.raw_words)));
            }
            Ok(())
        })();
        drop(from_workers);
        let read = reader.join().expect("the reader thread does not panic");
        (merged, read)
    });
    bar.finish_and_clear();
    merged?;
    read?;
    let pruning = (merge.pruning.times > 0).then_some(merge.pruning);
    Ok(Merged {
        ids: merge.ids,
        raw_words: merge.raw_words,
        words_kept: merge.words_kept,
        pruning,
    })
}

/// A worker: splits each chunk it is dealt, in order; a refused character becomes the error
/// naming its input and place.
fn work(jobs: Receiver<Chunk>, done: SyncSender<Result<Words>>, eos: bool) {
    for chunk in jobs {
        let words = tokenize(chunk.bytes, eos)
            .map_err(|pos| refused(&chunk.origin, chunk.offset + pos as u64));
        if done.send(words).is_err() {
            return;
        }
    }
}

fn refused(origin: &Arc<Origin>, offset: u64) -> Error {
    Error::Input(format!(
        "corpus '{}': a control character at {} is inside a word, where no vectors file can hold \
         it; remove control characters from the text (e.g. `tr -d '\\000-\\010\\016-\\033\\177'`)",
        origin.name,
        origin.place(offset)
    ))
}

/// Reading progress on stderr when it is a terminal: bytes read of the corpus and words so far.
fn read_bar(size: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let target = ProgressDrawTarget::stderr_with_hz(5);
    let (bar, template) = match size {
        Some(n) => (
            ProgressBar::with_draw_target(Some(n), target),
            "reading corpus {bar:30.cyan/blue} {binary_bytes}/{binary_total_bytes}  {msg}  ETA {eta}",
        ),
        None => (
            ProgressBar::with_draw_target(None, target),
            "reading corpus {spinner} {binary_bytes}  {msg}",
        ),
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar
}

struct Merge<'v> {
    ids: Ids<'v>,
    lowercase: bool,
    raw_words: u64,
    words_kept: u64,
    /// Whether the last id stored is a sentence break (or none is): breaks are not doubled.
    break_last: bool,
    scratch: Vec<u32>,
    pruning: Pruning,
}

/// A word id that is not kept.
const DROP: u32 = SENTENCE_BREAK - 1;

impl Merge<'_> {
    fn add(&mut self, words: Words, store: &mut dyn TokenStore) -> Result<()> {
        // Pruned before a chunk, never after the last: the end of the pass leaves the table to
        // --min-count, so it may pass its budget by one chunk's words.
        if let Ids::Count(t) = &mut self.ids {
            if t.words.len() > self.pruning.budget {
                prune(t, &mut self.pruning, store)?;
            }
        }
        let mut lowered = String::new();
        let map: Vec<u32> = (0..words.len())
            .map(|i| {
                let mut w = words.word(i);
                if self.lowercase {
                    lowered.clear();
                    lowered.extend(w.chars().flat_map(char::to_lowercase));
                    w = &lowered;
                }
                match &mut self.ids {
                    Ids::Count(t) => t.add(w, words.counts[i]),
                    Ids::Fixed(v) => v.id(w).unwrap_or(DROP),
                }
            })
            .collect();
        self.scratch.clear();
        for &local in &words.ids {
            if local == LINE_END {
                if !self.break_last {
                    self.scratch.push(SENTENCE_BREAK);
                    self.break_last = true;
                }
            } else {
                let id = map[local as usize];
                if id != DROP {
                    self.scratch.push(id);
                    self.break_last = false;
                    self.words_kept += 1;
                }
            }
        }
        store.extend_ids(&self.scratch)?;
        self.raw_words += words.raw;
        Ok(())
    }
}

/// Raises the threshold by one and drops words seen at most that often from `t` and `store`, renumbering the rest in
/// their order (the provisional ids stay in first-seen order, with no id left dangling).
fn prune(t: &mut Table, p: &mut Pruning, store: &mut dyn TokenStore) -> Result<()> {
    p.threshold += 1;
    p.times += 1;
    let mut new_id = vec![DROPPED; t.words.len()];
    let mut next = 0u32;
    for (i, &c) in t.counts.iter().enumerate() {
        if c > p.threshold {
            new_id[i] = next;
            next += 1;
        }
    }
    p.dropped += (t.words.len() - next as usize) as u64;
    let words = std::mem::take(&mut t.words);
    let counts = std::mem::take(&mut t.counts);
    t.index.clear();
    for ((w, c), &id) in words.into_iter().zip(counts).zip(&new_id) {
        if id != DROPPED {
            t.index.insert(w.clone(), id);
            t.words.push(w);
            t.counts.push(c);
        }
    }
    t.index.shrink_to_fit();
    store.compact(&new_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_budget_holds_a_power_of_two_of_words_within_bounds() {
        assert_eq!(table_budget_for(0), 1 << 16);
        assert_eq!(table_budget_for(64 << 20), 1 << 18);
        // Budgets that differ a little (the free memory of two runs) name the same table.
        assert_eq!(table_budget_for(900 << 20), table_budget_for(1000 << 20));
        assert_eq!(table_budget_for(1 << 40), DEFAULT_TABLE_BUDGET);
        for b in [1u64 << 20, 77 << 20, 3 << 30] {
            let t = table_budget_for(b) as u64;
            assert!(t.is_power_of_two() || t == DEFAULT_TABLE_BUDGET as u64);
            assert!(
                t * TABLE_BYTES_PER_WORD <= b.max(TABLE_BYTES_PER_WORD << 16),
                "{b}"
            );
        }
        let mut p = Pruning {
            times: 2,
            dropped: 10,
            threshold: 2,
            budget: 1 << 18,
            derived_from: Some(64 << 20),
        };
        let line = p.to_string();
        assert!(
            line.contains("262144 words (what --memory-budget 64.0 MiB holds"),
            "{line}"
        );
        p.derived_from = None;
        assert!(p.to_string().ends_with("raise --vocab-budget to keep them"));
    }
}
