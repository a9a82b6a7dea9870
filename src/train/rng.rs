//! Philox4x32-10, the counter-based generator shared by the CPU and the CUDA kernels.
//!
//! Every random decision in training is a pure function of `(seed, token position, purpose, slot)`,
//! so the same seed gives the same subsampling, windows and negatives for any thread count and on
//! any device. `kernels/common.cuh` carries the same function; both are checked against the
//! Random123 known-answer vectors (`tests` below and the emulated-device parity tests).
//!
//! Keying (mirrored in `kernels/common.cuh`, keep both in step):
//! - key     = `[seed as u32, (seed >> 32) as u32]`
//! - counter = `[pos as u32, (pos >> 32) as u32, purpose, block]`
//!
//! `pos` is the absolute key position of a token: `epoch * corpus_len + index` (see `plan.rs`).

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Purpose word of the counter: which decision a draw serves.
pub const PURPOSE_SUBSAMPLE: u32 = 0;
pub const PURPOSE_WINDOW: u32 = 1;
pub const PURPOSE_NEGATIVE: u32 = 2;
pub const PURPOSE_INIT: u32 = 3;

#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = (a as u64) * (b as u64);
    ((p >> 32) as u32, p as u32)
}

/// One Philox4x32 block with 10 rounds (the Random123 reference schedule).
#[inline]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let [mut c0, mut c1, mut c2, mut c3] = counter;
    let [mut k0, mut k1] = key;
    for round in 0..10 {
        if round > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let (hi0, lo0) = mulhilo(M0, c0);
        let (hi1, lo1) = mulhilo(M1, c2);
        (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
    }
    [c0, c1, c2, c3]
}

/// The four words drawn for `(seed, pos, purpose, block)`.
#[inline]
pub fn draw(seed: u64, pos: u64, purpose: u32, block: u32) -> [u32; 4] {
    philox4x32_10(
        [pos as u32, (pos >> 32) as u32, purpose, block],
        [seed as u32, (seed >> 32) as u32],
    )
}

/// Maps a uniform u32 onto `0..n` without division (Lemire's multiply-shift); exact on both devices.
#[inline(always)]
pub fn below(r: u32, n: u32) -> u32 {
    ((r as u64 * n as u64) >> 32) as u32
}

/// A uniform f32 in [0, 1) from the top 24 bits of `r` (exact, same on CPU and GPU).
#[inline(always)]
pub fn unit_f32(r: u32) -> f32 {
    (r >> 8) as f32 * (1.0 / 16_777_216.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123 `tests/kat_vectors`, the three `philox4x32 10` lines: counter, key, expected.
    const KAT: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
        (
            [0, 0, 0, 0],
            [0, 0],
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8],
        ),
        (
            [u32::MAX; 4],
            [u32::MAX; 2],
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd],
        ),
        (
            [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
            [0xa409_3822, 0x299f_31d0],
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
        ),
    ];

    #[test]
    fn philox_matches_random123_known_answers() {
        for (ctr, key, want) in KAT {
            assert_eq!(
                philox4x32_10(ctr, key),
                want,
                "counter {ctr:08x?} key {key:08x?}"
            );
        }
    }

    #[test]
    fn draw_is_keyed_by_every_word() {
        let base = draw(7, 1 << 33 | 5, PURPOSE_NEGATIVE, 3);
        assert_ne!(base, draw(8, 1 << 33 | 5, PURPOSE_NEGATIVE, 3));
        assert_ne!(base, draw(7, 5, PURPOSE_NEGATIVE, 3));
        assert_ne!(base, draw(7, 1 << 33 | 5, PURPOSE_WINDOW, 3));
        assert_ne!(base, draw(7, 1 << 33 | 5, PURPOSE_NEGATIVE, 4));
        assert_ne!(base, draw(7 << 32, 1 << 33 | 5, PURPOSE_NEGATIVE, 3));
    }

    #[test]
    fn below_covers_range_evenly() {
        let n = 7u32;
        let mut hist = [0u32; 7];
        for i in 0..70_000u64 {
            hist[below(draw(1, i, 0, 0)[0], n) as usize] += 1;
        }
        for h in hist {
            assert!((9_500..10_500).contains(&h), "{hist:?}");
        }
        assert_eq!(below(u32::MAX, n), n - 1);
        assert_eq!(below(0, n), 0);
    }
}
