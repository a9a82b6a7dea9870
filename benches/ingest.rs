//! Text → encoded ids, timed: one `load` pass (count, then remap) over each corpus given, as
//! `train` runs it, with nothing trained. `benches/ingest.sh` runs it beside `wc -w`.
//!
//! `cargo bench --bench ingest -- [--threads N] [--chunk-bytes N] [--text-bytes N] CORPUS...`: one line per corpus,
//! with words/s and MB/s of text (`--text-bytes`: the decompressed size, for a compressed corpus;
//! else the size on disk).

use std::path::PathBuf;
use std::time::Instant;

use w2v_gpu::input::corpus::{load_into, ReadOptions, Source};
use w2v_gpu::input::pass::Pass;

fn main() {
    let mut pass = Pass::default();
    let mut text_bytes = None;
    let mut corpora = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> usize {
            let v = args.next().unwrap_or_default();
            v.parse()
                .unwrap_or_else(|_| panic!("{name} needs a whole number, got {v:?}"))
        };
        match a.as_str() {
            "--threads" => pass.threads = value("--threads"),
            "--chunk-bytes" => pass.chunk_bytes = value("--chunk-bytes"),
            "--text-bytes" => text_bytes = Some(value("--text-bytes") as u64),
            "--bench" => {}
            _ => corpora.push(PathBuf::from(a)),
        }
    }
    for path in corpora {
        let src = match Source::resolve(std::slice::from_ref(&path)) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        };
        let bytes = text_bytes.or(src.size()).unwrap_or(0);
        let (start, cpu0) = (Instant::now(), cpu_seconds());
        let mut tokens = Vec::new();
        let loaded = load_into(&src, ReadOptions::default(), &pass, 5, None, &mut tokens);
        let secs = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
        let loaded = loaded.unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1);
        });
        println!(
            "{}: {} words, {} ids, vocabulary {} -> {:.3} s, {:.1}M words/s, {:.0} MB/s of text{}",
            path.display(),
            loaded.raw_words,
            tokens.len(),
            loaded.vocab.len(),
            secs,
            loaded.raw_words as f64 / secs / 1e6,
            bytes as f64 / secs / 1e6,
            cpu.map_or(String::new(), |c| format!(
                " ({c:.2} s of CPU: {:.1}M words per CPU-second)",
                loaded.raw_words as f64 / c / 1e6
            ))
        );
    }
}

/// User + system CPU time of this process so far (Linux `/proc/self/stat`, 100 ticks a second),
/// so a run on a busy machine still says what the pass cost.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}
