//! The `rofi` backend: our ROFI C library (rofi/) over libfabric, through rofi-sys.
//!
//! ROFI holds process-wide state, so a process can join a job through ROFI once. Provider
//! and domain come from `ROFI_PROVIDER` / `ROFI_DOMAIN`, matched exactly; a missing one is a
//! `BackendUnavailable` error listing the providers that exist. ROFI names allocations by
//! local address, teams by ascending PE lists, and makes progress without the target calling
//! in. `fence` is implemented as `quiet` (ROFI has no weaker ordering primitive).
//!
//! Dropping an allocation without `free` leaks it until finalize: ROFI's release is
//! collective and so cannot run in a destructor.

mod error;
mod segment;

use crate::atomic::{AtomicOp, AtomicSupport, AtomicType};
use crate::backend::{Backend, OpToken, Segment};
use crate::error::{Error, Result};
use crate::team::Team;
use error::check;
use rofi_sys as sys;
use segment::{RofiSegment, rofi_op, rofi_type};
use std::ffi::CStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static JOINED: AtomicBool = AtomicBool::new(false);

pub struct RofiBackend {
    me: usize,
    npes: usize,
    provider: String,
    yields: bool,
    /// ROFI's collectives must be called by one thread at a time.
    collective: Mutex<()>,
}

fn sorted(team: &Team) -> Vec<i32> {
    let mut v: Vec<i32> = team.pes().iter().map(|&p| p as i32).collect();
    v.sort_unstable();
    v
}

impl RofiBackend {
    pub fn init(timeout: Duration) -> Result<RofiBackend> {
        if JOINED.swap(true, Ordering::AcqRel) {
            return Err(Error::BackendUnavailable { name: "rofi".into(), why: "ROFI can join a job once per process".into() });
        }
        // SAFETY: plain call before init; ROFI copies the value.
        unsafe { sys::rofi_set_timeout(timeout.as_secs_f64()) };
        // SAFETY: NULL provider/domain make ROFI read ROFI_PROVIDER / ROFI_DOMAIN.
        if let Err(e) = check(unsafe { sys::rofi_init(std::ptr::null(), std::ptr::null()) }, "rofi_init") {
            JOINED.store(false, Ordering::Release); // a failed init may be retried
            return Err(e);
        }
        // SAFETY: initialized above; these only read ROFI's state.
        let (me, npes, provider, rofi_yields) = unsafe {
            let p = CStr::from_ptr(sys::rofi_provider_name()).to_string_lossy().into_owned();
            let y = check(sys::rofi_yields_when_waiting(), "rofi_yields_when_waiting")? != 0;
            (check(sys::rofi_get_id(), "rofi_get_id")? as usize, check(sys::rofi_get_size(), "rofi_get_size")? as usize, p, y)
        };
        // ROFI decided at init as node.rs would (its own waits follow ROFI_YIELD).
        let yields = crate::config::yield_from_env().unwrap_or(rofi_yields);
        Ok(RofiBackend { me, npes, provider, yields, collective: Mutex::new(()) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.collective.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Backend for RofiBackend {
    fn name(&self) -> &'static str {
        "rofi"
    }

    fn provider(&self) -> String {
        self.provider.clone()
    }

    fn my_pe(&self) -> usize {
        self.me
    }

    fn num_pes(&self) -> usize {
        self.npes
    }

    fn alloc(&self, team: &Team, len: usize) -> Result<Box<dyn Segment>> {
        let _g = self.lock();
        // +8 so that zero-length allocations are real ones, without hiding a mismatch.
        let size = len.checked_add(8).ok_or(Error::OutOfBounds { offset: 0, len, size: usize::MAX })?;
        let mut addr = std::ptr::null_mut();
        let rc = if team.len() == self.npes {
            // SAFETY: collective over all PEs; ROFI writes the local base into `addr`.
            unsafe { sys::rofi_alloc(size, &mut addr) }
        } else {
            let pes = sorted(team);
            // SAFETY: `pes` is a strictly ascending list of world ids holding this PE.
            unsafe { sys::rofi_alloc_pes(size, pes.as_ptr(), pes.len() as i32, &mut addr) }
        };
        check(rc, "rofi_alloc")?;
        Ok(Box::new(RofiSegment { base: addr.cast() }))
    }

    fn test(&self, op: OpToken) -> Result<bool> {
        if op == OpToken::DONE {
            return Ok(true);
        }
        // SAFETY: the token is a live rofi_op_t* from put_nb/get_nb, tested until it reports
        // completion (after which the scope never uses it again).
        Ok(check(unsafe { sys::rofi_test(op.0 as *mut sys::rofi_op_t) }, "rofi_test")? == 1)
    }

    fn wait(&self, op: OpToken) -> Result<()> {
        if op == OpToken::DONE {
            return Ok(());
        }
        // SAFETY: as in `test`; rofi_wait releases the handle.
        check(unsafe { sys::rofi_wait(op.0 as *mut sys::rofi_op_t) }, "rofi_wait").map(drop)
    }

    fn quiet(&self) -> Result<()> {
        // SAFETY: no arguments; thread-safe in ROFI.
        check(unsafe { sys::rofi_quiet() }, "rofi_quiet").map(drop)
    }

    fn fence(&self) -> Result<()> {
        self.quiet()
    }

    fn barrier(&self, team: &Team) -> Result<()> {
        let _g = self.lock();
        if team.len() == self.npes {
            // SAFETY: collective over all PEs.
            return check(unsafe { sys::rofi_barrier() }, "rofi_barrier").map(drop);
        }
        let pes = sorted(team);
        // SAFETY: ascending member list holding this PE.
        check(unsafe { sys::rofi_barrier_pes(pes.as_ptr(), pes.len() as i32) }, "rofi_barrier_pes").map(drop)
    }

    fn yields_when_waiting(&self) -> bool {
        self.yields
    }

    fn atomic_support(&self, op: AtomicOp, ty: AtomicType) -> AtomicSupport {
        // SAFETY: reads the table ROFI filled at init.
        match unsafe { sys::rofi_atomic_supported(rofi_op(op), rofi_type(ty)) } {
            1 => AtomicSupport::Native,
            _ => AtomicSupport::Unsupported,
        }
    }

    fn progress(&self) -> Result<()> {
        // SAFETY: ROFI is initialized while the backend lives; rofi_poll never blocks.
        check(unsafe { sys::rofi_poll() }, "rofi_poll").map(drop)
    }

    fn has_progress(&self) -> bool {
        true
    }

    fn finalize(&self) -> Result<()> {
        let _g = self.lock();
        // SAFETY: collective; called once (Transport guarantees it).
        check(unsafe { sys::rofi_finalize() }, "rofi_finalize").map(drop)
    }
}
