//! Messages between PEs: [`Mailbox`], byte messages to any PE, received from any PE, in
//! order per (source, target) pair, never lost or overwritten, a full receiver slowing its
//! senders (what active-message runtimes are built on).
//!
//! One mechanism on every backend: rings in symmetric memory, written with put-with-signal.
//! Each PE's part holds, per source PE, a ring of `slots` slots of `slot_bytes`, and per
//! target PE a `freed` counter (slots that target has emptied, written back by it: the
//! sender's credit). A slot starts with its stamp, the signal word: sequence number + 1 once
//! full. A sender fills slot `seq % slots` of its ring at the target with
//! [`SymAlloc::put_signal`] (header and payload, then the stamp in front of them: one cache
//! line for a short message), once `seq - freed < slots`; a message longer than a slot goes
//! in consecutive slots (its first slot carries the total length) and is put back together
//! by the receiver. The receiver polls the stamp of the next slot of each ring, copies a full
//! slot out of its own memory, then hands slots back by setting `freed` at the sender, every
//! half ring or whenever it finds nothing new. A sender waiting for credit keeps receiving
//! into a local queue, so two PEs sending to each other with full rings never wait on each
//! other.
//!
//! Natively, rofi has tagged messages (`rofi_send`/`rofi_recv`) and UCX active messages;
//! this module does not use them yet: the rings give every backend the same ordering,
//! back-pressure and timeout behaviour with one implementation.

use crate::error::{Error, Result};
use crate::memory::SymAlloc;
use crate::signal::SignalOp;
use crate::transport::Transport;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Per message slot: its stamp (the signal word: sequence number + 1 once full), the total
/// length (first slot of a message) and this slot's payload length.
const HEADER: usize = 16;

/// Slots per (source, target) ring and bytes per slot, header included, by default.
pub const DEFAULT_SLOTS: usize = 16;
pub const DEFAULT_SLOT_BYTES: usize = 1024;

/// Messages to and from every PE of the job; see the module docs. Made collectively by
/// [`Transport::mailbox`]; released collectively by [`Mailbox::free`].
pub struct Mailbox {
    alloc: SymAlloc,
    slots: usize,
    slot_bytes: usize,
    npes: usize,
    me: usize,
    state: Mutex<State>,
}

struct State {
    /// Per target: slots filled there.
    sent: Vec<u64>,
    /// Per source: slots taken out of its ring here, and how many of them it was told of.
    taken: Vec<u64>,
    returned: Vec<u64>,
    /// Per source: a message being put back together (total length, bytes so far).
    partial: Vec<Option<(usize, Vec<u8>)>>,
    /// Whole messages received while this PE waited to send.
    queue: VecDeque<(usize, Vec<u8>)>,
    /// The source the next look starts at (round robin: no source starves the others).
    next_src: usize,
    /// Per target: why sending to it stopped. A send that fails after some slots of its
    /// message went out leaves that target a partial message; a later message would be
    /// taken as its rest, so every later send to that target fails instead.
    broken: Vec<Option<String>>,
}

impl Transport {
    /// A mailbox with [`DEFAULT_SLOTS`] slots of [`DEFAULT_SLOT_BYTES`] per pair.
    /// Collective over every PE.
    pub fn mailbox(&self) -> Result<Mailbox> {
        self.mailbox_with(DEFAULT_SLOTS, DEFAULT_SLOT_BYTES)
    }

    /// A mailbox with `slots` slots (at least 2) of `slot_bytes` (a multiple of 8, more than
    /// the 8-byte header) per (source, target) pair. Collective over every PE, with the same
    /// arguments.
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
        let alloc = self.alloc(len)?;
        let state = State {
            sent: vec![0; npes],
            taken: vec![0; npes],
            returned: vec![0; npes],
            partial: vec![None; npes],
            queue: VecDeque::new(),
            next_src: 0,
            broken: vec![None; npes],
        };
        Ok(Mailbox { alloc, slots, slot_bytes, npes, me: self.my_pe(), state: Mutex::new(state) })
    }
}

impl Mailbox {
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

    /// Sends `msg` to `pe` (itself included). Returns when `msg` may be reused; the message
    /// is then in `pe`'s memory. Waits (receiving meanwhile) while `pe`'s ring from this PE
    /// is full, and ends in `Timeout` if `pe` frees no slot within [`Transport::timeout`](crate::Transport::timeout).
    /// If that happens after part of a message longer than a slot went out, `pe` holds a
    /// partial message that is never delivered, and every later send to `pe` fails with
    /// `PeerFailed` (its ring can no longer keep messages whole and in order).
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
                if i > 0 {
                    st.broken[pe] = Some(format!(
                        "a send of {} bytes to it stopped after {i} of its slots ({e})",
                        msg.len()
                    ));
                }
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

    /// The next message from any PE, without waiting: `(source, bytes)`, or None.
    pub fn try_recv(&self) -> Result<Option<(usize, Vec<u8>)>> {
        let mut st = self.lock();
        if let Some(m) = st.queue.pop_front() {
            return Ok(Some(m));
        }
        self.alloc.transport().progress()?;
        let m = self.take_one(&mut st)?;
        self.return_credit(&mut st, m.is_none())?;
        Ok(m)
    }

    /// The next message from any PE: `(source, bytes)`. Ends in `Timeout` if none arrives
    /// within [`Transport::timeout`](crate::Transport::timeout).
    pub fn recv(&self) -> Result<(usize, Vec<u8>)> {
        let t = self.alloc.transport();
        let start = std::time::Instant::now();
        loop {
            if let Some(m) = self.try_recv()? {
                return Ok(m);
            }
            // Wait for any source's counter to pass what we took from it (one slot of a
            // longer message may come before the rest: then round again).
            let taken = self.lock().taken.clone();
            let arrived = || (0..self.npes).any(|s| self.is_full(s, taken[s]));
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

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Releases the mailbox's memory. Collective, like [`SymAlloc::free`]; messages not yet
    /// received are dropped.
    pub fn free(self) -> Result<()> {
        self.alloc.free()
    }
}
