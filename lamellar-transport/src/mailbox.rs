//! Messages between PEs: [`Mailbox`], byte messages to any PE, received from any PE, in
//! order per (source, target) pair, never lost or overwritten, a full receiver slowing its
//! senders (what active-message runtimes are built on).
//!
//! The behaviour is the same on every backend; how messages travel is the backend's:
//! - **ucx**: UCX active messages (`ucp_am_send_nbx`, `ucx/messages.rs`), short ones eager
//!   (copied out of UCX's buffer at arrival), long ones by rendezvous, received by UCX
//!   straight into the `Vec` handed to the caller.
//! - **rofi**: ROFI's tagged messages (`rofi/messages.rs`): short ones whole in one eager
//!   send, long ones as a header then a body received straight into the caller's `Vec`.
//! - **shmem**: rings in symmetric memory (below).
//! - Everywhere with `LAMELLAR_MAILBOX=rings`: the rings (to compare the two).
//!
//! Back-pressure is counted alike on both paths, in slots: a (source, target) pair has
//! `slots` credits, a message takes one per `slot_bytes - 16` bytes (at least one, at most
//! `slots`), a sender without enough credit waits, and the receiving mailbox hands credit
//! back as it takes messages out (into its queue or to the caller), every half window or
//! whenever it finds nothing new (on the native path also with any message to that sender). A sender waiting for credit keeps receiving into a local
//! queue, so two PEs sending to each other with full windows never wait on each other. A
//! send that ends in an error (a receiver that hands nothing back within the timeout, a
//! failed peer) leaves that target unusable: every later send to it fails at once with
//! `PeerFailed`, since the target may hold part of the message and a later one would break
//! the order.
//!
//! **Native** ([`Native`]): the mailbox counts credits and keeps the queue; the backend
//! carries messages (whole, in order per pair) and credit counts. A mailbox is made and
//! freed with a barrier, so every PE has its end before anyone sends to it.
//!
//! **Rings** ([`Rings`]): rings in symmetric memory, written with put-with-signal. Each PE's
//! part holds, per source PE, a ring of `slots` slots of `slot_bytes`, and per target PE a
//! `freed` counter (slots that target has emptied, written back by it: the sender's
//! credit). A slot starts with its stamp, the signal word: sequence number + 1 once full. A
//! sender fills slot `seq % slots` of its ring at the target with [`SymAlloc::put_signal`]
//! (header and payload, then the stamp in front of them: one cache line for a short
//! message), once `seq - freed < slots`; a message longer than a slot goes in consecutive
//! slots (its first slot carries the total length) and is put back together by the
//! receiver. The receiver polls the stamp of the next slot of each ring, copies a full slot
//! out of its own memory, then hands slots back by setting `freed` at the sender.

use crate::backend::{Backend, Messages};
use crate::backoff::{Tries, wait_until};
use crate::error::{Error, Result};
use crate::memory::SymAlloc;
use crate::signal::SignalOp;
use crate::transport::Transport;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Per message slot: its stamp (the signal word: sequence number + 1 once full), the total
/// length (first slot of a message) and this slot's payload length. Also what a slot's
/// credit leaves of `slot_bytes` on the native path, so both count alike.
pub(crate) const HEADER: usize = 16;

/// Slots per (source, target) ring and bytes per slot, header included, by default.
pub const DEFAULT_SLOTS: usize = 16;
pub const DEFAULT_SLOT_BYTES: usize = 1024;

/// Messages to and from every PE of the job; see the module docs. Made collectively by
/// [`Transport::mailbox`]; released collectively by [`Mailbox::free`].
pub struct Mailbox {
    npes: usize,
    how: How,
}

enum How {
    Rings(Rings),
    Native(Native),
}

/// The rings in symmetric memory (module docs).
struct Rings {
    alloc: SymAlloc,
    slots: usize,
    slot_bytes: usize,
    npes: usize,
    me: usize,
    state: Mutex<State>,
    /// `State::queued`, for a receiver waiting without the lock.
    queued: AtomicU64,
}

struct State {
    /// Per target: slots filled there.
    sent: Vec<u64>,
    /// Per source: slots taken out of its ring here, and how many of them it was told of.
    taken: Vec<u64>,
    returned: Vec<u64>,
    /// Per source: a message being put back together (total length, bytes so far).
    partial: Vec<Option<(usize, Vec<u8>)>>,
    /// Whole messages received while this PE waited to send, and how many so far.
    queue: VecDeque<(usize, Vec<u8>)>,
    queued: u64,
    /// The source the next look starts at (round robin: no source starves the others).
    next_src: usize,
    /// Per target: why sending to it stopped (module docs).
    broken: Vec<Option<String>>,
}

/// The backend's own messages under the mailbox's credit (module docs).
struct Native {
    msgs: Box<dyn Messages>,
    t: Transport,
    slots: u64,
    /// Bytes a credit stands for: a slot's payload.
    payload: usize,
    me: usize,
    flow: Mutex<Flow>,
}

struct Flow {
    /// Per target: credits our messages to it took.
    used: Vec<u64>,
    /// Per source: credits of its messages taken out of the backend here, and how many of
    /// them it was given back.
    taken: Vec<u64>,
    returned: Vec<u64>,
    /// Messages taken out of the backend while this PE waited to send.
    queue: VecDeque<(usize, Vec<u8>)>,
    /// Per target: why sending to it stopped (module docs).
    broken: Vec<Option<String>>,
}

impl Transport {
    /// A mailbox with [`DEFAULT_SLOTS`] slots of [`DEFAULT_SLOT_BYTES`] per pair.
    /// Collective over every PE.
    pub fn mailbox(&self) -> Result<Mailbox> {
        self.mailbox_with(DEFAULT_SLOTS, DEFAULT_SLOT_BYTES)
    }

    /// A mailbox with `slots` slots (at least 2) of `slot_bytes` (a multiple of 8, more than
    /// the 16-byte header) per (source, target) pair: the window of back-pressure on every
    /// backend, and the rings' memory where the backend has no native messages. Collective
    /// over every PE, with the same arguments.
    pub fn mailbox_with(&self, slots: usize, slot_bytes: usize) -> Result<Mailbox> {
        if slots < 2 || slot_bytes <= HEADER || slot_bytes % 8 != 0 {
            return Err(Error::InvalidArgument(format!(
                "mailbox: {slots} slots of {slot_bytes} bytes: need at least 2 slots of a multiple of 8 bytes above {HEADER}"
            )));
        }
        let npes = self.num_pes();
        let len = slots
            .checked_mul(slot_bytes)
            .and_then(|ring| ring.checked_add(8))
            .and_then(|per_pe| per_pe.checked_mul(npes))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "mailbox: {slots} x {slot_bytes} bytes x {npes} PEs overflows"
                ))
            })?;
        let native = if crate::config::mailbox_rings()? {
            None
        } else {
            self.backend().messages(slots, slot_bytes)?
        };
        if let Some(msgs) = native {
            // Every PE has its end before anyone sends to it (a message for a mailbox its
            // target does not have yet would be dropped).
            self.barrier()?;
            let flow = Flow {
                used: vec![0; npes],
                taken: vec![0; npes],
                returned: vec![0; npes],
                queue: VecDeque::new(),
                broken: vec![None; npes],
            };
            let native = Native {
                msgs,
                t: self.clone(),
                slots: slots as u64,
                payload: slot_bytes - HEADER,
                me: self.my_pe(),
                flow: Mutex::new(flow),
            };
            return Ok(Mailbox { npes, how: How::Native(native) });
        }
        let alloc = self.alloc(len)?;
        let state = State {
            sent: vec![0; npes],
            taken: vec![0; npes],
            returned: vec![0; npes],
            partial: vec![None; npes],
            queue: VecDeque::new(),
            queued: 0,
            next_src: 0,
            broken: vec![None; npes],
        };
        let rings = Rings {
            alloc,
            slots,
            slot_bytes,
            npes,
            me: self.my_pe(),
            state: Mutex::new(state),
            queued: AtomicU64::new(0),
        };
        Ok(Mailbox { npes, how: How::Rings(rings) })
    }
}

impl Mailbox {
    /// Sends `msg` (at most 4 GiB - 1 bytes) to `pe` (itself included). Returns when `msg`
    /// may be reused. Waits (receiving meanwhile) while this PE has too little credit at
    /// `pe`, and ends in `Timeout` if `pe` hands none back within
    /// [`Transport::timeout`](crate::Transport::timeout). After a send to `pe` ends in an
    /// error, every later send to `pe` fails at once with `PeerFailed` (module docs).
    pub fn send(&self, pe: usize, msg: &[u8]) -> Result<()> {
        if pe >= self.npes {
            return Err(Error::BadPe { pe, why: format!("the job has {} PEs", self.npes) });
        }
        let total = u32::try_from(msg.len()).map_err(|_| {
            Error::InvalidArgument(format!(
                "mailbox: a message of {} bytes (at most 4 GiB - 1)",
                msg.len()
            ))
        })?;
        match &self.how {
            How::Rings(r) => r.send(pe, msg, total),
            How::Native(n) => n.send(pe, msg),
        }
    }

    /// The next message from any PE, without waiting: `(source, bytes)`, or None.
    pub fn try_recv(&self) -> Result<Option<(usize, Vec<u8>)>> {
        match &self.how {
            How::Rings(r) => r.try_recv(),
            How::Native(n) => {
                n.t.progress()?;
                n.try_take()
            }
        }
    }

    /// The next message from any PE: `(source, bytes)`. Ends in `Timeout` if none arrives
    /// within [`Transport::timeout`](crate::Transport::timeout).
    pub fn recv(&self) -> Result<(usize, Vec<u8>)> {
        match &self.how {
            How::Rings(r) => r.recv(),
            How::Native(n) => n.recv(),
        }
    }

    /// Releases the mailbox. Collective; messages not yet received are dropped.
    pub fn free(self) -> Result<()> {
        match self.how {
            How::Rings(r) => r.alloc.free(),
            How::Native(n) => {
                // Nobody sends any more once everyone is here.
                let met = n.t.barrier();
                met.and(n.msgs.free())
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Native {
    /// Credits a message of `len` bytes takes: one per slot it would fill in a ring.
    fn cost(&self, len: usize) -> u64 {
        (len.div_ceil(self.payload).max(1) as u64).min(self.slots)
    }

    fn send(&self, pe: usize, msg: &[u8]) -> Result<()> {
        let mut st = lock(&self.flow);
        if let Some(why) = &st.broken[pe] {
            return Err(Error::PeerFailed { pe, why: why.clone() });
        }
        let cost = self.cost(msg.len());
        self.wait_for_credit(&mut st, pe, cost)
            .and_then(|()| {
                // The credit we owe `pe` rides along (a reply then carries its request's).
                let owed = st.taken[pe] - st.returned[pe];
                self.msgs.send(pe, msg, owed)?;
                st.returned[pe] += owed;
                st.used[pe] += cost;
                Ok(())
            })
            .map_err(|e| {
                st.broken[pe] =
                    Some(format!("an earlier send of {} bytes to it failed ({e})", msg.len()));
                e
            })
    }

    /// Waits until `pe` has handed back enough credit for `cost` more, taking whatever
    /// arrives meanwhile into the queue (and handing its credit back), so that a peer
    /// waiting on us moves too.
    fn wait_for_credit(&self, st: &mut Flow, pe: usize, cost: u64) -> Result<()> {
        let has_credit = |st: &Flow| {
            (st.used[pe] + cost).saturating_sub(self.msgs.credit_from(pe)) <= self.slots
        };
        if has_credit(st) {
            return Ok(());
        }
        let mut failed = None;
        let t = &self.t;
        let waited = wait_until(
            t.timeout(),
            Tries::Progress,
            || format!("credit for a message from PE {} to PE {pe}", self.me),
            || t.progress(),
            || {
                let mut step = || -> Result<bool> {
                    while let Some(m) = self.take(st)? {
                        st.queue.push_back(m);
                    }
                    self.return_credit(st, true)?;
                    Ok(has_credit(st))
                };
                step().unwrap_or_else(|e| {
                    failed = Some(e);
                    true
                })
            },
            || Ok(()),
        );
        failed.map_or(waited, Err)
    }

    /// The next message, from the queue or the backend, without progressing it.
    fn try_take(&self) -> Result<Option<(usize, Vec<u8>)>> {
        let mut st = lock(&self.flow);
        if let Some(m) = st.queue.pop_front() {
            return Ok(Some(m));
        }
        let m = self.take(&mut st)?;
        self.return_credit(&mut st, m.is_none())?;
        Ok(m)
    }

    fn recv(&self) -> Result<(usize, Vec<u8>)> {
        let (t, mut got) = (&self.t, Ok(None));
        let waited = wait_until(
            t.timeout(),
            Tries::Progress,
            || format!("a message for PE {}", self.me),
            || t.progress(),
            || {
                got = self.try_take();
                !matches!(got, Ok(None))
            },
            || Ok(()),
        );
        waited?;
        got.map(|m| m.expect("the wait ended on a message"))
    }

    /// One message out of the backend, its credit counted (and handed back every half
    /// window).
    fn take(&self, st: &mut Flow) -> Result<Option<(usize, Vec<u8>)>> {
        let Some((src, m)) = self.msgs.try_recv()? else { return Ok(None) };
        st.taken[src] += self.cost(m.len());
        if st.taken[src] - st.returned[src] >= self.slots / 2 {
            self.return_credit_to(st, src)?;
        }
        Ok(Some((src, m)))
    }

    /// Hands every source what we took from it (all of it if `all`, else half windows only).
    fn return_credit(&self, st: &mut Flow, all: bool) -> Result<()> {
        for src in 0..st.taken.len() {
            let owed = st.taken[src] - st.returned[src];
            if owed > 0 && (all || owed >= self.slots / 2) {
                self.return_credit_to(st, src)?;
            }
        }
        Ok(())
    }

    fn return_credit_to(&self, st: &mut Flow, src: usize) -> Result<()> {
        self.msgs.return_credit(src, st.taken[src] - st.returned[src])?;
        st.returned[src] = st.taken[src];
        Ok(())
    }
}

impl Rings {
    // The layout of each PE's part: freed[npes], then the rings by source.
    fn freed_off(&self, target: usize) -> usize {
        8 * target
    }
    fn slot_off(&self, src: usize, seq: u64) -> usize {
        8 * self.npes + (src * self.slots + (seq % self.slots as u64) as usize) * self.slot_bytes
    }
    /// Whether slot `seq` of `src`'s ring here is full: its stamp says `seq + 1` (a stamp
    /// of an earlier lap of the ring is smaller).
    fn is_full(&self, src: usize, seq: u64) -> bool {
        self.alloc.signal_fetch(self.slot_off(src, seq)).is_ok_and(|stamp| stamp == seq + 1)
    }

    /// Bytes of payload per slot.
    fn payload(&self) -> usize {
        self.slot_bytes - HEADER
    }

    fn send(&self, pe: usize, msg: &[u8], total: u32) -> Result<()> {
        let mut st = self.lock();
        if let Some(why) = &st.broken[pe] {
            return Err(Error::PeerFailed { pe, why: why.clone() });
        }
        let p = self.payload();
        let mut slot = Vec::with_capacity(self.slot_bytes);
        // An empty message still takes one slot.
        for i in 0..msg.len().div_ceil(p).max(1) {
            let chunk = &msg[i * p..((i + 1) * p).min(msg.len())];
            if let Err(e) =
                self.send_slot(&mut st, pe, &mut slot, if i == 0 { total } else { 0 }, chunk)
            {
                st.broken[pe] = Some(format!(
                    "a send of {} bytes to it stopped after {i} of its slots ({e})",
                    msg.len()
                ));
                return Err(e);
            }
        }
        Ok(())
    }

    /// One slot of a message to `pe`, once it has a free one: `total` (the message's length
    /// in its first slot, else 0) and `chunk`, assembled in `slot`.
    fn send_slot(
        &self,
        st: &mut State,
        pe: usize,
        slot: &mut Vec<u8>,
        total: u32,
        chunk: &[u8],
    ) -> Result<()> {
        self.wait_for_credit(st, pe)?;
        slot.clear();
        slot.extend_from_slice(&total.to_ne_bytes());
        slot.extend_from_slice(&(chunk.len() as u32).to_ne_bytes());
        slot.extend_from_slice(chunk);
        // Header and payload, then the stamp in front of them: for a short message one
        // cache line carries all three, and the receiver polls that line.
        let (seq, off) = (st.sent[pe], self.slot_off(self.me, st.sent[pe]));
        self.alloc.put_signal(pe, off + 8, slot, off, seq + 1, SignalOp::Set)?;
        st.sent[pe] = seq + 1;
        Ok(())
    }

    /// Waits until `pe` has a free slot for us, receiving whatever arrives meanwhile (into
    /// the queue) and handing those slots back, so that a peer waiting on us moves too.
    fn wait_for_credit(&self, st: &mut State, pe: usize) -> Result<()> {
        let has_credit = |st: &State| {
            self.alloc
                .signal_fetch(self.freed_off(pe))
                .map(|freed| st.sent[pe] - freed < self.slots as u64)
        };
        if has_credit(st)? {
            return Ok(());
        }
        let mut failed = None;
        let t = self.alloc.transport();
        let waited = crate::backoff::wait_until(
            t.timeout(),
            crate::backoff::Tries::Progress,
            || format!("a free slot in PE {pe}'s mailbox ring from PE {}", self.me),
            || t.progress(),
            || {
                let mut step = || -> Result<bool> {
                    while let Some(m) = self.take_one(st)? {
                        st.queue.push_back(m);
                        st.queued += 1;
                        self.queued.store(st.queued, Ordering::Relaxed);
                    }
                    self.return_credit(st, true)?;
                    has_credit(st)
                };
                step().unwrap_or_else(|e| {
                    failed = Some(e);
                    true
                })
            },
            || Ok(()),
        );
        failed.map_or(waited, Err)
    }

    fn try_recv(&self) -> Result<Option<(usize, Vec<u8>)>> {
        self.try_recv_locked(&mut self.lock())
    }

    fn try_recv_locked(&self, st: &mut State) -> Result<Option<(usize, Vec<u8>)>> {
        if let Some(m) = st.queue.pop_front() {
            return Ok(Some(m));
        }
        self.alloc.transport().progress()?;
        let m = self.take_one(st)?;
        self.return_credit(st, m.is_none())?;
        Ok(m)
    }

    fn recv(&self) -> Result<(usize, Vec<u8>)> {
        let t = self.alloc.transport();
        let start = std::time::Instant::now();
        loop {
            // What try_recv saw, under the same lock: another thread of this PE waiting to
            // send may take messages into the queue after it (`queued` counts them).
            let (taken, queued) = {
                let mut st = self.lock();
                if let Some(m) = self.try_recv_locked(&mut st)? {
                    return Ok(m);
                }
                (st.taken.clone(), st.queued)
            };
            // Wait for any source's counter to pass what we took from it (one slot of a
            // longer message may come before the rest: then round again), or for the queue.
            let arrived = || {
                self.queued.load(Ordering::Relaxed) != queued
                    || (0..self.npes).any(|s| self.is_full(s, taken[s]))
            };
            let left = t.timeout().saturating_sub(start.elapsed());
            crate::backoff::wait_until(
                left,
                crate::backoff::Tries::Progress,
                || format!("a message for PE {}", self.me),
                || t.progress(),
                arrived,
                || Ok(()),
            )
            .map_err(|e| match e {
                Error::Timeout { what, .. } => Error::Timeout { what, after: t.timeout() },
                e => e,
            })?;
        }
    }

    /// Takes slots from the sources in turn until a message is whole; returns it.
    fn take_one(&self, st: &mut State) -> Result<Option<(usize, Vec<u8>)>> {
        for k in 0..self.npes {
            let src = (st.next_src + k) % self.npes;
            while self.is_full(src, st.taken[src]) {
                let seq = st.taken[src];
                let (total, bytes) = self.read_slot(src, seq)?;
                st.taken[src] = seq + 1;
                // The first slot of a message names its length; the rest continue it.
                let (total, so_far) = match st.partial[src].take() {
                    Some((total, mut so_far)) => {
                        so_far.extend_from_slice(&bytes);
                        (total, so_far)
                    }
                    None => (total, bytes),
                };
                if st.taken[src] - st.returned[src] >= (self.slots / 2) as u64 {
                    self.return_credit_to(st, src)?;
                }
                if so_far.len() >= total {
                    st.next_src = (src + 1) % self.npes;
                    return Ok(Some((src, so_far)));
                }
                st.partial[src] = Some((total, so_far));
            }
        }
        Ok(None)
    }

    /// Copies slot `seq` of `src`'s ring out of this PE's own memory: (total, payload).
    fn read_slot(&self, src: usize, seq: u64) -> Result<(usize, Vec<u8>)> {
        let off = self.slot_off(src, seq);
        // SAFETY: the slot lies inside this PE's part (the layout fits `len`, checked at
        // creation), which stays mapped while `self.alloc` lives; its sender writes it again
        // only after we hand it back (return_credit), so nothing writes it while we copy, and
        // the acquire load of its stamp that showed it full ordered its data before this.
        let slot =
            unsafe { std::slice::from_raw_parts(self.alloc.local_ptr().add(off), self.slot_bytes) };
        let total = u32::from_ne_bytes(slot[8..12].try_into().expect("4 bytes")) as usize;
        let len = u32::from_ne_bytes(slot[12..16].try_into().expect("4 bytes")) as usize;
        if len > self.payload() {
            return Err(Error::Backend {
                backend: "mailbox",
                code: 0,
                message: format!("slot {seq} from PE {src} claims {len} bytes"),
            });
        }
        Ok((total, slot[HEADER..HEADER + len].to_vec()))
    }

    /// Tells every source what we took from it (all of it if `all`, else half rings only).
    fn return_credit(&self, st: &mut State, all: bool) -> Result<()> {
        for src in 0..self.npes {
            let owed = st.taken[src] - st.returned[src];
            if owed > 0 && (all || owed >= (self.slots / 2) as u64) {
                self.return_credit_to(st, src)?;
            }
        }
        Ok(())
    }

    fn return_credit_to(&self, st: &mut State, src: usize) -> Result<()> {
        self.alloc.atomic_set::<u64>(src, self.freed_off(self.me), st.taken[src])?;
        st.returned[src] = st.taken[src];
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}
