//! Mailbox messages as ROFI tagged messages (what a mailbox promises: `mailbox.rs`; the
//! mailbox counts credits and keeps its queue, this carries messages and credit counts).
//!
//! Every message starts with a [`Header`]: sequence number of the (source, target) pair,
//! credits handed back to the target, length, kind. Short messages (a slot's payload at
//! most) travel whole in one eager send, into receives this PE keeps posted per source (not
//! from any PE: libfabric's shm provider loses messages under receives with ignored tag
//! bits, so ROFI refuses `ROFI_ANY_PE` there). A long message
//! sends its header the same way, then its body as a second message with a tag naming the
//! pair's sequence number; the receiver, on the header, posts a receive for that body
//! straight into the `Vec` the caller will get (no copy at the receiver). The sender copies
//! the body first: a send that times out returns while the fabric may still read it, so
//! the fabric must read memory we own (it is then leaked, not freed under the fabric).
//!
//! A sender waiting for its send to complete keeps taking headers in, so that two PEs
//! sending long messages to each other each post the other's body receive. Messages are
//! put back in order per source by sequence number: a short message may complete before
//! the body of a long one sent earlier.

use super::error::check;
use crate::backend::Messages;
use crate::backoff::{Tries, wait_until};
use crate::error::{Error, Result};
use rofi_sys as sys;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

const HEADER: usize = 24;
/// Header kinds.
const SHORT: u32 = 0;
const LONG: u32 = 1;
const CREDIT: u32 = 2;

/// The 32-bit ROFI user tag: bit 31 marks a long message's body, bits 30..24 the mailbox,
/// bits 23..0 (bodies) the low bits of the pair's sequence number.
const BODY: u32 = 1 << 31;
const SEQ_BITS: u64 = 0xff_ffff;
/// Eager receives kept posted per source; more messages wait in the provider meanwhile.
const POSTED_PER_SOURCE: usize = 2;

#[derive(Clone, Copy)]
struct Header {
    seq: u64,
    credits: u64,
    len: u32,
    kind: u32,
}

impl Header {
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.seq.to_ne_bytes());
        out.extend_from_slice(&self.credits.to_ne_bytes());
        out.extend_from_slice(&self.len.to_ne_bytes());
        out.extend_from_slice(&self.kind.to_ne_bytes());
    }

    fn read(b: &[u8]) -> Option<Header> {
        let word = |i: usize| u64::from_ne_bytes(b[i..i + 8].try_into().unwrap());
        let half = |i: usize| u32::from_ne_bytes(b[i..i + 4].try_into().unwrap());
        (b.len() >= HEADER).then(|| Header {
            seq: word(0),
            credits: word(8),
            len: half(16),
            kind: half(20),
        })
    }
}

/// A ROFI handle in flight, with the memory it writes or reads.
struct Op(*mut sys::rofi_op_t);

// SAFETY: a ROFI handle may be tested or waited from any thread (rofi.h); the buffers its
// owner keeps beside it are plain heap memory.
unsafe impl Send for Op {}

/// One receive kept posted for a source's eager messages: its buffer and where ROFI
/// reports the length.
struct Posted {
    src: usize,
    buf: Box<[u8]>,
    len: Box<usize>,
    op: Op,
}

/// A message of a source, by sequence number: arrived, or its body still coming.
enum Arrival {
    Ready(Vec<u8>),
    Body { buf: Vec<u8>, want: usize, len: Box<usize>, op: Op },
}

pub struct RofiMessages {
    id: u32,
    /// Payload bytes a short message may carry (a slot's payload).
    short: usize,
    timeout: Duration,
    state: Mutex<State>,
}

struct State {
    posted: Vec<Posted>,
    /// Per target: the next sequence number.
    next_seq: Vec<u64>,
    /// Per source: the next sequence number to hand out, and what arrived ahead of it.
    expect: Vec<u64>,
    arrived: Vec<BTreeMap<u64, Arrival>>,
    credit_from: Vec<u64>,
    /// The source the next look starts at (round robin).
    next_src: usize,
}

impl RofiMessages {
    /// This PE's end of mailbox `id` (the same on every PE: mailboxes are made collectively),
    /// whose short messages carry a slot's payload (`slot_bytes` less the mailbox's header).
    pub fn new(id: u32, npes: usize, slot_bytes: usize, timeout: Duration) -> Result<RofiMessages> {
        let short = slot_bytes - crate::mailbox::HEADER;
        let state = State {
            posted: Vec::new(),
            next_seq: vec![0; npes],
            expect: vec![0; npes],
            arrived: (0..npes).map(|_| BTreeMap::new()).collect(),
            credit_from: vec![0; npes],
            next_src: 0,
        };
        let m = RofiMessages { id: id & 0x7f, short, timeout, state: Mutex::new(state) };
        {
            let mut st = m.lock();
            for src in 0..npes {
                for _ in 0..POSTED_PER_SOURCE {
                    let p = m.post(src, vec![0; HEADER + short].into_boxed_slice())?;
                    st.posted.push(p);
                }
            }
        }
        Ok(m)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tag(&self) -> u32 {
        self.id << 24
    }

    fn body_tag(&self, seq: u64) -> u32 {
        BODY | self.id << 24 | (seq & SEQ_BITS) as u32
    }

    /// Posts a receive of `src`'s next eager message into `buf`.
    fn post(&self, src: usize, mut buf: Box<[u8]>) -> Result<Posted> {
        let mut len = Box::new(0usize);
        // SAFETY: `buf` and `len` are heap memory that `Posted` keeps until the receive
        // completes or is cancelled (moving the boxes does not move it).
        let op = unsafe { recv(src, buf.as_mut_ptr(), buf.len(), self.tag(), &mut len)? };
        Ok(Posted { src, buf, len, op })
    }

    /// Sends `bytes` to `pe` with `tag` and waits for it to complete, taking in what
    /// arrives meanwhile. `bytes` is ours: if the wait ends in an error the fabric may still
    /// read it, so it is leaked then.
    fn send_owned(&self, st: &mut State, pe: usize, bytes: Vec<u8>, tag: u32) -> Result<()> {
        let mut op = std::ptr::null_mut();
        check(
            // SAFETY: `bytes` stays allocated until the send completes (below) or forever.
            unsafe {
                sys::rofi_send_nb(pe as i32, bytes.as_ptr().cast(), bytes.len(), tag, &mut op)
            },
            "rofi_send_nb",
        )?;
        let failed = std::cell::RefCell::new(None);
        let done = std::cell::Cell::new(false);
        let waited = wait_until(
            self.timeout,
            Tries::Progress,
            || format!("a message to PE {pe}"),
            || {
                if failed.borrow().is_none() {
                    *failed.borrow_mut() = self.take_in(st).err();
                }
                Ok(())
            },
            || {
                // SAFETY: `op` is the live handle of this send, tested until it completes.
                match unsafe { sys::rofi_test(op) } {
                    0 => false,
                    rc => {
                        done.set(true);
                        if let Err(e) = check(rc, "rofi_send_nb") {
                            failed.borrow_mut().get_or_insert(e);
                        }
                        true
                    }
                }
            },
            || Ok(()),
        );
        if !done.get() {
            std::mem::forget(bytes); // the fabric may still read them
        }
        waited?;
        failed.into_inner().map_or(Ok(()), Err)
    }

    /// Takes in whatever completed: headers and short messages from the posted receives
    /// (posted again), and long messages' bodies.
    fn take_in(&self, st: &mut State) -> Result<()> {
        let mut i = 0;
        while i < st.posted.len() {
            // SAFETY: the live handle of a posted receive; on 1 or an error it is released,
            // and the buffer posted again below.
            let rc = unsafe { sys::rofi_test(st.posted[i].op.0) };
            if rc == 0 {
                i += 1;
                continue;
            }
            let p = st.posted.swap_remove(i);
            let (src, len) = (p.src, (*p.len).min(p.buf.len()));
            let took = check(rc, "rofi_recv_nb").and_then(|_| self.arrive(st, src, &p.buf[..len]));
            st.posted.push(self.post(src, p.buf)?);
            took?;
        }
        for src in 0..st.arrived.len() {
            let bodies: Vec<u64> = st.arrived[src]
                .iter()
                .filter_map(|(&seq, a)| matches!(a, Arrival::Body { .. }).then_some(seq))
                .collect();
            for seq in bodies {
                let Some(Arrival::Body { op, .. }) = st.arrived[src].get(&seq) else { continue };
                // SAFETY: the live handle of a body's receive; released on 1 or an error.
                let rc = unsafe { sys::rofi_test(op.0) };
                if rc == 0 {
                    continue;
                }
                let Some(Arrival::Body { mut buf, want, len, .. }) = st.arrived[src].remove(&seq)
                else {
                    continue;
                };
                check(rc, "rofi_recv_nb")?;
                if *len != want {
                    return Err(Error::PeerFailed {
                        pe: src,
                        why: format!("a message of {want} bytes came with {}", *len),
                    });
                }
                // SAFETY: the receive wrote the first `want` bytes (its reported length),
                // within the capacity asked for.
                unsafe { buf.set_len(want) };
                st.arrived[src].insert(seq, Arrival::Ready(buf));
            }
        }
        Ok(())
    }

    /// One eager message from `src`: credits, then a short message, or a long one's body
    /// to receive.
    fn arrive(&self, st: &mut State, src: usize, bytes: &[u8]) -> Result<()> {
        let bad = |why: &str| Error::PeerFailed { pe: src, why: why.into() };
        let h = Header::read(bytes).ok_or_else(|| bad("a message shorter than its header"))?;
        st.credit_from[src] += h.credits;
        match h.kind {
            CREDIT => {}
            SHORT => {
                let payload = &bytes[HEADER..];
                if payload.len() != h.len as usize {
                    return Err(bad("a short message of the wrong length"));
                }
                st.arrived[src].insert(h.seq, Arrival::Ready(payload.to_vec()));
            }
            LONG => {
                let mut buf = Vec::<u8>::with_capacity(h.len as usize);
                let mut len = Box::new(0usize);
                let tag = self.body_tag(h.seq);
                // SAFETY: the Vec's heap buffer (capacity `h.len`) and `len` stay allocated
                // in `Arrival::Body` until the receive completes.
                let op = unsafe { recv(src, buf.as_mut_ptr(), h.len as usize, tag, &mut len)? };
                st.arrived[src].insert(h.seq, Arrival::Body { buf, want: h.len as usize, len, op });
            }
            _ => return Err(bad("a message of an unknown kind")),
        }
        Ok(())
    }
}

/// Posts a receive of `src`'s message with `tag` into `cap` bytes at `buf`.
///
/// # Safety
/// `buf` (for `cap` bytes) and `len` stay allocated until the receive completes or is
/// cancelled.
unsafe fn recv(src: usize, buf: *mut u8, cap: usize, tag: u32, len: &mut usize) -> Result<Op> {
    let mut op = std::ptr::null_mut();
    // SAFETY: the caller's promise; ROFI writes the handle into `op`.
    let rc = unsafe {
        sys::rofi_recv_nb(src as i32, buf.cast(), cap, tag, std::ptr::null_mut(), len, &mut op)
    };
    check(rc, "rofi_recv_nb")?;
    Ok(Op(op))
}

impl Messages for RofiMessages {
    fn send(&self, pe: usize, msg: &[u8], credits: u64) -> Result<()> {
        let mut st = self.lock();
        let seq = st.next_seq[pe];
        let len = msg.len() as u32;
        let long = msg.len() > self.short;
        let kind = if long { LONG } else { SHORT };
        let mut first = Vec::with_capacity(HEADER + if long { 0 } else { msg.len() });
        Header { seq, credits, len, kind }.write(&mut first);
        if !long {
            first.extend_from_slice(msg);
        }
        st.next_seq[pe] = seq + 1;
        self.send_owned(&mut st, pe, first, self.tag())?;
        if long {
            self.send_owned(&mut st, pe, msg.to_vec(), self.body_tag(seq))?;
        }
        Ok(())
    }

    fn try_recv(&self) -> Result<Option<(usize, Vec<u8>)>> {
        let mut st = self.lock();
        self.take_in(&mut st)?;
        let n = st.arrived.len();
        for i in 0..n {
            let src = (st.next_src + i) % n;
            let next = st.expect[src];
            if let Some(Arrival::Ready(_)) = st.arrived[src].get(&next) {
                let Some(Arrival::Ready(bytes)) = st.arrived[src].remove(&next) else {
                    unreachable!()
                };
                st.expect[src] = next + 1;
                st.next_src = (src + 1) % n;
                return Ok(Some((src, bytes)));
            }
        }
        Ok(None)
    }

    fn return_credit(&self, pe: usize, credits: u64) -> Result<()> {
        let mut st = self.lock();
        let mut h = Vec::with_capacity(HEADER);
        Header { seq: 0, credits, len: 0, kind: CREDIT }.write(&mut h);
        self.send_owned(&mut st, pe, h, self.tag())
    }

    fn credit_from(&self, pe: usize) -> u64 {
        let mut st = self.lock();
        // Credit arrives with messages: look for some first.
        let _ = self.take_in(&mut st);
        st.credit_from[pe]
    }

    fn free(self: Box<Self>) -> Result<()> {
        let mut st = self.lock();
        let mut first_err = None;
        for p in st.posted.drain(..) {
            // SAFETY: a live posted receive; rofi_cancel releases its handle either way.
            let rc = unsafe { sys::rofi_cancel(p.op.0) };
            match check(rc, "rofi_cancel") {
                Ok(_) => drop(p),
                Err(e) => {
                    // Not withdrawn for sure: the fabric may still write the buffer.
                    std::mem::forget(p);
                    first_err.get_or_insert(e);
                }
            }
        }
        for (_, a) in std::mem::take(&mut st.arrived).into_iter().flatten() {
            if let Arrival::Body { buf, len, op, .. } = a {
                // SAFETY: a live body receive, as above.
                let rc = unsafe { sys::rofi_cancel(op.0) };
                if let Err(e) = check(rc, "rofi_cancel") {
                    std::mem::forget((buf, len));
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}
