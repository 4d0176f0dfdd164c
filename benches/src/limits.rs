//! The machine's own ceilings, measured in the same run as the transport: single-thread
//! memcpy bandwidth, bare loads, stores and atomic adds on the target's word, the round trip
//! of one cache line between two threads, and random atomic adds by two threads on one
//! shared table.

use crate::buf::AlignedBuf;
use lamellar_bench::bare::{self, Word, WordOp};
use lamellar_bench::cacheline;
use lamellar_bench::stats::{plan, summarize, time_batches};

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

/// Median and p99 ns of a cache-line round trip between two threads of this process
/// (`lamellar_bench::cacheline`, as `core-pingpong` measures it, here with the PE's own
/// affinity). `None` if it could not be measured (reported on stderr).
pub fn cacheline_rtt(iters: usize) -> Option<(f64, f64)> {
    let (samples, batch) = plan(iters);
    match cacheline::round_trips(None, 1000, samples, batch) {
        Ok(v) => Some(summarize(v)),
        Err(e) => {
            eprintln!("lamellar-bench: cache-line round trip: {e}");
            None
        }
    }
}

/// The contended-atomic limit a direct histo on shmem runs against: two threads pinned to
/// CPUs 0 and 1 (where `--bind-to core` puts PEs 0 and 1) each do `per_thread` atomic adds
/// (`lock xadd`) on random entries of one shared table of `entries` u64. Returns ns per add
/// per thread, or `None` (reported on stderr) where the threads cannot be pinned.
pub fn random_xadd(entries: usize, per_thread: usize) -> Option<f64> {
    use rand::{Rng, SeedableRng};
    use std::sync::atomic::{AtomicU64, Ordering};
    let table: Vec<AtomicU64> = (0..entries).map(|_| AtomicU64::new(0)).collect();
    let start = std::sync::Barrier::new(2);
    let times: Vec<Result<f64, String>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|cpu| {
                let (table, start) = (&table, &start);
                s.spawn(move || {
                    let pinned = cacheline::pin(cpu);
                    start.wait();
                    pinned?;
                    let mut rng = rand::rngs::SmallRng::seed_from_u64(cpu as u64);
                    let t0 = std::time::Instant::now();
                    for _ in 0..per_thread {
                        table[rng.random_range(0..table.len())].fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(t0.elapsed().as_nanos() as f64 / per_thread as f64)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    let total: u64 = table.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    match times.into_iter().collect::<Result<Vec<f64>, String>>() {
        Ok(t) if total == 2 * per_thread as u64 => Some(t.iter().copied().fold(0.0, f64::max)),
        Ok(_) => {
            eprintln!("lamellar-bench: random_xadd: {total} adds counted, {} made", 2 * per_thread);
            None
        }
        Err(e) => {
            eprintln!("lamellar-bench: random_xadd: {e}");
            None
        }
    }
}

/// The hardware under an 8 B put + quiet, get and fetch_add on `word` (in a mapping shared
/// with the target PE where the backend gives a view of it), each without any of our code:
/// the library's bare loops (`lamellar_bench::bare`), as the criterion bench runs them.
/// Median and p99 ns per operation, by row name.
pub fn bare_word_ops(word: &Word, iters: usize) -> Vec<(&'static str, (f64, f64))> {
    let (samples, batch) = plan(iters);
    let warmup = batch.min(1000);
    let rows = [
        ("bare_store_fence", WordOp::StoreFence),
        ("bare_load", WordOp::Load),
        ("bare_xadd", WordOp::Xadd),
    ];
    rows.into_iter()
        .map(|(name, op)| (name, summarize(bare::samples(op, word, warmup, samples, batch))))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_xadd_counts_every_add_and_takes_time() {
        if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            assert_eq!(super::random_xadd(1024, 1000), None, "needs two CPUs to pin to");
            return;
        }
        let ns = super::random_xadd(1 << 16, 20_000).expect("measured");
        assert!(ns > 0.0 && ns.is_finite(), "{ns}");
    }
}
