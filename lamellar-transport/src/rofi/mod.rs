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
mod messages;
pub(crate) mod segment;

use crate::atomic::{AtomicOp, AtomicSupport, AtomicType};
use crate::backend::{Backend, Capabilities, Messages, OpToken, PeerPath};
use crate::dispatch::AnySegment;
use crate::error::{Error, Result};
use crate::team::Team;
use crate::transport::SharedJob;
use error::check;
use rofi_sys as sys;
use segment::{RofiSegment, rofi_op, rofi_type};
use std::ffi::{CStr, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

static JOINED: AtomicBool = AtomicBool::new(false);
/// The job's timeout, for ROFI's timeout errors.
static TIMEOUT: OnceLock<Duration> = OnceLock::new();

pub struct RofiBackend {
    me: usize,
    npes: usize,
    provider: String,
    yields: bool,
    /// ROFI's collectives must be called by one thread at a time.
    collective: Mutex<()>,
    /// Mailboxes made so far: the next one's id in its messages' tags.
    mailboxes: std::sync::atomic::AtomicU32,
    /// The job's timeout, for waits in this backend's own code.
    timeout: Duration,
    /// The bootstrap ROFI joined through (`rofi_set_bootstrap`); boxed so its address,
    /// which ROFI holds, stays put. Finalized after ROFI.
    boot: Box<SharedJob>,
}

/// ROFI's bootstrap callbacks run the job's own bootstrap: one launcher connection per
/// process, whatever the protocol. They return 0 or -1 and never unwind into C.
fn serve(
    ctx: *mut c_void,
    f: impl FnOnce(&mut lamellar_bootstrap::Job) -> crate::error::Result<()>,
) -> c_int {
    // SAFETY: ctx is the `Box<SharedJob>` RofiBackend::init handed to rofi_set_bootstrap,
    // alive until after rofi_finalize (the backend owns it).
    let job = unsafe { &*(ctx as *const SharedJob) };
    match catch_unwind(AssertUnwindSafe(|| f(&mut job.lock().unwrap_or_else(|p| p.into_inner())))) {
        Ok(Ok(())) => 0,
        _ => -1,
    }
}

fn key_str<'a>(key: *const c_char) -> crate::error::Result<&'a str> {
    // SAFETY: ROFI passes a NUL-terminated key valid for the call.
    unsafe { CStr::from_ptr(key) }
        .to_str()
        .map_err(|_| Error::InvalidArgument("non-UTF-8 bootstrap key".into()))
}

extern "C" fn boot_put(
    ctx: *mut c_void,
    key: *const c_char,
    data: *const c_void,
    len: usize,
) -> c_int {
    serve(ctx, |job| {
        // SAFETY: ROFI passes `len` readable bytes at `data` (or len 0).
        let bytes = if len == 0 {
            &[][..]
        } else {
            // SAFETY: ROFI passes `len` readable bytes at `data` (len > 0 here).
            unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }
        };
        job.put(key_str(key)?, bytes)?;
        Ok(job.commit()?)
    })
}

extern "C" fn boot_fence(ctx: *mut c_void) -> c_int {
    serve(ctx, |job| Ok(job.fence()?))
}

extern "C" fn boot_get(
    ctx: *mut c_void,
    pe: c_int,
    key: *const c_char,
    data: *mut c_void,
    cap: usize,
    len: *mut usize,
) -> c_int {
    serve(ctx, |job| {
        let v = job.get(pe as usize, key_str(key)?)?;
        if v.len() > cap {
            return Err(Error::InvalidArgument(format!(
                "bootstrap value of {} bytes for a buffer of {cap}",
                v.len()
            )));
        }
        // SAFETY: ROFI passes `cap` writable bytes at `data` and a writable `len`.
        unsafe {
            std::ptr::copy_nonoverlapping(v.as_ptr(), data.cast::<u8>(), v.len());
            *len = v.len();
        }
        Ok(())
    })
}

fn sorted(team: &Team) -> Vec<i32> {
    let mut v: Vec<i32> = team.pes().iter().map(|&p| p as i32).collect();
    v.sort_unstable();
    v
}

impl RofiBackend {
    pub fn init(job: SharedJob, yields: bool, timeout: Duration) -> Result<RofiBackend> {
        if std::env::var_os("ROFI_PROVIDER").is_some_and(|p| p.is_empty()) {
            return Err(Error::InvalidArgument("ROFI_PROVIDER is set but empty: name a provider (e.g. shm, \"tcp;ofi_rxm\", verbs) or unset it".into()));
        }
        if JOINED.swap(true, Ordering::AcqRel) {
            return Err(Error::BackendUnavailable {
                name: "rofi".into(),
                why: "ROFI can join a job once per process".into(),
            });
        }
        let _ = TIMEOUT.set(timeout);
        let (rank, size, spans) = {
            let j = job.lock().unwrap_or_else(|p| p.into_inner());
            let mut hosts: Vec<String> =
                (0..j.size()).map(|p| j.card(p).hostname().to_string()).collect();
            hosts.dedup();
            (j.rank() as c_int, j.size() as c_int, (j.nodes() > 1).then(|| hosts.join(", ")))
        };
        let boot = Box::new(job);
        let hook = sys::rofi_bootstrap {
            ctx: &*boot as *const SharedJob as *mut c_void,
            rank,
            size,
            put: Some(boot_put),
            fence: Some(boot_fence),
            get: Some(boot_get),
        };
        // SAFETY: plain calls before init; ROFI copies the timeout and the hook, whose ctx
        // (`boot`) the backend keeps alive past rofi_finalize.
        let joined = unsafe {
            sys::rofi_set_timeout(timeout.as_secs_f64());
            check(sys::rofi_set_bootstrap(&hook), "rofi_set_bootstrap")
                // NULL provider/domain make ROFI read ROFI_PROVIDER / ROFI_DOMAIN.
                .and_then(|_| {
                    check(sys::rofi_init(std::ptr::null(), std::ptr::null()), "rofi_init")
                })
        };
        if let Err(mut e) = joined {
            JOINED.store(false, Ordering::Release); // a failed init may be retried
            if let (Error::BackendUnavailable { why, .. }, Some(hosts)) = (&mut e, spans) {
                why.push_str(&format!(" (this job runs on hosts {hosts})"));
            }
            return Err(e);
        }
        // SAFETY: initialized above; these only read ROFI's state.
        let (me, npes, provider) = unsafe {
            let p = CStr::from_ptr(sys::rofi_provider_name()).to_string_lossy().into_owned();
            (
                check(sys::rofi_get_id(), "rofi_get_id")? as usize,
                check(sys::rofi_get_size(), "rofi_get_size")? as usize,
                p,
            )
        };
        Ok(RofiBackend {
            me,
            npes,
            provider,
            yields,
            collective: Mutex::new(()),
            mailboxes: Default::default(),
            timeout,
            boot,
        })
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

    fn native_library(&self) -> Option<String> {
        // SAFETY: fi_version takes nothing and only returns a constant of the loaded library.
        let v = unsafe { rofi_sys::fi_version() };
        Some(format!("libfabric {}.{}", v >> 16, v & 0xffff))
    }

    fn my_pe(&self) -> usize {
        self.me
    }

    fn num_pes(&self) -> usize {
        self.npes
    }

    fn alloc(&self, team: &Team, len: usize) -> Result<AnySegment> {
        let _g = self.lock();
        // +8 so that zero-length allocations are real ones, without hiding a mismatch.
        let size =
            len.checked_add(8).ok_or(Error::OutOfBounds { offset: 0, len, size: usize::MAX })?;
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
        Ok(AnySegment::Rofi(RofiSegment::new(addr.cast(), team, self.npes)?))
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
        check(unsafe { sys::rofi_barrier_pes(pes.as_ptr(), pes.len() as i32) }, "rofi_barrier_pes")
            .map(drop)
    }

    fn yields_when_waiting(&self) -> bool {
        self.yields
    }

    fn capabilities(&self) -> Capabilities {
        // rofi_atomic_nb; ROFI has no per-PE quiet and documents fence as a quiet.
        Capabilities {
            put_signal: false,
            atomic_nb: true,
            quiet_pe: false,
            fence_orders_only: false,
            messages: true,
        }
    }

    fn messages(&self, _slots: usize, slot_bytes: usize) -> Result<Option<Box<dyn Messages>>> {
        // Collective: every PE counts its mailboxes alike.
        let id = self.mailboxes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let m = messages::RofiMessages::new(id, self.npes, slot_bytes, self.timeout)?;
        Ok(Some(Box::new(m)))
    }

    fn path_to(&self, pe: usize) -> PeerPath {
        // SAFETY: ROFI is initialized while the backend lives; pe was checked by the caller
        // (an error would come back negative, and is reported as the network path).
        if unsafe { sys::rofi_is_local(pe as i32) } == 1 {
            PeerPath::SharedMemory
        } else {
            PeerPath::Network
        }
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
        let left = check(unsafe { sys::rofi_finalize() }, "rofi_finalize").map(drop);
        let told =
            self.boot.lock().unwrap_or_else(|p| p.into_inner()).finalize().map_err(Error::from);
        left.and(told)
    }
}
