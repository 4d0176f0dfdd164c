//! Spin-then-yield waiting with a deadline: the one way this crate waits on another process.
//!
//! On a machine with fewer cores than PEs (4 PEs on 2 cores), a pure spin loop starves the PE
//! it waits for; so after a short spin we yield the core every `YIELD_EVERY` tries. Not on
//! every try: a try that progresses a network transport is itself a syscall (an `epoll_wait`
//! over tcp), and a waiting target that also yielded on each one spent a fifth of its time in
//! the scheduler (perf, UCX fetch-add over tcp; the latency change was within this machine's
//! noise). ROFI's C wait loop follows the same policy, where it measurably helped on shm.

use crate::error::{Error, Result};
use std::hint::spin_loop;
use std::time::{Duration, Instant};

/// Tries spent spinning before the waiter starts yielding its core.
const SPIN_TRIES: u32 = 128;
/// After spinning, tries between two yields of the core.
const YIELD_EVERY: u32 = 8;
/// After spinning, tries between two clock reads and liveness checks.
const CHECK_EVERY: u32 = 64;

/// Repeats `done` until it returns `Ok(true)`, an error, or `timeout` passes.
///
/// `check` runs every so often while waiting (not on the fast path): it is where a caller
/// notices that the peer it waits for has died, and turns that into an error.
pub(crate) fn wait_until(
    timeout: Duration,
    what: impl Fn() -> String,
    mut done: impl FnMut() -> Result<bool>,
    mut check: impl FnMut() -> Result<()>,
) -> Result<()> {
    for _ in 0..SPIN_TRIES {
        if done()? {
            return Ok(());
        }
        spin_loop();
    }
    let start = Instant::now();
    loop {
        for i in 1..=CHECK_EVERY {
            if done()? {
                return Ok(());
            }
            if i % YIELD_EVERY == 0 {
                std::thread::yield_now();
            } else {
                spin_loop();
            }
        }
        check()?;
        if start.elapsed() >= timeout {
            return Err(Error::Timeout { what: what(), after: timeout });
        }
    }
}
