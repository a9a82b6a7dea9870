//! The CPU backend's scalar kernels: dot and axpy over contiguous rows, and the σ/exp math that
//! the layers and the fast path share, written so that LLVM vectorises them without FMA.

/// Dot product with sixteen independent partial sums (two 256-bit or four 128-bit registers), so
/// LLVM keeps them in vector lanes; a single running sum is a serial chain it may not reorder.
/// The partial sums are added in order at the end: a pairwise tree here makes LLVM's SLP
/// vectoriser fall back to 2-wide vectors.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = [0.0f32; L];
    for (x, y) in ca.zip(cb) {
        for i in 0..L {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `y += a · x` over equal-length rows.
#[inline(always)]
pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// `(σ(x), exp(−|x|))`: the one transcendental that both σ and the stable binary cross-entropy
/// `max(x, 0) − x·t + log1p(exp(−|x|))` are built from; nothing overflows for any finite `x`.
#[inline(always)]
pub fn sigmoid_and_e(x: f32) -> (f32, f32) {
    let e = (-x.abs()).exp();
    let s = if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (s, e)
}

/// `exp(x)` for `x ≤ 0` in plain, branch-free f32 arithmetic: no libm call in the per-target pass
/// (libm's `expf` was a sixth of the fast path's time). Cody–Waite reduction `x = n·ln2 + r`, |r| ≤ ln2/2, then Cephes' degree-7
/// polynomial for `e^r` and `2^n` built from exponent bits: within 2 ulp of the true value
/// (tested against f64). Below −87 (where `e^x` < 2^−125) it returns 0; σ and the loss built
/// from it change by less than 1e−37 there.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer in the low bits
    let xc = x.max(-87.0);
    let t = xc * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = (xc - n * 0.693_359_4) - n * -2.121_944_4e-4;
    let mut p = 1.987_569_2e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let er = p * (r * r) + r + 1.0;
    let n_int = t.to_bits() as i32 - MAGIC.to_bits() as i32;
    let scale = f32::from_bits(((n_int + 127) as u32) << 23);
    if x < -87.0 {
        0.0
    } else {
        er * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorisable exp stays within 2 ulp of the true value over its whole range.
    #[test]
    fn exp_nonpositive_is_within_two_ulp() {
        let mut x = 0.0f32;
        let mut worst = 0.0f64;
        while x > -87.0 {
            let want = (x as f64).exp();
            let got = exp_nonpositive(x) as f64;
            let w = want as f32;
            let ulp = (f32::from_bits(w.to_bits() + 1) - w) as f64;
            worst = worst.max((got - want).abs() / ulp);
            x -= 1e-4 * (1.0 + x.abs());
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-1e4), 0.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
    }
}
