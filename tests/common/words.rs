//! A generated text corpus for the binary's tests: `n` words `w1`..`w{vocab-1}` with a skewed
//! (about log-uniform) frequency, drawn by a fixed LCG from `seed`, `per_line` words a line.

use std::path::Path;

pub fn write_corpus(path: &Path, n: usize, vocab: usize, seed: u64, per_line: usize) {
    let mut x = seed;
    let mut text = String::with_capacity(n * 6);
    for i in 0..n {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        text.push_str(&format!(
            "w{}",
            ((vocab as f64).powf(u) as usize).min(vocab - 1)
        ));
        text.push(if i % per_line == per_line - 1 {
            '\n'
        } else {
            ' '
        });
    }
    std::fs::write(path, text).unwrap();
}
