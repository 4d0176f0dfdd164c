//! What this PE knows about the liveness of every other PE.
//!
//! Two sources, checked only while waiting on a peer (never on the fast path):
//! - UCX's endpoint error callback (endpoints are created with `UCP_ERR_HANDLING_MODE_PEER`),
//!   which reports a lost connection to a peer on any node;
//! - for peers on this host, whether their process still exists (a shared-memory transport
//!   may never notice that the other side exited).

use crate::error::{Error, Result};
use lamellar_ucx_sys::{self as sys, ucp_ep_h, ucs_status_t};
use std::ffi::c_void;
use std::sync::atomic::{AtomicI32, Ordering};

pub struct Peers {
    /// Per PE: `UCS_OK`, or the status that marked it failed. Boxed so that each entry has
    /// a stable address to hand to UCX's error callback.
    failed: Box<[AtomicI32]>,
    /// Per PE: its pid when it runs on this host (so the pid is meaningful here).
    local_pids: Vec<Option<i32>>,
}

impl Peers {
    pub fn new(local_pids: Vec<Option<i32>>) -> Peers {
        let failed = local_pids.iter().map(|_| AtomicI32::new(sys::UCS_OK as i32)).collect();
        Peers { failed, local_pids }
    }

    /// The argument for [`on_ep_error`] for endpoints to `pe`. Valid while `self` lives,
    /// which the owner guarantees to be longer than every endpoint (see `Shared`).
    pub fn err_arg(&self, pe: usize) -> *mut c_void {
        (&self.failed[pe] as *const AtomicI32).cast_mut().cast()
    }

    pub fn mark_failed(&self, pe: usize, status: ucs_status_t) {
        let _ = self.failed[pe].compare_exchange(
            sys::UCS_OK as i32,
            status as i32,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// `PeerFailed` if `pe` is known to be gone.
    pub fn check(&self, pe: usize) -> Result<()> {
        let s = self.failed[pe].load(Ordering::Acquire);
        if s != sys::UCS_OK as i32 {
            let why = format!(
                "UCX reported its endpoint failed: {}",
                sys::status_string(s as ucs_status_t)
            );
            return Err(Error::PeerFailed { pe, why });
        }
        if let Some(pid) = self.local_pids[pe] {
            if !process_alive(pid) {
                return Err(Error::PeerFailed { pe, why: format!("process {pid} has exited") });
            }
        }
        Ok(())
    }
}

/// UCX calls this (from `ucp_worker_progress`, worker lock held) when an endpoint fails.
/// It only records the status: no allocation, no panic can cross back into C.
pub unsafe extern "C" fn on_ep_error(arg: *mut c_void, _ep: ucp_ep_h, status: ucs_status_t) {
    // SAFETY: `arg` is `Peers::err_arg(pe)`: a pointer to an AtomicI32 inside `Peers`,
    // which outlives every endpoint (endpoints are closed before `Peers` drops).
    let flag = unsafe { &*arg.cast::<AtomicI32>() };
    let status = if status == sys::UCS_OK { sys::UCS_ERR_CONNECTION_RESET } else { status };
    let _ = flag.compare_exchange(
        sys::UCS_OK as i32,
        status as i32,
        Ordering::AcqRel,
        Ordering::Acquire,
    );
}

/// Is the process alive (and not a zombie)? Only for pids on this host.
fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks existence and permission.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3, after the parenthesised command name, is the state.
        Ok(s) => s
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// A name that is equal on two PEs exactly when their pids are comparable: hostname, boot
/// id and pid namespace.
pub fn host_id() -> String {
    let host = lamellar_bootstrap::host::hostname();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!("{host}/{}/{ns}", boot.trim())
}
