//! Which step trains a run: decided once, right after the device opens, from what the backend's
//! fused step supports and the validated settings; every refusal of a combination is written here.

use crate::backend::{OptimizerKind, Storage};
use crate::error::{Error, Result};
use crate::train::{StepKind, TrainConfig};

/// What a backend's fused fast path ([`crate::backend::Backend::train_batch`]) trains. The
/// composed path ([`crate::backend::composed::train_batch`]) trains every optimiser and negative
/// count, with f32 weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Capabilities {
    /// Optimisers the fused step applies (an optimiser outside it composes).
    pub fused_optimizers: &'static [OptimizerKind],
    /// Storages of `W_in`/`W_out` the fused step trains.
    pub fused_storages: &'static [Storage],
    /// Most negatives per centre the fused step takes (`None`: any number).
    pub max_fused_negative: Option<u32>,
    /// Bytes of on-chip memory per block the fused step's rows must fit in (`None`: no limit).
    pub fused_shared_bytes: Option<usize>,
    /// Whether the fused step keeps frozen `W_in` rows ([`crate::backend::state::Tables::frozen_in`],
    /// `--freeze-init`) fixed; the composed path always does.
    pub fused_frozen_rows: bool,
    /// With [`Storage::Bf16`]: the most negatives and the widest (even) dim the fused step trains
    /// it with (the v2 CUDA kernels' range); `None` where bf16 is not among `fused_storages`.
    pub fused_bf16_limits: Option<(u32, usize)>,
}

impl Capabilities {
    /// Largest `--dim` the fused step takes with `negative` negatives: each centre keeps its
    /// `1 + negative` target rows and their accumulators, `2 · (1 + negative) · dim` f32, in
    /// shared memory (`kernels/sgns.cu`'s header; `geometry::sgns_step` sizes blocks by it).
    pub fn max_fused_dim(&self, negative: u32) -> Option<usize> {
        let per_dim = 2 * (1 + negative as usize) * std::mem::size_of::<f32>();
        self.fused_shared_bytes.map(|bytes| bytes / per_dim)
    }
}

/// The step a run trains with, as [`choose_step`] decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The backend's fast path: [`crate::backend::Backend::train_batch`].
    Fused,
    /// The book's layers: [`crate::backend::composed::train_batch`].
    Composed,
}

/// The flag value of a 16-bit storage.
fn storage_name(storage: Storage) -> &'static str {
    match storage {
        Storage::F32 => "f32",
        Storage::F16 => "f16",
        Storage::Bf16 => "bf16",
    }
}

/// The one-line refusal of `--storage f16` (or bf16) where `what` keeps f32.
fn f16_refused(storage: Storage, what: &str) -> Error {
    let s = storage_name(storage);
    Error::Config(format!(
        "--storage {s} needs --device cuda:N (or emulator) with the fused SGD step (--optimizer sgd, \
         --step fused); {what} keeps f32: drop --storage {s} or use --storage f32"
    ))
}

/// Decides which step trains `cfg` on the backend `name` with capabilities `caps`, or refuses the
/// combination in one line naming the flags and the fix. The fused step runs when asked for
/// (`--step fused`, the default) and its optimiser is the backend's fused one; Adam composes.
pub fn choose_step(name: &str, caps: &Capabilities, cfg: &TrainConfig) -> Result<Step> {
    let fused = cfg.step == StepKind::Fused && caps.fused_optimizers.contains(&cfg.optimizer);
    if cfg.storage != Storage::F32 {
        if cfg.optimizer != OptimizerKind::Sgd {
            return Err(f16_refused(cfg.storage, "--optimizer adam (composed path)"));
        }
        if cfg.step != StepKind::Fused {
            return Err(f16_refused(cfg.storage, "--step composed"));
        }
        if fused
            && cfg.storage == Storage::Bf16
            && !caps.fused_storages.contains(&Storage::Bf16)
            && caps.fused_storages.contains(&Storage::F16)
        {
            // A CUDA device running the v1 kernels (`--kernel v1`): bf16 has v2 kernels only.
            return Err(Error::Config(format!(
                "--storage bf16 has v2 step kernels only and {name} runs v1 (--kernel v1): drop \
                 --kernel v1 or use --storage f16"
            )));
        }
        if !fused || !caps.fused_storages.contains(&cfg.storage) {
            return Err(f16_refused(cfg.storage, name));
        }
    }
    if let (Storage::Bf16, Some((negative, dim))) = (cfg.storage, caps.fused_bf16_limits) {
        if cfg.negative > negative || cfg.dim > dim || !cfg.dim.is_multiple_of(2) {
            return Err(Error::Config(format!(
                "--storage bf16 trains with the v2 kernels only: --negative {negative} or less and an \
                 even --dim up to {dim} (got --negative {} --dim {}); change them or use --storage f16",
                cfg.negative, cfg.dim
            )));
        }
    }
    if !fused {
        return Ok(Step::Composed);
    }
    if cfg.freeze_init && !caps.fused_frozen_rows {
        return Err(Error::Config(format!(
            "--freeze-init: the fused step on {name} does not keep rows fixed; add --step composed \
             (or train on --device cpu)"
        )));
    }
    if let Some(max) = caps.max_fused_negative.filter(|&m| cfg.negative > m) {
        return Err(Error::Config(format!(
            "--negative {}: the fused step on {name} takes at most {max}; use --negative {max} or \
             --step composed",
            cfg.negative
        )));
    }
    if let Some(max) = caps.max_fused_dim(cfg.negative).filter(|&m| cfg.dim > m) {
        return Err(Error::Config(format!(
            "--dim {} with --negative {} needs more shared memory per block than {name} has; use \
             --dim {max} or less, or --step composed",
            cfg.dim, cfg.negative
        )));
    }
    Ok(Step::Fused)
}

/// Which fused step kernel family a CUDA device runs (`--kernel`, hidden: for measuring the two
/// side by side). v2 (`kernels/sgns_v2.cu`) is the default where it applies; v1 (`kernels/sgns.cu`)
/// is the reference variant and runs whatever v2 does not take (`cuda::variant` decides). The CPU
/// backend ignores it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KernelVariant {
    /// Rows staged in dynamic shared memory, group-mapped dot products.
    V1,
    /// Rows in registers, one butterfly for all scores, vector atomics.
    #[default]
    V2,
}

impl std::str::FromStr for KernelVariant {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "v1" => Ok(KernelVariant::V1),
            "v2" => Ok(KernelVariant::V2),
            _ => Err(format!("unknown kernel variant '{s}'; use v1 or v2")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPU: Capabilities = Capabilities {
        fused_optimizers: &[OptimizerKind::Sgd],
        fused_storages: &[Storage::F32],
        max_fused_negative: None,
        fused_shared_bytes: None,
        fused_frozen_rows: true,
        fused_bf16_limits: None,
    };
    /// A GPU (or the emulator) with 48 KiB of shared memory per block.
    const CUDA: Capabilities = Capabilities {
        fused_optimizers: &[OptimizerKind::Sgd],
        fused_storages: &[Storage::F32, Storage::F16, Storage::Bf16],
        max_fused_negative: Some(31),
        fused_shared_bytes: Some(48 << 10),
        fused_frozen_rows: false,
        fused_bf16_limits: Some((5, 384)),
    };

    /// The tables above are what the backends report.
    #[test]
    fn the_backends_report_these_capabilities() {
        use crate::backend::Backend;
        assert_eq!(crate::backend::cpu::CpuBackend::new(1).capabilities(), CPU);
        #[cfg(any(feature = "cuda", feature = "emulator"))]
        assert_eq!(
            crate::backend::cuda::backend::capabilities(Some(48 << 10)),
            CUDA
        );
    }

    /// What each combination must give, stated as the rules users read in `--help`: f16 and bf16
    /// train only on CUDA's fused SGD step (bf16 with at most 5 negatives and an even dim up to
    /// 384); Adam and `--step composed` compose; the fused CUDA step takes at most 31 negatives and
    /// rows that fit its shared memory.
    fn expected(
        cuda: bool,
        opt: OptimizerKind,
        step: StepKind,
        storage: Storage,
        negative: u32,
        dim: usize,
    ) -> std::result::Result<Step, &'static str> {
        use OptimizerKind::*;
        use StepKind::*;
        match (opt, step, storage) {
            (Adam, _, Storage::F16 | Storage::Bf16) => Err("--optimizer adam"),
            (Sgd, Composed, Storage::F16 | Storage::Bf16) => Err("--step composed"),
            (Sgd, Fused, Storage::F16 | Storage::Bf16) if !cuda => Err("keeps f32"),
            (Sgd, Fused, Storage::Bf16) if negative > 5 || dim > 384 || !dim.is_multiple_of(2) => {
                Err("v2 kernels only")
            }
            (Adam, _, Storage::F32) | (Sgd, Composed, Storage::F32) => Ok(Step::Composed),
            (Sgd, Fused, _) if cuda && negative > 31 => Err("--negative"),
            // 48 KiB / (2 · (1 + K) · 4 bytes): dim 1024 fits K ≤ 4, dim 4096 fits no K.
            (Sgd, Fused, _) if cuda && 8 * (1 + negative as usize) * dim > 48 << 10 => Err("--dim"),
            (Sgd, Fused, _) => Ok(Step::Fused),
        }
    }

    #[test]
    fn every_combination_of_device_optimizer_step_storage_and_negatives() {
        let mut seen = std::collections::HashSet::new();
        for (name, caps, cuda) in [
            ("cpu (1 thread)", &CPU, false),
            ("cuda:0 test", &CUDA, true),
        ] {
            for optimizer in [OptimizerKind::Sgd, OptimizerKind::Adam] {
                for step in [StepKind::Fused, StepKind::Composed] {
                    for storage in [Storage::F32, Storage::F16, Storage::Bf16] {
                        for negative in [0, 4, 5, 31, 32, 200] {
                            for dim in [100, 101, 1024, 4096] {
                                let cfg = TrainConfig {
                                    optimizer,
                                    step,
                                    storage,
                                    negative,
                                    dim,
                                    ..TrainConfig::default()
                                };
                                let got = choose_step(name, caps, &cfg);
                                let want = expected(cuda, optimizer, step, storage, negative, dim);
                                let case = format!("{name} {cfg:?}");
                                match (got, want) {
                                    (Ok(g), Ok(w)) => {
                                        assert_eq!(g, w, "{case}");
                                        seen.insert(format!("{g:?}"));
                                    }
                                    (Err(e), Err(needle)) => {
                                        let e = e.to_string();
                                        assert!(e.contains(needle), "{case}: {e}");
                                        assert!(!e.contains('\n') && e.contains("use"), "{e}");
                                        seen.insert(needle.to_string());
                                    }
                                    (g, w) => panic!("{case}: got {g:?}, want {w:?}"),
                                }
                            }
                        }
                    }
                }
            }
        }
        // Every row of the table was reached, so none of its rules is vacuous.
        assert_eq!(seen.len(), 8, "{seen:?}");
    }

    #[test]
    fn bf16_on_the_v1_kernels_is_refused_naming_the_flag() {
        let v1 = Capabilities {
            fused_storages: &[Storage::F32, Storage::F16],
            fused_bf16_limits: None,
            ..CUDA
        };
        let bf16 = TrainConfig {
            storage: Storage::Bf16,
            ..TrainConfig::default()
        };
        let e = choose_step("cuda:0 test", &v1, &bf16)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--kernel v1") && e.contains("--storage f16"),
            "{e}"
        );
        assert_eq!(
            choose_step("cuda:0 test", &CUDA, &bf16).unwrap(),
            Step::Fused
        );
    }

    #[test]
    fn refusals_name_the_backend_and_the_largest_dim_that_fits() {
        let f16 = TrainConfig {
            storage: Storage::F16,
            ..TrainConfig::default()
        };
        let e = choose_step("cpu (2 threads)", &CPU, &f16).unwrap_err();
        assert!(e.to_string().contains("cpu (2 threads) keeps f32"), "{e}");
        let wide = TrainConfig {
            dim: 2000,
            negative: 5,
            ..TrainConfig::default()
        };
        // 48 KiB / (2 · 6 · 4 bytes) = 1024.
        let e = choose_step("cuda:0 test", &CUDA, &wide).unwrap_err();
        assert!(e.to_string().contains("use --dim 1024 or less"), "{e}");
        let fits = TrainConfig { dim: 1024, ..wide };
        assert_eq!(
            choose_step("cuda:0 test", &CUDA, &fits).unwrap(),
            Step::Fused
        );
    }

    #[test]
    fn frozen_rows_compose_where_the_fused_step_cannot_keep_them() {
        let frozen = TrainConfig {
            freeze_init: true,
            ..TrainConfig::default()
        };
        assert_eq!(choose_step("cpu", &CPU, &frozen).unwrap(), Step::Fused);
        let e = choose_step("cuda:0 test", &CUDA, &frozen).unwrap_err();
        assert!(e.to_string().contains("add --step composed"), "{e}");
        let composed = TrainConfig {
            step: StepKind::Composed,
            ..frozen
        };
        assert_eq!(
            choose_step("cuda:0 test", &CUDA, &composed).unwrap(),
            Step::Composed
        );
    }

    /// The limit the decision uses is the one the launch geometry enforces.
    #[cfg(any(feature = "cuda", feature = "emulator"))]
    #[test]
    fn the_dim_limit_is_the_launch_geometrys() {
        use crate::backend::cuda::{geometry, DeviceProps};
        let props = DeviceProps {
            name: "test".into(),
            sm_count: 2,
            warp_size: 32,
            shared_per_block: 48 << 10,
            total_memory: 1 << 30,
            driver_version: String::new(),
            toolkit: String::new(),
        };
        let caps = crate::backend::cuda::backend::capabilities(Some(48 << 10));
        for negative in 0..=geometry::MAX_FUSED_NEGATIVE {
            let max = caps.max_fused_dim(negative).unwrap();
            assert!(geometry::sgns_step_serial(&props, max, negative).is_some());
            assert!(geometry::sgns_step(&props, 1, max, negative).is_some());
            assert!(geometry::sgns_step_serial(&props, max + 1, negative).is_none());
        }
        assert_eq!(caps.max_fused_negative, Some(geometry::MAX_FUSED_NEGATIVE));
    }
}
