//! The waker thread behind every pending future of a transport.
//!
//! A pending future ([`NbHandle`](crate::NbHandle), [`AsyncOp`](crate::AsyncOp),
//! [`SymAlloc::wait_until_async`](crate::SymAlloc::wait_until_async)) registers its waker
//! here instead of waking itself at once (which makes an executor spin a core per pending
//! operation). The thread wakes every registered waker after a nap that grows with how
//! long the youngest of them has waited: an eighth of that, between `MIN_NAP` and `MAX_NAP`.
//! A fresh operation is polled again within tens of microseconds (a get over tcp completes
//! in that time); one that has waited a second is polled a thousand times a second, which
//! costs well under one percent of a core. The completions themselves are made by the
//! backends (their progress threads, or the poll's own progress call); this thread only
//! decides when to look again, and sleeps while nothing is registered.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MIN_NAP: Duration = Duration::from_micros(5);
const MAX_NAP: Duration = Duration::from_millis(4);

#[derive(Default)]
pub(crate) struct Reactor {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    /// Wakers to wake, with when their future started waiting.
    pending: Mutex<Vec<(Waker, Instant)>>,
    /// The thread's current nap in nanoseconds (u64::MAX while idle).
    nap: AtomicU64,
    stop: AtomicBool,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            pending: Mutex::default(),
            nap: AtomicU64::new(u64::MAX),
            stop: AtomicBool::new(false),
        }
    }
}

fn nap_for(since: Instant) -> Duration {
    (since.elapsed() / 8).clamp(MIN_NAP, MAX_NAP)
}

impl Reactor {
    /// Wakes `waker` after a nap suited to a future that has waited since `since`.
    pub fn register(&self, waker: &Waker, since: Instant) {
        let mut pending = self.shared.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.push((waker.clone(), since));
        drop(pending);
        let mut thread = self.thread.lock().unwrap_or_else(|p| p.into_inner());
        match thread.as_ref() {
            // Cut the nap short only for a future that wants a much shorter one (a fresh
            // operation): one re-registering after each wake must not end the nap it is in.
            Some(t) => {
                if (nap_for(since).as_nanos() as u64) < self.shared.nap.load(Ordering::Relaxed) / 2
                {
                    t.thread().unpark();
                }
            }
            None => {
                let shared = self.shared.clone();
                let spawned = std::thread::Builder::new()
                    .name("lamellar-waker".into())
                    .spawn(move || run(&shared));
                match spawned {
                    Ok(t) => *thread = Some(t),
                    // No thread: wake at once, as a future without a reactor would.
                    Err(_) => self.take().into_iter().for_each(|(w, _)| w.wake()),
                }
            }
        }
    }

    fn take(&self) -> Vec<(Waker, Instant)> {
        std::mem::take(&mut *self.shared.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn run(shared: &Shared) {
    while !shared.stop.load(Ordering::Acquire) {
        let youngest = {
            let pending = shared.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.iter().map(|(_, since)| *since).max()
        };
        let Some(youngest) = youngest else {
            shared.nap.store(u64::MAX, Ordering::Relaxed);
            std::thread::park_timeout(Duration::from_millis(100));
            continue;
        };
        let nap = nap_for(youngest);
        shared.nap.store(nap.as_nanos() as u64, Ordering::Relaxed);
        std::thread::park_timeout(nap);
        let batch = std::mem::take(&mut *shared.pending.lock().unwrap_or_else(|p| p.into_inner()));
        batch.into_iter().for_each(|(w, _)| w.wake());
    }
}
