//! Put-with-signal and waits on several words (OpenSHMEM 1.5's `shmem_put_signal`,
//! `shmem_signal_fetch`, `shmem_signal_wait_until` and `shmem_wait_until_any/all/some`).
//!
//! A signal is a `u64` word of a symmetric allocation. [`SymAlloc::put_signal`] delivers its
//! data before it sets or adds to the signal word on the target, so a target that sees the
//! signal change may read the data: the building block of every "data + flag" protocol
//! (mailboxes, active messages, pipelines) without a barrier or a quiet.
//!
//! No layer below offers this as one operation (libfabric and UCX have none), so every
//! backend composes it from the put, the transport's `fence`, and a remote atomic on the
//! signal word: [`Capabilities::put_signal`](crate::Capabilities) says so. On shmem the three are a copy, a
//! release fence and a CPU atomic; on ucx a put, `ucp_worker_fence` and an atomic; on rofi
//! the put completes at its target before it returns, and the atomic follows.

use crate::atomic::AtomicOp;
use crate::backend::Backend;
use crate::backoff::{Tries, wait_until};
use crate::error::{Error, Result};
use crate::memory::{SymAlloc, load_word};
use crate::nb::{NbHandle, Scope};

/// How a put-with-signal updates the signal word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalOp {
    /// The word becomes the value (`SHMEM_SIGNAL_SET`).
    Set,
    /// The value is added to the word (`SHMEM_SIGNAL_ADD`): many senders, one counter.
    Add,
}

/// A comparison of a waited-for word against a value (`SHMEM_CMP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    #[inline]
    pub fn holds(self, word: u64, value: u64) -> bool {
        match self {
            Cmp::Eq => word == value,
            Cmp::Ne => word != value,
            Cmp::Gt => word > value,
            Cmp::Ge => word >= value,
            Cmp::Lt => word < value,
            Cmp::Le => word <= value,
        }
    }
}

impl SymAlloc {
    /// Copies `src` to `offset` on `pe`, then updates the `u64` signal word at `sig_offset` on
    /// `pe` by `op` with `value`. A target that sees the signal's new value also sees the
    /// data. Returns when `src` may be reused; the signal is then set at the target.
    pub fn put_signal(
        &self,
        pe: usize,
        offset: usize,
        src: &[u8],
        sig_offset: usize,
        value: u64,
        op: SignalOp,
    ) -> Result<()> {
        self.check_signal(sig_offset)?;
        self.put(pe, offset, src)?;
        self.signal(pe, sig_offset, value, op)
    }

    /// The fence that orders the data before the signal, and the signal's atomic.
    fn signal(&self, pe: usize, sig_offset: usize, value: u64, op: SignalOp) -> Result<()> {
        self.transport().fence()?;
        let aop = match op {
            SignalOp::Set => AtomicOp::Set,
            SignalOp::Add => AtomicOp::Add,
        };
        self.atomic::<u64>(pe, sig_offset, aop, value, 0).map(drop)
    }

    /// Checked before any byte moves: a bad signal word must not leave a put without its signal.
    fn check_signal(&self, sig_offset: usize) -> Result<()> {
        self.local_word::<u64>(sig_offset).map(drop)
    }

    /// The current value of this PE's signal word at `sig_offset` (an atomic load).
    pub fn signal_fetch(&self, sig_offset: usize) -> Result<u64> {
        self.local_load::<u64>(sig_offset)
    }

    /// Waits until this PE's signal word at `sig_offset` compares to `value` by `cmp`; returns
    /// the word's value then. Ends in `ErrorKind::Timeout` after [`Transport::timeout`](crate::Transport::timeout).
    pub fn signal_wait_until(&self, sig_offset: usize, cmp: Cmp, value: u64) -> Result<u64> {
        self.wait_until::<u64>(sig_offset, |w| cmp.holds(w, value))
    }

    /// Waits until one of this PE's `u64` words at `offsets` compares to `value` by `cmp`;
    /// returns its index in `offsets` (the first such, in order). An empty list is an
    /// `InvalidArgument` error, as there is nothing that could end the wait.
    pub fn wait_until_any(&self, offsets: &[usize], cmp: Cmp, value: u64) -> Result<usize> {
        let mut found = 0;
        self.wait_on_words(offsets, "any", |words| {
            words.iter().position(|&w| cmp.holds(w, value)).map(|i| found = i).is_some()
        })?;
        Ok(found)
    }

    /// Waits until every one of this PE's `u64` words at `offsets` compares to `value` by
    /// `cmp` (at one look: a word that held and no longer does is waited for again).
    pub fn wait_until_all(&self, offsets: &[usize], cmp: Cmp, value: u64) -> Result<()> {
        self.wait_on_words(offsets, "all", |words| words.iter().all(|&w| cmp.holds(w, value)))
    }

    /// Waits until at least one of this PE's `u64` words at `offsets` compares to `value` by
    /// `cmp`; returns the indices of all that did at that look, ascending.
    pub fn wait_until_some(&self, offsets: &[usize], cmp: Cmp, value: u64) -> Result<Vec<usize>> {
        let mut found = Vec::new();
        self.wait_on_words(offsets, "some", |words| {
            found = (0..words.len()).filter(|&i| cmp.holds(words[i], value)).collect();
            !found.is_empty()
        })?;
        Ok(found)
    }

    /// The wait behind the `wait_until_*` calls: every word checked first, then looked at
    /// together once per progress of the transport until `done` says so.
    fn wait_on_words(
        &self,
        offsets: &[usize],
        kind: &str,
        mut done: impl FnMut(&[u64]) -> bool,
    ) -> Result<()> {
        if offsets.is_empty() {
            return Err(Error::InvalidArgument(format!("wait_until_{kind}: no words to wait on")));
        }
        let words =
            offsets.iter().map(|&o| self.local_word::<u64>(o)).collect::<Result<Vec<_>>>()?;
        let mut seen = vec![0u64; words.len()];
        let look = |seen: &mut Vec<u64>| {
            for (s, &w) in seen.iter_mut().zip(&words) {
                // SAFETY: local_word checked each word (in range, aligned, mapped while self
                // lives, which outlasts this call).
                *s = unsafe { load_word::<u64>(w) };
            }
        };
        look(&mut seen);
        if done(&seen) {
            return Ok(());
        }
        let t = self.transport();
        let backend = t.backend();
        let tries = if backend.has_progress() { Tries::Progress } else { Tries::Look };
        let what = || {
            format!("{} words of PE {} to satisfy a wait_until_{kind}", offsets.len(), t.my_pe())
        };
        wait_until(
            t.timeout(),
            tries,
            what,
            || backend.progress(),
            || {
                look(&mut seen);
                done(&seen)
            },
            || Ok(()),
        )
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// [`SymAlloc::put_signal`] without waiting for the put: the put is issued, ordered
    /// before the signal by the transport's fence, and the signal sent; the handle completes
    /// when `src` may be reused. The signal is at the target when this returns.
    // The put's four and the signal's three, as OpenSHMEM's shmem_put_signal_nbi takes them.
    #[allow(clippy::too_many_arguments)]
    pub fn put_signal_nb(
        &'scope self,
        dst: &'scope SymAlloc,
        pe: usize,
        offset: usize,
        src: &'scope [u8],
        sig_offset: usize,
        value: u64,
        op: SignalOp,
    ) -> Result<NbHandle<'scope, 'env, &'scope [u8]>> {
        dst.check_signal(sig_offset)?;
        let h = self.put_nb(dst, pe, offset, src)?;
        dst.signal(pe, sig_offset, value, op)?;
        Ok(h)
    }
}
