//! The UCX context, worker and endpoints behind one lock.
//!
//! The worker is created in `UCS_THREAD_MODE_SERIALIZED`: UCX does no locking of its own,
//! and this module's lock is what serializes the application's threads and the progress
//! thread. A [`Worker`] (a held lock) is the proof needed to call UCX; its communication
//! calls are in `rma.rs`, request completion in `requests.rs`.

use super::lock::{SpinGuard, SpinLock};
use super::messages::Hub;
use super::peers::{Peers, on_ep_error};
use super::requests::Pending;
use super::status::{check, error};
use crate::error::{Error, Result};
use lamellar_ucx_sys::{self as sys, StatusPtr, ucp_ep_h, ucs_status_ptr_t, ucs_status_t};
use std::collections::HashMap;
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Every this many application calls, one also progresses the worker: while the
/// application keeps calling in the progress thread naps (see `progress.rs`), and a PE that
/// only posts (puts are sent at once, nothing waited for) must still serve its peers.
/// (ROFI does the same in `rofi_lock`.) One progress pass per 64 calls: a small share of a shm call.
const SERVE_EVERY: usize = 64;

/// UCX handles; used only with the lock held (or from `Drop`, when no one else can).
pub struct State {
    ctx: sys::ucp_context_h,
    pub(super) worker: sys::ucp_worker_h,
    /// One endpoint per world PE (self included); null once closed after a failure.
    eps: Vec<ucp_ep_h>,
    /// Non-blocking operations still in flight, by token.
    pub(super) pending: HashMap<u64, Pending>,
    pub(super) next_token: u64,
    /// Set when a request to a failed peer could not be cancelled: UCX might still write
    /// into the buffer it was given, which its owner has got back. From then on this worker
    /// is never progressed again (so UCX can write nothing), every call fails with
    /// `PeerFailed` naming the peer, and nothing is torn down (the requests are leaked).
    pub(super) poisoned: Option<(usize, String)>,
    /// Memory handles of regions dropped without a completed collective free: a peer may
    /// still put to them, and over tcp UCX writes a put where its header says, without
    /// checking a key. Unmapped only once the worker, which could receive such a put, is gone.
    pub(super) retired: Vec<sys::ucp_mem_h>,
}

// SAFETY: the handles are plain pointers into UCX; UCX allows a SERIALIZED worker (and its
// context) to be used from any thread as long as calls do not overlap, which the lock in
// `Ucx` (the only way to reach a `State`) guarantees.
unsafe impl Send for State {}

/// Context, worker, endpoints and the liveness of peers.
pub struct Ucx {
    state: SpinLock<State>,
    /// Must outlive the endpoints (their error callback points into it): declared after
    /// `state`, so it drops after `State` has closed them.
    pub peers: Peers,
    /// Mailbox messages; the AM handlers point into it, so it too drops after the worker.
    pub hub: Hub,
    pub timeout: Duration,
    /// Application calls into the worker ([`Ucx::lock`]) and ...
    calls: AtomicUsize,
    /// ... its polls ([`Ucx::poll`], from wait loops): while either moves, the progress
    /// thread naps (see `progress.rs`).
    polls: AtomicUsize,
    /// The worker's event fd when UCX offers wakeups (see `progress.rs`).
    pub efd: Option<i32>,
    /// For `ucp_worker_signal`, the one call UCX documents as thread-safe.
    worker: sys::ucp_worker_h,
    /// Endpoint error handling (see [`err_mode_from_env`]).
    err_mode: sys::ucp_err_handling_mode_t,
}

/// Endpoint error handling from `LAMELLAR_UCX_ERR_MODE` (see `config::ucx_peer_errors`):
/// `peer` makes a lost peer fail requests instead of hanging them, but UCX 1.13's
/// shared-memory transports (posix, sysv, self) have no peer-failure support, so with it
/// same-node traffic would fall back to tcp. By default (`none`) peer failures are found by
/// the pid check (same host) and by timeouts.
fn err_mode_from_env() -> Result<sys::ucp_err_handling_mode_t> {
    Ok(if crate::config::ucx_peer_errors()? {
        sys::UCP_ERR_HANDLING_MODE_PEER
    } else {
        sys::UCP_ERR_HANDLING_MODE_NONE
    })
}

// SAFETY: all UCX state is behind the lock; `worker` is used only for ucp_worker_signal
// (thread-safe by UCX's contract) while the worker exists (it is destroyed in State's drop,
// which runs only when no thread holds a reference to this `Ucx`).
unsafe impl Send for Ucx {}
// SAFETY: as for the impl above, for the same reason.
unsafe impl Sync for Ucx {}

/// A held lock on the worker: the way to call UCX.
pub struct Worker<'a> {
    pub(super) st: SpinGuard<'a, State>,
    pub(super) ucx: &'a Ucx,
}

impl Ucx {
    /// Reads the UCX configuration from the environment (UCX_TLS, ...), creates the
    /// context (RMA, 32/64-bit atomics, active messages for mailboxes, wakeup if offered)
    /// and a serialized worker.
    pub fn open(npes: usize, peers: Peers, timeout: Duration) -> Result<Ucx> {
        let mut st = State {
            ctx: null_mut(),
            worker: null_mut(),
            eps: Vec::new(),
            pending: HashMap::new(),
            next_token: 1,
            poisoned: None,
            retired: Vec::new(),
        };
        let mut config = null_mut();
        // SAFETY: NULL env prefix and file name mean "defaults + UCX_* environment".
        check(unsafe { sys::ucp_config_read(null(), null(), &mut config) }, "ucp_config_read")?;
        let base = (sys::UCP_FEATURE_RMA
            | sys::UCP_FEATURE_AMO32
            | sys::UCP_FEATURE_AMO64
            | sys::UCP_FEATURE_AM) as u64;
        let mut status = sys::UCS_OK;
        let mut wakeup = false;
        // With wakeup if the transports allow it (the progress thread then sleeps on the
        // worker's fd), else without (it polls).
        for features in [base | sys::UCP_FEATURE_WAKEUP as u64, base] {
            let params = sys::ucp_params_t {
                field_mask: (sys::UCP_PARAM_FIELD_FEATURES | sys::UCP_PARAM_FIELD_ESTIMATED_NUM_EPS)
                    as u64,
                features,
                estimated_num_eps: npes,
                ..Default::default()
            };
            // SAFETY: params and config are valid; ctx receives the new context.
            status = unsafe { sys::lamellar_ucp_init(&params, config, &mut st.ctx) };
            if status == sys::UCS_OK {
                wakeup = features & sys::UCP_FEATURE_WAKEUP as u64 != 0;
                break;
            }
        }
        // SAFETY: config came from ucp_config_read and is released once.
        unsafe { sys::ucp_config_release(config) };
        if status == sys::UCS_ERR_NO_DEVICE {
            // What UCX says when UCX_TLS names nothing usable here: name the variable.
            let tls = std::env::var("UCX_TLS").unwrap_or_else(|_| "(unset: all)".into());
            return Err(Error::BackendUnavailable {
                name: "ucx".into(),
                why: format!(
                    "UCX finds no usable transport for UCX_TLS={tls} on this machine (ucx_info -d lists them)"
                ),
            });
        }
        check(status, "ucp_init")?;
        let wparams = sys::ucp_worker_params_t {
            field_mask: sys::UCP_WORKER_PARAM_FIELD_THREAD_MODE as u64,
            thread_mode: sys::UCS_THREAD_MODE_SERIALIZED,
            ..Default::default()
        };
        check(
            // SAFETY: ctx is a live context; the worker handle is written on success.
            unsafe { sys::ucp_worker_create(st.ctx, &wparams, &mut st.worker) },
            "ucp_worker_create",
        )?;
        let mut efd = None;
        if wakeup {
            let mut fd = -1;
            // SAFETY: live worker created with the wakeup feature.
            if unsafe { sys::ucp_worker_get_efd(st.worker, &mut fd) } == sys::UCS_OK && fd >= 0 {
                efd = Some(fd);
            }
        }
        let worker = st.worker;
        Ok(Ucx {
            state: SpinLock::new(st),
            peers,
            hub: Hub::new(worker),
            timeout,
            calls: AtomicUsize::new(0),
            polls: AtomicUsize::new(0),
            efd,
            worker,
            err_mode: err_mode_from_env()?,
        })
    }

    /// Takes the worker for an application call; `PeerFailed` once the worker is poisoned.
    #[inline]
    pub fn lock(&self) -> Result<Worker<'_>> {
        let st = self.state.lock();
        if let Some((pe, why)) = &st.poisoned {
            return Err(Error::PeerFailed { pe: *pe, why: why.clone() });
        }
        // Under the lock, so a load and a store (no atomic read-modify-write) never lose a call.
        let n = self.calls.load(Ordering::Relaxed).wrapping_add(1);
        self.calls.store(n, Ordering::Relaxed);
        let mut w = Worker { st, ucx: self };
        if n % SERVE_EVERY == 0 {
            w.progress();
        }
        Ok(w)
    }

    /// Takes the worker to release keys and regions (calls that never progress it), poisoned
    /// or not.
    pub fn lock_for_release(&self) -> Worker<'_> {
        Worker { st: self.state.lock(), ucx: self }
    }

    /// A count that moves whenever an application thread calls into the worker.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// A count that moves whenever an application thread polls the worker.
    pub fn polls(&self) -> usize {
        self.polls.load(Ordering::Relaxed)
    }

    /// One poll from an application wait loop: progresses the worker unless another thread
    /// holds it (which then progresses it), counted under the lock as `lock` counts.
    pub fn poll(&self) {
        if let Some(st) = self.state.try_lock().filter(|st| st.poisoned.is_none()) {
            self.polls.store(self.polls.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
            Worker { st, ucx: self }.progress();
        }
    }

    /// The worker if no one holds it (for the progress thread).
    pub fn try_lock_quietly(&self) -> Option<Worker<'_>> {
        self.state.try_lock().filter(|st| st.poisoned.is_none()).map(|st| Worker { st, ucx: self })
    }

    /// Wakes a thread blocked on the worker's event fd (if there is one).
    pub fn signal(&self) {
        if self.efd.is_some() {
            // SAFETY: ucp_worker_signal is thread-safe; the worker lives as long as `self`.
            unsafe { sys::ucp_worker_signal(self.worker) };
        }
    }
}

impl Drop for State {
    fn drop(&mut self) {
        if self.poisoned.is_some() {
            return; // see `poisoned`: leak rather than let UCX run again
        }
        // Outstanding requests: release them (UCX finishes them internally).
        for (_, p) in self.pending.drain() {
            p.release();
        }
        let param = sys::ucp_request_param_t {
            op_attr_mask: sys::UCP_OP_ATTR_FIELD_FLAGS,
            flags: sys::UCP_EP_CLOSE_FLAG_FORCE,
            ..Default::default()
        };
        for ep in std::mem::take(&mut self.eps).into_iter().filter(|ep| !ep.is_null()) {
            // SAFETY: a live endpoint of our worker, closed once. Forced: peers may be gone,
            // and every endpoint uses UCP_ERR_HANDLING_MODE_PEER as forced close requires.
            let ptr = unsafe { sys::ucp_ep_close_nbx(ep, &param) };
            drain_close(self.worker, ptr);
        }
        if !self.worker.is_null() {
            // SAFETY: no endpoint, request or rkey of this worker is left (segments and the
            // control region released theirs before the last reference went away).
            unsafe { sys::ucp_worker_destroy(self.worker) };
        }
        for memh in std::mem::take(&mut self.retired) {
            // SAFETY: a handle of this context, retired once and unmapped once; the worker
            // is destroyed, so nothing can write the region any more.
            unsafe { sys::ucp_mem_unmap(self.ctx, memh) };
        }
        if !self.ctx.is_null() {
            // SAFETY: every memory handle of the context was unmapped, the worker is gone.
            unsafe { sys::ucp_cleanup(self.ctx) };
        }
    }
}

/// Progresses until an endpoint-close request finishes (a forced close needs no peer;
/// bounded anyway), then releases it.
pub(super) fn drain_close(worker: sys::ucp_worker_h, ptr: ucs_status_ptr_t) {
    if let StatusPtr::Request(req) = StatusPtr::from_raw(ptr) {
        for _ in 0..100_000 {
            // SAFETY: live worker and request.
            if unsafe { sys::ucp_request_check_status(req.as_ptr()) } != sys::UCS_INPROGRESS {
                break;
            }
            // SAFETY: live worker, serialized by the caller.
            unsafe { sys::ucp_worker_progress(worker) };
        }
        // SAFETY: our request, freed once (UCX finishes it internally if still running).
        unsafe { sys::ucp_request_free(req.as_ptr()) };
    }
}

impl Worker<'_> {
    /// Runs the worker's progress engine once; returns whether anything happened.
    pub fn progress(&mut self) -> bool {
        // SAFETY: live worker; the lock serializes calls.
        unsafe { sys::ucp_worker_progress(self.st.worker) != 0 }
    }

    /// Arms the worker's event fd; false if events are pending (progress first).
    pub fn arm(&mut self) -> bool {
        // SAFETY: live worker created with the wakeup feature (only called when efd is set).
        unsafe { sys::ucp_worker_arm(self.st.worker) == sys::UCS_OK }
    }

    /// This worker's address, to be published to peers.
    pub fn address(&mut self) -> Result<Vec<u8>> {
        let (mut addr, mut len) = (null_mut(), 0usize);
        check(
            // SAFETY: live worker; UCX allocates the address, released below.
            unsafe { sys::ucp_worker_get_address(self.st.worker, &mut addr, &mut len) },
            "ucp_worker_get_address",
        )?;
        // SAFETY: UCX returned `len` readable bytes at `addr`.
        let bytes = unsafe { std::slice::from_raw_parts(addr.cast::<u8>(), len) }.to_vec();
        // SAFETY: the address came from ucp_worker_get_address on this worker.
        unsafe { sys::ucp_worker_release_address(self.st.worker, addr) };
        Ok(bytes)
    }

    /// Creates the endpoint to `pe` (in PE order, self included) from its worker address.
    pub fn connect(&mut self, pe: usize, address: &[u8]) -> Result<()> {
        debug_assert_eq!(self.st.eps.len(), pe, "endpoints are created in PE order");
        let params = sys::ucp_ep_params_t {
            field_mask: (sys::UCP_EP_PARAM_FIELD_REMOTE_ADDRESS
                | sys::UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE
                | sys::UCP_EP_PARAM_FIELD_ERR_HANDLER) as u64,
            address: address.as_ptr().cast(),
            err_mode: self.ucx.err_mode,
            err_handler: sys::ucp_err_handler_t {
                cb: Some(on_ep_error),
                arg: self.ucx.peers.err_arg(pe),
            },
            ..Default::default()
        };
        let mut ep = null_mut();
        // SAFETY: `address` is a worker address a peer published (UCX validates it); the
        // error-callback argument outlives the endpoint (see `Ucx::peers`).
        let status = unsafe { sys::ucp_ep_create(self.st.worker, &params, &mut ep) };
        if status != sys::UCS_OK {
            return Err(error(status, &format!("ucp_ep_create to PE {pe}"), Some(pe)));
        }
        self.st.eps.push(ep);
        Ok(())
    }

    /// What UCX prints about the endpoint to `pe`: its lanes, each with its transport
    /// (`ucp_ep_print_info`). None for a closed endpoint.
    pub fn ep_info(&self, pe: usize) -> Option<String> {
        let ep = *self.st.eps.get(pe)?;
        if ep.is_null() {
            return None;
        }
        let (mut buf, mut len) = (null_mut::<std::ffi::c_char>(), 0usize);
        // SAFETY: open_memstream writes into a buffer it allocates (freed below), and gives a
        // FILE that ucp_ep_print_info writes to; the endpoint is live and the lock held.
        unsafe {
            let f = libc::open_memstream(&mut buf, &mut len);
            if f.is_null() {
                return None;
            }
            sys::ucp_ep_print_info(ep, f.cast());
            libc::fclose(f);
        }
        // SAFETY: after fclose, buf holds len bytes and a NUL; it is ours to free.
        let text = unsafe { std::ffi::CStr::from_ptr(buf) }.to_string_lossy().into_owned();
        // SAFETY: allocated by open_memstream with malloc, not used after.
        unsafe { libc::free(buf.cast()) };
        Some(text)
    }

    #[inline]
    pub(super) fn ep(&self, pe: usize) -> Result<ucp_ep_h> {
        let ep = self.st.eps[pe];
        if ep.is_null() {
            self.ucx.peers.check(pe)?;
            return Err(Error::PeerFailed {
                pe,
                why: "its UCX endpoint was closed after an earlier failure".into(),
            });
        }
        Ok(ep)
    }

    pub(super) fn context(&self) -> sys::ucp_context_h {
        self.st.ctx
    }

    /// Gives up on `pe`: marks it failed and force-closes its endpoint, which completes
    /// every request to it with an error (so no buffer stays in UCX's hands).
    pub(super) fn abandon(&mut self, pe: usize, status: ucs_status_t) {
        self.ucx.peers.mark_failed(pe, status);
        let ep = std::mem::replace(&mut self.st.eps[pe], null_mut());
        if !ep.is_null() {
            let param = sys::ucp_request_param_t {
                op_attr_mask: sys::UCP_OP_ATTR_FIELD_FLAGS,
                flags: sys::UCP_EP_CLOSE_FLAG_FORCE,
                ..Default::default()
            };
            // SAFETY: a live endpoint, closed once (its slot is now null).
            let ptr = unsafe { sys::ucp_ep_close_nbx(ep, &param) };
            drain_close(self.st.worker, ptr);
        }
    }
}
