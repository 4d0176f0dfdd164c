//! Non-blocking put/get, made sound with a scope (the `std::thread::scope` pattern).
//!
//! A non-blocking operation lets the backend read or write a user buffer after the call
//! returns. A handle that borrows the buffer is not enough on its own: `mem::forget` skips
//! its destructor and ends the borrow while the operation may still be running. So every
//! operation is issued inside [`Transport::scope`], buffers are borrowed for the whole scope
//! (`'scope`), and the scope itself — which cannot be skipped or leaked, and catches an unwind —
//! completes every operation before it returns. Handles add finer control inside the scope:
//! `wait()` (blocking), `.await` (a `Future`, no async runtime needed) or drop (waits).

use crate::backend::{Backend, OpToken, Segment};
use crate::error::{Error, Result};
use crate::memory::SymAlloc;
use crate::transport::Transport;
use crate::typed::SymArray;
use bytemuck::Pod;
use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// Issues non-blocking operations whose buffers live at least as long as the scope.
/// Created only by [`Transport::scope`].
pub struct Scope<'scope, 'env: 'scope> {
    transport: &'env Transport,
    /// Issued, not yet known to be complete.
    outstanding: RefCell<Vec<OpToken>>,
    /// The first error seen by a handle's drop, reported when the scope ends.
    first_error: RefCell<Option<Error>>,
    /// Invariant in both lifetimes, as in `std::thread::Scope`.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl Transport {
    /// Runs `f` with a [`Scope`] for non-blocking operations; every operation issued in it
    /// is complete when this returns (or unwinds). Returns `f`'s value, or the first error
    /// of an operation whose handle was dropped unobserved.
    pub fn scope<'env, F, R>(&'env self, f: F) -> Result<R>
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        let scope = Scope {
            transport: self,
            outstanding: RefCell::new(Vec::new()),
            first_error: RefCell::new(None),
            _scope: PhantomData,
            _env: PhantomData,
        };
        // If `f` panics, complete everything before the unwind releases the borrowed buffers.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&scope)));
        let completed = scope.complete_all();
        match r {
            Ok(r) => completed.map(|()| r),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    pub(crate) fn transport(&self) -> &'env Transport {
        self.transport
    }

    pub(crate) fn track(&'scope self, token: OpToken) {
        if token != OpToken::DONE {
            self.outstanding.borrow_mut().push(token);
        }
    }

    pub(crate) fn forget_token(&self, token: OpToken) {
        let mut v = self.outstanding.borrow_mut();
        if let Some(i) = v.iter().position(|&t| t == token) {
            v.swap_remove(i);
        }
    }

    pub(crate) fn record(&self, e: Error) {
        self.first_error.borrow_mut().get_or_insert(e);
    }

    /// Waits for everything still outstanding; the scope's buffers are free after this.
    fn complete_all(&self) -> Result<()> {
        let tokens: Vec<OpToken> = self.outstanding.borrow_mut().drain(..).collect();
        for t in tokens {
            if let Err(e) = self.transport.backend().wait(t) {
                self.record(e);
            }
        }
        match self.first_error.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Starts copying `src` to `offset` on `pe`. `src` stays borrowed until the scope ends;
    /// the handle completes when `src` may be reused (remote visibility: `quiet`/`barrier`).
    pub fn put_nb(
        &'scope self,
        dst: &'scope SymAlloc,
        pe: usize,
        offset: usize,
        src: &'scope [u8],
    ) -> Result<NbHandle<'scope, 'env, &'scope [u8]>> {
        dst.check_pe(pe)?;
        dst.check_range(offset, src.len())?;
        let (seg, origin) = dst.segment();
        // SAFETY: `src` is borrowed for 'scope, and the scope completes the operation before
        // 'scope ends (in `complete_all` or the handle), so the backend never reads it after.
        let token = unsafe { seg.put_nb(pe, origin + offset, src.as_ptr(), src.len())? };
        self.track(token);
        Ok(NbHandle::new(self, token, src.as_ptr().cast_mut(), src.len()))
    }

    /// Starts copying `dst.len()` bytes from `offset` on `pe` into `dst`. The handle hands
    /// `dst` back, filled, when the operation completes.
    pub fn get_nb(
        &'scope self,
        src: &'scope SymAlloc,
        pe: usize,
        offset: usize,
        dst: &'scope mut [u8],
    ) -> Result<NbHandle<'scope, 'env, &'scope mut [u8]>> {
        src.check_pe(pe)?;
        src.check_range(offset, dst.len())?;
        let (seg, origin) = src.segment();
        // One pointer for the backend and the handle: a second reborrow of `dst` would end
        // the first pointer's right to write.
        let (ptr, len) = (dst.as_mut_ptr(), dst.len());
        // SAFETY: `dst` is exclusively borrowed for 'scope and given up to the handle (as
        // this pointer), so no one else touches it until the operation completes (before
        // 'scope ends, see above).
        let token = unsafe { seg.get_nb(pe, origin + offset, ptr, len)? };
        self.track(token);
        Ok(NbHandle::new(self, token, ptr, len))
    }

    /// Typed [`Scope::put_nb`]: elements of `src` to element `index` on `pe`.
    pub fn put_nb_array<T: Pod>(
        &'scope self,
        dst: &'scope SymArray<T>,
        pe: usize,
        index: usize,
        src: &'scope [T],
    ) -> Result<NbHandle<'scope, 'env, &'scope [T]>> {
        let off = dst.byte_offset(index, src.len())?;
        Ok(self.put_nb(dst.bytes(), pe, off, bytemuck::cast_slice(src))?.cast())
    }

    /// Typed [`Scope::get_nb`]: elements from element `index` on `pe` into `dst`.
    pub fn get_nb_array<T: Pod>(
        &'scope self,
        src: &'scope SymArray<T>,
        pe: usize,
        index: usize,
        dst: &'scope mut [T],
    ) -> Result<NbHandle<'scope, 'env, &'scope mut [T]>> {
        let off = src.byte_offset(index, dst.len())?;
        // The bytes come from a `[T]` and go back to one: same address, same size.
        Ok(self.get_nb(src.bytes(), pe, off, bytemuck::cast_slice_mut(dst))?.cast())
    }
}

/// A buffer a non-blocking operation may use: a slice of `Pod` elements, shared (a put's
/// source) or exclusive (a get's destination). Sealed.
pub trait NbBuf: sealed::Sealed + Unpin {
    /// # Safety
    /// `ptr` and `bytes` are those of a slice of this type whose borrow is still live and
    /// not otherwise in use.
    #[doc(hidden)]
    unsafe fn from_raw(ptr: *mut u8, bytes: usize) -> Self;
}

mod sealed {
    pub trait Sealed {}
    impl<T> Sealed for &[T] {}
    impl<T> Sealed for &mut [T] {}
}

impl<T: Pod> NbBuf for &[T] {
    unsafe fn from_raw(ptr: *mut u8, bytes: usize) -> Self {
        // SAFETY: the caller's promise; the length in T is exact (the bytes came from a [T]).
        unsafe { std::slice::from_raw_parts(ptr.cast::<T>(), bytes / size_of::<T>().max(1)) }
    }
}

impl<T: Pod> NbBuf for &mut [T] {
    unsafe fn from_raw(ptr: *mut u8, bytes: usize) -> Self {
        // SAFETY: as above, and the borrow was exclusive.
        unsafe { std::slice::from_raw_parts_mut(ptr.cast::<T>(), bytes / size_of::<T>().max(1)) }
    }
}

/// A non-blocking operation in flight. Completes on `wait()`, when awaited, or when dropped;
/// gives back the buffer it borrowed.
///
/// It keeps the buffer as an address and a length, and makes the reference again only once
/// the operation is complete: a reference held meanwhile would claim the buffer while the
/// backend still writes it (Miri's aliasing models call that undefined behaviour).
pub struct NbHandle<'scope, 'env, B: NbBuf> {
    scope: &'scope Scope<'scope, 'env>,
    token: OpToken,
    /// The buffer's address and length in bytes; None once handed back.
    buf: Option<(*mut u8, usize)>,
    /// When a poll first found it pending.
    since: Option<Instant>,
    _buf: PhantomData<B>,
}

impl<'scope, 'env, B: NbBuf> NbHandle<'scope, 'env, B> {
    fn new(scope: &'scope Scope<'scope, 'env>, token: OpToken, ptr: *mut u8, bytes: usize) -> Self {
        NbHandle { scope, token, buf: Some((ptr, bytes)), since: None, _buf: PhantomData }
    }

    /// The same operation, handing back the buffer as a slice of another `Pod` type over
    /// the same bytes.
    fn cast<C: NbBuf>(mut self) -> NbHandle<'scope, 'env, C> {
        // Moving the token out leaves `self` complete, so its drop does not wait.
        let token = std::mem::replace(&mut self.token, OpToken::DONE);
        NbHandle {
            scope: self.scope,
            token,
            buf: self.buf.take(),
            since: self.since,
            _buf: PhantomData,
        }
    }

    /// The buffer, once complete.
    fn hand_back(&mut self) -> Result<B> {
        let (ptr, bytes) = self.buf.take().ok_or_else(|| {
            Error::InvalidArgument("a non-blocking handle polled after it completed".into())
        })?;
        // SAFETY: the operation is complete (callers check), so nothing else uses the buffer;
        // its borrow lives for 'scope, which outlives the handle; the parts are the slice's.
        Ok(unsafe { B::from_raw(ptr, bytes) })
    }

    /// Has it completed? Never blocks.
    pub fn is_complete(&mut self) -> Result<bool> {
        if self.token == OpToken::DONE {
            return Ok(true);
        }
        let result = self.scope.transport.backend().test(self.token);
        // Complete or failed, the backend has released the operation: never touch it again.
        if !matches!(result, Ok(false)) {
            self.scope.forget_token(self.token);
            self.token = OpToken::DONE;
        }
        result
    }

    /// Blocks until complete (within the job timeout) and returns the buffer.
    pub fn wait(mut self) -> Result<B> {
        self.finish()?;
        self.hand_back()
    }

    fn finish(&mut self) -> Result<()> {
        if self.token != OpToken::DONE {
            let t = std::mem::replace(&mut self.token, OpToken::DONE);
            self.scope.forget_token(t);
            self.scope.transport.backend().wait(t)?;
        }
        Ok(())
    }
}

impl<B: NbBuf> Drop for NbHandle<'_, '_, B> {
    /// Waits for the operation; an error goes to the scope, which returns it at its end.
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            self.scope.record(e);
        }
    }
}

impl<B: NbBuf> Future for NbHandle<'_, '_, B> {
    type Output = Result<B>;

    /// Polls the backend once; when not complete, the transport's waker thread wakes the
    /// task to poll again (`reactor.rs`), sooner for a fresh operation than for one that has
    /// waited long: an executor does not spin on it.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<B>> {
        let this = self.get_mut();
        match this.is_complete() {
            Ok(true) => Poll::Ready(this.hand_back()),
            Ok(false) => {
                this.scope.transport.wake_later(cx.waker(), &mut this.since);
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}
