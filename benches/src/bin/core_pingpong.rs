//! `core-pingpong [CPU_A CPU_B] [ITERS]`: the machine's own floor for a put ping-pong, with
//! no library in between. Two threads, pinned to CPU_A and CPU_B (default 0 and 1, the CPUs
//! `--bind-to core` gives PE 0 and PE 1), bounce one cache line; prints the half round trip
//! in ns as one JSON line `{"op":"core_pingpong","cpus":[A,B],"half_rtt_ns":X}`.
//!
//! Why: on a VM the cost of moving a cache line between two vCPUs depends on where the host
//! runs them, and it changes from second to second (on this project's EPYC guest: ~75 ns or
//! ~300 ns, sometimes ~32). The comparison scripts run this next to every measurement
//! (`scripts/hostfloor.py`), so that a pair of runs made on different floors is recognised
//! as such instead of read as one program being 4x slower than the other.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A wait for the other thread longer than this ends the probe with an error (it answers
/// within microseconds unless the host stops a vCPU).
const TIMEOUT: Duration = Duration::from_secs(10);

/// One cache line of its own, so that nothing else the threads touch shares it.
#[repr(align(128))]
struct Line(AtomicU64);

fn pin(cpu: usize) -> Result<(), String> {
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

/// Half round trip in ns over `iters` exchanges: the first thread writes `i` to `ping` and
/// waits for `i` in `pong`; the second answers each.
fn measure(cpus: [usize; 2], iters: u64) -> Result<f64, String> {
    let (ping, pong) = (Line(AtomicU64::new(0)), Line(AtomicU64::new(0)));
    std::thread::scope(|s| {
        let answerer = s.spawn(|| -> Result<(), String> {
            let answered = pin(cpus[1]).and_then(|()| {
                (1..=iters).try_for_each(|i| wait_for(&ping, i).map(|()| pong.0.store(i, Ordering::Release)))
            });
            if answered.is_err() {
                pong.0.store(ABANDONED, Ordering::Release);
            }
            answered
        });
        let timed = || -> Result<f64, String> {
            pin(cpus[0])?;
            // Warm up (page faults, the answerer's start), then time.
            let warm = iters / 10;
            let mut start = Instant::now();
            for i in 1..=iters {
                if i == warm + 1 {
                    start = Instant::now();
                }
                ping.0.store(i, Ordering::Release);
                wait_for(&pong, i)?;
            }
            Ok(start.elapsed().as_nanos() as f64 / (iters - warm) as f64 / 2.0)
        };
        let mine = timed();
        if mine.is_err() {
            ping.0.store(ABANDONED, Ordering::Release);
        }
        let theirs = answerer.join().unwrap_or_else(|_| Err("the answering thread panicked".into()));
        match (mine, theirs) {
            (Ok(ns), Ok(())) => Ok(ns),
            // The side that failed first says why; the other only saw it give up.
            (Err(e), Err(t)) => Err(if e == GAVE_UP { t } else { e }),
            (Err(e), Ok(())) | (Ok(_), Err(e)) => Err(e),
        }
    })
}

fn parse(args: &[String]) -> Result<([usize; 2], u64), String> {
    let num = |s: &String, what: &str| s.parse::<u64>().map_err(|_| format!("{what}: want a number, got {s:?}"));
    match args {
        [] => Ok(([0, 1], 50_000)),
        [a, b] => Ok(([num(a, "CPU_A")? as usize, num(b, "CPU_B")? as usize], 50_000)),
        [a, b, n] => {
            let iters = num(n, "ITERS")?;
            if iters < 10 {
                return Err("ITERS: want at least 10".into());
            }
            Ok(([num(a, "CPU_A")? as usize, num(b, "CPU_B")? as usize], iters))
        }
        _ => Err("usage: core-pingpong [CPU_A CPU_B] [ITERS]".into()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = parse(&args).and_then(|(cpus, iters)| {
        if cpus[0] == cpus[1] {
            return Err(format!("CPU_A and CPU_B are both {}: a ping-pong needs two CPUs", cpus[0]));
        }
        measure(cpus, iters).map(|ns| (cpus, ns))
    });
    match result {
        Ok((cpus, ns)) => println!("{{\"op\":\"core_pingpong\",\"cpus\":[{},{}],\"half_rtt_ns\":{ns:.1}}}", cpus[0], cpus[1]),
        Err(e) => {
            eprintln!("core-pingpong: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn arguments() {
        assert_eq!(parse(&s(&[])).unwrap(), ([0, 1], 50_000));
        assert_eq!(parse(&s(&["1", "0", "1000"])).unwrap(), ([1, 0], 1000));
        assert!(parse(&s(&["x", "1"])).unwrap_err().contains("CPU_A"));
        assert!(parse(&s(&["0", "1", "5"])).unwrap_err().contains("at least 10"));
        assert!(parse(&s(&["0"])).unwrap_err().contains("usage"));
    }

    #[test]
    fn a_ping_pong_between_two_cpus_takes_time_and_finishes() {
        // Both threads on CPU 0 when the machine has one CPU: still correct, just slow, so
        // the exchange logic is checked everywhere; the figure must be a positive time.
        let cpus = if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 { [0, 1] } else { [0, 0] };
        let ns = measure(cpus, 2000).unwrap();
        assert!(ns > 0.0 && ns.is_finite(), "{ns}");
    }

    #[test]
    fn a_thread_that_cannot_pin_ends_the_probe_with_its_own_error() {
        let last = libc::CPU_SETSIZE as usize - 1;
        assert!(measure([0, last], 1000).unwrap_err().contains(&format!("cannot pin to CPU {last}")));
        assert!(measure([last, 0], 1000).unwrap_err().contains(&format!("cannot pin to CPU {last}")));
    }

    #[test]
    fn pinning_to_a_cpu_that_does_not_exist_is_an_error() {
        assert!(pin(libc::CPU_SETSIZE as usize).unwrap_err().contains("out of range"));
        std::thread::spawn(|| assert!(pin(libc::CPU_SETSIZE as usize - 1).unwrap_err().contains("cannot pin"))).join().unwrap();
    }
}
