//! Completing UCX requests: waiting for them (blocking calls) or tracking them under an
//! [`OpToken`] (non-blocking calls). Every wait has the job timeout; a request that still
//! addresses a caller's buffer when a wait fails is cancelled (by force-closing the
//! endpoint) before the caller gets its buffer back.

use super::status::error;
use super::worker::Worker;
use crate::backend::OpToken;
use crate::backoff::{Tries, wait_until};
use crate::error::Result;
use lamellar_ucx_sys::{self as sys, StatusPtr, ucs_status_ptr_t};
use std::ffi::c_void;
use std::ptr::NonNull;

/// A non-blocking operation in flight.
pub struct Pending {
    req: NonNull<c_void>,
    pe: usize,
}

impl Pending {
    /// Releases the request without waiting (UCX finishes it internally).
    pub fn release(self) {
        // SAFETY: a request we own, freed once (self is consumed).
        unsafe { sys::ucp_request_free(self.req.as_ptr()) };
    }
}

impl Worker<'_> {
    /// Completes what an `*_nbx` call returned. `pe`: the peer whose memory the operation
    /// addresses, whose failure ends the wait; `None` for worker-wide operations (flush).
    #[inline]
    pub fn complete(
        &mut self,
        ptr: ucs_status_ptr_t,
        pe: Option<usize>,
        what: impl Fn() -> String,
    ) -> Result<()> {
        match StatusPtr::from_raw(ptr) {
            StatusPtr::Ok => Ok(()),
            StatusPtr::Err(s) => Err(error(s, &what(), pe)),
            StatusPtr::Request(req) => self.finish(req, pe, &what),
        }
    }

    fn finish(
        &mut self,
        req: NonNull<c_void>,
        pe: Option<usize>,
        what: &dyn Fn() -> String,
    ) -> Result<()> {
        let peers = &self.ucx.peers;
        let waited = self.progress_until_done(req, what, || pe.map_or(Ok(()), |p| peers.check(p)));
        if let Err(e) = waited {
            if let Some(p) = pe {
                // The request may still use the caller's buffer: cancel it before returning.
                self.abandon(p, sys::UCS_ERR_CANCELED);
                if !self.drain_or_poison(req, p, what) {
                    return Err(e); // the request is leaked with the poisoned worker
                }
            }
            // SAFETY: our request, released once; UCX no longer touches caller buffers.
            unsafe { sys::ucp_request_free(req.as_ptr()) };
            return Err(e);
        }
        // SAFETY: a completed request we own, freed once after reading its status.
        let status = unsafe { sys::ucp_request_check_status(req.as_ptr()) };
        // SAFETY: our request, complete, freed once (its status was read above).
        unsafe { sys::ucp_request_free(req.as_ptr()) };
        if status == sys::UCS_OK { Ok(()) } else { Err(error(status, &what(), pe)) }
    }

    /// After a forced close the request completes (cancelled) within a few progress calls.
    /// If it did not (UCX 1.13 over tcp, without peer error handling, leaves requests to a
    /// departed peer in flight), returning would let a later progress call write a buffer its
    /// owner has reused: the worker is poisoned instead (see `State::poisoned`). Returns
    /// whether the request finished.
    fn drain_or_poison(
        &mut self,
        req: NonNull<c_void>,
        pe: usize,
        what: &dyn Fn() -> String,
    ) -> bool {
        let drained = self.progress_until_done(req, what, || Ok(()));
        if drained.is_err() {
            let why = format!(
                "{} could not be cancelled after PE {pe} failed; this PE's UCX worker is stopped",
                what()
            );
            self.st.poisoned = Some((pe, why));
        }
        drained.is_ok()
    }

    /// Progresses the worker until `req` is no longer in progress (the job timeout), running
    /// `check` as waits do: the one wait loop of both `finish` and `drain_or_poison`.
    fn progress_until_done(
        &mut self,
        req: NonNull<c_void>,
        what: &dyn Fn() -> String,
        check: impl FnMut() -> Result<()>,
    ) -> Result<()> {
        let worker = self.st.worker;
        wait_until(
            self.ucx.timeout,
            Tries::Progress,
            what,
            || {
                // SAFETY: live worker, serialized by the lock we hold.
                unsafe { sys::ucp_worker_progress(worker) };
                Ok(())
            },
            // SAFETY: a request we own, not yet freed.
            || unsafe { sys::ucp_request_check_status(req.as_ptr()) } != sys::UCS_INPROGRESS,
            check,
        )
    }

    /// Keeps a request in flight under a new token (for non-blocking operations).
    #[inline]
    pub fn track(
        &mut self,
        ptr: ucs_status_ptr_t,
        pe: usize,
        what: impl Fn() -> String,
    ) -> Result<OpToken> {
        match StatusPtr::from_raw(ptr) {
            StatusPtr::Ok => Ok(OpToken::DONE),
            StatusPtr::Err(s) => Err(error(s, &what(), Some(pe))),
            StatusPtr::Request(req) => {
                let t = self.st.next_token;
                self.st.next_token += 1;
                self.st.pending.insert(t, Pending { req, pe });
                Ok(OpToken(t))
            }
        }
    }

    /// Has the operation behind `op` completed? (Releases it if so.)
    pub fn test(&mut self, op: OpToken) -> Result<bool> {
        let Some(p) = self.st.pending.get(&op.0) else { return Ok(true) };
        let req = p.req;
        // SAFETY: live worker and a request we own.
        let status = unsafe {
            sys::ucp_worker_progress(self.st.worker);
            sys::ucp_request_check_status(req.as_ptr())
        };
        if status == sys::UCS_INPROGRESS {
            return Ok(false);
        }
        let p = self.st.pending.remove(&op.0).expect("present above");
        // SAFETY: completed request, freed once.
        unsafe { sys::ucp_request_free(p.req.as_ptr()) };
        if status == sys::UCS_OK {
            Ok(true)
        } else {
            Err(error(status, "non-blocking operation", Some(p.pe)))
        }
    }

    /// Blocks until the operation behind `op` completes (job timeout).
    pub fn wait(&mut self, op: OpToken) -> Result<()> {
        let Some(p) = self.st.pending.remove(&op.0) else { return Ok(()) };
        self.finish(p.req, Some(p.pe), &|| format!("non-blocking operation to PE {}", p.pe))
    }
}
