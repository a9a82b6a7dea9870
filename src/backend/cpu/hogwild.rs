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

    pub fn dim(&self) -> usize {
        self.dim
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

    /// Row `r` for updating in place (other threads may be reading or writing it).
    #[inline(always)]
    pub fn row_mut(&mut self, r: usize) -> &mut [f32] {
        assert!(r < self.rows, "row {r} out of {} rows", self.rows);
        // SAFETY: as in `row`; `&mut self` makes this the only row of this handle alive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r * self.dim), self.dim) }
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
