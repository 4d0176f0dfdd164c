//! The control block each PE shares with all others: its pid (for liveness checks), one
//! "agree" word, and one arrival counter per source PE.
//!
//! Barrier: dissemination over the team's PEs, ceil(log2 n) rounds. In round k a PE bumps
//! the counter for itself in the control block of the PE 2^k ahead, and waits until its own
//! counter for the PE 2^k behind reaches the number of signals it expects from that PE.
//! Counters only grow, so nothing is reset between barriers, and one counter per (target,
//! source) pair serves every team: a signal that runs ahead belongs to a later collective
//! of the same two PEs, which implies the earlier one completed (collectives are called in
//! the same order on every member, as MPI requires).

use crate::backoff::{Tries, wait_until};
use crate::error::{Error, Result};
use crate::team::Team;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::object::Mapping;

const MAGIC: u64 = 0x6c74_5f63_746c_0001; // "lt_ctl" + layout version
const OFF_MAGIC: usize = 0;
const OFF_PID: usize = 8;
const OFF_NPES: usize = 16;
const OFF_AGREE: usize = 64;
const OFF_SIGNALS: usize = 128;
/// One cache line per counter so that sources do not contend.
const SIGNAL_STRIDE: usize = 64;

pub fn control_len(npes: usize) -> usize {
    OFF_SIGNALS + SIGNAL_STRIDE * npes
}

/// Typed access to one PE's control block.
pub struct Control {
    map: Mapping,
}

impl Control {
    pub fn new(map: Mapping) -> Control {
        Control { map }
    }

    fn word(&self, off: usize) -> &AtomicU64 {
        // SAFETY: every offset used is 8-aligned and inside control_len(npes) (checked at
        // open: header npes matches); the mapping outlives the returned reference.
        unsafe { AtomicU64::from_ptr(self.map.as_ptr().add(off).cast()) }
    }

    pub fn init_header(&self, npes: usize) {
        self.word(OFF_PID).store(std::process::id() as u64, Ordering::Relaxed);
        self.word(OFF_NPES).store(npes as u64, Ordering::Relaxed);
        self.word(OFF_MAGIC).store(MAGIC, Ordering::Release);
    }

    pub fn check_header(&self, npes: usize) -> Result<()> {
        let (m, n) = (
            self.word(OFF_MAGIC).load(Ordering::Acquire),
            self.word(OFF_NPES).load(Ordering::Relaxed),
        );
        if m != MAGIC || n != npes as u64 {
            return Err(Error::Bootstrap(format!(
                "peer control block has magic {m:#x} npes {n}, expected {MAGIC:#x} {npes}"
            )));
        }
        Ok(())
    }

    pub fn pid(&self) -> i32 {
        self.word(OFF_PID).load(Ordering::Relaxed) as i32
    }

    pub fn agree_word(&self) -> &AtomicU64 {
        self.word(OFF_AGREE)
    }

    pub fn signal_from(&self, src: usize) -> &AtomicU64 {
        self.word(OFF_SIGNALS + SIGNAL_STRIDE * src)
    }
}

/// Is the process alive (and not a zombie)? Same node, so pids are meaningful.
pub fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks existence and permission.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3, after the parenthesised command name, is the state.
        Ok(s) => s
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// Everything the collectives need: all control blocks, who I am, and what I expect.
pub struct Collectives {
    pub me: usize,
    pub ctl: Vec<Control>,
    pub timeout: Duration,
    /// Signals expected so far from each source PE.
    pub expected: Vec<u64>,
}

impl Collectives {
    fn check_alive(&self, pe: usize) -> Result<()> {
        let pid = self.ctl[pe].pid();
        if process_alive(pid) {
            Ok(())
        } else {
            Err(Error::PeerFailed { pe, why: format!("process {pid} has exited") })
        }
    }

    /// Dissemination barrier over `team` (this PE is a member).
    pub fn barrier(&mut self, team: &Team) -> Result<()> {
        std::sync::atomic::fence(Ordering::SeqCst);
        for (to, from) in team.dissemination_partners(self.me) {
            // Release: my writes (and what I learned in earlier rounds) happen before the
            // partner's acquire of this counter.
            self.ctl[to].signal_from(self.me).fetch_add(1, Ordering::AcqRel);
            self.expected[from] += 1;
            let want = self.expected[from];
            let counter = self.ctl[self.me].signal_from(from);
            wait_until(
                self.timeout,
                Tries::Look,
                || format!("barrier: PE {from} to arrive"),
                || Ok(()),
                || counter.load(Ordering::Acquire) >= want,
                || self.check_alive(from),
            )?;
        }
        Ok(())
    }

    /// Every member publishes `value`; all must be equal. On a mismatch every member returns
    /// the same `SizeMismatch` error, so a collective either happens everywhere or nowhere.
    pub fn agree(&mut self, team: &Team, value: u64, what: &str) -> Result<()> {
        self.ctl[self.me].agree_word().store(value, Ordering::Release);
        self.barrier(team)?;
        let values: Vec<(usize, u64)> = team
            .pes()
            .iter()
            .map(|&pe| (pe, self.ctl[pe].agree_word().load(Ordering::Acquire)))
            .collect();
        // A second barrier so nobody overwrites its word before everyone has read it.
        self.barrier(team)?;
        if values.iter().any(|&(_, v)| v != values[0].1) {
            let list: Vec<String> = values.iter().map(|(pe, v)| format!("PE {pe}: {v}")).collect();
            return Err(Error::SizeMismatch {
                what: format!("{what} differs between PEs ({})", list.join(", ")),
            });
        }
        Ok(())
    }
}
