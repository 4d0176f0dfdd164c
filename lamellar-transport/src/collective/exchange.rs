//! The one mechanism under every collective: numbered messages between the members of a
//! team through a symmetric workspace.
//!
//! Each member has, for every member `j` of the team, two slots (messages from `j`
//! alternate between them) and their signal words. A message is a put-with-signal into the
//! slot; the signal carries the message's number, its length and a fingerprint of the call
//! (collective, op, root, sizes), so a member that called differently is seen at the first
//! message.
//!
//! Two slots need no acknowledgements because of one invariant every collective here keeps:
//! a pass (one call, or one slot-sized part of a large one) sends at most one message per
//! ordered pair, and is causally complete: no member ends a pass before it has heard, through
//! some chain of messages of that pass, from every member's first send of it (recursive
//! doubling and pairwise exchange both are). So member `j` can start pass `k + 1`, and reuse
//! the slot of its pass-`k - 1` message to me, only after I started pass `k`, that is after I
//! read every message of pass `k - 1`. A collective that broke the invariant (a one-way tree
//! broadcast, say) would need acknowledgements.
//!
//! A member that sees a different fingerprint, or a message marked *poisoned*, marks its own
//! messages poisoned from then on. By causal completeness every member knows by the end of
//! the first pass, and all stop there with `SizeMismatch`: message numbers stay in step for
//! the next call.

use super::schedule::{Step, recursive_doubling};
use crate::error::{Error, Result};
use crate::memory::SymAlloc;
use crate::signal::SignalOp;
use crate::team::Team;
use crate::transport::Transport;

/// Bytes for the slots of one team: slot size = this / (2 x members), within the bounds below.
const BUDGET: usize = 4 << 20;
const MIN_SLOT: usize = 1 << 10;
const MAX_SLOT: usize = 64 << 10;

// The signal word: | number: 20 | poisoned: 1 | length: 20 | fingerprint: 23 |.
const NUM_BITS: u32 = 20;
const LEN_BITS: u32 = 20;
const FP_BITS: u32 = 23;
const POISON: u64 = 1 << (LEN_BITS + FP_BITS);

pub(crate) struct Workspace {
    ws: SymAlloc,
    team: Team,
    /// This PE's index in the team.
    me: usize,
    slot: usize,
    /// Bytes from one slot to the next: its signal word, then `slot` bytes of data, so that
    /// a short message and its signal share a cache line (one transfer to the reader).
    stride: usize,
    sent: Vec<u64>,
    received: Vec<u64>,
    /// This member's recursive-doubling schedule (it depends only on the team).
    steps: Vec<Step>,
    /// The last message received.
    inbox: Vec<u8>,
    /// The fingerprint of the current call, and whether it is poisoned.
    fp: u64,
    poisoned: bool,
}

impl Workspace {
    /// Collective over `team`: allocates and zeroes the workspace.
    pub fn new(t: &Transport, team: &Team) -> Result<Workspace> {
        let n = team.len();
        let me = team.index_of(t.my_pe()).expect("Transport::collectives checked membership");
        let slot = (BUDGET / (2 * n)).clamp(MIN_SLOT, MAX_SLOT) / 64 * 64;
        let stride = (8 + slot).next_multiple_of(64);
        let ws = t.alloc_team(team, 2 * n * stride)?;
        // SAFETY: our own part, `len` bytes; no peer writes it before the barrier below.
        unsafe { ws.local_ptr().write_bytes(0, ws.len()) };
        t.barrier_team(team)?;
        Ok(Workspace {
            ws,
            team: team.clone(),
            me,
            slot,
            stride,
            sent: vec![0; n],
            received: vec![0; n],
            steps: recursive_doubling(n, me),
            inbox: Vec::with_capacity(slot),
            fp: 0,
            poisoned: false,
        })
    }

    pub fn team(&self) -> &Team {
        &self.team
    }

    /// This PE's index in the team.
    pub fn me(&self) -> usize {
        self.me
    }

    /// Step `k` of this member's recursive-doubling schedule, if there is one.
    pub fn step(&self, k: usize) -> Option<Step> {
        self.steps.get(k).copied()
    }

    /// The largest message.
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// Starts a call: its fingerprint (what every member must agree on) and a clean slate.
    pub fn begin(&mut self, what: &[u64]) {
        let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
        for &w in what {
            h = (h ^ w).wrapping_mul(0xff51_afd7_ed55_8ccd).rotate_left(29);
        }
        self.fp = h & ((1 << FP_BITS) - 1);
        self.poisoned = false;
    }

    /// The error of a call whose members disagreed, if they did.
    pub fn verdict(&self, what: &str) -> Result<()> {
        if self.poisoned {
            return Err(Error::SizeMismatch {
                what: format!(
                    "{what} on team {:?}: the members passed different sizes, roots or ops",
                    self.team.pes()
                ),
            });
        }
        Ok(())
    }

    fn sig_off(&self, from: usize, parity: u64) -> usize {
        (2 * from + parity as usize) * self.stride
    }

    fn data_off(&self, from: usize, parity: u64) -> usize {
        self.sig_off(from, parity) + 8
    }

    /// Message `c`'s number in the signal: never 0, the value of a fresh word.
    fn number(c: u64) -> u64 {
        c % ((1 << NUM_BITS) - 1) + 1
    }

    /// Sends `payload` (at most `slot` bytes) to member `to`.
    pub fn send(&mut self, to: usize, payload: &[u8]) -> Result<()> {
        debug_assert!(payload.len() <= self.slot && to != self.me);
        // Slot c % 2 is free: `to` read message c - 2 before we could get here (see above).
        let c = self.sent[to];
        let pe = self.team.pes()[to];
        let poison = if self.poisoned { POISON } else { 0 };
        let value = Self::number(c) << (64 - NUM_BITS)
            | poison
            | (payload.len() as u64) << FP_BITS
            | self.fp;
        let sig = self.sig_off(self.me, c % 2);
        if payload.is_empty() {
            self.ws.atomic_set::<u64>(pe, sig, value)?;
        } else {
            let data = self.data_off(self.me, c % 2);
            self.ws.put_signal(pe, data, payload, sig, value, SignalOp::Set)?;
        }
        self.sent[to] = c + 1;
        Ok(())
    }

    /// Receives the next message from member `from`.
    pub fn recv(&mut self, from: usize) -> Result<&[u8]> {
        let c = self.received[from];
        let want = Self::number(c);
        let sig = self
            .ws
            .wait_until::<u64>(self.sig_off(from, c % 2), |w| w >> (64 - NUM_BITS) == want)?;
        let len = ((sig >> FP_BITS) & ((1 << LEN_BITS) - 1)) as usize;
        if sig & POISON != 0 || sig & ((1 << FP_BITS) - 1) != self.fp || len > self.slot {
            self.poisoned = true;
        }
        let len = len.min(self.slot);
        self.inbox.clear();
        // SAFETY: data_off + len is inside our own part (len <= slot); the signal was read
        // with acquire, after the sender's data landed; the sender writes this slot again
        // only after we started the next pass (see above).
        self.inbox.extend_from_slice(unsafe {
            std::slice::from_raw_parts(self.ws.local_ptr().add(self.data_off(from, c % 2)), len)
        });
        self.received[from] = c + 1;
        Ok(&self.inbox)
    }
}
