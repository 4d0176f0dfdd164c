//! Spin-then-yield waiting with a deadline: the one way this crate waits on another process.
//!
//! On a machine with fewer CPUs than PEs (4 PEs on 2 cores; decided at init, `node.rs`) the
//! waiter gives its core away once per `YIELD_EVERY` of waiting, so that the PE it waits
//! for gets to run within that time; the first `HOT_TRIES` tries and `YIELD_EVERY` stay
//! hot (a reply is usually that close). By time, not every Nth try: a waiting target that must progress the transport to
//! answer (UCX, ROFI's software providers) is deaf while it yields (a syscall, often a
//! context switch on a VM), and a try costs anything from a load (shmem) to an `epoll_wait`
//! (UCX over tcp), so a count means a different deaf fraction per backend. ROFI's C wait
//! loop follows the same policy (`rofi_wait_expired`). The measurements behind these
//! choices: docs/design-measurements.md.

use crate::error::{Error, Result};
use std::hint::spin_loop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Whether waits yield: until a transport has decided (`set_yield_when_waiting`), they do.
static YIELD_WHEN_WAITING: AtomicBool = AtomicBool::new(true);

/// Set at transport init from the backend's decision (one transport per process).
pub(crate) fn set_yield_when_waiting(on: bool) {
    YIELD_WHEN_WAITING.store(on, Ordering::Relaxed);
}

/// Tries before the clock is first read: most waits end sooner and read no clock (a vDSO
/// call, a sizeable part of a shared-memory op if read on every try).
const HOT_TRIES: u32 = 128;
/// Tries between two clock reads after that.
const TRIES_PER_CLOCK: u32 = 8;
/// The core is given away once per this much waiting.
const YIELD_EVERY: Duration = Duration::from_micros(10);
/// `check` runs once per this much waiting, and at the timeout.
const CHECK_EVERY: Duration = Duration::from_millis(1);

/// What one try of a wait does, which decides whether the hot tries are paced by a spin
/// hint (one PAUSE, tens of ns on current x86).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Tries {
    /// A bare look at memory another process writes: paced, so that the looks do not keep
    /// pulling the line back from the writer (without the pause the writer's store waits).
    Look,
    /// A call into the transport's progress engine, then a look: the call spaces the looks
    /// already, and a pause would only delay seeing the answer.
    Progress,
}

/// Looks (`done`) until the look succeeds, `progress` fails, or `timeout` passes; before
/// every look, calls `progress` (the transport's progress engine; `|| Ok(())` for a bare
/// look). A caller whose wait is often over before it starts looks once itself first.
///
/// The hot tries are inlined into the caller, the paced rest is out of line: the loop that
/// sees a peer's answer then runs in the waiting function's own frame, the look's answer a
/// plain `bool` straight to the branch that ends the wait (as a separate function, with
/// closures reaching their captures through a pointer, the loop was measurably slower).
///
/// `check` runs every so often while waiting (not on the fast path): it is where a caller
/// notices that the peer it waits for has died, and turns that into an error. Past the hot
/// tries every try is paced whatever `kind` says: the wait is long by then, and the pause
/// leaves an SMT sibling the core's resources.
#[inline(always)]
pub(crate) fn wait_until(
    timeout: Duration,
    kind: Tries,
    what: impl Fn() -> String,
    mut progress: impl FnMut() -> Result<()>,
    mut done: impl FnMut() -> bool,
    check: impl FnMut() -> Result<()>,
) -> Result<()> {
    // The hot tries, inlined into the caller: no clock, no count but the loop's.
    for _ in 0..HOT_TRIES {
        progress()?;
        if done() {
            return Ok(());
        }
        if kind == Tries::Look {
            spin_loop();
        }
    }
    wait_paced(timeout, what, progress, done, check)
}

/// The rest of a long wait, out of line: every try paced, the clock read every
/// `TRIES_PER_CLOCK` tries, the core given away and `check` run as the clock says.
#[inline(never)]
fn wait_paced(
    timeout: Duration,
    what: impl Fn() -> String,
    mut progress: impl FnMut() -> Result<()>,
    mut done: impl FnMut() -> bool,
    mut check: impl FnMut() -> Result<()>,
) -> Result<()> {
    let mut tries: u32 = 0;
    let start = Instant::now();
    let (mut next_yield, mut next_check) = (YIELD_EVERY, CHECK_EVERY);
    loop {
        progress()?;
        if done() {
            return Ok(());
        }
        tries = tries.wrapping_add(1);
        if tries % TRIES_PER_CLOCK != 0 {
            spin_loop();
            continue;
        }
        let waited = start.elapsed();
        if waited >= next_yield {
            if YIELD_WHEN_WAITING.load(Ordering::Relaxed) {
                std::thread::yield_now();
            }
            next_yield = waited + YIELD_EVERY;
        }
        if waited >= next_check || waited >= timeout {
            let failure = match check() {
                Err(e) => Some(e),
                Ok(()) => {
                    (waited >= timeout).then(|| Error::Timeout { what: what(), after: timeout })
                }
            };
            if let Some(e) = failure {
                // A peer may have done what we wait for and then left (the shmem backend's
                // PEs exit right after their last barrier) since our last look: one more
                // look decides. Seen as a PeerFailed from a barrier that had completed.
                return if done() { Ok(()) } else { Err(e) };
            }
            next_check = waited + CHECK_EVERY;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle() -> Result<()> {
        Ok(())
    }

    #[test]
    fn ends_when_done_without_reading_the_clock_first() {
        let mut tries = 0;
        let done = || {
            tries += 1;
            tries == 3
        };
        assert!(
            wait_until(
                Duration::ZERO,
                Tries::Look,
                || "never".into(),
                idle,
                done,
                || panic!("no check before the first clock read")
            )
            .is_ok()
        );
        assert_eq!(tries, 3);
        let mut tries = 0;
        let done = || {
            tries += 1;
            tries == HOT_TRIES
        };
        assert!(
            wait_until(
                Duration::ZERO,
                Tries::Look,
                || "never".into(),
                idle,
                done,
                || panic!("no check while hot")
            )
            .is_ok()
        );
    }

    #[test]
    fn progress_runs_before_every_look() {
        let (progressed, looked) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        let progress = || {
            assert_eq!(progressed.get(), looked.get(), "one progress call before each look");
            progressed.set(progressed.get() + 1);
            Ok(())
        };
        let done = || {
            assert_eq!(progressed.get(), looked.get() + 1, "one progress call before each look");
            looked.set(looked.get() + 1);
            looked.get() == 300 // past the hot tries too
        };
        assert!(
            wait_until(
                Duration::from_secs(60),
                Tries::Progress,
                || "x".into(),
                progress,
                done,
                || Ok(())
            )
            .is_ok()
        );
        assert_eq!((looked.get(), progressed.get()), (300, 300));
    }

    #[test]
    fn a_failed_progress_call_ends_the_wait_with_its_error() {
        let mut calls = 0;
        let progress = || {
            calls += 1;
            if calls == 5 {
                Err(Error::PeerFailed { pe: 2, why: "endpoint closed".into() })
            } else {
                Ok(())
            }
        };
        let r = wait_until(
            Duration::from_secs(60),
            Tries::Progress,
            || "x".into(),
            progress,
            || false,
            || Ok(()),
        );
        assert!(matches!(r, Err(Error::PeerFailed { pe: 2, .. })), "{r:?}");
        assert_eq!(calls, 5);
    }

    #[test]
    fn times_out_no_earlier_than_the_timeout_after_checking() {
        let (t0, mut checks) = (Instant::now(), 0);
        let check = || {
            checks += 1;
            Ok(())
        };
        let r = wait_until(
            Duration::from_millis(30),
            Tries::Look,
            || "the flag".into(),
            idle,
            || false,
            check,
        );
        assert!(t0.elapsed() >= Duration::from_millis(30));
        match r {
            Err(Error::Timeout { what, after }) => {
                assert_eq!((what.as_str(), after), ("the flag", Duration::from_millis(30)))
            }
            other => panic!("expected Timeout, got {other:?}"),
        }
        // Periodically (once per CHECK_EVERY), not only at the timeout.
        assert!(checks >= 2, "check ran {checks} times in 30 ms");
    }

    #[test]
    fn what_completed_before_a_failed_check_is_no_failure() {
        // The peer finishes our wait, then leaves: the check sees it gone, the last look done.
        let finished = std::cell::Cell::new(false);
        let check = || {
            finished.set(true);
            Err(Error::PeerFailed { pe: 1, why: "exited".into() })
        };
        assert!(
            wait_until(
                Duration::from_secs(60),
                Tries::Look,
                || "x".into(),
                idle,
                || finished.get(),
                check
            )
            .is_ok()
        );
    }

    #[test]
    fn a_failed_check_ends_the_wait_with_its_error() {
        let r = wait_until(
            Duration::from_secs(60),
            Tries::Look,
            || "x".into(),
            idle,
            || false,
            || Err(Error::PeerFailed { pe: 3, why: "gone".into() }),
        );
        assert!(matches!(r, Err(Error::PeerFailed { pe: 3, .. })), "{r:?}");
    }
}
