//! The hardware under an 8 B put, get and fetch_add on shared memory, with none of our code:
//! a store and a full fence (what put + quiet is there), a load, a load stored into a local
//! buffer (the least a get into a buffer does) and a `lock xadd`. One loop per operation, run
//! by lamellar-bench's `limits` rows (`bare_*`) and by the criterion bench (`bare/*`), so
//! that both report the same machine floor.

use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::{Duration, Instant};

/// An operation on one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordOp {
    StoreFence,
    Load,
    LoadStore,
    Xadd,
}

impl WordOp {
    pub const ALL: [WordOp; 4] =
        [WordOp::StoreFence, WordOp::Load, WordOp::LoadStore, WordOp::Xadd];

    /// Its name in row names (`bare_<name>`, `bare/<name>`).
    pub fn name(self) -> &'static str {
        match self {
            WordOp::StoreFence => "store_fence",
            WordOp::Load => "load",
            WordOp::LoadStore => "load_store",
            WordOp::Xadd => "xadd",
        }
    }
}

/// A u64 the loops may read, write and add to: typically the target PE's word, mapped here.
pub struct Word(*mut u64);

impl Word {
    /// # Safety
    /// `ptr` must be aligned and valid for reads and writes for as long as the `Word` lives,
    /// and while a loop runs nobody else may access it, except atomically.
    pub unsafe fn new(ptr: *mut u64) -> Word {
        Word(ptr)
    }
}

/// `n` of `op` on `word`, back to back, and the time they took.
pub fn time(op: WordOp, word: &Word, n: u64) -> Duration {
    let p = word.0;
    match op {
        WordOp::StoreFence => {
            let mut x = 0u64;
            timed(n, || {
                x = x.wrapping_add(1);
                // SAFETY: `p` is valid and aligned, and ours alone meanwhile (`Word::new`).
                unsafe { p.write_volatile(std::hint::black_box(x)) };
                fence(Ordering::SeqCst);
            })
        }
        WordOp::Load => timed(n, || {
            // SAFETY: as above.
            std::hint::black_box(unsafe { p.read_volatile() });
        }),
        WordOp::LoadStore => {
            let mut sink = 0u64;
            timed(n, || {
                // SAFETY: as above; `sink` is a local.
                unsafe { std::ptr::write_volatile(&mut sink, p.read_volatile()) };
            })
        }
        WordOp::Xadd => timed(n, || {
            // SAFETY: as above; nobody accesses the word non-atomically meanwhile.
            let word = unsafe { AtomicU64::from_ptr(p) };
            std::hint::black_box(word.fetch_add(1, Ordering::SeqCst));
        }),
    }
}

/// `samples` batches of `batch` operations after `warmup` untimed ones: ns per operation, one
/// value per batch (as `stats::time_batches` samples every other row).
pub fn samples(op: WordOp, word: &Word, warmup: usize, samples: usize, batch: usize) -> Vec<f64> {
    let batch = batch.max(1);
    time(op, word, warmup as u64);
    (0..samples).map(|_| time(op, word, batch as u64).as_nanos() as f64 / batch as f64).collect()
}

/// The loop itself: inlined with `op` into each arm above, so that each operation is timed
/// back to back, not as a call.
#[inline(always)]
fn timed(n: u64, mut op: impl FnMut()) -> Duration {
    let t0 = Instant::now();
    for _ in 0..n {
        op();
    }
    t0.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_runs_on_the_word_and_takes_time() {
        let mut w = 0u64;
        // SAFETY: `w` is a live, aligned local that only these loops touch until the end.
        let word = unsafe { Word::new(&mut w) };
        for op in WordOp::ALL {
            let v = samples(op, &word, 10, 3, 1000);
            assert_eq!(v.len(), 3, "{op:?}");
            assert!(v.iter().all(|ns| ns.is_finite() && *ns >= 0.0), "{op:?}: {v:?}");
        }
        // The last batch of stores left its count (1000); each xadd then added one.
        assert_eq!(w, 1000 + 3010);
    }
}
