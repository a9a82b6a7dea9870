//! Initial parameters, identical for a seed on every device and thread count (drawn on the host).
//!
//! Row `r` of `W_in` is drawn from the Philox stream `(seed, PURPOSE_INIT, r)` and row `r` of `W_out`
//! from `(seed, PURPOSE_INIT, 1 << 32 | r)` (so the counter is `[r, matrix, PURPOSE_INIT, block]`),
//! element after element through rand's `Uniform` or rand_distr's `Normal`. One stream per row lets
//! the rows fill in parallel with the same values for any number of threads, and a row does not
//! depend on the vocabulary's size.

use rand::distr::{Distribution, Uniform};
use rand_distr::Normal;
use rayon::prelude::*;

use crate::train::rng::{Philox, PURPOSE_INIT};

/// How `W_in` and `W_out` start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Init {
    /// word2vec.c: `W_in` uniform in ±0.5/dim, `W_out` zero.
    #[default]
    Word2vec,
    /// The book: `0.01 · N(0, 1)` for both matrices.
    Book,
}

/// `(w_in, w_out)`, each `[vocab_size, dim]` row-major.
pub fn init_weights(vocab_size: usize, dim: usize, init: Init, seed: u64) -> (Vec<f32>, Vec<f32>) {
    assert!(
        dim > 0,
        "init_weights needs dim ≥ 1 (--dim is checked on the command line)"
    );
    match init {
        Init::Word2vec => {
            // word2vec.c: (u − 0.5) / dim for u uniform in [0, 1), i.e. uniform in [−b, b).
            let bound = 0.5 / dim as f32;
            let uniform =
                Uniform::new(-bound, bound).expect("±0.5/dim is a finite, non-empty range");
            (
                draw_rows(vocab_size, dim, seed, 0, uniform),
                vec![0.0; vocab_size * dim],
            )
        }
        Init::Book => {
            let normal = Normal::new(0.0, 0.01).expect("0.01 is a valid standard deviation");
            (
                draw_rows(vocab_size, dim, seed, 0, normal),
                draw_rows(vocab_size, dim, seed, 1, normal),
            )
        }
    }
}

/// A `[vocab_size, dim]` matrix whose row `r` holds `dim` draws of `dist` from the stream
/// `(seed, PURPOSE_INIT, matrix << 32 | r)`.
fn draw_rows(
    vocab_size: usize,
    dim: usize,
    seed: u64,
    matrix: u64,
    dist: impl Distribution<f32> + Sync,
) -> Vec<f32> {
    let mut w = vec![0.0; vocab_size * dim];
    w.par_chunks_mut(dim).enumerate().for_each(|(row, out)| {
        // Token ids are u32, so the row fits counter word 0 and `matrix` word 1.
        let mut rng = Philox::new(seed, PURPOSE_INIT, matrix << 32 | row as u64);
        out.iter_mut().for_each(|v| *v = dist.sample(&mut rng));
    });
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sample mean and (population) variance.
    fn mean_var(x: &[f32]) -> (f64, f64) {
        let n = x.len() as f64;
        let m = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        (
            m,
            x.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n,
        )
    }

    // The draws are fixed by the seed, so each statistical check below either always passes or
    // always fails; the bounds are 5 standard errors of the statistic under the documented law,
    // which a correct draw exceeds with probability < 1e-6 and a wrong law (another range, scale
    // or shape) misses by far at these sample sizes.

    #[test]
    fn word2vec_init_is_uniform_in_half_over_dim_and_zero_out() {
        let (rows, dim) = (400, 50);
        let (w_in, w_out) = init_weights(rows, dim, Init::Word2vec, 3);
        let n = (rows * dim) as f64;
        let b = 0.5 / dim as f64;
        assert!(w_in.iter().all(|&v| (-b..b).contains(&(v as f64))));
        // The whole range is used: P(no draw within 2b·20/n of an end) = e^−20.
        let (lo, hi) = w_in.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &v| {
            (lo.min(v as f64), hi.max(v as f64))
        });
        assert!(
            lo < -b + 40.0 * b / n && hi > b - 40.0 * b / n,
            "[{lo}, {hi}]"
        );
        // Uniform(−b, b): mean 0 with sd b/√(3n); variance b²/3, the estimate's relative sd √(0.8/n).
        let (m, var) = mean_var(&w_in);
        assert!(m.abs() < 5.0 * b / (3.0 * n).sqrt(), "mean {m}");
        assert!(
            (var / (b * b / 3.0) - 1.0).abs() < 5.0 * (0.8 / n).sqrt(),
            "var {var}"
        );
        assert!(w_out.iter().all(|&v| v == 0.0));
        assert_eq!(init_weights(rows, dim, Init::Word2vec, 3).0, w_in);
        assert_ne!(init_weights(rows, dim, Init::Word2vec, 4).0, w_in);
    }

    #[test]
    fn book_init_is_small_gaussian_in_both_matrices() {
        let (w_in, w_out) = init_weights(500, 40, Init::Book, 9);
        let n = w_in.len() as f64;
        for w in [&w_in, &w_out] {
            // N(0, 0.01²): mean sd 0.01/√n; the variance estimate's relative sd √(2/n).
            let (m, var) = mean_var(w);
            assert!(m.abs() < 5.0 * 0.01 / n.sqrt(), "mean {m}");
            assert!(
                (var / 1e-4 - 1.0).abs() < 5.0 * (2.0 / n).sqrt(),
                "var {var}"
            );
            // Gaussian tails: P(|x| > 2σ) = 0.0455, a binomial fraction with sd √(p(1−p)/n).
            let p = 0.0455;
            let tail = w.iter().filter(|v| v.abs() > 0.02).count() as f64 / n;
            assert!(
                (tail - p).abs() < 5.0 * (p * (1.0 - p) / n).sqrt(),
                "tail {tail}"
            );
        }
        // The matrices are independent: their correlation has sd 1/√n.
        let dot: f64 = w_in
            .iter()
            .zip(&w_out)
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum();
        let (_, var_in) = mean_var(&w_in);
        let (_, var_out) = mean_var(&w_out);
        let corr = dot / n / (var_in * var_out).sqrt();
        assert!(corr.abs() < 5.0 / n.sqrt(), "correlation {corr}");
    }

    #[test]
    fn init_is_the_same_for_any_thread_count_and_rows_do_not_depend_on_vocab_size() {
        let draw = |threads, rows| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| init_weights(rows, 30, Init::Book, 5))
        };
        let one = draw(1, 300);
        assert_eq!(one, draw(4, 300));
        let (w_in, w_out) = draw(3, 100);
        assert_eq!(
            (&one.0[..w_in.len()], &one.1[..w_out.len()]),
            (&w_in[..], &w_out[..])
        );
    }
}
