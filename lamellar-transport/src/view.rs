//! Direct load/store access to a node-local peer's part of a symmetric array, as OpenSHMEM's
//! `shmem_ptr` and MPI's shared windows give: [`SymArray::local_view`].
//!
//! Rules:
//! - **Lifetime.** A view borrows its array, so the array cannot be freed while a view of it
//!   lives; the view is valid for exactly the array's elements on that PE.
//! - **Visibility** is as for put and get: what a PE stores through a view is visible to
//!   the others after a barrier (or the owner's `wait_until` on a flag the writer stores
//!   after a fence); what peers put is visible in a view after the barrier that follows it.
//! - **Concurrency.** `read` and `write` are plain (volatile) copies of whole elements: two
//!   PEs touching one element at the same time without a barrier between them race, and a
//!   reader may see a torn value. Concurrent updates of one word go through [`PeerView::atomic`]
//!   (`u32`, `u64`, `i32`, `i64`), whose operations are atomic with respect to the backend's
//!   own atomics on that allocation (on shmem both are CPU atomics on the same mapping; on
//!   rofi too, or CPU atomics at the target, with the providers that
//!   [`Transport::atomic_support`](crate::Transport::atomic_support) names; with a provider
//!   of NIC atomics, rofi's atomics and a view's are not atomic with each other: use one).
//!
//! Which backends give views: shmem, for every PE of the job (they all share the node).
//! rofi and ucx give none yet: their node-local paths do not map peers' memory into the
//! process, so [`SymArray::local_view`] returns `None` there and put/get are the way.

use crate::backend::Segment;
use crate::error::{Error, Result};
use crate::typed::SymArray;
use bytemuck::Pod;
use std::marker::PhantomData;

/// Load/store access to one PE's part of a [`SymArray`]; see the module docs for the rules.
pub struct PeerView<'a, T: Pod> {
    base: *mut T,
    len: usize,
    _array: PhantomData<&'a SymArray<T>>,
}

impl<T: Pod> std::fmt::Debug for PeerView<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerView").field("len", &self.len).finish()
    }
}

impl<'a, T: Pod> PeerView<'a, T> {
    /// # Safety
    /// `base` points to `len` elements of `T`, aligned, in a mapping that lives at least as
    /// long as `'a` (the array's segment).
    pub(crate) unsafe fn new(base: *mut T, len: usize) -> PeerView<'a, T> {
        PeerView { base, len, _array: PhantomData }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check(&self, index: usize, count: usize) -> Result<()> {
        match index.checked_add(count) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::OutOfBounds { offset: index, len: count, size: self.len }),
        }
    }

    /// Element `index`.
    pub fn read(&self, index: usize) -> Result<T> {
        self.check(index, 1)?;
        // SAFETY: index < len (checked); the mapping outlives 'a (constructor's contract);
        // T: Pod, so any bytes read are a valid T.
        Ok(unsafe { self.base.add(index).read_volatile() })
    }

    /// Stores `value` at element `index`.
    pub fn write(&self, index: usize, value: T) -> Result<()> {
        self.check(index, 1)?;
        // SAFETY: as in read; the memory is shared and writable (a symmetric allocation).
        unsafe { self.base.add(index).write_volatile(value) };
        Ok(())
    }

    /// Copies `dst.len()` elements from element `index` into `dst`.
    pub fn read_into(&self, index: usize, dst: &mut [T]) -> Result<()> {
        self.check(index, dst.len())?;
        for (i, d) in dst.iter_mut().enumerate() {
            // SAFETY: index + i < len (checked above).
            *d = unsafe { self.base.add(index + i).read_volatile() };
        }
        Ok(())
    }

    /// Copies `src` to element `index` onwards.
    pub fn write_from(&self, index: usize, src: &[T]) -> Result<()> {
        self.check(index, src.len())?;
        for (i, s) in src.iter().enumerate() {
            // SAFETY: index + i < len (checked above).
            unsafe { self.base.add(index + i).write_volatile(*s) };
        }
        Ok(())
    }

    /// The first element, for code that manages its own accesses (SIMD copies, a
    /// hand-written kernel): valid for `len` elements while the view lives, under the rules
    /// above.
    pub fn as_ptr(&self) -> *mut T {
        self.base
    }
}

macro_rules! atomic_view {
    ($t:ty, $atomic:ty) => {
        impl<'a> PeerView<'a, $t> {
            /// Element `index` as an atomic, for updates concurrent with other PEs' (through
            /// their views or the transport's atomics on this allocation).
            pub fn atomic(&self, index: usize) -> Result<&'a $atomic> {
                self.check(index, 1)?;
                // SAFETY: in bounds (checked), aligned (the array's elements are, and the
                // atomic has the element's size and alignment), and the mapping lives for 'a;
                // other processes touch this word only atomically under the rules above.
                Ok(unsafe { <$atomic>::from_ptr(self.base.add(index)) })
            }
        }
    };
}

atomic_view!(u32, std::sync::atomic::AtomicU32);
atomic_view!(u64, std::sync::atomic::AtomicU64);
atomic_view!(i32, std::sync::atomic::AtomicI32);
atomic_view!(i64, std::sync::atomic::AtomicI64);

impl<T: Pod> SymArray<T> {
    /// Load/store access to `pe`'s part, if this process maps it (a node-local peer on a
    /// backend that maps peers: shmem), else `None` (use put and get). `pe` must be a
    /// member of the array's team. Rules for using it: the [`view`](crate::view) module.
    pub fn local_view(&self, pe: usize) -> Result<Option<PeerView<'_, T>>> {
        self.bytes().check_pe(pe)?;
        let (seg, origin) = self.bytes().segment();
        let Some(base) = seg.peer_base(pe) else { return Ok(None) };
        // SAFETY: the segment maps pe's part (peer_base's contract), whose `origin..` holds
        // this array's `len` elements, for as long as the segment, which the array (borrowed
        // for the view's life) holds; the base is page-aligned and `origin` a multiple of 64,
        // so aligned for T.
        Ok(Some(unsafe { PeerView::new(base.add(origin).cast::<T>(), self.len()) }))
    }
}
