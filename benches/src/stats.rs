//! Samples and their summary. A sample is the mean time per operation over one batch of
//! operations (timing each 20 ns operation alone would measure the clock, not the op).

use std::time::Instant;

/// Times `samples` batches of `batch` calls of `f`, after `warmup` untimed calls.
/// Returns nanoseconds per call, one value per batch.
pub fn time_batches<E>(
    warmup: usize,
    samples: usize,
    batch: usize,
    mut f: impl FnMut() -> Result<(), E>,
) -> Result<Vec<f64>, E> {
    let mut out = Vec::with_capacity(samples);
    // Round 0 is the warm-up, untimed. One call site for both, so that the compiler inlines
    // the operation into the loop as it would into a user's loop (with several it called
    // each op out of line, a call and register saves around a few instructions on shmem);
    // `--ops overhead` shows what the loop itself costs.
    for round in 0..=samples {
        let n = if round == 0 { warmup } else { batch };
        let t0 = Instant::now();
        for _ in 0..n {
            f()?;
        }
        if round > 0 {
            out.push(t0.elapsed().as_nanos() as f64 / batch as f64);
        }
    }
    Ok(out)
}

/// How to split `iters` operations into samples: (samples, batch).
pub fn plan(iters: usize) -> (usize, usize) {
    let samples = iters.clamp(1, 100);
    (samples, (iters / samples).max(1))
}

/// Median and 99th percentile (nearest rank).
pub fn summarize(mut v: Vec<f64>) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    let rank = ((0.99 * n as f64).ceil() as usize).clamp(1, n);
    (median, v[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p99() {
        let v: Vec<f64> = (1..=100).map(|x| x as f64).collect();
        assert_eq!(summarize(v), (50.5, 99.0));
        assert_eq!(summarize(vec![3.0, 1.0, 2.0]), (2.0, 3.0));
    }

    #[test]
    fn every_call_of_a_batch_is_made() {
        for batch in [1, 3, 4, 7, 8] {
            let mut calls = 0;
            let v = time_batches(2, 3, batch, || -> Result<(), ()> {
                calls += 1;
                Ok(())
            })
            .unwrap();
            assert_eq!((v.len(), calls), (3, 2 + 3 * batch), "batch {batch}");
        }
    }
}
