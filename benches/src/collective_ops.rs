//! The collective rows, every PE taking part, PE 0 reporting:
//! - `broadcast`: PE 0's buffer of `bytes` to every PE.
//! - `allreduce`: a sum of `bytes / 8` u64 (at least one) over every PE.
//! - `allgather`: every PE's block of `bytes` to every PE (each ends with P blocks).
//! - `alltoall`: every PE's `bytes`, in P blocks of `bytes / P`, block i to PE i.
//! - `heap_alloc`: a `SymHeap` block of `bytes` allocated and freed, once the heap has a
//!   segment (no communication).
//! - `alloc`: the same with `Transport::alloc` and `free` (each a collective and a kernel
//!   object): what a heap block saves.

use crate::ops::Bench;
use lamellar_bench::stats::time_batches;
use lamellar_transport::{ReduceOp, Result};

/// Rounds of a collective allocation per measurement at most: each costs a collective and a
/// kernel object, which thousands would turn into minutes.
const ALLOC_ITERS: usize = 200;

pub const COLLECTIVE_OPS: [&str; 6] =
    ["broadcast", "allreduce", "allgather", "alltoall", "heap_alloc", "alloc"];

impl Bench<'_> {
    /// One collective row; every PE runs it, PE 0's samples come back.
    pub fn collective(
        &self,
        op: &str,
        bytes: usize,
        warmup: usize,
        samples: usize,
        batch: usize,
    ) -> Result<Vec<f64>> {
        let t = self.t;
        let n = t.num_pes();
        match op {
            "heap_alloc" => {
                let heap = t.sym_heap(t.world(), (bytes.max(64) * 16).max(1 << 20))?;
                drop(heap.alloc(bytes)?); // the segment
                let v = time_batches(warmup, samples, batch, || heap.alloc(bytes).map(drop))?;
                t.barrier()?;
                heap.free()?;
                return Ok(v);
            }
            "alloc" => {
                let (samples, batch) = (samples.clamp(1, ALLOC_ITERS / 10), 10);
                return time_batches(10, samples, batch, || t.alloc(bytes)?.free());
            }
            _ => {}
        }
        let c = t.collectives(t.world())?;
        let v = match op {
            "broadcast" => {
                let mut buf = vec![1u8; bytes];
                time_batches(warmup, samples, batch, || c.broadcast(0, &mut buf))?
            }
            "allreduce" => {
                let mut buf = vec![1u64; (bytes / 8).max(1)];
                time_batches(warmup, samples, batch, || c.allreduce(ReduceOp::Sum, &mut buf))?
            }
            "allgather" => {
                let src = vec![1u8; bytes];
                let mut dst = vec![0u8; bytes * n];
                time_batches(warmup, samples, batch, || c.allgather(&src, &mut dst))?
            }
            _ => {
                let block = (bytes / n).max(1);
                let src = vec![1u8; block * n];
                let mut dst = vec![0u8; block * n];
                time_batches(warmup, samples, batch, || c.alltoall(&src, &mut dst))?
            }
        };
        Ok(v)
    }
}
