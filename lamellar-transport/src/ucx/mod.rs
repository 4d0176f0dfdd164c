//! The `ucx` backend: one-sided operations over UCX's ucp API (UCX >= 1.12; transports
//! chosen by `UCX_TLS`, reported as the provider).
//!
//! - Init ([`init`]): PMI (or a singleton) only to exchange each PE's worker address and
//!   control-region key ([`card`]); then an endpoint to every PE, self included. Everything
//!   after init goes over UCX.
//! - Memory ([`segment`]): every allocation is `ucp_mem_map(UCP_MEM_MAP_ALLOCATE)` (so
//!   shared-memory transports can do RMA and atomics on it), zero-filled; keys are packed,
//!   published on each PE's control-region board and read by every team member at
//!   allocation time. Size and free are agreed (checked) first.
//! - put/get ([`rma`]): `ucp_put_nbx`/`ucp_get_nbx`. A blocking put returns once UCX is done
//!   with the source buffer (local completion); `quiet` (`ucp_worker_flush_nbx`) gives
//!   remote completion; `fence` is `ucp_worker_fence`. A put or get to oneself is a local
//!   copy. Non-blocking operations keep their UCX request under an `OpToken` ([`requests`]).
//! - Atomics ([`atomics`]): `ucp_atomic_op_nbx`, waited for until performed at the target;
//!   UCX 1.13's broken fetching and/or/xor are detected at init and emulated.
//! - barrier ([`control`]): dissemination over UCX atomics on the control regions.
//! - Mailbox messages ([`messages`]): active messages (`ucp_am_send_nbx`), handlers set at
//!   init; long messages by rendezvous straight into the receiver's buffer.
//! - Progress: the caller's thread progresses the worker while it waits; a low-duty progress
//!   thread does when the application does not call in ([`progress`]).
//! - Failures: every wait has the job timeout; a peer on this host that exited is found by
//!   its pid, UCX endpoint errors mark a peer failed ([`peers`]); `LAMELLAR_UCX_ERR_MODE=peer`
//!   asks UCX for peer-failure handling (see [`worker`]).
//! - `finalize` is collective (a world barrier, then flush, then PMI finalize); UCX objects
//!   are destroyed when the backend and its last segment are gone.

mod atomics;
mod card;
mod control;
mod init;
mod lock;
mod memory;
mod messages;
mod peers;
mod progress;
mod requests;
mod rma;
pub(crate) mod segment;
mod status;
mod worker;

use crate::atomic::{AtomicOp, AtomicSupport, AtomicType};
use crate::backend::{Backend, Capabilities, Messages, OpToken, PeerPath};
use crate::dispatch::AnySegment;
use crate::error::Result;
use crate::team::Team;
use crate::transport::SharedJob;
use control::Control;
use lamellar_ucx_sys as sys;
use progress::ProgressThread;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use worker::Ucx;

/// State shared by the backend and its segments.
pub(crate) struct Shared {
    pub me: usize,
    pub npes: usize,
    /// Collective state; one collective at a time per PE. Released in `Drop`.
    control: Mutex<Option<Control>>,
    pub ucx: Arc<Ucx>,
    /// What this UCX does correctly (probed at init).
    caps: OnceLock<atomics::Caps>,
}

impl Shared {
    fn caps(&self) -> atomics::Caps {
        self.caps.get().copied().unwrap_or(atomics::Caps { fetch_bitwise: false })
    }

    fn lock_control(&self) -> ControlGuard<'_> {
        // A panic while holding this lock leaves only counters behind; keep going.
        ControlGuard(self.control.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The locked control state (present from init until `Shared` drops).
struct ControlGuard<'a>(MutexGuard<'a, Option<Control>>);

impl std::ops::Deref for ControlGuard<'_> {
    type Target = Control;
    fn deref(&self) -> &Control {
        self.0.as_ref().expect("control state lives as long as Shared")
    }
}
impl std::ops::DerefMut for ControlGuard<'_> {
    fn deref_mut(&mut self) -> &mut Control {
        self.0.as_mut().expect("control state lives as long as Shared")
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Keys and the control region go before the worker and context (in Ucx's drop).
        let ctl = self.control.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(c) = ctl {
            c.release(&mut self.ucx.lock_for_release());
        }
    }
}

pub struct UcxBackend {
    shared: Arc<Shared>,
    job: SharedJob,
    provider: String,
    yields: bool,
    progress: Mutex<ProgressThread>,
}

impl Drop for UcxBackend {
    fn drop(&mut self) {
        // The thread holds the worker's Arc: stop it so the last segment can release UCX.
        self.progress.get_mut().unwrap_or_else(|p| p.into_inner()).stop();
    }
}

impl Backend for UcxBackend {
    fn name(&self) -> &'static str {
        "ucx"
    }

    fn provider(&self) -> String {
        self.provider.clone()
    }

    fn native_library(&self) -> Option<String> {
        // SAFETY: ucp_get_version_string returns a static NUL-terminated string of the loaded
        // libucp.
        let v = unsafe { std::ffi::CStr::from_ptr(sys::ucp_get_version_string()) };
        Some(format!("ucx {}", v.to_string_lossy()))
    }

    fn my_pe(&self) -> usize {
        self.shared.me
    }

    fn num_pes(&self) -> usize {
        self.shared.npes
    }

    fn alloc(&self, team: &Team, len: usize) -> Result<AnySegment> {
        Ok(AnySegment::Ucx(segment::alloc(&self.shared, team, len)?))
    }

    fn test(&self, op: OpToken) -> Result<bool> {
        if op == OpToken::DONE {
            return Ok(true);
        }
        self.shared.ucx.lock()?.test(op)
    }

    fn wait(&self, op: OpToken) -> Result<()> {
        if op == OpToken::DONE {
            return Ok(());
        }
        self.shared.ucx.lock()?.wait(op)
    }

    fn quiet(&self) -> Result<()> {
        self.shared.ucx.lock()?.flush()
    }

    fn fence(&self) -> Result<()> {
        self.shared.ucx.lock()?.fence()
    }

    fn barrier(&self, team: &Team) -> Result<()> {
        self.shared.lock_control().barrier(&self.shared.ucx, team)
    }

    fn yields_when_waiting(&self) -> bool {
        self.yields
    }

    fn capabilities(&self) -> Capabilities {
        // ucp_atomic_op_nbx tracked like put_nb (bitwise ones at issue), ucp_ep_flush_nbx for
        // one PE, ucp_worker_fence, active messages for mailboxes.
        Capabilities {
            put_signal: false,
            atomic_nb: true,
            quiet_pe: true,
            fence_orders_only: true,
            messages: true,
        }
    }

    fn messages(&self, _slots: usize, _slot_bytes: usize) -> Result<Option<Box<dyn Messages>>> {
        let (ucx, me, npes) = (self.shared.ucx.clone(), self.shared.me, self.shared.npes);
        Ok(Some(Box::new(messages::UcxMessages::new(ucx, me, npes))))
    }

    fn quiet_pe(&self, pe: usize) -> Result<()> {
        self.shared.ucx.lock()?.flush_ep(pe)
    }

    fn path_to(&self, pe: usize) -> PeerPath {
        // Put and get to oneself are local copies, atomics go over UCX's `self` lane; with a
        // network in UCX_TLS the endpoint to oneself also gets network lanes for active-message
        // rendezvous, which are not how this PE reaches itself.
        if pe == self.shared.me {
            return PeerPath::SharedMemory;
        }
        let info = self.shared.ucx.lock().ok().and_then(|w| w.ep_info(pe)).unwrap_or_default();
        path_of_lanes(&info)
    }

    fn atomic_support(&self, op: AtomicOp, _ty: AtomicType) -> AtomicSupport {
        // 32- and 64-bit atomics were required of the context at init.
        atomics::support(op, self.shared.caps())
    }

    fn progress(&self) -> Result<()> {
        // Counted as a poll: the progress thread naps while we progress ourselves.
        self.shared.ucx.poll();
        Ok(())
    }

    fn has_progress(&self) -> bool {
        true
    }

    fn finalize(&self) -> Result<()> {
        // Collective, like shmem_finalize: nobody leaves (and takes its memory away) while a
        // peer may still address it. Skipped while unwinding from a panic, so that a failing
        // PE never counts as arriving at a peer's barrier.
        let world = Team::world(self.shared.npes);
        let met = if std::thread::panicking() { Ok(()) } else { self.barrier(&world) };
        // A peer that already left is no error for the flush (its endpoint fails it).
        let flushed = match self.shared.ucx.lock().and_then(|mut w| w.flush()) {
            Err(e) if e.kind() == crate::ErrorKind::Timeout => Err(e),
            _ => Ok(()),
        };
        // The progress thread keeps serving peers until the backend drops.
        let left = self
            .job
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .finalize()
            .map_err(crate::Error::from);
        met.and(flushed).and(left)
    }
}

/// The path an endpoint's lanes take, from `ucp_ep_print_info`'s text: shared memory when
/// every lane that moves data (RMA, atomics, active messages) runs over a shared-memory or
/// loopback transport, else the network.
fn path_of_lanes(info: &str) -> PeerPath {
    const SHARED: [&str; 6] = ["posix/", "sysv/", "cma/", "xpmem/", "knem/", "self/"];
    let lanes: Vec<&str> = info.lines().filter(|l| l.contains("lane[")).collect();
    if !lanes.is_empty() && lanes.iter().all(|l| SHARED.iter().any(|t| l.contains(t))) {
        PeerPath::SharedMemory
    } else {
        PeerPath::Network
    }
}
