//! Counting's token store under a memory budget: the ids stay in memory while they fit it; the
//! first time they would not, they move into the cache file being written and every later id,
//! pruning's rewrite and the remap to frequency order go to that file ([`CacheWriter`] rewrites
//! in place a block at a time). So one pass over the text counts and encodes any corpus, from any
//! source (standard input included, which cannot be read twice), with the ids' memory bounded by
//! the budget.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::input::cache::CacheWriter;
use crate::input::sink::{IdSink, TokenStore};

/// Where the ids go once they outgrow memory.
pub struct SpillTo {
    /// The cache file to write (a temporary beside it until it is finished).
    pub path: PathBuf,
    pub key: u64,
    /// The end of the line a failed write gives (what to do).
    pub fix: &'static str,
}

/// A [`TokenStore`] in memory up to `budget` bytes of ids, then in a cache file.
pub struct Budgeted {
    /// Ids held in memory at most.
    limit: usize,
    memory: Vec<u32>,
    file: Option<CacheWriter>,
    to: SpillTo,
}

/// Where a pass left the ids.
pub enum Stored {
    Memory(Vec<u32>),
    /// In the cache file, to be finished with the vocabulary.
    File(CacheWriter),
}

impl Budgeted {
    pub fn new(budget: u64, to: SpillTo) -> Budgeted {
        Budgeted {
            limit: (budget / 4).min(usize::MAX as u64) as usize,
            memory: Vec::new(),
            file: None,
            to,
        }
    }

    pub fn into_stored(self) -> Stored {
        match self.file {
            Some(w) => Stored::File(w),
            None => Stored::Memory(self.memory),
        }
    }

    /// Moves the ids so far into the file; memory holds none from here on.
    fn spill(&mut self) -> Result<&mut CacheWriter> {
        if let Some(dir) = self.to.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::Input(format!(
                    "--cache-dir: cannot create '{}' for ids beyond --memory-budget ({e}); give a \
                     writable folder or a larger --memory-budget",
                    dir.display()
                ))
            })?;
        }
        let mut w = CacheWriter::create_for(&self.to.path, self.to.key, self.to.fix)?;
        w.extend_ids(&self.memory)?;
        self.memory = Vec::new();
        Ok(self.file.insert(w))
    }
}

impl IdSink for Budgeted {
    fn push(&mut self, id: u32) -> Result<()> {
        self.extend_ids(&[id])
    }

    fn extend_ids(&mut self, ids: &[u32]) -> Result<()> {
        if let Some(w) = &mut self.file {
            return w.extend_ids(ids);
        }
        let need = self.memory.len() + ids.len();
        if need > self.limit {
            return self.spill()?.extend_ids(ids);
        }
        // Grown by doubling as a Vec would, but never past the budget.
        if need > self.memory.capacity() {
            let cap = (2 * self.memory.capacity()).max(need).min(self.limit);
            self.memory.reserve_exact(cap - self.memory.len());
        }
        self.memory.extend_from_slice(ids);
        Ok(())
    }
}

impl TokenStore for Budgeted {
    fn compact(&mut self, new_id: &[u32]) -> Result<()> {
        match &mut self.file {
            Some(w) => w.compact(new_id),
            None => self.memory.compact(new_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::corpus::{load_into, ReadOptions, Source};
    use crate::input::pass::Pass;

    #[test]
    fn a_pass_beyond_the_budget_stores_in_the_file_the_ids_memory_holds() {
        let dir = tempfile::tempdir().unwrap();
        // Words seen once among frequent ones, so pruning rewrites the file too.
        let text: String = (0..60_000)
            .map(|i| format!("w{} x{i} w{}\n", i % 13, i % 5))
            .collect();
        let src = Source::Text {
            name: "t".into(),
            text,
        };
        for table_budget in [usize::MAX, 500] {
            let pass = Pass {
                threads: 2,
                chunk_bytes: 8192,
                table_budget,
            };
            let mut want = Vec::new();
            let l = load_into(&src, ReadOptions::default(), &pass, 1, None, &mut want).unwrap();
            let to = SpillTo {
                path: dir.path().join("sub/c.w2v-ids"),
                key: 1,
                fix: "test",
            };
            let mut store = Budgeted::new(64 << 10, to);
            let got = load_into(&src, ReadOptions::default(), &pass, 1, None, &mut store).unwrap();
            assert_eq!((&got.vocab, got.raw_words), (&l.vocab, l.raw_words));
            assert_eq!(got.pruning.is_some(), table_budget == 500);
            let Stored::File(w) = store.into_stored() else {
                panic!("{} ids stayed in 64 KiB", want.len())
            };
            let f = w.finish(&got.vocab, got.raw_words).unwrap();
            assert_eq!(f.load_all().unwrap(), want, "table budget {table_budget}");
        }
        let mut small = Budgeted::new(
            1 << 20,
            SpillTo {
                path: dir.path().join("never"),
                key: 2,
                fix: "test",
            },
        );
        small.extend_ids(&[1, 2, 3]).unwrap();
        assert!(matches!(small.into_stored(), Stored::Memory(v) if v == [1, 2, 3]));
        assert!(!dir.path().join("never").exists());
    }
}
