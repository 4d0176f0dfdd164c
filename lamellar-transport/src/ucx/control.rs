//! The control region every PE maps at init (with UCX, so peers address it like any
//! allocation), and the collectives built on it: barrier, agree, and the publication
//! board used to exchange remote keys at allocation time.
//!
//! Layout (bytes): `[0, 8)` agree word; `[64, 64 + BOARD)` publication board (status, base
//! address, key length, packed key); then one 64-byte line per source PE holding the
//! barrier counter that source increments.
//!
//! Barrier: dissemination over the team's PEs, ceil(log2 n) rounds, over UCX itself: in
//! round k a PE atomically adds 1 to its own counter in the control region of the PE 2^k
//! ahead, then polls (progressing the worker) its local counter for the PE 2^k behind until
//! it reaches the number of signals expected from that PE. Counters only grow, so nothing
//! is reset and one counter per (target, source) pair serves every team: collectives are
//! called in the same order on every member (as MPI requires), so a signal that runs ahead
//! belongs to a later collective of the same two PEs.

use super::memory::{Region, RemoteKey};
use super::worker::{Ucx, Worker};
use crate::backoff::{Tries, wait_until};
use crate::error::{Error, Result};
use crate::team::Team;
use lamellar_ucx_sys as sys;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

const OFF_AGREE: usize = 0;
const OFF_BOARD: usize = 64;
/// Board header: status, base address, packed key length (one u64 each).
const BOARD_HEADER: usize = 24;
/// Room on the board for one packed remote key.
pub const BOARD_KEY_MAX: usize = 4096 - BOARD_HEADER;
const OFF_SIGNALS: usize = OFF_BOARD + BOARD_HEADER + BOARD_KEY_MAX;
/// One cache line per counter so that sources do not contend.
const SIGNAL_STRIDE: usize = 64;

/// Board status of a PE whose part of the allocation could not be created.
pub const BOARD_FAILED: u64 = 1;

pub fn control_len(npes: usize) -> usize {
    OFF_SIGNALS + SIGNAL_STRIDE * npes
}

/// A peer's publication, read from its board.
pub struct Publication {
    pub status: u64,
    pub base: u64,
    pub key: Vec<u8>,
}

/// This PE's control region, every PE's key for theirs, and barrier bookkeeping.
pub struct Control {
    pub me: usize,
    local: Region,
    remote: Vec<RemoteKey>,
    /// Signals expected so far from each source PE.
    expected: Vec<u64>,
    /// Allocations made so far per team (by `Team::key`): the next one's number.
    pub alloc_seq: HashMap<u64, u64>,
}

impl Control {
    /// Our own region; peers' keys follow with [`Control::add_peer`], in PE order.
    pub fn new(me: usize, local: Region) -> Control {
        Control { me, local, remote: Vec::new(), expected: Vec::new(), alloc_seq: HashMap::new() }
    }

    pub fn add_peer(&mut self, key: RemoteKey) {
        self.remote.push(key);
        self.expected.push(0);
    }

    /// Releases the UCX resources (lock held); the last step before the worker goes. The
    /// region is retired, not unmapped: a peer's last barrier signal may still be on its way.
    pub fn release(self, w: &mut Worker<'_>) {
        for k in self.remote {
            k.destroy(w);
        }
        self.local.retire(w);
    }

    /// This PE's agree word as a scratch word for init-time probes: local address, and the
    /// address and key to reach it through the endpoint to self.
    pub fn scratch(&self) -> (*mut u64, u64, sys::ucp_rkey_h) {
        let k = &self.remote[self.me];
        // SAFETY: OFF_AGREE is inside the region.
        (unsafe { self.local.base().add(OFF_AGREE).cast() }, k.base + OFF_AGREE as u64, k.rkey)
    }

    fn word(&self, off: usize) -> &AtomicU64 {
        // SAFETY: every offset used is 8-aligned and inside control_len(npes), which the
        // region holds; peers modify these words only with UCX atomics (or puts to the
        // board/agree word, which this PE does not read concurrently: see the barriers).
        unsafe { AtomicU64::from_ptr(self.local.base().add(off).cast()) }
    }

    /// Dissemination barrier over `team` (this PE is a member); starts with a quiet.
    pub fn barrier(&mut self, ucx: &Ucx, team: &Team) -> Result<()> {
        ucx.lock()?.flush()?;
        for (to, from) in team.dissemination_partners(self.me) {
            let k = &self.remote[to];
            let addr = k.base + (OFF_SIGNALS + SIGNAL_STRIDE * self.me) as u64;
            ucx.lock()?.atomic(to, sys::UCP_ATOMIC_OP_ADD, 8, 1, None, addr, k.rkey)?;
            self.expected[from] += 1;
            let want = self.expected[from];
            let counter = self.word(OFF_SIGNALS + SIGNAL_STRIDE * from);
            let arrived = || counter.load(Ordering::Acquire) >= want;
            if arrived() {
                continue; // the partner came first: no progress call needed
            }
            wait_until(
                ucx.timeout,
                Tries::Progress,
                || format!("barrier: PE {from} to arrive"),
                || {
                    ucx.poll();
                    Ok(())
                },
                arrived,
                || ucx.peers.check(from),
            )?;
        }
        Ok(())
    }

    /// Every member publishes `value`; all must be equal. On a mismatch every member returns
    /// the same `SizeMismatch` error, so a collective either happens everywhere or nowhere.
    pub fn agree(&mut self, ucx: &Ucx, team: &Team, value: u64, what: &str) -> Result<()> {
        self.word(OFF_AGREE).store(value, Ordering::Release);
        self.barrier(ucx, team)?;
        let mut values = Vec::with_capacity(team.len());
        for &pe in team.pes() {
            let v = if pe == self.me {
                value
            } else {
                u64::from_ne_bytes(self.read(ucx, pe, OFF_AGREE)?)
            };
            values.push((pe, v));
        }
        // A second barrier so nobody overwrites its word before everyone has read it.
        self.barrier(ucx, team)?;
        if values.iter().any(|&(_, v)| v != values[0].1) {
            let list: Vec<String> = values.iter().map(|(pe, v)| format!("PE {pe}: {v}")).collect();
            return Err(Error::SizeMismatch {
                what: format!("{what} differs between PEs ({})", list.join(", ")),
            });
        }
        Ok(())
    }

    /// Reads `N` bytes at `off` of `pe`'s control region.
    fn read<const N: usize>(&self, ucx: &Ucx, pe: usize, off: usize) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.read_into(ucx, pe, off, &mut buf)?;
        Ok(buf)
    }

    fn read_into(&self, ucx: &Ucx, pe: usize, off: usize, buf: &mut [u8]) -> Result<()> {
        let k = &self.remote[pe];
        let mut w = ucx.lock()?;
        // SAFETY: `buf` is a live exclusive borrow until `complete` returns (which waits for
        // the request or cancels it); the range is inside the peer's control region.
        let ptr =
            unsafe { w.get_raw(pe, buf.as_mut_ptr(), buf.len(), k.base + off as u64, k.rkey)? };
        w.complete(ptr, Some(pe), || format!("reading the control region of PE {pe}"))
    }

    /// Writes this PE's publication board (local memory; peers read it after a barrier).
    pub fn publish(&self, status: u64, base: u64, key: &[u8]) {
        debug_assert!(key.len() <= BOARD_KEY_MAX);
        self.word(OFF_BOARD).store(status, Ordering::Relaxed);
        self.word(OFF_BOARD + 8).store(base, Ordering::Relaxed);
        self.word(OFF_BOARD + 16).store(key.len() as u64, Ordering::Relaxed);
        // SAFETY: the key area is inside the region and nobody reads it until the barrier
        // that follows (whose flush and atomics order this copy before peers' reads).
        unsafe {
            std::ptr::copy_nonoverlapping(
                key.as_ptr(),
                self.local.base().add(OFF_BOARD + BOARD_HEADER),
                key.len(),
            )
        };
        std::sync::atomic::fence(Ordering::SeqCst);
    }

    /// Reads `pe`'s publication board (after the barrier that follows its `publish`).
    pub fn read_publication(&self, ucx: &Ucx, pe: usize) -> Result<Publication> {
        let h: [u8; BOARD_HEADER] = self.read(ucx, pe, OFF_BOARD)?;
        let word = |i: usize| u64::from_ne_bytes(h[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        let (status, base, len) = (word(0), word(1), word(2) as usize);
        if len > BOARD_KEY_MAX {
            return Err(Error::Backend {
                backend: super::status::BACKEND,
                code: 0,
                message: format!("PE {pe} published a {len}-byte key"),
            });
        }
        let mut key = vec![0u8; len];
        if status != BOARD_FAILED && len > 0 {
            self.read_into(ucx, pe, OFF_BOARD + BOARD_HEADER, &mut key)?;
        }
        Ok(Publication { status, base, key })
    }
}
