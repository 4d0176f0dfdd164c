//! The worker's lock: a test-and-set lock with spin-then-yield waiting.
//!
//! Every put, get and atomic takes it, so its cost is on the latency path: unlocking is one
//! release store (a `std::sync::Mutex` unlock is an atomic exchange, to find sleepers to
//! wake). Waiters never sleep in the kernel: the lock is held for one UCX call, or for a
//! wait that itself polls; the progress thread only ever `try_lock`s.

use std::cell::UnsafeCell;
use std::hint::spin_loop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// Tries spent spinning before a waiter starts yielding its core.
const SPIN_TRIES: u32 = 64;

pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a guard, and at most one guard exists at a time
// (the flag is set with acquire by exactly one CAS winner and cleared with release on drop),
// so sharing the lock shares `T` between threads one at a time: `T: Send` suffices.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: as for the impl above, for the same reason.
unsafe impl<T: Send> Send for SpinLock<T> {}

pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> SpinLock<T> {
    pub fn new(value: T) -> SpinLock<T> {
        SpinLock { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    #[inline]
    fn acquire(&self) -> bool {
        self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    #[inline]
    pub fn lock(&self) -> SpinGuard<'_, T> {
        if self.acquire() {
            return SpinGuard { lock: self };
        }
        self.lock_contended()
    }

    #[cold]
    fn lock_contended(&self) -> SpinGuard<'_, T> {
        let mut tries = 0u32;
        loop {
            if !self.locked.load(Ordering::Relaxed) && self.acquire() {
                return SpinGuard { lock: self };
            }
            if tries < SPIN_TRIES {
                tries += 1;
                spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    pub fn try_lock(&self) -> Option<SpinGuard<'_, T>> {
        // Lazily: a guard built and dropped on failure would release the owner's lock.
        (!self.locked.load(Ordering::Relaxed) && self.acquire()).then(|| SpinGuard { lock: self })
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one (see the Sync impl), so no `&mut T` coexists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard is the only one and `&mut self` makes the borrow unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}
