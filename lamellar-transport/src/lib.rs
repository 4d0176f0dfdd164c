//! # lamellar-transport
//!
//! One-sided communication between the processes (PEs) of a job, for runtime authors:
//! symmetric memory, put/get (blocking and non-blocking), remote atomics, quiet/fence and
//! barriers, over one of several backends chosen at run time:
//!
//! | backend | cargo feature | needs |
//! |---|---|---|
//! | `shmem` | `shmem` (default) | nothing: POSIX shared memory, one node |
//! | `rofi`  | `rofi` | libfabric, through our ROFI C library |
//! | `ucx`   | `ucx`  | UCX (ucp) |
//!
//! `LAMELLAR_TRANSPORT` (or `LAMELLAR_BACKEND`) picks one; `LAMELLAR_TIMEOUT` (seconds)
//! bounds every wait on another process.
//!
//! ## Semantics (the same on every backend)
//! - [`SymAlloc::put`]: returns when the source may be reused; the data is visible at the
//!   target after [`Transport::quiet`] or [`Transport::barrier`].
//! - [`SymAlloc::get`]: returns with the data in the destination.
//! - Non-blocking [`Scope::put_nb`] / [`Scope::get_nb`]: inside [`Transport::scope`]; see
//!   [`nb`] for why a scope.
//! - Atomics ([`SymAlloc::atomic_fetch_add`] and friends): blocking, complete at the target
//!   on return, atomic with respect to every other transport atomic on the same word.
//! - [`SymAlloc::wait_until`]: waits until a word of this PE's own part satisfies a
//!   predicate (a flag a peer puts), progressing the transport meanwhile; `Timeout` after
//!   [`Transport::timeout`].
//! - [`Transport::quiet`]: all of this PE's operations are complete at their targets.
//!   [`Transport::fence`]: ordering only. [`Transport::barrier`]: quiet, then all PEs arrive.
//! - Threads: [`Transport`] (and its clones), [`SymAlloc`] and [`SymArray`] are `Send` and
//!   `Sync`: any number of threads may issue puts, gets, atomics, quiets, fences and waits at
//!   once (the conformance case `threads_issue_and_quiet` runs four per PE). A [`Scope`]
//!   and its [`NbHandle`]s belong to the thread that opened the scope; other threads open
//!   their own. `quiet` covers the operations this PE issued before it, from any thread.
//!   Collectives (`alloc`, `barrier`, `free`) are entered by one thread per PE at a time;
//!   a [`Collectives`] and a [`SymHeap`] are `Send` and `Sync` and serialize their calls
//!   themselves (which must still come in the same order on every member).
//! - Async: [`SymAlloc::put_async`] / [`SymAlloc::get_async`] give an [`AsyncOp`] that owns
//!   its buffer (`Send + 'static`: any task of a multi-threaded executor may hold it), and
//!   [`SymAlloc::wait_until_async`] a future on a word. Pending futures, handles included,
//!   are woken by the transport's waker thread, not by themselves: an executor waiting on a
//!   slow peer stays idle (the conformance suite measures it). No runtime is required.
//! - Bad input (PE out of range or not in the team, range outside the allocation, misaligned
//!   or unsupported atomic, mismatched collective sizes) is an [`Error`] before any byte moves.
//!
//! ```no_run
//! use lamellar_transport::Transport;
//! let t = Transport::init()?;
//! let a = t.alloc_array::<u64>(16)?;
//! let right = (t.my_pe() + 1) % t.num_pes();
//! a.put(right, 0, &[t.my_pe() as u64])?;
//! a.fetch_add(0, 1, 1u64)?;
//! t.barrier()?;
//! let mut buf = [0u64; 4];
//! let first = t.scope(|s| {
//!     let h = s.get_nb_array(&a, right, 0, &mut buf)?;
//!     let filled = h.wait()?; // or `.await`; dropping a handle waits too
//!     Ok::<_, lamellar_transport::Error>(filled[0])
//! })??;
//! # let _ = first;
//! # Ok::<(), lamellar_transport::Error>(())
//! ```

mod async_ops;
mod atomic;
mod backend;
mod backoff;
mod collective;
pub mod config;
mod dispatch;
#[cfg(test)]
mod double;
#[cfg(test)]
mod double_tests;
mod error;
mod heap;
mod mailbox;
mod mapped;
mod memory;
pub mod nb;
mod nb_atomic;
mod node;
mod reactor;
mod signal;
mod team;
mod transport;
mod typed;
pub mod view;

#[cfg(feature = "shmem")]
mod shmem;
#[cfg(feature = "ucx")]
mod ucx;

#[cfg(feature = "rofi")]
mod rofi;

pub use lamellar_bootstrap::shm_prefix as shmem_prefix;

/// How PEs find each other (re-exported: launchers and tools use its detection).
pub use lamellar_bootstrap as bootstrap;

pub use async_ops::{AsyncOp, WaitUntil};
pub use atomic::{AtomicOp, AtomicSupport, AtomicType, RemoteAtomic};
pub use backend::{Capabilities, PeerPath};
pub use collective::{Collectives, Reduce, ReduceOp};
pub use error::{Error, ErrorKind, Result};
pub use heap::SymHeap;
pub use mailbox::Mailbox;
pub use memory::SymAlloc;
pub use nb::{NbHandle, Scope};
pub use nb_atomic::AtomicHandle;
pub use signal::{Cmp, SignalOp};
pub use team::Team;
pub use transport::{BACKENDS, Builder, Transport, compiled_backends};
pub use typed::SymArray;
pub use view::PeerView;
