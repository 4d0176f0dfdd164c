//! One symmetric allocation on the shmem backend: every team member's object, mapped here.

use super::Shared;
use super::object::Mapping;
use crate::atomic::{AtomicOp, AtomicRequest};
use crate::backend::{OpToken, Segment};
use crate::error::Result;
use crate::team::Team;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

pub struct ShmemSegment {
    /// Base address of each world PE's part; null for PEs outside the team.
    pub(super) bases: Vec<*mut u8>,
    /// Owns the mappings behind `bases`.
    pub(super) _maps: Vec<Mapping>,
    pub(super) team: Team,
    /// Creation number within the team: what `free` checks every member agrees on.
    pub(super) seq: u64,
    pub(super) shared: Arc<Shared>,
}

// SAFETY: the raw pointers point into mappings owned by `_maps`, which live as long as the
// segment; the bytes behind them are shared with other processes and accessed only by
// copies and atomics, never through references.
unsafe impl Send for ShmemSegment {}
unsafe impl Sync for ShmemSegment {}

impl ShmemSegment {
    /// # Safety (for callers in this file)
    /// The safe layer checked that `pe` is a team member and `offset..offset+len` is inside
    /// the allocation, so the returned pointer is inside a live mapping.
    unsafe fn at(&self, pe: usize, offset: usize) -> *mut u8 {
        unsafe { self.bases[pe].add(offset) }
    }
}

fn apply32(w: &AtomicU32, op: AtomicOp, x: u32, cmp: u32) -> u32 {
    let o = Ordering::SeqCst;
    match op {
        AtomicOp::Fetch => w.load(o),
        AtomicOp::Set => {
            w.store(x, o);
            0
        }
        AtomicOp::Swap => w.swap(x, o),
        AtomicOp::CompareSwap => w.compare_exchange(cmp, x, o, o).unwrap_or_else(|v| v),
        AtomicOp::FetchAdd | AtomicOp::Add => w.fetch_add(x, o),
        AtomicOp::FetchAnd | AtomicOp::And => w.fetch_and(x, o),
        AtomicOp::FetchOr | AtomicOp::Or => w.fetch_or(x, o),
        AtomicOp::FetchXor | AtomicOp::Xor => w.fetch_xor(x, o),
    }
}

fn apply64(w: &AtomicU64, op: AtomicOp, x: u64, cmp: u64) -> u64 {
    let o = Ordering::SeqCst;
    match op {
        AtomicOp::Fetch => w.load(o),
        AtomicOp::Set => {
            w.store(x, o);
            0
        }
        AtomicOp::Swap => w.swap(x, o),
        AtomicOp::CompareSwap => w.compare_exchange(cmp, x, o, o).unwrap_or_else(|v| v),
        AtomicOp::FetchAdd | AtomicOp::Add => w.fetch_add(x, o),
        AtomicOp::FetchAnd | AtomicOp::And => w.fetch_and(x, o),
        AtomicOp::FetchOr | AtomicOp::Or => w.fetch_or(x, o),
        AtomicOp::FetchXor | AtomicOp::Xor => w.fetch_xor(x, o),
    }
}

impl Segment for ShmemSegment {
    fn local_base(&self) -> *mut u8 {
        self.bases[self.shared.me]
    }

    fn peer_base(&self, pe: usize) -> Option<*mut u8> {
        self.bases.get(pe).copied().filter(|p| !p.is_null())
    }

    unsafe fn put(&self, pe: usize, offset: usize, src: *const u8, len: usize) -> Result<()> {
        // SAFETY: target range checked by the safe layer; `src` valid per the trait
        // contract; `copy` (memmove) because a put to oneself may overlap the source.
        unsafe { std::ptr::copy(src, self.at(pe, offset), len) };
        Ok(())
    }

    unsafe fn get(&self, pe: usize, offset: usize, dst: *mut u8, len: usize) -> Result<()> {
        // SAFETY: as in `put`, with source and destination exchanged.
        unsafe { std::ptr::copy(self.at(pe, offset), dst, len) };
        Ok(())
    }

    // A copy between mapped memories completes at once: non-blocking is blocking here.
    unsafe fn put_nb(&self, pe: usize, offset: usize, src: *const u8, len: usize) -> Result<OpToken> {
        unsafe { self.put(pe, offset, src, len)? };
        Ok(OpToken::DONE)
    }

    unsafe fn get_nb(&self, pe: usize, offset: usize, dst: *mut u8, len: usize) -> Result<OpToken> {
        unsafe { self.get(pe, offset, dst, len)? };
        Ok(OpToken::DONE)
    }

    fn atomic(&self, pe: usize, offset: usize, req: AtomicRequest) -> Result<u64> {
        // SAFETY: the safe layer checked range and alignment to the type's width, so the
        // word is a valid, aligned atomic inside a live mapping shared only through atomics.
        let old = unsafe {
            let p = self.at(pe, offset);
            if req.ty.width() == 4 {
                apply32(AtomicU32::from_ptr(p.cast()), req.op, req.operand as u32, req.compare as u32) as u64
            } else {
                apply64(AtomicU64::from_ptr(p.cast()), req.op, req.operand, req.compare)
            }
        };
        Ok(old)
    }

    fn free(self: Box<Self>) -> Result<()> {
        let mut coll = self.shared.lock_collectives();
        coll.agree(&self.team, self.seq, "free: allocation number")
        // Mappings are unmapped when `self` drops here.
    }
}
