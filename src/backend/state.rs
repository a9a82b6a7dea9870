//! What a backend holds of a run, split by what uses it: the model and the sampling tables (both
//! steps), the composed step's gradient accumulators, and Adam's moments.

use crate::backend::{Backend, OptimizerKind, Storage};
use crate::error::Result;
use crate::train::sampler::AliasTable;

/// `W_in` and `W_out`, each `[vocab_size, dim]` row-major, in the storage the run trains.
pub enum Weights<B: Backend> {
    F32 {
        w_in: B::Buf<f32>,
        w_out: B::Buf<f32>,
    },
    /// IEEE half, the only copies on the device (the fused CUDA step trains them; arithmetic is
    /// f32).
    F16 {
        w_in: B::Buf<half::f16>,
        w_out: B::Buf<half::f16>,
    },
    /// bfloat16, likewise.
    Bf16 {
        w_in: B::Buf<half::bf16>,
        w_out: B::Buf<half::bf16>,
    },
}

/// `(W_in, W_out)` as f32 device buffers, borrowed.
type F32Pair<'a, B> = (&'a <B as Backend>::Buf<f32>, &'a <B as Backend>::Buf<f32>);
/// `(W_in, W_out)` as f32 device buffers, borrowed to update.
type F32PairMut<'a, B> = (
    &'a mut <B as Backend>::Buf<f32>,
    &'a mut <B as Backend>::Buf<f32>,
);

/// The trained parameters: `W_in` (the vectors users get) and `W_out`.
pub struct Model<B: Backend> {
    pub vocab_size: usize,
    pub dim: usize,
    pub weights: Weights<B>,
}

impl<B: Backend> Model<B> {
    /// Uploads `w_in` and `w_out` (`[vocab_size, dim]` f32) stored as `storage` (f16, bf16:
    /// rounded to the nearest, ties to even).
    pub fn upload(
        backend: &B,
        dim: usize,
        w_in: &[f32],
        w_out: &[f32],
        storage: Storage,
    ) -> Result<Self> {
        assert_eq!(w_in.len(), w_out.len());
        assert_eq!(w_in.len() % dim.max(1), 0);
        let halves =
            |w: &[f32]| -> Vec<half::f16> { w.iter().map(|&x| half::f16::from_f32(x)).collect() };
        let brains =
            |w: &[f32]| -> Vec<half::bf16> { w.iter().map(|&x| half::bf16::from_f32(x)).collect() };
        let weights = match storage {
            Storage::F32 => Weights::F32 {
                w_in: backend.upload(w_in)?,
                w_out: backend.upload(w_out)?,
            },
            Storage::F16 => Weights::F16 {
                w_in: backend.upload(&halves(w_in))?,
                w_out: backend.upload(&halves(w_out))?,
            },
            Storage::Bf16 => Weights::Bf16 {
                w_in: backend.upload(&brains(w_in))?,
                w_out: backend.upload(&brains(w_out))?,
            },
        };
        Ok(Model {
            vocab_size: w_in.len() / dim.max(1),
            dim,
            weights,
        })
    }

    /// How `W_in` and `W_out` are stored on the device.
    pub fn storage(&self) -> Storage {
        match self.weights {
            Weights::F32 { .. } => Storage::F32,
            Weights::F16 { .. } => Storage::F16,
            Weights::Bf16 { .. } => Storage::Bf16,
        }
    }

    /// The f32 matrices `(W_in, W_out)`; `None` with half storage.
    pub fn f32(&self) -> Option<F32Pair<'_, B>> {
        match &self.weights {
            Weights::F32 { w_in, w_out } => Some((w_in, w_out)),
            Weights::F16 { .. } | Weights::Bf16 { .. } => None,
        }
    }

    /// The f32 matrices `(W_in, W_out)` to update; `None` with half storage.
    pub fn f32_mut(&mut self) -> Option<F32PairMut<'_, B>> {
        match &mut self.weights {
            Weights::F32 { w_in, w_out } => Some((w_in, w_out)),
            Weights::F16 { .. } | Weights::Bf16 { .. } => None,
        }
    }

    /// `W_in` and `W_out` downloaded as f32 (from half storage, exactly: every half is an f32).
    pub fn download(&self, backend: &B) -> Result<(Vec<f32>, Vec<f32>)> {
        match &self.weights {
            Weights::F32 { w_in, w_out } => Ok((backend.download(w_in)?, backend.download(w_out)?)),
            Weights::F16 { w_in, w_out } => {
                let widen = |h: Vec<half::f16>| h.into_iter().map(f32::from).collect();
                Ok((
                    widen(backend.download(w_in)?),
                    widen(backend.download(w_out)?),
                ))
            }
            Weights::Bf16 { w_in, w_out } => {
                let widen = |h: Vec<half::bf16>| h.into_iter().map(f32::from).collect();
                Ok((
                    widen(backend.download(w_in)?),
                    widen(backend.download(w_out)?),
                ))
            }
        }
    }
}

/// The sampling tables: host copies (the composed path and the CPU enumerate centres on the
/// host) and device copies (the CUDA kernels draw on the device).
pub struct Tables<B: Backend> {
    pub alias: AliasTable,
    pub keep: Vec<u32>,
    /// Device copies: alias thresholds, alias targets, subsampling thresholds.
    pub alias_prob: B::Buf<u32>,
    pub alias_alias: B::Buf<u32>,
    pub keep_dev: B::Buf<u32>,
    /// `W_in` rows no step may change (`--freeze-init`, gensim's `lockf` 0), by word id; `None`:
    /// every row trains. Host only: the CUDA fused step refuses it (`choose_step`).
    pub frozen_in: Option<Vec<bool>>,
}

impl<B: Backend> Tables<B> {
    pub fn upload(backend: &B, alias: AliasTable, keep: Vec<u32>) -> Result<Self> {
        Ok(Tables {
            alias_prob: backend.upload(&alias.prob)?,
            alias_alias: backend.upload(&alias.alias)?,
            keep_dev: backend.upload(&keep)?,
            alias,
            keep,
            frozen_in: None,
        })
    }

    /// Words the tables cover.
    pub fn vocab_size(&self) -> usize {
        self.alias.len()
    }
}

/// The composed step's dense gradient accumulators, `[vocab_size, dim]` each, zero between
/// minibatches (the optimiser re-zeroes the rows it applies).
pub struct Gradients<B: Backend> {
    pub w_in: B::Buf<f32>,
    pub w_out: B::Buf<f32>,
}

/// Lazy Adam's moments of `W_in` and `W_out` and its global step count.
pub struct AdamMoments<B: Backend> {
    pub m_in: B::Buf<f32>,
    pub v_in: B::Buf<f32>,
    pub m_out: B::Buf<f32>,
    pub v_out: B::Buf<f32>,
    /// Minibatch updates applied so far.
    pub t: u64,
}

impl<B: Backend> AdamMoments<B> {
    /// Uploads `(m_in, v_in, m_out, v_out)` as a checkpoint stores them, after `t` updates.
    pub fn upload(backend: &B, host: &[Vec<f32>; 4], t: u64) -> Result<Self> {
        let [m_in, v_in, m_out, v_out] = host;
        Ok(AdamMoments {
            m_in: backend.upload(m_in)?,
            v_in: backend.upload(v_in)?,
            m_out: backend.upload(m_out)?,
            v_out: backend.upload(v_out)?,
            t,
        })
    }

    /// `(m_in, v_in, m_out, v_out)`, as a checkpoint stores them.
    pub fn download(&self, backend: &B) -> Result<[Vec<f32>; 4]> {
        Ok([
            backend.download(&self.m_in)?,
            backend.download(&self.v_in)?,
            backend.download(&self.m_out)?,
            backend.download(&self.v_out)?,
        ])
    }
}

/// Everything a run keeps on its backend.
pub struct State<B: Backend> {
    pub model: Model<B>,
    pub tables: Tables<B>,
    /// Allocated on the composed step's first use.
    pub grads: Option<Gradients<B>>,
    /// With `--optimizer adam`.
    pub adam: Option<AdamMoments<B>>,
}

impl<B: Backend> State<B> {
    /// Uploads f32 parameters and the tables; zero Adam moments when `optimizer` is Adam.
    pub fn new(
        backend: &B,
        dim: usize,
        w_in: &[f32],
        w_out: &[f32],
        alias: AliasTable,
        keep: Vec<u32>,
        optimizer: OptimizerKind,
    ) -> Result<Self> {
        Self::with_storage(
            backend,
            dim,
            w_in,
            w_out,
            alias,
            keep,
            optimizer,
            Storage::F32,
        )
    }

    /// [`State::new`] with the parameters stored as `storage`; whether the backend trains that
    /// storage is [`crate::backend::choose_step`]'s decision.
    #[allow(clippy::too_many_arguments)]
    pub fn with_storage(
        backend: &B,
        dim: usize,
        w_in: &[f32],
        w_out: &[f32],
        alias: AliasTable,
        keep: Vec<u32>,
        optimizer: OptimizerKind,
        storage: Storage,
    ) -> Result<Self> {
        let model = Model::upload(backend, dim, w_in, w_out, storage)?;
        assert_eq!(model.vocab_size, alias.len());
        let n = w_in.len();
        let adam = match optimizer {
            OptimizerKind::Sgd => None,
            OptimizerKind::Adam => Some(AdamMoments {
                m_in: backend.zeros(n)?,
                v_in: backend.zeros(n)?,
                m_out: backend.zeros(n)?,
                v_out: backend.zeros(n)?,
                t: 0,
            }),
        };
        Ok(State {
            model,
            tables: Tables::upload(backend, alias, keep)?,
            grads: None,
            adam,
        })
    }
}
