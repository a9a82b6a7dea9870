//! Philox4x32-10, the counter-based generator shared by the CPU and the CUDA kernels, and the
//! same cipher as a sequential stream ([`Philox`]) for rand's distributions on the host.
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
//!
//! Host-side draws (initial weights, the built-in corpus) take [`Philox`] streams instead, through
//! rand's `Rng` traits. The stream `(seed, purpose, stream)` uses the same key and counter layout with
//! `pos` = `stream`: its words are `draw(seed, stream, purpose, 0)` in order `[0..4]`, then block 1,
//! 2, …, so a stream is reproduced from those three numbers alone, and a host purpose (3 and up)
//! never meets training's keyed draws (0–2).

use rand::rand_core::block::{BlockRng, Generator};
use rand::rand_core::Infallible;
use rand::{SeedableRng, TryRng};

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Purpose word of the counter: which decision a draw serves. 0–2 are training's keyed draws
/// (`kernels/common.cuh` has the same numbers); the rest name host-side streams.
pub const PURPOSE_SUBSAMPLE: u32 = 0;
pub const PURPOSE_WINDOW: u32 = 1;
pub const PURPOSE_NEGATIVE: u32 = 2;
/// Initial weights: one stream per matrix row (`model.rs`).
pub const PURPOSE_INIT: u32 = 3;
/// Streams made by `SeedableRng::seed_from_u64`, for draws without a purpose of their own.
pub const PURPOSE_GENERIC: u32 = 4;
/// The built-in corpus: one stream per sentence (`input/synthetic.rs`); "SYNT" in ASCII.
pub const PURPOSE_SYNTHETIC: u32 = 0x5359_4e54;

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

/// Lanes of [`philox_lanes`]: the blocks computed together.
pub const LANES: usize = 32;

/// [`LANES`] Philox blocks at once, each with its own counter and the key of `seed`:
/// `out[w][l]` is word `w` of `philox4x32_10([c[0][l], c[1][l], c[2][l], c[3][l]], key)`, so with
/// the counter of [`draw`] in lane `l` it is that draw.
///
/// The same arithmetic as [`philox4x32_10`], lane by lane, so that the compiler keeps the counters
/// in vector registers (AVX2 where the CPU has it, chosen at run time), with enough independent
/// vectors a round to hide the multiplies' latency: the keyed draws of a group of tokens cost a
/// fraction of what one scalar draw each does.
#[inline]
pub fn philox_lanes(c: &[[u32; LANES]; 4], seed: u64) -> [[u32; LANES]; 4] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was just found on this CPU, the only feature `philox_lanes_avx2` enables.
        return unsafe { philox_lanes_avx2(c, seed) };
    }
    philox_lanes_body(c, seed)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn philox_lanes_avx2(c: &[[u32; LANES]; 4], seed: u64) -> [[u32; LANES]; 4] {
    philox_lanes_body(c, seed)
}

#[inline(always)]
fn philox_lanes_body(c: &[[u32; LANES]; 4], seed: u64) -> [[u32; LANES]; 4] {
    let [mut c0, mut c1, mut c2, mut c3] = *c;
    let (mut k0, mut k1) = (seed as u32, (seed >> 32) as u32);
    for round in 0..10 {
        if round > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        for l in 0..LANES {
            let (hi0, lo0) = mulhilo(M0, c0[l]);
            let (hi1, lo1) = mulhilo(M1, c2[l]);
            (c0[l], c1[l], c2[l], c3[l]) = (hi1 ^ c1[l] ^ k0, lo1, hi0 ^ c3[l] ^ k1, lo0);
        }
    }
    [c0, c1, c2, c3]
}

/// The counter words of [`draw`]`(_, pos, purpose, block)`, for one lane of [`philox_lanes`].
#[inline(always)]
pub fn set_lane(c: &mut [[u32; LANES]; 4], l: usize, pos: u64, purpose: u32, block: u32) {
    c[0][l] = pos as u32;
    c[1][l] = (pos >> 32) as u32;
    c[2][l] = purpose;
    c[3][l] = block;
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

/// The Philox block function as a rand block generator: counter word 3 (`block`) counts up.
#[derive(Clone, Debug)]
struct Blocks {
    key: [u32; 2],
    counter: [u32; 4],
}

impl Generator for Blocks {
    type Output = [u32; 4];

    fn generate(&mut self, out: &mut [u32; 4]) {
        *out = philox4x32_10(self.counter, self.key);
        self.counter[3] = self.counter[3].wrapping_add(1);
    }
}

/// A sequential Philox stream, keyed as the module doc says, for rand's `Rng` methods and
/// distributions. `next_u64` joins two consecutive words, the first as the low half; `fill_bytes`
/// writes words little-endian. The block counter is 32 bits, so a stream repeats after 2³⁴ words;
/// host streams are per row or per sentence and use a handful of blocks.
#[derive(Clone, Debug)]
pub struct Philox(BlockRng<Blocks>);

impl Philox {
    /// The stream `(seed, purpose, stream)`, from its first word.
    pub fn new(seed: u64, purpose: u32, stream: u64) -> Self {
        Philox(BlockRng::new(Blocks {
            key: [seed as u32, (seed >> 32) as u32],
            counter: [stream as u32, (stream >> 32) as u32, purpose, 0],
        }))
    }
}

impl TryRng for Philox {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.0.next_word())
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.0.next_u64_from_u32())
    }

    #[inline]
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.fill_bytes(dst);
        Ok(())
    }
}

impl SeedableRng for Philox {
    /// Little-endian `seed` (8 bytes), `stream` (8 bytes), `purpose` (4 bytes).
    type Seed = [u8; 20];

    fn from_seed(bytes: [u8; 20]) -> Self {
        let word = |at: usize, n: usize| {
            let mut b = [0u8; 8];
            b[..n].copy_from_slice(&bytes[at..at + n]);
            u64::from_le_bytes(b)
        };
        Philox::new(word(0, 8), word(16, 4) as u32, word(8, 8))
    }

    /// `Philox::new(seed, PURPOSE_GENERIC, 0)`: the seed is the Philox key itself, as for `--seed`;
    /// the cipher needs no scrambling of low-entropy seeds, unlike the trait's default.
    fn seed_from_u64(seed: u64) -> Self {
        Philox::new(seed, PURPOSE_GENERIC, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngExt};

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
    fn lanes_are_the_single_draws() {
        let mut gen = Philox::seed_from_u64(11);
        for _ in 0..50 {
            let seed = gen.next_u64();
            let mut c = [[0; LANES]; 4];
            let mut want = Vec::new();
            for l in 0..LANES {
                let pos = gen.next_u64() >> (gen.next_u32() % 64);
                let (purpose, block) = (gen.next_u32() % 5, gen.next_u32() % 4);
                set_lane(&mut c, l, pos, purpose, block);
                want.push(draw(seed, pos, purpose, block));
            }
            let got = philox_lanes(&c, seed);
            for (l, w) in want.iter().enumerate() {
                assert_eq!(&got.map(|x| x[l]), w, "lane {l}");
            }
            assert_eq!(philox_lanes_body(&c, seed), got);
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

    #[test]
    fn stream_is_the_keyed_draws_in_block_order() {
        let (seed, purpose, stream) = (0x1234_5678_9abc_def0, PURPOSE_INIT, 1 << 40 | 17);
        let mut rng = Philox::new(seed, purpose, stream);
        let words: Vec<u32> = (0..12).map(|_| rng.next_u32()).collect();
        let want: Vec<u32> = (0..3)
            .flat_map(|block| draw(seed, stream, purpose, block))
            .collect();
        assert_eq!(words, want);
        // u64s join consecutive words low half first; bytes are the words little-endian.
        let mut rng = Philox::new(seed, purpose, stream);
        assert_eq!(rng.next_u64(), want[0] as u64 | (want[1] as u64) << 32);
        let mut bytes = [0u8; 10];
        rng.fill_bytes(&mut bytes);
        let le: Vec<u8> = want[2..5].iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(bytes[..], le[..10]);
        assert_eq!(rng.next_u32(), want[5]);
    }

    #[test]
    fn seeding_reproduces_a_stream_and_every_input_changes_it() {
        let first = |mut rng: Philox| -> [u64; 4] { std::array::from_fn(|_| rng.next_u64()) };
        let mut bytes = [0u8; 20];
        bytes[..8].copy_from_slice(&9u64.to_le_bytes());
        bytes[8..16].copy_from_slice(&(5u64 << 32 | 2).to_le_bytes());
        bytes[16..].copy_from_slice(&PURPOSE_SYNTHETIC.to_le_bytes());
        let base = first(Philox::from_seed(bytes));
        assert_eq!(base, first(Philox::new(9, PURPOSE_SYNTHETIC, 5 << 32 | 2)));
        assert_eq!(base, first(Philox::from_seed(bytes)));
        assert_ne!(base, first(Philox::new(10, PURPOSE_SYNTHETIC, 5 << 32 | 2)));
        assert_ne!(
            base,
            first(Philox::new(9 << 32, PURPOSE_SYNTHETIC, 5 << 32 | 2))
        );
        assert_ne!(base, first(Philox::new(9, PURPOSE_INIT, 5 << 32 | 2)));
        assert_ne!(base, first(Philox::new(9, PURPOSE_SYNTHETIC, 2)));
        assert_ne!(base, first(Philox::new(9, PURPOSE_SYNTHETIC, 5 << 32 | 3)));

        let seeded = first(Philox::seed_from_u64(3));
        assert_eq!(seeded, first(Philox::new(3, PURPOSE_GENERIC, 0)));
        assert_eq!(seeded, first(Philox::seed_from_u64(3)));
        assert_ne!(seeded, first(Philox::seed_from_u64(4)));
    }

    #[test]
    fn stream_feeds_rand_ranges_evenly() {
        // 70 000 draws over 7 values: each count is Binomial(70 000, 1/7), sd ≈ 93; ±500 is 5 sd.
        let mut rng = Philox::seed_from_u64(1);
        let mut hist = [0u32; 7];
        for _ in 0..70_000 {
            hist[rng.random_range(0..7usize)] += 1;
        }
        for h in hist {
            assert!((9_500..10_500).contains(&h), "{hist:?}");
        }
    }
}
