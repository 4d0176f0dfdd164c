//! `SymHeap`: many small symmetric allocations carved from few large segments.
//!
//! Every [`Transport::alloc`] is a collective and a kernel object (a POSIX shared-memory
//! object, a memory registration, a `ucp_mem_map` and a key exchange), so a runtime that
//! allocates thousands of small symmetric objects runs into descriptor and mapping limits
//! and pays a collective each. A heap allocates one segment per `segment_len` bytes and
//! places blocks in it without communication: every member runs the same first-fit over the
//! same sequence of allocations and frees, so a block lands at the same offset on every
//! member. Only growth (a new segment) is collective.
//!
//! The rule that keeps blocks symmetric: the members allocate and free (or drop) a heap's
//! blocks in the same order, with the same sizes, as with any collective. Unlike
//! [`SymAlloc::free`] of a whole allocation, a block's free does not wait for the members
//! (it would cost a barrier): a block a peer may still write is freed after a barrier.

use crate::backend::{Backend, Segment};
use crate::dispatch::AnySegment;
use crate::error::{Error, Result};
use crate::memory::SymAlloc;
use crate::team::Team;
use crate::transport::Transport;
use crate::typed::{SymArray, bytes_for};
use bytemuck::Pod;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Blocks start on cache lines: no two blocks share one (no false sharing between PEs
/// working on neighbouring objects), and every `T` up to 64-byte alignment fits.
const ALIGN: usize = 64;

/// A symmetric heap over a team, made by [`Transport::sym_heap`]. `Send` and `Sync`.
pub struct SymHeap {
    transport: Transport,
    team: Team,
    segment_len: usize,
    state: Arc<Mutex<Heap>>,
}

impl std::fmt::Debug for SymHeap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymHeap")
            .field("team", &self.team.pes())
            .field("segment_len", &self.segment_len)
            .field("segments", &self.segments())
            .finish()
    }
}

#[derive(Default)]
pub(crate) struct Heap {
    segments: Vec<Arc<AnySegment>>,
    /// Per segment: the free ranges, offset -> length, never two adjacent.
    free: Vec<BTreeMap<usize, usize>>,
}

/// A block's place in its heap; returns it there when dropped.
struct Block {
    heap: Arc<Mutex<Heap>>,
    segment: usize,
    offset: usize,
    len: usize,
}

impl Drop for Block {
    fn drop(&mut self) {
        lock(&self.heap).release(self.segment, self.offset, self.len);
    }
}

fn lock(heap: &Mutex<Heap>) -> MutexGuard<'_, Heap> {
    heap.lock().unwrap_or_else(|p| p.into_inner())
}

impl Heap {
    /// First fit, in segment and address order: the same choice on every member.
    fn take(&mut self, len: usize) -> Option<(usize, usize)> {
        for (s, free) in self.free.iter_mut().enumerate() {
            let Some((&off, &have)) = free.iter().find(|(_, l)| **l >= len) else { continue };
            free.remove(&off);
            if have > len {
                free.insert(off + len, have - len);
            }
            return Some((s, off));
        }
        None
    }

    /// Returns a range, merged with its free neighbours.
    fn release(&mut self, segment: usize, mut offset: usize, mut len: usize) {
        let free = &mut self.free[segment];
        if let Some((&o, &l)) = free.range(..offset).next_back()
            && o + l == offset
        {
            free.remove(&o);
            (offset, len) = (o, l + len);
        }
        if let Some(l) = free.remove(&(offset + len)) {
            len += l;
        }
        free.insert(offset, len);
    }
}

impl Transport {
    /// A heap over `team` (this PE must be a member) that grows by segments of
    /// `segment_len` bytes (larger for a larger block). No communication until the first
    /// allocation.
    pub fn sym_heap(&self, team: &Team, segment_len: usize) -> Result<SymHeap> {
        self.check_member(team)?;
        if segment_len < ALIGN {
            return Err(Error::InvalidArgument(format!(
                "a heap segment of {segment_len} B is smaller than one block ({ALIGN} B)"
            )));
        }
        Ok(SymHeap {
            transport: self.clone(),
            team: team.clone(),
            segment_len,
            state: Arc::default(),
        })
    }
}

impl SymHeap {
    /// Collective in the heap's order (see the module): `len` bytes on every member, with
    /// the bounds checks and views of any [`SymAlloc`]. Grows the heap by a segment (a
    /// collective [`Transport::alloc_team`]) when no free range fits.
    pub fn alloc(&self, len: usize) -> Result<SymAlloc> {
        let size = len.max(1).checked_next_multiple_of(ALIGN).ok_or_else(|| {
            Error::InvalidArgument(format!("a heap block of {len} B is too large"))
        })?;
        let mut heap = lock(&self.state);
        let (segment, offset) = match heap.take(size) {
            Some(place) => place,
            None => {
                let seg_len = size.max(self.segment_len);
                let seg = self.transport.backend().alloc(&self.team, seg_len)?;
                heap.segments.push(Arc::new(seg));
                heap.free.push(BTreeMap::from([(0, seg_len)]));
                heap.take(size).expect("a fresh segment fits the block")
            }
        };
        let seg = heap.segments[segment].clone();
        drop(heap);
        let block = Block { heap: self.state.clone(), segment, offset, len: size };
        let t = self.transport.clone();
        Ok(SymAlloc::carved(seg, offset, len, self.team.clone(), t, Some(Box::new(block))))
    }

    /// [`SymHeap::alloc`] of `len` elements of `T`.
    pub fn alloc_array<T: Pod>(&self, len: usize) -> Result<SymArray<T>> {
        if size_of::<T>() == 0 {
            return Err(Error::InvalidArgument("zero-sized element type".into()));
        }
        Ok(SymArray::from_bytes(self.alloc(bytes_for::<T>(len)?)?, len))
    }

    /// Segments allocated so far.
    pub fn segments(&self) -> usize {
        lock(&self.state).segments.len()
    }

    pub fn team(&self) -> &Team {
        &self.team
    }

    /// Collective: frees the heap's segments. Every block must be gone (freed or dropped)
    /// first; otherwise `InvalidArgument` and nothing is freed.
    pub fn free(self) -> Result<()> {
        let mut heap = lock(&self.state);
        let live = heap.segments.iter().any(|s| Arc::strong_count(s) > 1);
        if live {
            return Err(Error::InvalidArgument("the heap still has live blocks".into()));
        }
        let segments = std::mem::take(&mut heap.segments);
        drop(heap);
        let mut first_error = Ok(());
        for seg in segments {
            let r = Arc::try_unwrap(seg).map_err(|_| ()).expect("no block holds it").free();
            if first_error.is_ok() {
                first_error = r;
            }
        }
        first_error
    }
}
