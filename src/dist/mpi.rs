//! [`Comm`] over MPI (feature `mpi`): rsmpi on the system's OpenMPI or MPICH, for a job started
//! as `mpirun -np N w2v-gpu …`. Only the main thread calls MPI (the CPU backend's workers never
//! do), so the library is asked for `MPI_THREAD_FUNNELED`.

use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Threading;

use super::comm::Comm;

/// Elements per MPI call at most: MPI counts are C `int`s, so long buffers go in pieces.
const PIECE: usize = 1 << 28;

/// The world communicator of an MPI job; dropping it finalises MPI.
pub struct MpiComm {
    world: SimpleCommunicator,
    library: String,
    /// Whether every rank shares this machine's memory.
    one_machine: bool,
    /// [`MpiComm::sum`]'s receive buffer for f32 rows.
    sums: std::cell::RefCell<Vec<f32>>,
    /// Held for `world`'s lifetime: its drop is `MPI_Finalize`.
    _universe: Universe,
}

impl MpiComm {
    /// Initialises MPI (once per process); `None` when it was initialised before.
    pub fn init() -> Option<MpiComm> {
        let (universe, _) = mpi::initialize_with_threading(Threading::Funneled)?;
        let world = universe.world();
        let one_machine = world.split_shared(world.rank()).size() == world.size();
        let library = mpi::environment::library_version()
            .ok()
            .and_then(|v| v.split([',', '\n']).next().map(|l| l.trim().to_string()))
            .unwrap_or_else(|| "MPI".into());
        Some(MpiComm {
            world,
            library,
            one_machine,
            sums: Default::default(),
            _universe: universe,
        })
    }

    /// `values` summed on rank 0, which then sends the sums to every rank (so every rank holds
    /// the bits rank 0 computed, whatever algorithm the library's allreduce would use). `sums`
    /// is rank 0's receive buffer, kept between calls.
    fn sum<T: Equivalence + Copy + Default>(&self, values: &mut [T], sums: &mut Vec<T>) {
        let root = self.world.process_at_rank(0);
        let op = mpi::collective::SystemOperation::sum;
        for piece in values.chunks_mut(PIECE) {
            if self.world.rank() == 0 {
                sums.clear();
                sums.resize(piece.len(), T::default());
                root.reduce_into_root(&*piece, &mut sums[..], op());
                piece.copy_from_slice(sums);
            } else {
                root.reduce_into(&*piece, op());
            }
            root.broadcast_into(piece);
        }
    }
}

impl Comm for MpiComm {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn describe(&self) -> String {
        format!("mpi: {}, {} ranks", self.library, self.size())
    }

    fn broadcast(&self, root: usize, bytes: &mut Vec<u8>) {
        let root = self.world.process_at_rank(root as i32);
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        for piece in bytes.chunks_mut(PIECE) {
            root.broadcast_into(piece);
        }
    }

    fn allgather_u32(&self, local: &[u32]) -> Vec<Vec<u32>> {
        let size = self.size();
        let mut counts = vec![0i32; size];
        let n = i32::try_from(local.len()).expect("an id list fits an MPI count");
        self.world.all_gather_into(&n, &mut counts[..]);
        let displs: Vec<i32> = counts
            .iter()
            .scan(0i32, |at, &c| {
                let d = *at;
                *at += c;
                Some(d)
            })
            .collect();
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let mut all = vec![0u32; total];
        {
            let mut part = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
            self.world.all_gather_varcount_into(local, &mut part);
        }
        (0..size)
            .map(|r| {
                let s = displs[r] as usize;
                all[s..s + counts[r] as usize].to_vec()
            })
            .collect()
    }

    fn sum_f32(&self, values: &mut [f32]) {
        self.sum(values, &mut self.sums.borrow_mut());
    }

    fn exchanges(&self) -> bool {
        self.size() == 2
    }

    fn exchange_f32(&self, mine: &[f32], theirs: &mut [f32]) {
        assert_eq!(
            mine.len(),
            theirs.len(),
            "both ranks exchange buffers of one length"
        );
        let other = self.world.process_at_rank(1 - self.world.rank());
        for (m, t) in mine.chunks(PIECE).zip(theirs.chunks_mut(PIECE)) {
            mpi::point_to_point::send_receive_into(m, &other, t, &other);
        }
    }

    fn one_machine(&self) -> bool {
        self.one_machine
    }

    fn sum_f64(&self, values: &mut [f64]) {
        self.sum(values, &mut Vec::new());
    }

    fn barrier(&self) {
        self.world.barrier();
    }

    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}
