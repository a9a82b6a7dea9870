//! `kernel-cost`: the traffic model of the fused step kernels (benches/MODEL.md), from the emulated
//! device's counts and ptxas's resources; no GPU. Run through `scripts/kernel-cost.sh`.
//!
//! For every kernel variant and dim 100, 128 and 300 (negative 5, window 5, sample 1e-4) it trains
//! one batch of a fixed text8-like corpus (Zipf counts of text8's size, tokens drawn from them) on
//! the emulated device with counting on, and prints per kept centre the sectors and atomic sectors
//! of the step kernel, bytes per raw word (step and subsampling), registers, spills and shared
//! memory (from `--ptxas`, the table scripts/check-ptx.sh writes), resident warps per SM on sm_80
//! and sm_90 (from the architectures' limits), and a **modelled** H100/H200 words/s with its binding
//! bound. `--json FILE` writes the figures; `--check FILE` fails when a sector count rose by more
//! than 2 % over the committed figures, when a variant is missing there, or when a step spills.

use std::collections::BTreeMap;
use std::fs;
use std::process::ExitCode;

use serde_json::{json, Value};
use w2v_gpu::backend::cuda::traffic::{self, Traffic};
use w2v_gpu::backend::cuda::variant::{self, KernelVariant};
use w2v_gpu::backend::cuda::{open_emulated, DeviceProps};
use w2v_gpu::backend::{Backend, OptimizerKind, State, Storage};
use w2v_gpu::train::plan::{Batch, Chunk, ModelKind, StepConfig};
use w2v_gpu::train::rng::{draw, unit_f32, PURPOSE_INIT};
use w2v_gpu::train::sampler::{keep_thresholds, keep_token, AliasTable, NegativeMode};

#[path = "model/mod.rs"]
mod model;

use model::{Gpu, Kernel, Ptxas, Workload, GPUS};

/// text8: 17,005,207 words, 71,290 distinct words with count ≥ 5.
const TEXT8_WORDS: u64 = 17_005_207;
const TEXT8_VOCAB: usize = 71_290;
/// Raw tokens of the counted batch (one span): the per-centre figures move by under 2 % from
/// one span to two, and CI runs this.
const DEFAULT_TOKENS: usize = 8192;
const DIMS: [usize; 3] = [100, 128, 300];
/// A sector count may rise this much over the committed figures before `--check` fails.
const TOLERANCE: f64 = 1.02;

/// One kernel variant: what the trainer would run for a model and storage.
struct Variant {
    name: &'static str,
    kernel: KernelVariant,
    model: ModelKind,
    storage: Storage,
}

const VARIANTS: [Variant; 10] = [
    Variant {
        name: "v1 skipgram f32",
        kernel: KernelVariant::V1,
        model: ModelKind::Skipgram,
        storage: Storage::F32,
    },
    Variant {
        name: "v1 cbow f32",
        kernel: KernelVariant::V1,
        model: ModelKind::Cbow,
        storage: Storage::F32,
    },
    Variant {
        name: "v1 skipgram f16",
        kernel: KernelVariant::V1,
        model: ModelKind::Skipgram,
        storage: Storage::F16,
    },
    Variant {
        name: "v1 cbow f16",
        kernel: KernelVariant::V1,
        model: ModelKind::Cbow,
        storage: Storage::F16,
    },
    Variant {
        name: "v2 skipgram f32",
        kernel: KernelVariant::V2,
        model: ModelKind::Skipgram,
        storage: Storage::F32,
    },
    Variant {
        name: "v2 cbow f32",
        kernel: KernelVariant::V2,
        model: ModelKind::Cbow,
        storage: Storage::F32,
    },
    Variant {
        name: "v2 skipgram f16",
        kernel: KernelVariant::V2,
        model: ModelKind::Skipgram,
        storage: Storage::F16,
    },
    Variant {
        name: "v2 cbow f16",
        kernel: KernelVariant::V2,
        model: ModelKind::Cbow,
        storage: Storage::F16,
    },
    Variant {
        name: "v2 skipgram bf16",
        kernel: KernelVariant::V2,
        model: ModelKind::Skipgram,
        storage: Storage::Bf16,
    },
    Variant {
        name: "v2 cbow bf16",
        kernel: KernelVariant::V2,
        model: ModelKind::Cbow,
        storage: Storage::Bf16,
    },
];

struct Args {
    ptxas: Option<String>,
    json: Option<String>,
    check: Option<String>,
    tokens: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        ptxas: None,
        json: None,
        check: None,
        tokens: DEFAULT_TOKENS,
    };
    let mut it = std::env::args().skip(1).filter(|s| s != "--bench");
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value; see benches/kernel_cost.rs"))
        };
        match flag.as_str() {
            "--ptxas" => a.ptxas = Some(value()?),
            "--json" => a.json = Some(value()?),
            "--check" => a.check = Some(value()?),
            "--tokens" => {
                let v = value()?;
                a.tokens = v
                    .parse()
                    .map_err(|_| format!("--tokens {v}: want a whole number of raw tokens"))?;
            }
            other => {
                return Err(format!(
                "unknown argument {other}; use --ptxas FILE, --json FILE, --check FILE, --tokens N"
            ))
            }
        }
    }
    Ok(a)
}

/// text8-sized Zipf counts (count ∝ 1/rank), at least 5 each as after `--min-count 5`.
fn text8_counts() -> Vec<u64> {
    let h: f64 = (1..=TEXT8_VOCAB).map(|r| 1.0 / r as f64).sum();
    (1..=TEXT8_VOCAB)
        .map(|r| ((TEXT8_WORDS as f64 / (h * r as f64)).round() as u64).max(5))
        .collect()
}

/// One counted batch of a variant at one dim: (step kernel's traffic, subsampling's traffic).
fn count(
    v: &Variant,
    dim: usize,
    counts: &[u64],
    tokens: &[u32],
    keep: &[u32],
) -> Result<(String, Traffic, Traffic), String> {
    let b = open_emulated(tokens.len())
        .map_err(|e| e.to_string())?
        .with_kernel(v.kernel);
    let vocab = counts.len();
    let w_in: Vec<f32> = (0..vocab * dim)
        .map(|i| (unit_f32(draw(3, i as u64, PURPOSE_INIT, 0)[0]) - 0.5) / dim as f32)
        .collect();
    let w_out = vec![0.0f32; vocab * dim];
    let mut st = State::with_storage(
        &b,
        dim,
        &w_in,
        &w_out,
        AliasTable::unigram(counts, 0.75),
        keep.to_vec(),
        OptimizerKind::Sgd,
        v.storage,
    )
    .map_err(|e| e.to_string())?;
    let cfg = StepConfig {
        model: v.model,
        window: 5,
        fixed_window: false,
        negative: 5,
        negatives: NegativeMode::Replace,
        seed: 1,
    };
    let batch = Batch {
        start: 0,
        len: tokens.len(),
        epoch: 0,
        corpus_len: tokens.len() as u64,
        lr_begin: 0.025,
        lr_end: 0.025,
    };
    traffic::reset();
    traffic::set_counting(true);
    let r = b.train_batch(
        &mut st.model,
        &st.tables,
        &Chunk::whole(tokens),
        &batch,
        &cfg,
    );
    traffic::set_counting(false);
    r.map_err(|e| e.to_string())?;
    let kernel = variant::step_kernel(v.kernel, v.model, v.storage, cfg.negative, dim);
    let rows: BTreeMap<String, Traffic> = traffic::snapshot().into_iter().collect();
    let get = |k: &str| {
        rows.get(k)
            .copied()
            .ok_or_else(|| format!("the emulator counted nothing for {k}"))
    };
    Ok((
        kernel.to_string(),
        get(kernel)?,
        get("w2v_subsample_compact")?,
    ))
}

/// The launch geometry a GPU would get (48 KiB of shared memory per block, many spans).
fn gpu_geometry(gpu: &Gpu, v: &Variant, dim: usize) -> (u32, u32) {
    let props = DeviceProps {
        name: gpu.name.into(),
        sm_count: gpu.sms,
        warp_size: 32,
        shared_per_block: 48 << 10,
        total_memory: 80 << 30,
        driver_version: String::new(),
        toolkit: String::new(),
    };
    let v2 = variant::runs_v2(v.kernel, v.storage, 5, dim);
    let c = variant::step_launch(&props, v2, false, v.model, 1024, dim, 5).expect("dim ≤ 300 fits");
    (c.block[0] / 32, c.shared_bytes)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let ptxas = match &args.ptxas {
        Some(p) => Ptxas::read(p)?,
        None => Ptxas::default(),
    };
    let counts = text8_counts();
    let keep = keep_thresholds(&counts, 1e-4);
    let unigram = AliasTable::unigram(&counts, 1.0);
    let tokens: Vec<u32> = (0..args.tokens as u64)
        .map(|i| {
            let r = draw(11, i, PURPOSE_INIT, 5);
            unigram.sample(r[0], r[1])
        })
        .collect();
    let kept = (0..tokens.len())
        .filter(|&i| keep_token(&keep, 1, i as u64, tokens[i]))
        .count() as u64;
    println!(
        "kernel-cost: text8-like corpus ({} words, vocab {}), {} raw tokens counted, {} kept centres; \
         negative 5, window 5, sample 1e-4. Sectors are emulated-device counts; words/s are MODELLED \
         (benches/MODEL.md), not measured.",
        TEXT8_WORDS,
        counts.len(),
        tokens.len(),
        kept
    );
    let mut out = Vec::new();
    for v in &VARIANTS {
        for dim in DIMS {
            let (kernel, step, sub) = count(v, dim, &counts, &tokens, &keep)?;
            let per = |x: u64| x as f64 / kept as f64;
            let res = ptxas.kernel(&kernel);
            let work = Workload {
                dim,
                half: v.storage != Storage::F32,
                negative: 5,
                counts: &counts,
                keep: &keep,
            };
            let kernel_cost = Kernel {
                load_instr: per(step.loads.instructions),
                instr: per(step.instructions()) * res.map_or(f64::NAN, |r| r.instr_per_mem),
                sectors: per(step.sectors()),
                atomic_sectors: per(step.atomics.sectors),
                raw_sectors_per_centre: sub.sectors() as f64 / kept as f64,
                kept_per_raw: kept as f64 / tokens.len() as f64,
            };
            let mut arch = serde_json::Map::new();
            for gpu in &GPUS {
                let (warps_per_block, shared) = gpu_geometry(gpu, v, dim);
                let resident = ptxas.arch(gpu.arch.name, &kernel).map(|r| {
                    gpu.arch
                        .resident_warps(r.regs, warps_per_block, shared + r.static_shared)
                });
                let m = resident.map(|w| model::roofline(gpu, &work, &kernel_cost, w));
                arch.insert(
                    gpu.name.into(),
                    json!({
                        "sm": gpu.arch.name,
                        "warps_per_block": warps_per_block,
                        "dynamic_shared_bytes": shared,
                        "resident_warps_per_sm": resident,
                        "modelled": m,
                    }),
                );
            }
            let row = json!({
                "variant": v.name,
                "kernel": kernel,
                "dim": dim,
                "kept_centres": kept,
                "raw_words": tokens.len(),
                "sectors_per_centre": per(step.sectors()),
                "load_sectors_per_centre": per(step.loads.sectors),
                "atomic_sectors_per_centre": per(step.atomics.sectors),
                "atomic_lane_ops_per_centre": per(step.atomic_lane_ops),
                "memory_instructions_per_centre": per(step.instructions()),
                "estimated_instructions_per_centre": kernel_cost.instr,
                "bytes_per_raw_word": 32.0 * (step.sectors() + sub.sectors()) as f64 / tokens.len() as f64,
                "ptxas": ptxas.json(&kernel),
                "gpus": arch,
            });
            print_row(&row);
            out.push(row);
        }
    }
    let doc = json!({
        "corpus": {"words": TEXT8_WORDS, "vocab": counts.len(), "counted_tokens": tokens.len(), "kept_centres": kept},
        "settings": {"negative": 5, "window": 5, "sample": 1e-4},
        "note": "sector counts from the emulated device; words/s modelled (benches/MODEL.md), not measured",
        "rows": out,
    });
    if let Some(p) = &args.json {
        let text = serde_json::to_string_pretty(&doc).expect("JSON of plain values") + "\n";
        fs::write(p, text).map_err(|e| format!("cannot write {p}: {e}"))?;
    }
    if let Some(p) = &args.check {
        check(&doc, p)?;
    }
    Ok(())
}

fn print_row(r: &Value) {
    let h100 = &r["gpus"]["H100"];
    let m = &h100["modelled"];
    println!(
        "{:<16} dim {:>3}: {:>6.1} sectors/centre ({:>6.1} atomic), {:>6.1} B/raw word, {:>5.0} instr/centre (est.), \
         regs {} spill {}, warps/SM sm_80 {} sm_90 {}; MODELLED H100 {} words/s, H200 {} words/s, bound: {}",
        r["variant"].as_str().unwrap_or("?"),
        r["dim"],
        r["sectors_per_centre"].as_f64().unwrap_or(f64::NAN),
        r["atomic_sectors_per_centre"].as_f64().unwrap_or(f64::NAN),
        r["bytes_per_raw_word"].as_f64().unwrap_or(f64::NAN),
        r["estimated_instructions_per_centre"].as_f64().unwrap_or(f64::NAN),
        r["ptxas"]["sm_90"]["registers"],
        r["ptxas"]["sm_90"]["spill_bytes"],
        r["gpus"]["A100"]["resident_warps_per_sm"],
        h100["resident_warps_per_sm"],
        fmt_rate(&m["words_per_s"]),
        fmt_rate(&r["gpus"]["H200"]["modelled"]["words_per_s"]),
        m["bound"].as_str().unwrap_or("(no ptxas table)"),
    );
}

fn fmt_rate(v: &Value) -> String {
    v.as_f64().map_or("?".into(), |x| format!("{:.2e}", x))
}

/// Fails when a row's sectors rose over the committed figures or a step spills.
fn check(doc: &Value, path: &str) -> Result<(), String> {
    let text = fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let base: Value =
        serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))?;
    let key = |r: &Value| format!("{} dim {}", r["variant"].as_str().unwrap_or("?"), r["dim"]);
    let base_rows: BTreeMap<String, &Value> = base["rows"]
        .as_array()
        .map(|a| a.iter().map(|r| (key(r), r)).collect())
        .unwrap_or_default();
    let mut problems = Vec::new();
    for r in doc["rows"].as_array().into_iter().flatten() {
        let k = key(r);
        for arch in ["sm_80", "sm_90"] {
            if r["ptxas"][arch]["spill_bytes"].as_u64().unwrap_or(0) > 0 {
                problems.push(format!("{k}: spills registers on {arch}"));
            }
        }
        let Some(b) = base_rows.get(&k) else {
            problems.push(format!(
                "{k}: not in {path}; rerun scripts/kernel-cost.sh --write"
            ));
            continue;
        };
        for field in ["sectors_per_centre", "atomic_sectors_per_centre"] {
            let (now, was) = (r[field].as_f64(), b[field].as_f64());
            if let (Some(now), Some(was)) = (now, was) {
                if now > was * TOLERANCE {
                    problems.push(format!("{k}: {field} {now:.1}, committed {was:.1}"));
                }
            }
        }
    }
    if problems.is_empty() {
        println!("kernel-cost: no regression against {path}");
        Ok(())
    } else {
        Err(format!(
            "kernel-cost: {} against {path} (fix the kernel, or commit new figures with scripts/kernel-cost.sh --write): {}",
            problems.len(),
            problems.join("; ")
        ))
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kernel-cost: {e}");
            ExitCode::FAILURE
        }
    }
}
