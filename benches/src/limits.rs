//! The machine's own ceilings, measured in the same run as the transport: single-thread
//! memcpy bandwidth, and the round trip of one cache line between two threads.

use crate::buf::AlignedBuf;
use crate::stats::{plan, summarize, time_batches};

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
/// (`cacheline.rs`, as `core-pingpong` measures it, here with the PE's own affinity). `None`
/// if it could not be measured (reported on stderr).
pub fn cacheline_rtt(iters: usize) -> Option<(f64, f64)> {
    let (samples, batch) = plan(iters);
    match crate::cacheline::round_trips(None, 1000, samples, batch) {
        Ok(v) => Some(summarize(v)),
        Err(e) => {
            eprintln!("lamellar-bench: cache-line round trip: {e}");
            None
        }
    }
}
