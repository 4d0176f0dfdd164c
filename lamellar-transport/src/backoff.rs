//! Spin-then-yield waiting with a deadline: the one way this crate waits on another process.
//!
//! On a machine with fewer cores than PEs (4 PEs on 2 cores), a pure spin loop starves the PE
//! it waits for; so after a short spin we yield the core on every further try.

use crate::error::{Error, Result};
use std::hint::spin_loop;
use std::time::{Duration, Instant};

/// Tries spent spinning before the waiter starts yielding its core.
const SPIN_TRIES: u32 = 128;
/// After spinning, how many yielding tries between two clock reads and liveness checks.
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
        for _ in 0..CHECK_EVERY {
            if done()? {
                return Ok(());
            }
            std::thread::yield_now();
        }
        check()?;
        if start.elapsed() >= timeout {
            return Err(Error::Timeout { what: what(), after: timeout });
        }
    }
}
