//! The machine's own ceilings, measured in the same run as the transport: single-thread
//! memcpy bandwidth, and the round trip of one cache line between two processes.

use crate::buf::AlignedBuf;
use crate::stats::{plan, summarize, time_batches};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Median and p99 ns per memcpy of `size` bytes between two private buffers.
pub fn memcpy(size: usize, iters: usize) -> (f64, f64) {
    let src = AlignedBuf::new(size, 1);
    let mut dst = AlignedBuf::new(size, 0);
    let (samples, batch) = plan(iters);
    let v: Result<Vec<f64>, ()> = time_batches(batch.min(1000), samples, batch, || {
        dst[..size].copy_from_slice(std::hint::black_box(&src[..size]));
        std::hint::black_box(&mut dst);
        Ok(())
    });
    summarize(v.unwrap_or_default())
}

/// Median and p99 ns of a cache-line round trip between this process and a forked child
/// through a shared anonymous mapping. `None` if the child could not be run or stalled.
pub fn cacheline_rtt(iters: usize) -> Option<(f64, f64)> {
    // SAFETY: a fresh shared anonymous mapping of one page, unmapped below.
    let p = unsafe {
        libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0)
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    // SAFETY: the page is mapped, aligned, zeroed and shared only through this atomic.
    let flag = unsafe { AtomicU64::from_ptr(p.cast()) };
    let total = iters as u64 + 1000;
    let deadline = Duration::from_secs(30);
    // SAFETY: the child runs only atomics, sched_yield, clock reads and _exit (no locks, no
    // allocation), which is safe after fork even in a multi-threaded parent.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let start = Instant::now();
        let mut want = 1u64;
        let mut spins = 0u32;
        while want < 2 * total {
            if flag.load(Ordering::Acquire) == want {
                flag.store(want + 1, Ordering::Release);
                want += 2;
                spins = 0;
            } else {
                spins += 1;
                if spins % 256 == 0 {
                    // SAFETY: plain syscalls.
                    unsafe { libc::sched_yield() };
                    if start.elapsed() > deadline {
                        break;
                    }
                }
                std::hint::spin_loop();
            }
        }
        // SAFETY: leave without running the parent's atexit handlers or destructors.
        unsafe { libc::_exit(0) };
    }
    if pid < 0 {
        // SAFETY: unmapping our own mapping.
        unsafe { libc::munmap(p, 4096) };
        return None;
    }
    let start = Instant::now();
    let next = std::cell::Cell::new(1u64);
    let mut stalled = false;
    let mut round_trip = || -> Result<(), ()> {
        let n = next.get();
        flag.store(n, Ordering::Release);
        let mut spins = 0u32;
        while flag.load(Ordering::Acquire) != n + 1 {
            spins += 1;
            if spins % 256 == 0 {
                // SAFETY: plain syscall.
                unsafe { libc::sched_yield() };
                if start.elapsed() > deadline {
                    return Err(());
                }
            }
            std::hint::spin_loop();
        }
        next.set(n + 2);
        Ok(())
    };
    let (samples, batch) = plan(iters);
    let r = time_batches(1000, samples, batch, &mut round_trip);
    if r.is_err() {
        stalled = true;
        // SAFETY: our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    // Let the child finish its remaining rounds (it expects `total`), then reap it.
    while !stalled && next.get() < 2 * total {
        if round_trip().is_err() {
            // SAFETY: our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            break;
        }
    }
    let mut status = 0;
    // SAFETY: reaping our own child; unmapping our own mapping.
    unsafe {
        libc::waitpid(pid, &mut status, 0);
        libc::munmap(p, 4096);
    }
    r.ok().map(summarize)
}
