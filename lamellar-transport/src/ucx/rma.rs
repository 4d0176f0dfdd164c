//! The communication calls: put, get, atomics, flush and fence, each one UCX call with
//! the lock held. Completion is left to `requests.rs`, except for atomics and flushes,
//! which are always waited for.

use super::atomics::width_mask;
use super::status::check;
use super::worker::Worker;
use crate::error::Result;
use lamellar_ucx_sys::{self as sys, ucp_rkey_h, ucs_status_ptr_t};
use std::ffi::c_void;

/// `ucp_request_param_t` for host memory and no callback: the request pointer is polled.
/// A constant, so a put or get passes a pointer to it instead of building ~80 bytes per call.
pub(super) const HOST_PARAM: sys::ucp_request_param_t = {
    // SAFETY: a plain C struct of integers, pointers and optional callbacks, for which all
    // zeroes is valid (null, None) and means "no optional field set" to UCX.
    let mut p: sys::ucp_request_param_t = unsafe { std::mem::zeroed() };
    p.op_attr_mask = sys::UCP_OP_ATTR_FIELD_MEMORY_TYPE;
    p.memory_type = sys::UCS_MEMORY_TYPE_HOST;
    p
};

impl Worker<'_> {
    /// `ucp_put_nbx` of `len` bytes from `src` to `remote` on `pe`; returns what UCX did.
    ///
    /// # Safety
    /// `src` is valid for reads of `len` bytes until the returned request completes;
    /// `rkey` was unpacked on the endpoint to `pe` and covers `remote..remote+len`.
    #[inline]
    pub unsafe fn put_raw(
        &mut self,
        pe: usize,
        src: *const u8,
        len: usize,
        remote: u64,
        rkey: ucp_rkey_h,
    ) -> Result<ucs_status_ptr_t> {
        let ep = self.ep(pe)?;
        // SAFETY: per this function's contract; the endpoint is live (lock held).
        Ok(unsafe { sys::ucp_put_nbx(ep, src.cast(), len, remote, rkey, &HOST_PARAM) })
    }

    /// `ucp_get_nbx`, the mirror of [`Worker::put_raw`].
    ///
    /// # Safety
    /// `dst` is valid for writes of `len` bytes until the returned request completes;
    /// `rkey` as in `put_raw`.
    #[inline]
    pub unsafe fn get_raw(
        &mut self,
        pe: usize,
        dst: *mut u8,
        len: usize,
        remote: u64,
        rkey: ucp_rkey_h,
    ) -> Result<ucs_status_ptr_t> {
        let ep = self.ep(pe)?;
        // SAFETY: per this function's contract; the endpoint is live (lock held).
        Ok(unsafe { sys::ucp_get_nbx(ep, dst.cast(), len, remote, rkey, &HOST_PARAM) })
    }

    /// One remote atomic of `width` (4 or 8) bytes, waited for. With `fetch`, returns the
    /// old value; `reply_in` is the initial reply buffer (CSWAP's new value). Without
    /// `fetch` the operation is posted and only its local completion is waited for.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn atomic(
        &mut self,
        pe: usize,
        opcode: sys::ucp_atomic_op_t,
        width: usize,
        operand: u64,
        fetch: Option<u64>,
        remote: u64,
        rkey: ucp_rkey_h,
    ) -> Result<u64> {
        let ep = self.ep(pe)?;
        // Both buffers live on this frame until the request completes (complete() waits, or
        // cancels by closing the endpoint, before returning).
        let mut operand = Word::new(width, operand);
        let mut reply = Word::new(width, fetch.unwrap_or(0));
        let mut param = HOST_PARAM;
        param.op_attr_mask |= sys::UCP_OP_ATTR_FIELD_DATATYPE;
        param.datatype = if width == 4 { sys::contig::<u32>() } else { sys::contig::<u64>() };
        if fetch.is_some() {
            param.op_attr_mask |= sys::UCP_OP_ATTR_FIELD_REPLY_BUFFER;
            param.reply_buffer = reply.as_mut_ptr();
        }
        // SAFETY: buffers valid for `width` bytes until completion (see above); rkey covers
        // the aligned word at `remote` (checked by the safe layer / control layout).
        let ptr = unsafe {
            sys::ucp_atomic_op_nbx(ep, opcode, operand.as_mut_ptr(), 1, remote, rkey, &param)
        };
        self.complete(ptr, Some(pe), || format!("atomic op {opcode} ({width} bytes) on PE {pe}"))?;
        Ok(reply.get())
    }

    /// Posts a fetching atomic whose reply UCX writes to `reply` (`width` bytes) when it
    /// completes, and returns the request (or its immediate status).
    ///
    /// # Safety
    /// `reply` is valid for writes of `width` bytes until the request completes, and holds
    /// the new value for a compare-swap. UCX copies the operand at the call.
    // ucp_atomic_op_nbx's own arguments, one for one.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn atomic_raw(
        &mut self,
        pe: usize,
        opcode: sys::ucp_atomic_op_t,
        width: usize,
        operand: u64,
        reply: *mut c_void,
        remote: u64,
        rkey: ucp_rkey_h,
    ) -> Result<ucs_status_ptr_t> {
        let ep = self.ep(pe)?;
        let mut operand = Word::new(width, operand);
        let mut param = HOST_PARAM;
        param.op_attr_mask |= sys::UCP_OP_ATTR_FIELD_DATATYPE | sys::UCP_OP_ATTR_FIELD_REPLY_BUFFER;
        param.datatype = if width == 4 { sys::contig::<u32>() } else { sys::contig::<u64>() };
        param.reply_buffer = reply;
        // SAFETY: the operand is read at the call; `reply` per the caller; the rkey covers the
        // aligned word at `remote` (checked by the safe layer).
        Ok(unsafe {
            sys::ucp_atomic_op_nbx(ep, opcode, operand.as_mut_ptr(), 1, remote, rkey, &param)
        })
    }

    /// Every operation of this worker is complete at its target.
    pub fn flush(&mut self) -> Result<()> {
        let param = sys::ucp_request_param_t::default();
        // SAFETY: live worker; no buffers are involved.
        let ptr = unsafe { sys::ucp_worker_flush_nbx(self.st.worker, &param) };
        self.complete(ptr, None, || "ucp_worker_flush_nbx (quiet)".into())
    }

    /// Every operation to `pe` is complete at `pe`.
    pub fn flush_ep(&mut self, pe: usize) -> Result<()> {
        let ep = self.ep(pe)?;
        let param = sys::ucp_request_param_t::default();
        // SAFETY: live endpoint (lock held); no buffers are involved.
        let ptr = unsafe { sys::ucp_ep_flush_nbx(ep, &param) };
        self.complete(ptr, Some(pe), || format!("ucp_ep_flush_nbx to PE {pe}"))
    }

    /// Operations issued before are delivered before those issued after.
    pub fn fence(&mut self) -> Result<()> {
        // SAFETY: live worker.
        check(unsafe { sys::ucp_worker_fence(self.st.worker) }, "ucp_worker_fence")
    }
}

/// An atomic operand of 4 or 8 bytes in native byte order: one 64-bit word, of which a
/// 4-byte operand is the numerically low half.
struct Word {
    width: usize,
    bits: u64,
}

impl Word {
    #[inline]
    fn new(width: usize, v: u64) -> Word {
        Word { width, bits: v & width_mask(width) }
    }
    /// Where UCX reads or writes `width` bytes: the low half of `bits` is its first four
    /// bytes on a little-endian machine and its last four on a big-endian one.
    #[inline]
    fn as_mut_ptr(&mut self) -> *mut c_void {
        let p = (&mut self.bits as *mut u64).cast::<u8>();
        let skip = if self.width == 4 && cfg!(target_endian = "big") { 4 } else { 0 };
        // SAFETY: `skip` is 0 or 4, inside the 8 bytes of `bits`.
        unsafe { p.add(skip) }.cast()
    }
    #[inline]
    fn get(&self) -> u64 {
        self.bits & width_mask(self.width)
    }
}
