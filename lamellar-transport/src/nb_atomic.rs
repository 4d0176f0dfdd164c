//! Non-blocking remote atomics in a [`Scope`]: a handle whose value is the word's old value.
//!
//! Native where the backend has non-blocking atomics ([`Capabilities::atomic_nb`]: rofi's
//! `rofi_atomic_nb`); elsewhere the atomic is done at issue and the handle is complete at
//! once. Either way the atomic is complete at its target when the handle is, and after the
//! scope ends.
//!
//! [`Capabilities::atomic_nb`]: crate::Capabilities

use crate::atomic::{AtomicOp, AtomicRequest, RemoteAtomic};
use crate::backend::{Backend, OpToken, Segment};
use crate::error::Result;
use crate::memory::SymAlloc;
use crate::nb::Scope;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Issues `op` on the `T` at `offset` of `pe` without waiting (operands as for
    /// [`SymAlloc::atomic`]); the handle's value is the old value (zero for non-fetching ops).
    pub fn atomic_nb<T: RemoteAtomic>(
        &'scope self,
        a: &'scope SymAlloc,
        pe: usize,
        offset: usize,
        op: AtomicOp,
        operand: T,
        compare: T,
    ) -> Result<AtomicHandle<'scope, 'env, T>> {
        a.check_atomic(pe, offset, op, T::TYPE)?;
        let req = AtomicRequest {
            op,
            ty: T::TYPE,
            operand: operand.to_bits(),
            compare: compare.to_bits(),
        };
        let result = Box::new(0u64);
        let slot = Box::into_raw(result);
        let (seg, origin) = a.segment();
        // SAFETY: `slot` stays allocated until the token completes: the handle frees it only
        // after waiting (drop and wait both finish first), and a leaked handle leaks it.
        let token = unsafe { seg.atomic_nb(pe, origin + offset, req, slot) };
        let token = match token {
            Ok(t) => t,
            Err(e) => {
                // SAFETY: nothing was issued: the slot is ours again.
                drop(unsafe { Box::from_raw(slot) });
                return Err(e);
            }
        };
        self.track(token);
        Ok(AtomicHandle { scope: self, token, slot, since: None, _t: PhantomData })
    }

    /// [`Scope::atomic_nb`] with `FetchAdd`.
    pub fn fetch_add_nb<T: RemoteAtomic>(
        &'scope self,
        a: &'scope SymAlloc,
        pe: usize,
        offset: usize,
        value: T,
    ) -> Result<AtomicHandle<'scope, 'env, T>> {
        self.atomic_nb(a, pe, offset, AtomicOp::FetchAdd, value, T::zeroed())
    }
}

/// A non-blocking atomic in flight; see [`Scope::atomic_nb`]. Dropping it waits for the
/// atomic (an error then goes to the scope), as for [`crate::NbHandle`].
pub struct AtomicHandle<'scope, 'env, T: RemoteAtomic> {
    scope: &'scope Scope<'scope, 'env>,
    token: OpToken,
    /// The old value's slot, written by the backend until the token completes.
    slot: *mut u64,
    /// When a poll first found it pending.
    since: Option<std::time::Instant>,
    _t: PhantomData<T>,
}

impl<T: RemoteAtomic> AtomicHandle<'_, '_, T> {
    /// Whether the atomic is complete (progresses the transport once).
    pub fn is_complete(&mut self) -> Result<bool> {
        if self.token == OpToken::DONE {
            return Ok(true);
        }
        let r = self.scope.transport().backend().test(self.token);
        if !matches!(r, Ok(false)) {
            self.scope.forget_token(self.token);
            self.token = OpToken::DONE;
        }
        r
    }

    /// Waits for the atomic; returns the word's old value.
    pub fn wait(mut self) -> Result<T> {
        self.finish()?;
        Ok(self.value())
    }

    fn finish(&mut self) -> Result<()> {
        if self.token != OpToken::DONE {
            let t = std::mem::replace(&mut self.token, OpToken::DONE);
            self.scope.forget_token(t);
            self.scope.transport().backend().wait(t)?;
        }
        Ok(())
    }

    /// The old value, once complete.
    fn value(&self) -> T {
        // SAFETY: the slot is ours (complete: nobody writes it any more) and was written in
        // the type's width at its start (Segment::atomic_nb).
        let bits = unsafe {
            if T::TYPE.width() == 4 {
                self.slot.cast::<u32>().read() as u64
            } else {
                self.slot.read()
            }
        };
        T::from_bits(bits)
    }
}

impl<T: RemoteAtomic> Drop for AtomicHandle<'_, '_, T> {
    fn drop(&mut self) {
        match self.finish() {
            // SAFETY: complete, so the backend no longer writes the slot; allocated in atomic_nb.
            Ok(()) => drop(unsafe { Box::from_raw(self.slot) }),
            // Not known to be complete: the backend may still write the slot, so it is
            // leaked rather than freed.
            Err(e) => self.scope.record(e),
        }
    }
}

impl<T: RemoteAtomic + Unpin> Future for AtomicHandle<'_, '_, T> {
    type Output = Result<T>;

    /// Polls the transport once; while the atomic is in flight, the transport's waker thread
    /// wakes the task to poll again (as for [`NbHandle`](crate::NbHandle)).
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        match this.is_complete() {
            Ok(true) => Poll::Ready(Ok(this.value())),
            Ok(false) => {
                this.scope.transport().wake_later(cx.waker(), &mut this.since);
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}
