//! Initial parameters, identical for a seed on every device (drawn on the host from Philox).
//!
//! Element `(row, col)` of `W_in` uses `rng::draw(seed, row·dim + col, PURPOSE_INIT, 0)`, of `W_out`
//! block 1 instead of 0, so the two matrices are independent.

use crate::train::rng::{self, unit_f32, PURPOSE_INIT};

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
    let n = vocab_size * dim;
    match init {
        Init::Word2vec => {
            let w_in = (0..n as u64)
                .map(|i| (unit_f32(rng::draw(seed, i, PURPOSE_INIT, 0)[0]) - 0.5) / dim as f32)
                .collect();
            (w_in, vec![0.0; n])
        }
        Init::Book => {
            let normal = |block| {
                (0..n as u64)
                    .map(move |i| 0.01 * standard_normal(seed, i, block))
                    .collect()
            };
            (normal(0), normal(1))
        }
    }
}

/// One N(0, 1) value by Box–Muller from the first two words of a Philox block.
fn standard_normal(seed: u64, i: u64, block: u32) -> f32 {
    let r = rng::draw(seed, i, PURPOSE_INIT, block);
    // u1 in (0, 1] so the logarithm is finite.
    let u1 = ((r[0] >> 8) as f64 + 1.0) / 16_777_216.0;
    let u2 = (r[1] >> 8) as f64 / 16_777_216.0;
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_var(x: &[f32]) -> (f64, f64) {
        let n = x.len() as f64;
        let m = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        (
            m,
            x.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n,
        )
    }

    #[test]
    fn word2vec_init_is_uniform_in_half_over_dim_and_zero_out() {
        let dim = 50;
        let (w_in, w_out) = init_weights(400, dim, Init::Word2vec, 3);
        let bound = 0.5 / dim as f32;
        assert!(w_in.iter().all(|&v| (-bound..bound).contains(&v)));
        let (m, var) = mean_var(&w_in);
        // Uniform(−b, b): mean 0, variance b²/3; 20 000 samples.
        assert!(
            m.abs() < 4.0 * (bound as f64) / (3.0f64 * 20_000.0).sqrt(),
            "mean {m}"
        );
        assert!(
            (var / (bound as f64 * bound as f64 / 3.0) - 1.0).abs() < 0.05,
            "var {var}"
        );
        assert!(w_out.iter().all(|&v| v == 0.0));
        assert_eq!(init_weights(400, dim, Init::Word2vec, 3).0, w_in);
        assert_ne!(init_weights(400, dim, Init::Word2vec, 4).0, w_in);
    }

    #[test]
    fn book_init_is_small_gaussian_in_both_matrices() {
        let (w_in, w_out) = init_weights(500, 40, Init::Book, 9);
        for w in [&w_in, &w_out] {
            let (m, var) = mean_var(w);
            assert!(m.abs() < 0.0004, "mean {m}");
            assert!((var.sqrt() / 0.01 - 1.0).abs() < 0.03, "sd {}", var.sqrt());
            // Gaussian tails: about 4.55% beyond two standard deviations.
            let tail = w.iter().filter(|v| v.abs() > 0.02).count() as f64 / w.len() as f64;
            assert!((tail - 0.0455).abs() < 0.006, "tail {tail}");
        }
        assert_ne!(w_in, w_out);
    }
}
