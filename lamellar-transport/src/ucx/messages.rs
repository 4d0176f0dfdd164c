//! Mailbox messages as UCX active messages (what a mailbox promises: `mailbox.rs`; the
//! mailbox counts credits and keeps its queue, this carries messages and credit counts).
//!
//! Two AM ids of our own, their handlers set on the worker at init:
//! - [`AM_MESSAGE`]: header = mailbox id, source PE, the pair's sequence number, credits
//!   handed back to the target (a reply carries the credit of the request it answers, so a
//!   request/reply exchange needs no credit messages); data = the message. UCX sends short ones eagerly: the handler copies them out of UCX's buffer. Long
//!   ones come by rendezvous (`UCP_AM_RECV_ATTR_FLAG_RNDV`): the handler starts
//!   `ucp_am_recv_data_nbx` straight into the `Vec` that the caller will get, and the
//!   message counts as arrived once that request completes ([`Inbox::receiving`]).
//! - [`AM_CREDIT`]: the same header (sequence number 0), credits only; no data.
//!
//! Messages are put back in order per source by sequence number: UCX does not order an
//! eager message behind a rendezvous one still in flight.
//!
//! State is in the [`Hub`], one per worker, with one [`Inbox`] per live mailbox. Handlers
//! run inside `ucp_worker_progress`, that is with the worker lock held by whichever thread
//! progresses (an application thread or the progress thread), and take the hub's lock: so
//! the lock order is worker, then hub, and nobody calls into UCX that could run a handler
//! (a send, a progress, a receive) while holding the hub's lock. Handlers never panic into
//! C: their bodies run under `catch_unwind` and only record what arrived.

use super::rma::HOST_PARAM;
use super::status::error;
use super::worker::{Ucx, Worker};
use crate::backend::Messages;
use crate::backoff::{Tries, wait_until};
use crate::error::{Error, Result};
use lamellar_ucx_sys::{self as sys, StatusPtr, ucp_am_recv_param_t, ucs_status_t};
use std::collections::{BTreeMap, VecDeque};
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Our active-message ids (nothing else registers handlers on this worker).
pub const AM_MESSAGE: u32 = 0x30;
pub const AM_CREDIT: u32 = 0x31;

/// Both AMs' user header: mailbox id, source PE, sequence number (messages), credits
/// handed back.
#[derive(Clone, Copy)]
struct Header {
    mailbox: u32,
    src: u32,
    seq: u64,
    credit: u64,
}

const HEADER_LEN: usize = 24;

impl Header {
    fn bytes(self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&self.mailbox.to_ne_bytes());
        b[4..8].copy_from_slice(&self.src.to_ne_bytes());
        b[8..16].copy_from_slice(&self.seq.to_ne_bytes());
        b[16..24].copy_from_slice(&self.credit.to_ne_bytes());
        b
    }

    /// The header UCX hands a handler; None if it is not one of ours.
    ///
    /// # Safety
    /// `p` is null or valid for reads of `len` bytes.
    unsafe fn read(p: *const c_void, len: usize) -> Option<Header> {
        if p.is_null() || len != HEADER_LEN {
            return None;
        }
        // SAFETY: the caller's promise, for HEADER_LEN bytes (checked above); no alignment.
        let b = unsafe { p.cast::<[u8; HEADER_LEN]>().read_unaligned() };
        let word = |i: usize| {
            u64::from_ne_bytes([
                b[i],
                b[i + 1],
                b[i + 2],
                b[i + 3],
                b[i + 4],
                b[i + 5],
                b[i + 6],
                b[i + 7],
            ])
        };
        Some(Header {
            mailbox: u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            src: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            seq: word(8),
            credit: word(16),
        })
    }
}

/// The messages of every mailbox of this worker. Lives in `Ucx`, after the worker's state,
/// so it outlives every handler call (handlers get a pointer to it).
pub struct Hub {
    /// For `ucp_am_recv_data_nbx` inside a handler (the worker lock is held there).
    worker: sys::ucp_worker_h,
    /// Live mailboxes by id: a few at most, so an ordered map (no hashing on every poll).
    boxes: Mutex<BTreeMap<u32, Inbox>>,
    /// Mailboxes are made collectively and in the same order everywhere: the n-th on each PE
    /// is the same mailbox.
    next_id: AtomicU32,
}

/// One mailbox's messages on this PE.
struct Inbox {
    /// Per source: the sequence number of the next message to hand out, and the messages
    /// that arrived whole ahead of it.
    next: Vec<u64>,
    ahead: Vec<BTreeMap<u64, Vec<u8>>>,
    /// Whole messages in order per source, as they became ready.
    ready: VecDeque<(usize, Vec<u8>)>,
    /// Rendezvous receives in flight: UCX writes each buffer until its request completes.
    receiving: Vec<Receiving>,
    /// A message that could not be received (its source's later ones can then never be
    /// handed out in order); reported by the next `try_recv`.
    lost: Option<Error>,
    /// Per target: the sequence number of our next message to it, and the credits it handed
    /// back so far.
    sent: Vec<u64>,
    credit: Vec<u64>,
}

struct Receiving {
    src: usize,
    seq: u64,
    /// Capacity `len`, length 0 until the request completes.
    buf: Vec<u8>,
    len: usize,
    req: NonNull<c_void>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Handlers only record arrivals; a panic elsewhere leaves whole entries behind.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inbox {
    fn new(npes: usize) -> Inbox {
        Inbox {
            next: vec![0; npes],
            ahead: vec![BTreeMap::new(); npes],
            ready: VecDeque::new(),
            receiving: Vec::new(),
            lost: None,
            sent: vec![0; npes],
            credit: vec![0; npes],
        }
    }

    /// Message `seq` from `src` is whole: hand it out in its turn.
    fn arrived(&mut self, src: usize, seq: u64, bytes: Vec<u8>) {
        if seq != self.next[src] {
            if seq > self.next[src] {
                self.ahead[src].insert(seq, bytes);
            }
            return;
        }
        self.ready.push_back((src, bytes));
        self.next[src] += 1;
        while let Some(b) = self.ahead[src].remove(&self.next[src]) {
            self.ready.push_back((src, b));
            self.next[src] += 1;
        }
    }

    /// The next message ready, else a loss to report, else None.
    fn take(&mut self) -> Result<Option<(usize, Vec<u8>)>> {
        match self.ready.pop_front() {
            Some(m) => Ok(Some(m)),
            None => self.lost.take().map_or(Ok(None), Err),
        }
    }

    fn lose(&mut self, src: usize, why: String) {
        self.lost.get_or_insert(Error::PeerFailed { pe: src, why });
    }

    /// Moves the rendezvous receives that completed to their turn.
    fn collect(&mut self, _w: &Worker<'_>) {
        let mut i = 0;
        while i < self.receiving.len() {
            let req = self.receiving[i].req;
            // SAFETY: a request of ours, not yet freed; the worker lock (`_w`) serializes this
            // with the progress that completes it. No handler runs from this call.
            let status = unsafe { sys::ucp_request_check_status(req.as_ptr()) };
            if status == sys::UCS_INPROGRESS {
                i += 1;
                continue;
            }
            let mut r = self.receiving.swap_remove(i);
            // SAFETY: completed, freed once (removed from `receiving`).
            unsafe { sys::ucp_request_free(req.as_ptr()) };
            if status == sys::UCS_OK {
                // SAFETY: UCX wrote all `len` bytes (the capacity) before completing.
                unsafe { r.buf.set_len(r.len) };
                self.arrived(r.src, r.seq, r.buf);
            } else {
                let e = error(status, "ucp_am_recv_data_nbx", Some(r.src));
                self.lose(r.src, format!("message {} from it could not be received: {e}", r.seq));
            }
        }
    }
}

impl Hub {
    pub fn new(worker: sys::ucp_worker_h) -> Hub {
        Hub { worker, boxes: Mutex::new(BTreeMap::new()), next_id: AtomicU32::new(0) }
    }

    /// A message of ours from a handler: eager data (copied now) or a rendezvous descriptor
    /// (received into a new buffer).
    fn on_message(&self, h: Header, data: *mut c_void, len: usize, rndv: bool) {
        let src = h.src as usize;
        if !rndv {
            let bytes = if len == 0 {
                Vec::new()
            } else {
                // SAFETY: UCX's eager data: `len` readable bytes for the handler's duration.
                unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec()
            };
            // A message for a mailbox freed here (or a stray one) is dropped.
            match lock(&self.boxes).get_mut(&h.mailbox) {
                Some(inbox) if src < inbox.next.len() => {
                    inbox.credit[src] += h.credit;
                    inbox.arrived(src, h.seq, bytes);
                }
                _ => {}
            }
            return;
        }
        match lock(&self.boxes).get_mut(&h.mailbox) {
            Some(inbox) if src < inbox.next.len() => inbox.credit[src] += h.credit,
            // Not received: its send completes all the same.
            _ => return,
        }
        let mut buf = Vec::<u8>::new();
        if buf.try_reserve_exact(len).is_err() {
            if let Some(inbox) = lock(&self.boxes).get_mut(&h.mailbox) {
                inbox.lose(src, format!("no memory for its message of {len} bytes"));
            }
            return;
        }
        // SAFETY: `data` is the rendezvous descriptor UCX passed this handler, which runs
        // inside ucp_worker_progress (worker lock held); `buf` has room for `len` bytes and its
        // heap block stays put, owned by `receiving` (or leaked), until the request completes.
        // No hub lock is held: UCX may run handlers from here.
        let ptr = unsafe {
            sys::ucp_am_recv_data_nbx(self.worker, data, buf.as_mut_ptr().cast(), len, &HOST_PARAM)
        };
        let mut boxes = lock(&self.boxes);
        let inbox = boxes.get_mut(&h.mailbox);
        match (StatusPtr::from_raw(ptr), inbox) {
            (StatusPtr::Ok, Some(inbox)) => {
                // SAFETY: the receive completed at once: all `len` bytes are written.
                unsafe { buf.set_len(len) };
                inbox.arrived(src, h.seq, buf);
            }
            (StatusPtr::Err(s), Some(inbox)) => {
                let e = error(s, "ucp_am_recv_data_nbx", Some(src));
                inbox.lose(src, format!("message {} from it could not be received: {e}", h.seq));
            }
            (StatusPtr::Request(req), Some(inbox)) => {
                inbox.receiving.push(Receiving { src, seq: h.seq, buf, len, req });
            }
            (StatusPtr::Request(_), None) => {
                // The mailbox was dropped meanwhile (its drop does not take the worker lock):
                // leak the buffer, which UCX may still write, and the request.
                std::mem::forget(buf);
            }
            (_, None) => {}
        }
    }

    fn on_credit(&self, h: Header) {
        if let Some(inbox) = lock(&self.boxes).get_mut(&h.mailbox) {
            if let Some(c) = inbox.credit.get_mut(h.src as usize) {
                *c += h.credit;
            }
        }
    }
}

/// Whether UCX says the data is a rendezvous descriptor.
///
/// # Safety
/// `param` is null or the parameter UCX passed the handler.
unsafe fn is_rndv(param: *const ucp_am_recv_param_t) -> bool {
    // SAFETY: the caller's promise.
    !param.is_null() && unsafe { (*param).recv_attr } & sys::UCP_AM_RECV_ATTR_FLAG_RNDV as u64 != 0
}

unsafe extern "C" fn on_message(
    arg: *mut c_void,
    header: *const c_void,
    header_length: usize,
    data: *mut c_void,
    length: usize,
    param: *const ucp_am_recv_param_t,
) -> ucs_status_t {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `arg` is the `Hub` inside `Ucx` (`set_am_handlers`), which outlives the
        // worker; UCX passes a header of `header_length` bytes and its own `param`.
        let (hub, h, rndv) =
            unsafe { (&*arg.cast::<Hub>(), Header::read(header, header_length), is_rndv(param)) };
        if let Some(h) = h {
            hub.on_message(h, data, length, rndv);
        }
    }));
    // Eager data is copied by now; a rendezvous descriptor is either being received or
    // dropped (its send then completes).
    sys::UCS_OK
}

unsafe extern "C" fn on_credit(
    arg: *mut c_void,
    header: *const c_void,
    header_length: usize,
    _data: *mut c_void,
    _length: usize,
    _param: *const ucp_am_recv_param_t,
) -> ucs_status_t {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `on_message`.
        let (hub, h) = unsafe { (&*arg.cast::<Hub>(), Header::read(header, header_length)) };
        if let Some(h) = h {
            hub.on_credit(h);
        }
    }));
    sys::UCS_OK
}

impl Worker<'_> {
    /// Sets our two AM handlers (at init, once the `Ucx` has its final address).
    pub fn set_am_handlers(&mut self) -> Result<()> {
        type Handler = unsafe extern "C" fn(
            *mut c_void,
            *const c_void,
            usize,
            *mut c_void,
            usize,
            *const ucp_am_recv_param_t,
        ) -> ucs_status_t;
        let hub: *const Hub = &self.ucx.hub;
        for (id, cb) in [(AM_MESSAGE, on_message as Handler), (AM_CREDIT, on_credit as Handler)] {
            let param = sys::ucp_am_handler_param_t {
                field_mask: (sys::UCP_AM_HANDLER_PARAM_FIELD_ID
                    | sys::UCP_AM_HANDLER_PARAM_FIELD_FLAGS
                    | sys::UCP_AM_HANDLER_PARAM_FIELD_CB
                    | sys::UCP_AM_HANDLER_PARAM_FIELD_ARG) as u64,
                id,
                // Eager messages in one piece, however many fragments carried them.
                flags: sys::UCP_AM_FLAG_WHOLE_MSG,
                cb: Some(cb),
                arg: hub.cast_mut().cast(),
            };
            // SAFETY: live worker (lock held); the handler's argument, the hub, lives in the
            // `Ucx` behind an `Arc` (a fixed address) and drops after the worker.
            let status = unsafe { sys::ucp_worker_set_am_recv_handler(self.st.worker, &param) };
            if status != sys::UCS_OK {
                return Err(error(status, "ucp_worker_set_am_recv_handler", None));
            }
        }
        Ok(())
    }

    /// One active message with our header, waited for (UCX has the header and
    /// `data` until then).
    fn am_send(&mut self, pe: usize, id: u32, h: Header, data: &[u8], flags: u32) -> Result<()> {
        let ep = self.ep(pe)?;
        let header = h.bytes();
        let mut param = HOST_PARAM;
        param.op_attr_mask |= sys::UCP_OP_ATTR_FIELD_FLAGS;
        param.flags = flags;
        // SAFETY: live endpoint (lock held); `header` and `data` stay valid until `complete`
        // returns, which waits for the request or cancels it (closing the endpoint) first.
        let ptr = unsafe {
            sys::ucp_am_send_nbx(
                ep,
                id,
                header.as_ptr().cast(),
                HEADER_LEN,
                data.as_ptr().cast(),
                data.len(),
                &param,
            )
        };
        self.complete(ptr, Some(pe), || {
            format!("ucp_am_send_nbx (AM {id}) of {} bytes to PE {pe}", data.len())
        })
    }
}

/// One mailbox's native messages (`Backend::messages`).
pub struct UcxMessages {
    ucx: Arc<Ucx>,
    id: u32,
    me: usize,
}

impl UcxMessages {
    /// Opens this PE's end of the next mailbox (collective: the mailbox then meets at a
    /// barrier before anyone sends).
    pub fn new(ucx: Arc<Ucx>, me: usize, npes: usize) -> UcxMessages {
        let id = ucx.hub.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&ucx.hub.boxes).insert(id, Inbox::new(npes));
        UcxMessages { ucx, id, me }
    }

    fn inbox<R>(&self, f: impl FnOnce(&mut Inbox) -> R) -> R {
        let mut boxes = lock(&self.ucx.hub.boxes);
        f(boxes.get_mut(&self.id).expect("the inbox lives as long as its UcxMessages"))
    }

    fn header(&self, seq: u64, credit: u64) -> Header {
        Header { mailbox: self.id, src: self.me as u32, seq, credit }
    }
}

impl Messages for UcxMessages {
    fn send(&self, pe: usize, msg: &[u8], credits: u64) -> Result<()> {
        let mut w = self.ucx.lock()?;
        // Numbered under the worker lock, so numbers go out in order.
        let seq = self.inbox(|b| {
            b.sent[pe] += 1;
            b.sent[pe] - 1
        });
        w.am_send(pe, AM_MESSAGE, self.header(seq, credits), msg, 0)
    }

    fn try_recv(&self) -> Result<Option<(usize, Vec<u8>)>> {
        // The worker lock only when nothing is ready and a rendezvous receive may have
        // completed.
        let quick = self.inbox(|b| {
            if b.receiving.is_empty() || !b.ready.is_empty() { Some(b.take()) } else { None }
        });
        if let Some(m) = quick {
            return m;
        }
        let w = self.ucx.lock()?;
        self.inbox(|b| {
            b.collect(&w);
            b.take()
        })
    }

    fn return_credit(&self, pe: usize, credits: u64) -> Result<()> {
        let mut w = self.ucx.lock()?;
        w.am_send(pe, AM_CREDIT, self.header(0, credits), &[], sys::UCP_AM_SEND_FLAG_EAGER)
    }

    fn credit_from(&self, pe: usize) -> u64 {
        self.inbox(|b| b.credit[pe])
    }

    fn free(self: Box<Self>) -> Result<()> {
        // Rendezvous receives still in flight finish first (their buffers are UCX's until
        // then); what is left after the timeout is leaked by the drop.
        let left = || self.inbox(|b| b.receiving.len());
        wait_until(
            self.ucx.timeout,
            Tries::Progress,
            || format!("{} message receives in flight at PE {}", left(), self.me),
            || {
                let mut w = self.ucx.lock()?;
                w.progress();
                self.inbox(|b| b.collect(&w));
                Ok(())
            },
            || left() == 0,
            || Ok(()),
        )
    }
}

impl Drop for UcxMessages {
    fn drop(&mut self) {
        // From here handlers drop this mailbox's messages (under the hub lock, which they
        // take). Receives still in flight keep their buffers: leaked, never given back while
        // UCX may write them; their requests too.
        if let Some(inbox) = lock(&self.ucx.hub.boxes).remove(&self.id) {
            for r in inbox.receiving {
                std::mem::forget(r.buf);
            }
        }
    }
}
