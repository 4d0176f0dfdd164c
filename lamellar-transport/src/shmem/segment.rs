//! One symmetric allocation on the shmem backend: every team member's object, mapped here.

use super::Shared;
use super::object::Mapping;
use crate::atomic::AtomicRequest;
use crate::backend::{OpToken, Segment};
use crate::error::Result;
use crate::mapped;
use crate::team::Team;
use std::sync::Arc;

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
// SAFETY: as for the impl above, for the same reason.
unsafe impl Sync for ShmemSegment {}

impl ShmemSegment {
    /// # Safety (for callers in this file)
    /// The safe layer checked that `pe` is a team member and `offset..offset+len` is inside
    /// the allocation, so the returned pointer is inside a live mapping.
    #[inline(always)]
    unsafe fn at(&self, pe: usize, offset: usize) -> *mut u8 {
        // `pe` is below num_pes, the length of `bases` (checked by the safe layer).
        // SAFETY: `pe` is below num_pes, the length of `bases`, and `offset` inside the
        // allocation (both checked by the safe layer): the result stays inside PE `pe`'s live
        // mapping.
        unsafe { self.bases.get_unchecked(pe).add(offset) }
    }
}

impl Segment for ShmemSegment {
    #[inline(always)]
    fn local_base(&self) -> *mut u8 {
        self.bases[self.shared.me]
    }

    #[inline]
    fn mapped_table(&self) -> Option<&[*mut u8]> {
        Some(&self.bases)
    }

    #[inline(always)]
    unsafe fn put(&self, pe: usize, offset: usize, src: *const u8, len: usize) -> Result<()> {
        // SAFETY: target range checked by the safe layer (so `at` is inside a live mapping);
        // `src` valid per the trait contract.
        unsafe { mapped::put(self.at(pe, offset), src, len) };
        Ok(())
    }

    #[inline(always)]
    unsafe fn get(&self, pe: usize, offset: usize, dst: *mut u8, len: usize) -> Result<()> {
        // SAFETY: as in `put`, with source and destination exchanged.
        unsafe { mapped::get(self.at(pe, offset), dst, len) };
        Ok(())
    }

    // A copy between mapped memories completes at once: non-blocking is blocking here.
    #[inline]
    unsafe fn put_nb(
        &self,
        pe: usize,
        offset: usize,
        src: *const u8,
        len: usize,
    ) -> Result<OpToken> {
        // SAFETY: forwarded contract; a copy between mapped memories completes at once.
        unsafe { self.put(pe, offset, src, len)? };
        Ok(OpToken::DONE)
    }

    #[inline]
    unsafe fn get_nb(&self, pe: usize, offset: usize, dst: *mut u8, len: usize) -> Result<OpToken> {
        // SAFETY: forwarded contract; a copy between mapped memories completes at once.
        unsafe { self.get(pe, offset, dst, len)? };
        Ok(OpToken::DONE)
    }

    #[inline(always)]
    fn atomic(&self, pe: usize, offset: usize, req: AtomicRequest) -> Result<u64> {
        // SAFETY: the safe layer checked range and alignment to the type's width, so the
        // word is an aligned atomic inside a live mapping shared only through atomics.
        Ok(unsafe { mapped::atomic(self.at(pe, offset), req) })
    }

    fn free(self) -> Result<()> {
        let mut coll = self.shared.lock_collectives();
        coll.agree(&self.team, self.seq, "free: allocation number")
        // Mappings are unmapped when `self` drops here.
    }
}
