//! One cache line bounced between two threads: the machine's own cost of a ping-pong, with
//! no library in between. Used by `core-pingpong` (pinned to two CPUs, between the runs of
//! the comparison scripts) and by lamellar-bench's `limits` rows (`cacheline_rtt`, where the
//! threads run wherever the PE's own affinity lets them).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A wait for the other thread longer than this ends the measurement with an error (it answers
/// within microseconds unless the host stops a vCPU).
const TIMEOUT: Duration = Duration::from_secs(10);

/// One cache line of its own, so that nothing else the threads touch shares it.
#[repr(align(128))]
struct Line(AtomicU64);

/// Pins the calling thread to `cpu`.
pub fn pin(cpu: usize) -> Result<(), String> {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET stays inside it for cpu <
    // CPU_SETSIZE (checked); pid 0 is the calling thread.
    unsafe {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(format!("CPU {cpu} is out of range"));
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!("cannot pin to CPU {cpu}: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Written by a thread that gives up, so that the other stops waiting too ...
const ABANDONED: u64 = u64::MAX;
/// ... with this error, which the first thread's own error then replaces.
const GAVE_UP: &str = "the other thread gave up";

/// Spins until `line` holds `want` (a plain load loop, as a ping-pong's waiter does). Past
/// 2^14 looks (far longer than an answer takes on a CPU of its own) it yields once per 2^14
/// looks, so that it also finishes when the two threads share a CPU, and reads the clock:
/// fails after `TIMEOUT`, or at once if the other thread gave up.
fn wait_for(line: &Line, want: u64) -> Result<(), String> {
    let start = Instant::now();
    let mut looks = 0u32;
    loop {
        match line.0.load(Ordering::Acquire) {
            v if v == want => return Ok(()),
            ABANDONED => return Err(GAVE_UP.into()),
            _ => {}
        }
        looks = looks.wrapping_add(1);
        if looks % 16384 == 0 {
            if start.elapsed() > TIMEOUT {
                return Err(format!("no answer within {TIMEOUT:?} (waiting for {want})"));
            }
            std::thread::yield_now();
        }
    }
}

/// Round trips of one cache line between two threads, in ns: `samples` means, each over
/// `batch` exchanges, after `warmup` untimed ones (page faults, the answerer's start), timed
/// as every lamellar-bench row is (`stats::time_batches`). With `cpus`, the first thread is
/// pinned to `cpus[0]` and the answerer to `cpus[1]`; without, both keep the process's
/// affinity.
pub fn round_trips(
    cpus: Option<[usize; 2]>,
    warmup: usize,
    samples: usize,
    batch: usize,
) -> Result<Vec<f64>, String> {
    let (ping, pong) = (Line(AtomicU64::new(0)), Line(AtomicU64::new(0)));
    let total = (warmup + samples * batch.max(1)) as u64;
    let pin_to = |i: usize| cpus.map_or(Ok(()), |c| pin(c[i]));
    std::thread::scope(|s| {
        let answerer = s.spawn(|| -> Result<(), String> {
            let answered = pin_to(1).and_then(|()| {
                (1..=total).try_for_each(|i| {
                    wait_for(&ping, i).map(|()| pong.0.store(i, Ordering::Release))
                })
            });
            if answered.is_err() {
                pong.0.store(ABANDONED, Ordering::Release);
            }
            answered
        });
        let timed = || -> Result<Vec<f64>, String> {
            pin_to(0)?;
            let mut sent = 0u64;
            crate::stats::time_batches(warmup, samples, batch.max(1), || {
                sent += 1;
                ping.0.store(sent, Ordering::Release);
                wait_for(&pong, sent)
            })
        };
        let mine = timed();
        if mine.is_err() {
            ping.0.store(ABANDONED, Ordering::Release);
        }
        let theirs =
            answerer.join().unwrap_or_else(|_| Err("the answering thread panicked".into()));
        match (mine, theirs) {
            (Ok(v), Ok(())) => Ok(v),
            // The side that failed first says why; the other only saw it give up.
            (Err(e), Err(t)) => Err(if e == GAVE_UP { t } else { e }),
            (Err(e), Ok(())) | (Ok(_), Err(e)) => Err(e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_between_two_threads_take_time_and_finish() {
        // Pinned to CPUs 0 and 1 where there are two; on one CPU the yields still finish it.
        let two = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
        for cpus in [two.then_some([0, 1]), None] {
            let v = round_trips(cpus, 100, 4, 500).unwrap();
            assert_eq!(v.len(), 4);
            assert!(v.iter().all(|ns| *ns > 0.0 && ns.is_finite()), "{v:?}");
        }
    }

    #[test]
    fn a_thread_that_cannot_pin_ends_it_with_its_own_error() {
        let last = libc::CPU_SETSIZE as usize - 1;
        assert!(
            round_trips(Some([0, last]), 10, 1, 100)
                .unwrap_err()
                .contains(&format!("cannot pin to CPU {last}"))
        );
        assert!(
            round_trips(Some([last, 0]), 10, 1, 100)
                .unwrap_err()
                .contains(&format!("cannot pin to CPU {last}"))
        );
    }

    #[test]
    fn pinning_to_a_cpu_that_does_not_exist_is_an_error() {
        assert!(pin(libc::CPU_SETSIZE as usize).unwrap_err().contains("out of range"));
        std::thread::spawn(|| {
            assert!(pin(libc::CPU_SETSIZE as usize - 1).unwrap_err().contains("cannot pin"))
        })
        .join()
        .unwrap();
    }
}
