//! The progress thread: makes UCX progress when the application does not call in, so that
//! a peer's put, get or atomic on this PE completes even while the application computes
//! (software transports such as tcp need the target's worker to run).
//!
//! It stays out of the way of the application:
//! - while the application uses the worker (an application thread holds it, e.g. waiting for
//!   a request, or has called in or polled since the thread last looked, e.g. posting puts or
//!   polling for a flag), the progress thread naps, doubling the nap from `INTERVAL` up to
//!   `BUSY_NAP` (waking it at the end of every wait instead costs a thread wakeup per
//!   operation over tcp, a multiple of the latency of get and fetch-add; and each nap's end
//!   is a wakeup that takes the core from the application for a moment, which ROFI measured
//!   as a multiple of shm put latency at short naps). Unless the application polls, it drains the
//!   worker once per nap if it is free, and every `SERVE_EVERY`-th application call
//!   progresses it too (`worker.rs`), so a PE that only posts still serves its peers (as
//!   ROFI's thread does, `rofi/src/progress.c`). Calls and polls are counted, not only waits:
//!   sleeping on the fd while the application posted puts woke this thread (on the
//!   application's core) for every send completion, thousands of times a second at 64 KiB
//!   over tcp, which cost a good part of put bandwidth over tcp and shm; and
//!   counting is a plain store under the lock, where registering each wait cost two atomic
//!   read-modify-writes;
//! - otherwise, with a wakeup fd (UCX's `UCP_FEATURE_WAKEUP`, offered by tcp and the
//!   shared-memory transports), it progresses, arms the worker and sleeps in `poll` until
//!   traffic arrives (or `IDLE` passes): no CPU while nothing happens, and a peer's request
//!   is served one thread wakeup after it arrives. Without a wakeup fd it polls every
//!   `INTERVAL`.

use super::worker::Ucx;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Sleep between tries when polling, and the first nap when the application is busy with the
/// worker.
const INTERVAL: Duration = Duration::from_micros(200);
/// Longest nap while the application keeps progressing the worker itself.
const BUSY_NAP: Duration = Duration::from_millis(2);
/// Longest sleep on the event fd (a safety net for events that do not signal the fd).
const IDLE: Duration = Duration::from_millis(10);
/// Progress calls per turn at most, so the lock is never held for long.
const MAX_ROUNDS: usize = 64;

pub struct ProgressThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    ucx: Arc<Ucx>,
}

impl ProgressThread {
    pub fn start(ucx: Arc<Ucx>) -> std::io::Result<ProgressThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let (s, u) = (stop.clone(), ucx.clone());
        let handle = std::thread::Builder::new()
            .name("lamellar-ucx-progress".into())
            .spawn(move || run(&u, &s))?;
        Ok(ProgressThread { stop, handle: Some(handle), ucx })
    }

    /// Stops and joins the thread (also done on drop).
    pub fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.stop.store(true, Ordering::Release);
            self.ucx.signal();
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

impl Drop for ProgressThread {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(ucx: &Ucx, stop: &AtomicBool) {
    let mut nap = INTERVAL;
    let (mut calls_seen, mut polls_seen) = (ucx.calls(), ucx.polls());
    while !stop.load(Ordering::Acquire) {
        let (calls, polls) = (ucx.calls(), ucx.polls());
        let (called, polled) = (calls != calls_seen, polls != polls_seen);
        (calls_seen, polls_seen) = (calls, polls);
        match ucx.try_lock_quietly() {
            // The application is using the worker: nap, longer each time.
            None => {
                std::thread::park_timeout(nap);
                nap = (nap * 2).min(BUSY_NAP);
            }
            Some(mut w) if called || polled => {
                // Draining once per nap serves peers while the application only posts; not
                // while it polls (its own polls serve them).
                if !polled {
                    drain(&mut w);
                }
                drop(w);
                std::thread::park_timeout(nap);
                nap = (nap * 2).min(BUSY_NAP);
            }
            Some(mut w) => {
                nap = INTERVAL;
                let idle = drain(&mut w) && (ucx.efd.is_none() || w.arm());
                drop(w);
                match ucx.efd {
                    // Armed: sleep until traffic.
                    Some(fd) if idle => wait_fd(fd, IDLE),
                    // More to do (or events arrived while arming): go again, politely.
                    Some(_) => std::thread::yield_now(),
                    // No fd to sleep on.
                    None => std::thread::park_timeout(INTERVAL),
                }
            }
        }
    }
}

/// Progresses until idle (bounded, so the lock is never held for long); true if idle.
fn drain(w: &mut super::worker::Worker<'_>) -> bool {
    for _ in 0..MAX_ROUNDS {
        if !w.progress() {
            return true;
        }
    }
    false
}

/// Sleeps until `fd` is readable or `timeout` passes.
fn wait_fd(fd: i32, timeout: Duration) {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd; the fd is the worker's, open while the worker lives (the
    // thread is joined before the worker is destroyed). Errors (EINTR) just end the sleep.
    unsafe { libc::poll(&mut p, 1, timeout.as_millis() as i32) };
}
