//! Futures for async runtimes: operations that own their buffers, and waits on a word.
//!
//! A [`Scope`](crate::Scope)'s handles borrow their buffers, which keeps them on the thread
//! of the scope; a task of a multi-threaded executor needs futures it can hold across
//! `.await` and move between threads. [`AsyncOp`] owns its buffer (a `Vec<u8>` handed in
//! for a put, made for a get, handed back either way) and the segment it addresses, so it
//! is `Send` and `'static`, and sound even if leaked: a forgotten operation leaks its
//! buffer rather than freeing memory the backend may still write. Dropped before it
//! completes, it waits for the operation. Pending futures are woken by the transport's
//! waker thread (`reactor.rs`), not by themselves.

use crate::atomic::RemoteAtomic;
use crate::backend::{Backend, OpToken, Segment};
use crate::dispatch::AnySegment;
use crate::error::{Error, Result};
use crate::memory::{SymAlloc, load_word};
use crate::transport::Transport;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// A put or get in flight, awaited for its buffer. Made by [`SymAlloc::put_async`] and
/// [`SymAlloc::get_async`].
#[must_use = "an operation completes when awaited (or waits when dropped)"]
pub struct AsyncOp {
    transport: Transport,
    /// Kept mapped (and registered) while the operation may still use it.
    _segment: Arc<AnySegment>,
    token: OpToken,
    buf: Option<Vec<u8>>,
    since: Option<Instant>,
}

impl std::fmt::Debug for AsyncOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncOp").field("done", &(self.token == OpToken::DONE)).finish()
    }
}

impl SymAlloc {
    /// Starts copying `src` to `offset` on `pe`; the future gives `src` back when it may be
    /// reused (remote visibility: `quiet`/`barrier`, as for every put).
    pub fn put_async(&self, pe: usize, offset: usize, src: Vec<u8>) -> Result<AsyncOp> {
        self.check_pe(pe)?;
        self.check_range(offset, src.len())?;
        let (seg, origin) = self.segment();
        // SAFETY: `src`'s heap buffer does not move when the Vec does, and is freed only
        // after the operation completes (AsyncOp's poll and drop), or never (leaked).
        let token = unsafe { seg.put_nb(pe, origin + offset, src.as_ptr(), src.len())? };
        Ok(self.pending(token, src))
    }

    /// Starts copying `len` bytes from `offset` on `pe`; the future gives them.
    pub fn get_async(&self, pe: usize, offset: usize, len: usize) -> Result<AsyncOp> {
        self.check_pe(pe)?;
        self.check_range(offset, len)?;
        let mut dst = vec![0u8; len];
        let (seg, origin) = self.segment();
        // SAFETY: as for put_async; nothing else touches `dst` until the operation completes.
        let token = unsafe { seg.get_nb(pe, origin + offset, dst.as_mut_ptr(), len)? };
        Ok(self.pending(token, dst))
    }

    fn pending(&self, token: OpToken, buf: Vec<u8>) -> AsyncOp {
        AsyncOp {
            transport: self.transport().clone(),
            _segment: self.segment_shared(),
            token,
            buf: Some(buf),
            since: None,
        }
    }

    /// [`SymAlloc::wait_until`] as a future: ready with the word's value once `pred` holds
    /// for the word at `offset` of this PE's part; `Timeout` after
    /// [`Transport::timeout`]. The offset is checked here, before any wait.
    pub fn wait_until_async<T: RemoteAtomic, F: FnMut(T) -> bool + Unpin>(
        &self,
        offset: usize,
        pred: F,
    ) -> Result<WaitUntil<'_, T, F>> {
        let word = self.local_word::<T>(offset)?;
        Ok(WaitUntil { alloc: self, word, pred, since: None, _t: std::marker::PhantomData })
    }
}

impl Future for AsyncOp {
    type Output = Result<Vec<u8>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Vec<u8>>> {
        let this = self.get_mut();
        if this.token != OpToken::DONE {
            match this.transport.backend().test(this.token) {
                Ok(false) => {
                    if let Some(e) = expired(&this.transport, this.since, "an async put or get") {
                        return Poll::Ready(Err(e));
                    }
                    this.transport.wake_later(cx.waker(), &mut this.since);
                    return Poll::Pending;
                }
                // Complete or failed, the backend has released it: never touch it again.
                Ok(true) => this.token = OpToken::DONE,
                Err(e) => {
                    this.token = OpToken::DONE;
                    return Poll::Ready(Err(e));
                }
            }
        }
        Poll::Ready(this.buf.take().ok_or_else(|| {
            Error::InvalidArgument("an AsyncOp polled again after it completed".into())
        }))
    }
}

impl Drop for AsyncOp {
    /// Waits for an operation still in flight, so its buffer is freed only after.
    fn drop(&mut self) {
        if self.token != OpToken::DONE
            && self.transport.backend().wait(self.token).is_err()
            && let Some(buf) = self.buf.take()
        {
            // Not known to be complete: the backend may still use the buffer.
            std::mem::forget(buf);
        }
    }
}

/// The future of [`SymAlloc::wait_until_async`].
#[must_use = "a wait happens when awaited"]
pub struct WaitUntil<'a, T, F> {
    alloc: &'a SymAlloc,
    /// The checked word.
    word: *mut u8,
    pred: F,
    since: Option<Instant>,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T, F> std::fmt::Debug for WaitUntil<'_, T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitUntil").field("since", &self.since).finish_non_exhaustive()
    }
}

// SAFETY: the word belongs to the borrowed allocation, which is Sync (peers write it too,
// every access is an atomic load); the future only loads it, from whichever thread polls.
unsafe impl<T, F: Send> Send for WaitUntil<'_, T, F> {}

impl<T: RemoteAtomic, F: FnMut(T) -> bool + Unpin> Future for WaitUntil<'_, T, F> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        let t = this.alloc.transport();
        // A put over a software transport lands only in this PE's progress.
        if let Err(e) = t.backend().progress() {
            return Poll::Ready(Err(e));
        }
        // SAFETY: local_word checked the word (in range, aligned); the borrowed allocation
        // keeps it mapped.
        let seen = unsafe { load_word::<T>(this.word) };
        if (this.pred)(seen) {
            return Poll::Ready(Ok(seen));
        }
        if let Some(e) = expired(t, this.since, "a word of this PE to satisfy a wait_until_async") {
            return Poll::Ready(Err(e));
        }
        t.wake_later(cx.waker(), &mut this.since);
        Poll::Pending
    }
}

/// The Timeout of a future pending since `since`, once the transport's limit has passed.
fn expired(t: &Transport, since: Option<Instant>, what: &str) -> Option<Error> {
    let since = since?;
    (since.elapsed() > t.timeout())
        .then(|| Error::Timeout { what: what.into(), after: t.timeout() })
}
