//! A `[rows, dim]` ndarray matrix whose rows several threads update at once without locks
//! (Hogwild!, Recht et al. 2011).
//!
//! The handle wraps the memory of a standard-layout (row-major, contiguous) `ArrayViewMut2`, so
//! every row is one contiguous `&[f32]` slice for the fast path's vector loops.
//!
//! This type owns the CPU backend's only `unsafe` outside the AVX2 dispatch. Why it is sound enough:
//! - **Lifetime.** A handle borrows the matrix mutably for `'a`, so nothing outside the handles can
//!   read or write it while they live; the backend's worker threads are scoped and joined before
//!   that borrow ends.
//! - **Within a thread.** `row_mut` takes `&mut self` and `row` takes `&self`, so one handle never
//!   hands out a mutable row together with any other row: no aliasing inside a thread. Each thread
//!   owns its own clone of the handle.
//! - **Across threads.** Two threads may read and write the same row at the same time. That is a
//!   data race, which the Rust memory model leaves undefined; in practice each element is one
//!   aligned 4-byte load or store (no tearing on x86-64 or AArch64), so a racing reader sees the old
//!   or the new value and a racing writer may lose one update. Hogwild's analysis shows such rare,
//!   sparse collisions do not hurt SGD's convergence; that is the trade-off word2vec.c, gensim and
//!   finalfrontier all make. The alternative (relaxed atomics per element) forbids vectorising the
//!   row loops, which are the whole cost of training.
//! - **Bounds.** Every row index is checked against the matrix size (a panic, never an out-of-bounds access).

use std::marker::PhantomData;

use ndarray::ArrayViewMut2;

/// A shared handle to a `[rows, dim]` row-major f32 matrix; clone one per worker thread.
#[derive(Clone, Debug)]
pub struct HogwildMatrix<'a> {
    ptr: *mut f32,
    rows: usize,
    dim: usize,
    _borrow: PhantomData<&'a mut [f32]>,
}

// SAFETY: the handle is a pointer into a matrix mutably borrowed for 'a; moving it to another
// thread is the purpose of the type, and the races that follow are the documented Hogwild
// trade-off above (element-sized loads and stores only, within bounds, while the borrow lives).
unsafe impl Send for HogwildMatrix<'_> {}

impl<'a> HogwildMatrix<'a> {
    /// Wraps `matrix` (standard layout, `dim > 0` columns) for lock-free shared updates.
    pub fn new(matrix: ArrayViewMut2<'a, f32>) -> Self {
        let (rows, dim) = matrix.dim();
        assert!(dim > 0, "matrix has no columns");
        let data = matrix
            .into_slice()
            .expect("a Hogwild matrix is row-major and contiguous");
        HogwildMatrix {
            ptr: data.as_mut_ptr(),
            rows,
            dim,
            _borrow: PhantomData,
        }
    }

    /// Asks the CPU to start loading row `r` into cache (a hint: no effect on values).
    #[inline(always)]
    pub fn prefetch(&self, r: usize) {
        #[cfg(target_arch = "x86_64")]
        if r < self.rows {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let row = self.ptr.wrapping_add(r * self.dim);
            for off in (0..self.dim).step_by(16) {
                // SAFETY: SSE is part of the x86-64 baseline, and a prefetch never faults or
                // reads into the program: the address lies inside the borrowed matrix anyway.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(off) as *const i8) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = r;
    }

    /// Row `r` for reading (other threads may be writing it).
    #[inline(always)]
    pub fn row(&self, r: usize) -> &[f32] {
        assert!(r < self.rows, "row {r} out of {} rows", self.rows);
        // SAFETY: r < rows, so the range lies inside the borrowed matrix; this thread holds no
        // mutable row while the shared one lives (`row_mut` needs `&mut self`); cross-thread
        // writes are the Hogwild races documented at the top of this file.
        unsafe { std::slice::from_raw_parts(self.ptr.add(r * self.dim), self.dim) }
    }

    /// The first `n` rows as one slice, for reading.
    fn first_rows(&self, n: usize) -> &[f32] {
        assert!(n <= self.rows, "{n} rows out of {} rows", self.rows);
        // SAFETY: as in `row`, for whole rows inside the borrowed matrix.
        unsafe { std::slice::from_raw_parts(self.ptr, n * self.dim) }
    }

    /// The first `n` rows as one slice, for updating in place.
    fn first_rows_mut(&mut self, n: usize) -> &mut [f32] {
        assert!(n <= self.rows, "{n} rows out of {} rows", self.rows);
        // SAFETY: as in `row_mut`, for whole rows inside the borrowed matrix.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, n * self.dim) }
    }

    /// Row `r` for updating in place (other threads may be reading or writing it).
    #[inline(always)]
    pub fn row_mut(&mut self, r: usize) -> &mut [f32] {
        assert!(r < self.rows, "row {r} out of {} rows", self.rows);
        // SAFETY: as in `row`; `&mut self` makes this the only row of this handle alive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r * self.dim), self.dim) }
    }
}

/// A worker's view of a shared matrix in which the first `hot` rows (the most frequent words: the
/// vocabulary's ids run by descending count) are this thread's own copies, merged into the shared
/// matrix by [`ThreadRows::merge`].
///
/// Every thread writes the most frequent words' rows (they are most centres' negatives and most
/// windows' contexts), so under plain Hogwild their cache lines move between the cores at nearly
/// every update: on a 5,000-word vocabulary two threads trained barely faster than one. With its
/// own copies a thread writes them locally and pays that traffic once a merge. A merge adds the
/// copy's change since the last merge to the shared row and takes the result as the new copy, under
/// a lock all the workers of a step share, so no thread's change to a hot row is ever lost (plain
/// Hogwild may lose single updates; a lost merge would lose many). Between merges a thread does not
/// see the others' changes to its hot rows: local SGD on a few dozen rows for a few thousand
/// centres (the caller bounds both: `cpu::fused`'s `hot_rows` and `merge_every`), where Hogwild
/// already lets a reader see a row before or after another thread's write.
pub struct ThreadRows<'a> {
    shared: HogwildMatrix<'a>,
    hot: usize,
    /// `[hot, dim]`: this thread's copies, and the same as of the last merge.
    local: Vec<f32>,
    base: Vec<f32>,
}

impl<'a> ThreadRows<'a> {
    /// A view of `shared` whose first `min(hot, rows)` rows are copied out (0: the shared matrix
    /// itself, as a single thread uses it).
    pub fn new(shared: HogwildMatrix<'a>, hot: usize) -> Self {
        let hot = hot.min(shared.rows);
        let local = shared.first_rows(hot).to_vec();
        ThreadRows {
            shared,
            hot,
            base: local.clone(),
            local,
        }
    }

    pub fn dim(&self) -> usize {
        self.shared.dim
    }

    #[inline(always)]
    pub fn prefetch(&self, r: usize) {
        if r >= self.hot {
            self.shared.prefetch(r);
        }
    }

    #[inline(always)]
    pub fn row(&self, r: usize) -> &[f32] {
        if r < self.hot {
            let d = self.shared.dim;
            &self.local[r * d..(r + 1) * d]
        } else {
            self.shared.row(r)
        }
    }

    #[inline(always)]
    pub fn row_mut(&mut self, r: usize) -> &mut [f32] {
        if r < self.hot {
            let d = self.shared.dim;
            &mut self.local[r * d..(r + 1) * d]
        } else {
            self.shared.row_mut(r)
        }
    }

    /// Adds the hot copies' change since the last merge to the shared rows, under `lock`; with
    /// `refresh`, the copies then start again from the shared rows (the other threads' merges
    /// included).
    pub fn merge(&mut self, lock: &std::sync::Mutex<()>, refresh: bool) {
        if self.hot == 0 {
            return;
        }
        let _held = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let hot = self.hot;
        let shared = self.shared.first_rows_mut(hot);
        for ((s, l), b) in shared.iter_mut().zip(&mut self.local).zip(&mut self.base) {
            *s += *l - *b;
            if refresh {
                *l = *s;
                *b = *s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn threads_updating_disjoint_rows_see_all_their_writes() {
        let mut data = Array2::<f32>::zeros((4, 3));
        let m = HogwildMatrix::new(data.view_mut());
        std::thread::scope(|s| {
            for t in 0..4 {
                let mut h = m.clone();
                s.spawn(move || {
                    for _ in 0..1000 {
                        h.row_mut(t).iter_mut().for_each(|x| *x += 1.0);
                    }
                });
            }
        });
        assert!(data.iter().all(|&x| x == 1000.0));
    }

    /// Four threads add 1 to every element of the two shared rows and of a row of their own
    /// 1,000 times, through views whose first two rows are their own copies, merging every 7
    /// updates (and at the end): a merge loses no thread's change to the shared rows (which plain
    /// Hogwild would, racing), and the copies see the others' merges.
    #[test]
    fn merged_hot_rows_lose_no_update() {
        let mut data = Array2::<f32>::zeros((6, 3));
        let m = HogwildMatrix::new(data.view_mut());
        let lock = std::sync::Mutex::new(());
        std::thread::scope(|s| {
            for t in 0..4 {
                let (mut v, lock) = (ThreadRows::new(m.clone(), 2), &lock);
                s.spawn(move || {
                    for i in 1..=1000 {
                        for r in [0, 1, 2 + t] {
                            v.row_mut(r).iter_mut().for_each(|x| *x += 1.0);
                        }
                        if i % 7 == 0 {
                            v.merge(lock, true);
                            // Its copies hold at least its own updates.
                            assert!(v.row(0)[0] >= i as f32);
                        }
                    }
                    v.merge(lock, false);
                });
            }
        });
        let rows: Vec<Vec<f32>> = data.rows().into_iter().map(|r| r.to_vec()).collect();
        assert_eq!(rows[..2], vec![vec![4000.0; 3]; 2], "{data:?}");
        assert_eq!(rows[2..], vec![vec![1000.0; 3]; 4], "{data:?}");
    }

    #[test]
    #[should_panic(expected = "row-major and contiguous")]
    fn a_view_whose_rows_are_not_contiguous_is_refused() {
        let mut data = Array2::<f32>::zeros((3, 2));
        let _ = HogwildMatrix::new(data.view_mut().reversed_axes());
    }

    #[test]
    #[should_panic(expected = "out of 2 rows")]
    fn row_index_is_bounds_checked() {
        let mut data = Array2::<f32>::zeros((2, 2));
        let m = HogwildMatrix::new(data.view_mut());
        let _ = m.row(2);
    }
}
