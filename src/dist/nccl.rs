//! [`Comm`] whose f32 sums run on the GPUs through NCCL (feature `nccl`): one rank per GPU (rank
//! `r` takes device `r mod count`), the NCCL unique id made by rank 0 and broadcast over MPI, so
//! several GPUs of one machine and GPUs of several machines both work. Everything but the f32
//! sums (ranks, id lists, counters, barrier, abort) stays MPI's. The rows to sum arrive on the
//! host (the averaging gathers them there), go up, are summed in place by `ncclAllReduce`, and
//! come back; NCCL's ring and tree algorithms reduce each element once and hand every rank the
//! same result, so the ranks keep identical bits.

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaStream};
use cudarc::nccl::safe::{Comm as NcclComm, Id, ReduceOp};

use super::comm::Comm;
use super::mpi::MpiComm;

/// MPI for the job, NCCL on this rank's GPU for the sums of f32 rows.
pub struct NcclRows {
    mpi: MpiComm,
    nccl: NcclComm,
    stream: Arc<CudaStream>,
    ordinal: usize,
}

/// Whether the NCCL library can be loaded, and its version (`2.21.5`), for `info`.
pub fn library() -> Option<String> {
    // SAFETY: only tries to open the shared library by its usual names.
    let present = std::panic::catch_unwind(|| unsafe { cudarc::nccl::sys::is_culib_present() })
        .unwrap_or(false);
    if !present {
        return None;
    }
    let v = cudarc::nccl::result::get_nccl_version().ok()?;
    Some(format!("{}.{}.{}", v / 10000, v / 100 % 100, v % 100))
}

impl NcclRows {
    /// Opens this rank's GPU and joins the NCCL communicator of every rank of `mpi` (collective).
    pub fn open(mpi: MpiComm) -> Result<NcclRows, String> {
        let (rank, size) = (mpi.rank(), mpi.size());
        if library().is_none() {
            return Err(
                "the NCCL library (libnccl.so.2) was not found; install NCCL or build \
                        without --features nccl"
                    .into(),
            );
        }
        let count = CudaContext::device_count().map_err(|e| format!("no CUDA device: {e:?}"))?;
        if count < 1 {
            return Err("no CUDA device for NCCL; build without --features nccl".into());
        }
        let ordinal = rank % count as usize;
        let ctx = CudaContext::new(ordinal).map_err(|e| format!("cuda:{ordinal}: {e:?}"))?;
        let stream = ctx.default_stream();
        // Rank 0 makes the unique id; every rank learns it over MPI.
        let mut bytes = vec![0u8; 128];
        if rank == 0 {
            let id = Id::new().map_err(|e| format!("NCCL unique id: {e:?}"))?;
            bytes = id.internal().iter().map(|&c| c as u8).collect();
        }
        mpi.broadcast(0, &mut bytes);
        let mut internal = [0 as std::ffi::c_char; 128];
        for (dst, &b) in internal.iter_mut().zip(&bytes) {
            *dst = b as std::ffi::c_char;
        }
        let nccl = NcclComm::from_rank(stream.clone(), rank, size, Id::uninit(internal))
            .map_err(|e| format!("NCCL communicator of {size} ranks: {e:?}"))?;
        Ok(NcclRows {
            mpi,
            nccl,
            stream,
            ordinal,
        })
    }

    /// This rank's GPU.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    fn device_sum(&self, values: &mut [f32]) -> Result<(), String> {
        if values.is_empty() {
            return Ok(());
        }
        let mut dev = self
            .stream
            .clone_htod(values)
            .map_err(|e| format!("upload: {e:?}"))?;
        self.nccl
            .all_reduce_in_place(&mut dev, &ReduceOp::Sum)
            .map_err(|e| format!("ncclAllReduce: {e:?}"))?;
        let back = self
            .stream
            .clone_dtoh(&dev)
            .map_err(|e| format!("download: {e:?}"))?;
        values.copy_from_slice(&back);
        Ok(())
    }
}

impl Comm for NcclRows {
    fn rank(&self) -> usize {
        self.mpi.rank()
    }
    fn size(&self) -> usize {
        self.mpi.size()
    }
    fn describe(&self) -> String {
        format!(
            "{}; sums on cuda:{} through NCCL {}",
            self.mpi.describe(),
            self.ordinal,
            library().unwrap_or_default()
        )
    }
    fn broadcast(&self, root: usize, bytes: &mut Vec<u8>) {
        self.mpi.broadcast(root, bytes);
    }
    fn allgather_u32(&self, local: &[u32]) -> Vec<Vec<u32>> {
        self.mpi.allgather_u32(local)
    }
    fn sum_f32(&self, values: &mut [f32]) {
        // A failed device sum leaves the ranks out of step: the job cannot go on.
        if let Err(e) = self.device_sum(values) {
            eprintln!(
                "error: rank {} of {}: NCCL: {e}",
                self.mpi.rank(),
                self.mpi.size()
            );
            self.mpi.abort(1);
        }
    }
    fn sum_f64(&self, values: &mut [f64]) {
        self.mpi.sum_f64(values);
    }
    fn barrier(&self) {
        self.mpi.barrier();
    }
    fn abort(&self, code: i32) -> ! {
        self.mpi.abort(code)
    }
}
