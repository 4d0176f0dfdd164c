//! # lamellar-bootstrap
//!
//! How the processes (PEs) of an HPC job learn who they are and find each other: rank, size,
//! which PEs share a node, and a key-value exchange with a fence. One trait,
//! [`Bootstrap`], with one implementation per way a launcher can serve a PE:
//!
//! | launcher | how it reaches the PE | implementation |
//! |---|---|---|
//! | `lamellar-run`, MPICH hydra `mpiexec`, Slurm `srun --mpi=pmi2` | `PMI_FD` or `PMI_PORT` | [`pmi::PmiClient`] (PMI-1 wire) |
//! | Open MPI `mpirun`/`prterun`, `srun --mpi=pmix`, PALS | `PMIX_NAMESPACE`, `PMIX_SERVER_URI*` | [`pmix::Pmix`] (OpenPMIx) |
//! | none | nothing | [`singleton::Singleton`] (P = 1) |
//!
//! [`Job::from_env`] picks one. A launcher in sight that none of them can serve (say
//! `PMI_RANK` without `PMI_FD`, or an `srun` step of 4 tasks with `--mpi=none`) is an
//! error naming what was seen and the fix, never a silent job of one PE.
//!
//! ## Why libpmix is loaded at run time
//! PMIx is served through OpenPMIx's client library. It is opened with `dlopen` when a
//! PMIx launcher is in sight, not linked: so a default build, made on a machine without
//! PMIx headers, still runs under `mpirun` on a node that has libpmix, and a build never
//! fails for want of a launcher library it may not use. We touch four plain structs of
//! its ABI (`pmix_proc_t`, `pmix_value_t`, `pmix_info_t`, the byte object), unchanged
//! since PMIx v2 (`libpmix.so.2`). The library is looked for in `$PMIX_DIR/lib{,64}` (at
//! run time, then as it was at build time), then by the loader's own search.

pub mod detect;
mod error;
pub mod host;
mod job;
pub mod pmi;
pub mod pmix;
pub mod singleton;
pub mod wire;

pub use error::{Error, Result};
pub use job::{Job, PeCard};

use std::time::Duration;

/// One PE's conversation with its launcher.
///
/// Keys are per PE: [`put`](Bootstrap::put) publishes this PE's value, and
/// [`get`](Bootstrap::get) reads the value a given PE published before the last
/// [`fence`](Bootstrap::fence). Values are bytes; each implementation encodes them for its
/// wire.
pub trait Bootstrap: Send {
    /// Which launcher protocol this is, for messages ("PMI-1", "PMIx", "singleton").
    fn protocol(&self) -> &'static str;
    /// This PE's rank, `0..size()`.
    fn rank(&self) -> usize;
    /// The number of PEs in the job.
    fn size(&self) -> usize;
    /// Unique among the jobs on a node; safe in file names (`[A-Za-z0-9_]`).
    fn job_id(&self) -> &str;
    /// Publishes `value` under `key` for this PE (visible to others after a fence).
    fn put(&mut self, key: &str, value: &[u8]) -> Result<()>;
    /// Pushes the values put so far towards the launcher.
    fn commit(&mut self) -> Result<()>;
    /// Collective: every PE arrives, and every value committed before is visible to all.
    fn fence(&mut self) -> Result<()>;
    /// The value PE `rank` published under `key` before the last fence.
    fn get(&mut self, rank: usize, key: &str) -> Result<Vec<u8>>;
    /// Asks the launcher to bring the whole job down with `code`.
    fn abort(&mut self, code: i32, why: &str) -> Result<()>;
    /// Tells the launcher this PE is done (hydra treats an exit without it as a failure).
    /// Idempotent.
    fn finalize(&mut self) -> Result<()>;
}

/// Connects to whatever launcher the environment names (see [`detect`]); every wait on the
/// launcher ends after `timeout`.
pub fn connect(timeout: Duration) -> Result<Box<dyn Bootstrap>> {
    Ok(match detect::detect()? {
        detect::Launcher::Pmi => Box::new(pmi::PmiClient::connect_from_env(timeout)?),
        detect::Launcher::Pmix => Box::new(pmix::Pmix::connect(timeout)?),
        detect::Launcher::None => Box::new(singleton::Singleton::new()),
    })
}

/// The /dev/shm name prefix of every object a transport creates for job `job_id`
/// (launchers remove what a crashed job left behind).
pub fn shm_prefix(job_id: &str) -> String {
    format!("lt-{job_id}-")
}

/// Replaces every character outside `[A-Za-z0-9]` with `_`, at most 48 characters.
pub(crate) fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).take(48).collect()
}
