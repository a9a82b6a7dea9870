//! The roofline of benches/MODEL.md as code: the GPUs' assumed rates, the architectures' occupancy
//! limits, the Zipf model of L2 hits, ptxas's table, and the bounds of a step kernel. Every figure
//! it returns is MODELLED, never measured.

use std::collections::BTreeMap;
use std::fs;

use serde::Serialize;
use serde_json::{json, Value};

/// Occupancy limits of an SM (CUDA C Programming Guide, compute capability table).
pub struct Arch {
    pub name: &'static str,
    max_warps: u32,
    max_blocks: u32,
    registers: u32,
    /// Shared memory per SM at the largest carve-out, and what each block reserves on top.
    shared_bytes: u32,
    shared_reserved_per_block: u32,
}

pub const SM80: Arch = Arch {
    name: "sm_80",
    max_warps: 64,
    max_blocks: 32,
    registers: 65536,
    shared_bytes: 164 << 10,
    shared_reserved_per_block: 1 << 10,
};

pub const SM90: Arch = Arch {
    name: "sm_90",
    max_warps: 64,
    max_blocks: 32,
    registers: 65536,
    shared_bytes: 228 << 10,
    shared_reserved_per_block: 1 << 10,
};

impl Arch {
    /// Warps an SM holds of a kernel with `regs` registers a thread, `warps` warps a block and
    /// `shared` bytes of shared memory a block (registers are allocated 256 a warp at a time).
    pub fn resident_warps(&self, regs: u32, warps: u32, shared: u32) -> u32 {
        let per_warp = (regs.max(1) * 32).div_ceil(256) * 256;
        let by_regs = self.registers / (per_warp * warps);
        let by_warps = self.max_warps / warps;
        let by_shared = if shared == 0 {
            u32::MAX
        } else {
            self.shared_bytes / (shared + self.shared_reserved_per_block)
        };
        by_regs.min(by_warps).min(by_shared).min(self.max_blocks) * warps
    }
}

/// A GPU's assumed rates (benches/MODEL.md says where each comes from).
pub struct Gpu {
    pub name: &'static str,
    pub arch: &'static Arch,
    pub sms: u32,
    /// Sustained SM clock under load, Hz.
    clock: f64,
    /// Warp instructions issued per SM per clock (4 schedulers).
    issue_per_clk: f64,
    l2_bytes: f64,
    /// L2 bandwidth, bytes/s (all slices).
    l2_bw: f64,
    dram_bw: f64,
    /// Atomic sector operations the L2 completes per clock, chip-wide (assumption).
    atomic_sectors_per_clk: f64,
    /// Load-to-use latency of an L2 hit and of a DRAM access, cycles.
    l2_latency: f64,
    dram_latency: f64,
}

pub const GPUS: [Gpu; 3] = [
    Gpu {
        name: "A100",
        arch: &SM80,
        sms: 108,
        clock: 1.41e9,
        issue_per_clk: 4.0,
        l2_bytes: 40e6,
        l2_bw: 4.0e12,
        dram_bw: 2.0e12,
        atomic_sectors_per_clk: 48.0,
        l2_latency: 200.0,
        dram_latency: 500.0,
    },
    Gpu {
        name: "H100",
        arch: &SM90,
        sms: 132,
        clock: 1.98e9,
        issue_per_clk: 4.0,
        l2_bytes: 50e6,
        l2_bw: 5.5e12,
        dram_bw: 3.35e12,
        atomic_sectors_per_clk: 64.0,
        l2_latency: 260.0,
        dram_latency: 600.0,
    },
    Gpu {
        name: "H200",
        arch: &SM90,
        sms: 132,
        clock: 1.98e9,
        issue_per_clk: 4.0,
        l2_bytes: 60e6,
        l2_bw: 5.5e12,
        dram_bw: 4.8e12,
        atomic_sectors_per_clk: 64.0,
        l2_latency: 260.0,
        dram_latency: 600.0,
    },
];

/// What is trained: for the Zipf model of which rows stay in L2.
pub struct Workload<'a> {
    pub dim: usize,
    pub half: bool,
    pub negative: u32,
    pub counts: &'a [u64],
    pub keep: &'a [u32],
}

/// Contexts per kept centre assumed by the L2 model (window 5 shrunk uniformly: 2 · 3).
const CONTEXTS: f64 = 6.0;

/// Fraction of row accesses that hit an L2 of `l2_bytes` holding the most-accessed rows of both
/// matrices (an idealised frequency-ordered cache): contexts read `w_in` rows by the kept words'
/// frequencies, targets read `w_out` rows, the centre by the kept frequencies and the negatives
/// by counts^0.75.
pub fn l2_hit(w: &Workload, l2_bytes: f64) -> f64 {
    let kept: Vec<f64> = w
        .counts
        .iter()
        .zip(w.keep)
        .map(|(&c, &k)| c as f64 * (k as f64 / 4_294_967_296.0).min(1.0))
        .collect();
    let neg: Vec<f64> = w.counts.iter().map(|&c| (c as f64).powf(0.75)).collect();
    let (sk, sn) = (kept.iter().sum::<f64>(), neg.iter().sum::<f64>());
    let k = w.negative as f64;
    let total = CONTEXTS + 1.0 + k;
    let mut p: Vec<f64> = kept.iter().map(|x| CONTEXTS / total * x / sk).collect();
    p.extend(
        kept.iter()
            .zip(&neg)
            .map(|(x, n)| (x / sk + k * n / sn) / total),
    );
    p.sort_by(|a, b| b.total_cmp(a));
    let row = ((w.dim * if w.half { 2 } else { 4 }).div_ceil(32) * 32) as f64;
    let rows = ((l2_bytes / row) as usize).min(p.len());
    p[..rows].iter().sum::<f64>().min(1.0)
}

/// A step kernel's costs per kept centre (emulated counts; `instr` estimated from them and PTX).
pub struct Kernel {
    pub load_instr: f64,
    pub instr: f64,
    pub sectors: f64,
    pub atomic_sectors: f64,
    /// Subsampling's sectors, per kept centre.
    pub raw_sectors_per_centre: f64,
    pub kept_per_raw: f64,
}

#[derive(Serialize)]
pub struct Modelled {
    /// Raw words/s of each bound and of the binding one (the least).
    pub bounds: BTreeMap<&'static str, f64>,
    pub bound: &'static str,
    pub words_per_s: f64,
    pub l2_hit: f64,
    pub label: &'static str,
}

/// The bounds of benches/MODEL.md for one kernel on one GPU with `warps` resident per SM.
pub fn roofline(g: &Gpu, w: &Workload, k: &Kernel, warps: u32) -> Modelled {
    let hit = l2_hit(w, g.l2_bytes);
    let other = k.sectors - k.atomic_sectors + k.raw_sectors_per_centre;
    // Centres per second under each bound.
    let issue = g.sms as f64 * g.issue_per_clk * g.clock / k.instr;
    let l2 = g.l2_bw / 32.0 / (other + 2.0 * k.atomic_sectors);
    // Everything fits in L2 (miss 0): no DRAM bound (infinite, left out below).
    let dram = g.dram_bw / (32.0 * (1.0 - hit) * (other + 2.0 * k.atomic_sectors));
    let atomics = g.atomic_sectors_per_clk * g.clock / k.atomic_sectors;
    let latency_cycles = hit * g.l2_latency + (1.0 - hit) * g.dram_latency;
    let latency = g.sms as f64 * warps as f64 * g.clock / (k.load_instr * latency_cycles);
    let mut bounds = BTreeMap::new();
    for (name, centres) in [
        ("issue", issue),
        ("l2", l2),
        ("dram", dram),
        ("atomics", atomics),
        ("latency", latency),
    ] {
        bounds.insert(name, centres * k.kept_per_raw.recip());
    }
    let (bound, words) = bounds
        .iter()
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map_or(("none", f64::NAN), |(n, v)| (*n, *v));
    Modelled {
        bounds,
        bound,
        words_per_s: words,
        l2_hit: hit,
        label: "MODELLED (benches/MODEL.md), not measured",
    }
}

/// ptxas's resources of one kernel on one architecture.
#[derive(Clone, Copy, Debug)]
pub struct Resources {
    pub regs: u32,
    pub spill: u32,
    pub static_shared: u32,
    /// PTX instructions per global-memory PTX instruction in the kernel's body (static).
    pub instr_per_mem: f64,
}

/// The table scripts/check-ptx.sh writes: `arch kernel regs stack spill_st spill_ld smem` rows and
/// `ptx kernel instructions global_memory_instructions` rows.
#[derive(Default)]
pub struct Ptxas {
    rows: BTreeMap<(String, String), (u32, u32, u32)>,
    ptx: BTreeMap<String, (f64, f64)>,
}

impl Ptxas {
    pub fn read(path: &str) -> Result<Ptxas, String> {
        let text = fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let mut t = Ptxas::default();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let num = |i: usize| f.get(i).and_then(|s| s.parse::<u32>().ok());
            match f.first() {
                Some(&"ptx") if f.len() == 4 => {
                    if let (Some(a), Some(b)) = (num(2), num(3)) {
                        t.ptx.insert(f[1].to_string(), (a as f64, b as f64));
                    }
                }
                Some(a) if a.starts_with("sm_") && f.len() == 7 => {
                    if let (Some(r), Some(s), Some(l), Some(m)) = (num(2), num(4), num(5), num(6)) {
                        t.rows
                            .insert((a.to_string(), f[1].to_string()), (r, s + l, m));
                    }
                }
                _ => {}
            }
        }
        Ok(t)
    }

    pub fn arch(&self, arch: &str, kernel: &str) -> Option<Resources> {
        let &(regs, spill, static_shared) = self.rows.get(&(arch.into(), kernel.into()))?;
        let &(all, mem) = self.ptx.get(kernel)?;
        Some(Resources {
            regs,
            spill,
            static_shared,
            instr_per_mem: all / mem.max(1.0),
        })
    }

    /// The kernel's resources on sm_90 (the occupancy and issue model's input).
    pub fn kernel(&self, kernel: &str) -> Option<Resources> {
        self.arch("sm_90", kernel)
    }

    pub fn json(&self, kernel: &str) -> Value {
        let mut m = serde_json::Map::new();
        for arch in ["sm_80", "sm_90"] {
            if let Some(r) = self.arch(arch, kernel) {
                m.insert(
                    arch.into(),
                    json!({"registers": r.regs, "spill_bytes": r.spill, "static_shared_bytes": r.static_shared,
                           "ptx_instructions_per_memory_instruction": r.instr_per_mem}),
                );
            }
        }
        Value::Object(m)
    }
}
