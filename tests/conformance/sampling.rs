//! Negative sampling on every device: bit for bit what `sampler::negatives_for_centre` draws, for
//! Zipf tables, a table whose mass sits on one word (distinct rows exhaust their rejection slots
//! and take the scan), one to fifteen negatives, both modes. (Subsampling's compaction kernel is
//! checked in `kernels`; the centres it leaves are checked through every step in `fused`.)

use w2v_gpu::backend::Backend;
use w2v_gpu::train::sampler::{self, AliasTable, NegativeMode};

use crate::common::devices::{conformance, TestDevice};
use crate::common::fixture::{ids, Model};

/// A model of `table`'s vocabulary with zero weights of dim 1 (only the tables matter here).
fn tables(table: AliasTable) -> Model {
    let vocab = table.len();
    Model {
        counts: vec![1; vocab],
        dim: 1,
        w_in: vec![0.0; vocab],
        w_out: vec![0.0; vocab],
        keep: vec![u32::MAX; vocab],
        alias: table,
    }
}

fn sample_negatives<T: TestDevice>(dev: &T) {
    let b = dev.open();
    let zipf = |vocab: u64, top: u64| (1..=vocab).map(|r| top / r).collect::<Vec<u64>>();
    let skewed = AliasTable::unigram(&[1_000_000_000, 1, 1, 1, 1, 1, 1], 1.0);
    // `(table, [(centres, k)], seed, position stride)`.
    let cases = [
        (
            AliasTable::unigram(&zipf(30, 3000), 0.75),
            vec![(200, 5)],
            99,
            7,
        ),
        (
            AliasTable::unigram(&zipf(300, 20_000), 0.75),
            vec![(1, 1), (255, 5), (1000, 15)],
            12345,
            7919,
        ),
        (
            AliasTable::unigram(&zipf(500, 1_000_000), 0.75),
            vec![(300, 5), (300, 15)],
            0xDEAD_BEEF_0000_0017,
            0x9E37_79B9,
        ),
        (skewed, vec![(300, 5), (300, 6)], 9, 3),
    ];
    for (table, sizes, seed, stride) in cases {
        let model = tables(table);
        let st = model.state(&b);
        let vocab = model.vocab() as u32;
        for (n, k) in sizes {
            let centres = ids(seed ^ 0x55, n, vocab);
            let positions: Vec<u64> = (0..n as u64).map(|i| i * stride + (1 << 33)).collect();
            for mode in [NegativeMode::Replace, NegativeMode::Distinct] {
                let mut out = b.upload(&vec![u32::MAX; n * k]).unwrap();
                let (cb, pb) = (b.upload(&centres).unwrap(), b.upload(&positions).unwrap());
                b.sample_negatives(&st.tables, &cb, &pb, k, mode, seed, &mut out)
                    .unwrap();
                let got = b.download(&out).unwrap();
                let mut want = vec![0u32; k];
                for (c, o) in got.chunks_exact(k).enumerate() {
                    sampler::negatives_for_centre(
                        &model.alias,
                        seed,
                        positions[c],
                        centres[c],
                        mode,
                        &mut want,
                    );
                    assert_eq!(
                        o,
                        &want[..],
                        "vocab {vocab} n={n} k={k} {mode:?} centre {c}"
                    );
                }
            }
        }
    }
}
conformance!(negatives_are_bit_identical_to_the_sampler, sample_negatives);
