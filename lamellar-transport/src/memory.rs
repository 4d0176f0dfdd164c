//! `SymAlloc`: one collective symmetric allocation, addressed by (PE, byte offset).
//!
//! Every call checks its arguments here, before any byte moves: the PE is in range and a
//! member of the allocation's team, the range is inside the allocation, atomics are aligned
//! and supported. Backends below see only valid requests. A put or get to a PE whose part is
//! mapped into this process checks all of that with one entry of a per-allocation table and
//! one range compare (`direct`), and copies; everything else takes the full checks, then the
//! segment.

use crate::atomic::{AtomicOp, AtomicRequest, AtomicSupport, AtomicType, RemoteAtomic};
use crate::backend::{Backend, Segment};
use crate::backoff::Tries;
use crate::dispatch::AnySegment;
use crate::error::{Error, Result};
use crate::mapped;
use crate::team::Team;
use crate::transport::Transport;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// A symmetric allocation: `len` bytes on every PE of its team, made by
/// [`Transport::alloc`] or [`Transport::alloc_team`].
///
/// Release it with the collective [`SymAlloc::free`]. Dropping it without `free` only
/// releases this PE's local resources (no communication, so it cannot hang); peers that
/// still address this PE's part may then see errors on backends with registered memory. (On
/// ucx the part stays mapped until the transport ends: UCX over tcp writes a peer's put
/// without checking it against a key.)
pub struct SymAlloc {
    seg: Arc<AnySegment>,
    /// Where this allocation starts in its segment: 0, or a [`SymHeap`](crate::SymHeap) block's place.
    origin: usize,
    /// This PE's part as an address, read once: it never moves, and the alignment check of
    /// every atomic needs it (one virtual call less per operation).
    base_addr: usize,
    len: usize,
    team: Team,
    /// Membership by world PE; `None` for the world team (every PE is a member).
    members: Option<Vec<bool>>,
    /// PEs in the job: the bound of every PE check, kept here so that a check needs nothing
    /// from the transport.
    npes: usize,
    transport: Transport,
    /// What a carved allocation gives back when it is freed or dropped (a heap block's
    /// place in its heap); None for a whole segment.
    carved_from: Option<Box<dyn Send + Sync>>,
    /// Per world PE, where this allocation's first byte on that PE is mapped into this
    /// process: non-null only for a member whose part the segment maps here.
    direct: Direct,
}

/// The table that makes a put or get to a mapped PE one lookup, one range compare and a copy:
/// an entry in it says the PE is in range, a member and mapped (no match over the backends,
/// no call into the segment). Every other case (errors, PEs reached through the backend)
/// takes the checked path.
struct Direct(Box<[*mut u8]>);

// SAFETY: the entries point into mappings of the segment that the same `SymAlloc` keeps
// alive (its `Arc`), and the table is never written after the allocation is made.
unsafe impl Send for Direct {}
// SAFETY: as for Send.
unsafe impl Sync for Direct {}

impl Transport {
    /// Collective over all PEs: `len` bytes on every PE. Every PE must pass the same `len`;
    /// otherwise every PE gets [`crate::ErrorKind::SizeMismatch`] and nothing is allocated.
    pub fn alloc(&self, len: usize) -> Result<SymAlloc> {
        self.alloc_team(&self.world().clone(), len)
    }

    /// Collective over the members of `team` (this PE must be one).
    pub fn alloc_team(&self, team: &Team, len: usize) -> Result<SymAlloc> {
        self.check_member(team)?;
        let seg = self.backend().alloc(team, len)?;
        Ok(SymAlloc::new(seg, len, team.clone(), self.clone()))
    }
}

impl std::fmt::Debug for SymAlloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymAlloc").field("len", &self.len).field("team", &self.team.pes()).finish()
    }
}

impl SymAlloc {
    pub(crate) fn new(seg: AnySegment, len: usize, team: Team, transport: Transport) -> SymAlloc {
        SymAlloc::carved(Arc::new(seg), 0, len, team, transport, None)
    }

    /// `len` bytes at `origin` of a segment shared with other allocations (a heap's).
    pub(crate) fn carved(
        seg: Arc<AnySegment>,
        origin: usize,
        len: usize,
        team: Team,
        transport: Transport,
        carved_from: Option<Box<dyn Send + Sync>>,
    ) -> SymAlloc {
        let n = transport.num_pes();
        let members = (team.len() != n).then(|| {
            let mut m = vec![false; n];
            team.pes().iter().for_each(|&p| m[p] = true);
            m
        });
        let table = seg.mapped_table().filter(|t| t.len() == n).unwrap_or(&[]);
        let direct = (0..n)
            .map(|pe| match table.get(pe) {
                Some(&base) if !base.is_null() && members.as_ref().is_none_or(|m| m[pe]) => {
                    base.wrapping_add(origin)
                }
                _ => std::ptr::null_mut(),
            })
            .collect();
        SymAlloc {
            direct: Direct(direct),
            base_addr: seg.local_base() as usize + origin,
            seg,
            origin,
            len,
            team,
            members,
            npes: n,
            transport,
            carved_from,
        }
    }

    #[inline(always)]
    fn seg(&self) -> &AnySegment {
        &self.seg
    }

    /// Bytes on each PE.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The PEs this allocation lives on.
    pub fn team(&self) -> &Team {
        &self.team
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Start of this PE's own part. Other PEs may write it at any time: read it with
    /// [`SymAlloc::local_load`] or after a barrier, never through a `&[u8]` held across one.
    pub fn local_ptr(&self) -> *mut u8 {
        // SAFETY: the allocation's `len` bytes start at `origin` inside the segment's part.
        unsafe { self.seg().local_base().add(self.origin) }
    }

    // The checks below run on every operation: inlined, with the building of an error (a
    // format!) kept out of line, they cost a few compares per op instead of calls.
    #[inline(always)]
    pub(crate) fn check_pe(&self, pe: usize) -> Result<()> {
        let member = pe < self.npes && self.members.as_ref().is_none_or(|m| m[pe]);
        if member { Ok(()) } else { Err(self.bad_pe(pe)) }
    }

    #[cold]
    #[inline(never)]
    fn bad_pe(&self, pe: usize) -> Error {
        let n = self.transport.num_pes();
        let why = if pe >= n {
            format!("num_pes = {n}")
        } else {
            format!("not a member of the allocation's team {:?}", self.team.pes())
        };
        Error::BadPe { pe, why }
    }

    #[inline(always)]
    pub(crate) fn check_range(&self, offset: usize, len: usize) -> Result<()> {
        if self.fits(offset, len) {
            Ok(())
        } else {
            Err(Error::OutOfBounds { offset, len, size: self.len })
        }
    }

    #[inline]
    pub(crate) fn check_atomic(
        &self,
        pe: usize,
        offset: usize,
        op: AtomicOp,
        ty: AtomicType,
    ) -> Result<()> {
        self.check_pe(pe)?;
        self.check_word(offset, ty.width())?;
        if self.transport.atomic_support(op, ty) == AtomicSupport::Unsupported {
            return Err(self.unsupported(op, ty));
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn unsupported(&self, op: AtomicOp, ty: AtomicType) -> Error {
        Error::Unsupported {
            backend: self.transport.backend_name(),
            what: format!("atomic {op:?} on {ty:?}"),
        }
    }

    /// Copies `src` to `offset` on `pe`. Returns when `src` may be reused; the data is
    /// visible at the target after [`Transport::quiet`] or [`Transport::barrier`].
    #[inline(always)]
    pub fn put(&self, pe: usize, offset: usize, src: &[u8]) -> Result<()> {
        if !self.fits(offset, src.len()) {
            return self.put_other(pe, offset, src);
        }
        self.put_in_range(pe, offset, src)
    }

    /// `put` for a caller that checked the range (the typed views): one check per operation.
    #[inline(always)]
    pub(crate) fn put_in_range(&self, pe: usize, offset: usize, src: &[u8]) -> Result<()> {
        let base = self.direct(pe);
        if base.is_null() {
            return self.put_other(pe, offset, src);
        }
        // SAFETY: `pe`'s part is mapped for the allocation's length (`direct`) and the caller
        // checked the range inside it; `src` is a live borrow.
        unsafe { mapped::put(base.add(offset), src.as_ptr(), src.len()) };
        Ok(())
    }

    /// A put that `direct` does not cover: checked, then the segment's (or an error). Out of
    /// line, so that the mapped path stays a few instructions in the caller's loop.
    #[inline(never)]
    fn put_other(&self, pe: usize, offset: usize, src: &[u8]) -> Result<()> {
        self.check_pe(pe)?;
        self.check_range(offset, src.len())?;
        // SAFETY: `src` is a live borrow for the whole call; the range was checked.
        unsafe { self.seg().put(pe, self.origin + offset, src.as_ptr(), src.len()) }
    }

    /// Copies `dst.len()` bytes from `offset` on `pe`. Returns with the data in `dst`.
    #[inline(always)]
    pub fn get(&self, pe: usize, offset: usize, dst: &mut [u8]) -> Result<()> {
        if !self.fits(offset, dst.len()) {
            return self.get_other(pe, offset, dst);
        }
        self.get_in_range(pe, offset, dst)
    }

    /// `get` for a caller that checked the range.
    #[inline(always)]
    pub(crate) fn get_in_range(&self, pe: usize, offset: usize, dst: &mut [u8]) -> Result<()> {
        let base = self.direct(pe);
        if base.is_null() {
            return self.get_other(pe, offset, dst);
        }
        // SAFETY: as in `put_in_range`, with source and destination exchanged.
        unsafe { mapped::get(base.add(offset), dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    /// A get that `direct` does not cover (see `put_other`).
    #[inline(never)]
    fn get_other(&self, pe: usize, offset: usize, dst: &mut [u8]) -> Result<()> {
        self.check_pe(pe)?;
        self.check_range(offset, dst.len())?;
        // SAFETY: `dst` is a live exclusive borrow for the whole call; the range was checked.
        unsafe { self.seg().get(pe, self.origin + offset, dst.as_mut_ptr(), dst.len()) }
    }

    /// The `T` at `offset` on `pe`, by value, if `pe`'s part is mapped here (`None`: take the
    /// checked path). By value, nothing of the caller's is written, so in a loop of these the
    /// compiler keeps the lookup in registers; a `get` into a slice stores into memory it must
    /// assume the next lookup reads. The caller checked the range.
    #[inline(always)]
    pub(crate) fn read_direct<T: bytemuck::Pod>(&self, pe: usize, offset: usize) -> Option<T> {
        let base = self.direct(pe);
        if base.is_null() {
            return None;
        }
        let mut v = T::zeroed();
        // SAFETY: as in `get_in_range`; `v` is a local of `size_of::<T>()` bytes.
        unsafe { mapped::get(base.add(offset), (&raw mut v).cast(), size_of::<T>()) };
        Some(v)
    }

    /// Where this allocation starts on `pe` as mapped into this process if `pe` is a member
    /// whose part is mapped here, else null (any `pe`: out of range is null). A raw pointer
    /// rather than an `Option`, which the compiler materialized as a flag and tested twice.
    #[inline(always)]
    fn direct(&self, pe: usize) -> *mut u8 {
        self.direct.0.get(pe).copied().unwrap_or(std::ptr::null_mut())
    }

    /// `len` bytes at `offset` are inside the allocation.
    #[inline(always)]
    fn fits(&self, offset: usize, len: usize) -> bool {
        offset.checked_add(len).is_some_and(|end| end <= self.len)
    }

    /// Any remote atomic: `operand` is the value to add/and/or/xor/set/swap (or the new value
    /// of a compare-swap), `compare` the expected value of a compare-swap. Returns the old
    /// value for fetching ops, zero otherwise. Blocking: complete at the target on return.
    #[inline(always)]
    pub fn atomic<T: RemoteAtomic>(
        &self,
        pe: usize,
        offset: usize,
        op: AtomicOp,
        operand: T,
        compare: T,
    ) -> Result<T> {
        self.check_pe(pe)?;
        self.check_word(offset, T::TYPE.width())?;
        self.atomic_checked(pe, offset, op, operand, compare)
    }

    /// `atomic` for a caller that checked the word (in range and aligned: the typed views,
    /// whose elements are their own width on an aligned base).
    #[inline(always)]
    pub(crate) fn atomic_on_word<T: RemoteAtomic>(
        &self,
        pe: usize,
        offset: usize,
        op: AtomicOp,
        operand: T,
        compare: T,
    ) -> Result<T> {
        self.check_pe(pe)?;
        self.atomic_checked(pe, offset, op, operand, compare)
    }

    #[inline(always)]
    fn atomic_checked<T: RemoteAtomic>(
        &self,
        pe: usize,
        offset: usize,
        op: AtomicOp,
        operand: T,
        compare: T,
    ) -> Result<T> {
        if self.transport.atomic_support(op, T::TYPE) == AtomicSupport::Unsupported {
            return Err(self.unsupported(op, T::TYPE));
        }
        let req = AtomicRequest {
            op,
            ty: T::TYPE,
            operand: operand.to_bits(),
            compare: compare.to_bits(),
        };
        self.seg().atomic(pe, self.origin + offset, req).map(T::from_bits)
    }

    pub fn atomic_fetch<T: RemoteAtomic>(&self, pe: usize, offset: usize) -> Result<T> {
        self.atomic(pe, offset, AtomicOp::Fetch, T::zeroed(), T::zeroed())
    }
    pub fn atomic_set<T: RemoteAtomic>(&self, pe: usize, offset: usize, value: T) -> Result<()> {
        self.atomic(pe, offset, AtomicOp::Set, value, T::zeroed()).map(drop)
    }
    pub fn atomic_swap<T: RemoteAtomic>(&self, pe: usize, offset: usize, value: T) -> Result<T> {
        self.atomic(pe, offset, AtomicOp::Swap, value, T::zeroed())
    }
    /// Writes `new` if the word equals `current`; returns the old value (equal to `current`
    /// exactly when the swap happened).
    pub fn atomic_compare_swap<T: RemoteAtomic>(
        &self,
        pe: usize,
        offset: usize,
        current: T,
        new: T,
    ) -> Result<T> {
        self.atomic(pe, offset, AtomicOp::CompareSwap, new, current)
    }
    pub fn atomic_fetch_add<T: RemoteAtomic>(
        &self,
        pe: usize,
        offset: usize,
        value: T,
    ) -> Result<T> {
        self.atomic(pe, offset, AtomicOp::FetchAdd, value, T::zeroed())
    }
    pub fn atomic_add<T: RemoteAtomic>(&self, pe: usize, offset: usize, value: T) -> Result<()> {
        self.atomic(pe, offset, AtomicOp::Add, value, T::zeroed()).map(drop)
    }
    pub fn atomic_fetch_and<T: RemoteAtomic>(
        &self,
        pe: usize,
        offset: usize,
        value: T,
    ) -> Result<T> {
        self.atomic(pe, offset, AtomicOp::FetchAnd, value, T::zeroed())
    }
    pub fn atomic_fetch_or<T: RemoteAtomic>(
        &self,
        pe: usize,
        offset: usize,
        value: T,
    ) -> Result<T> {
        self.atomic(pe, offset, AtomicOp::FetchOr, value, T::zeroed())
    }
    pub fn atomic_fetch_xor<T: RemoteAtomic>(
        &self,
        pe: usize,
        offset: usize,
        value: T,
    ) -> Result<T> {
        self.atomic(pe, offset, AtomicOp::FetchXor, value, T::zeroed())
    }
    pub fn atomic_and<T: RemoteAtomic>(&self, pe: usize, offset: usize, value: T) -> Result<()> {
        self.atomic(pe, offset, AtomicOp::And, value, T::zeroed()).map(drop)
    }
    pub fn atomic_or<T: RemoteAtomic>(&self, pe: usize, offset: usize, value: T) -> Result<()> {
        self.atomic(pe, offset, AtomicOp::Or, value, T::zeroed()).map(drop)
    }
    pub fn atomic_xor<T: RemoteAtomic>(&self, pe: usize, offset: usize, value: T) -> Result<()> {
        self.atomic(pe, offset, AtomicOp::Xor, value, T::zeroed()).map(drop)
    }

    /// Reads a word of this PE's own part with an acquire load, without the backend: the
    /// way to poll for a flag that a peer puts.
    pub fn local_load<T: RemoteAtomic>(&self, offset: usize) -> Result<T> {
        let word = self.local_word::<T>(offset)?;
        // SAFETY: local_word checked the word (in range, aligned, mapped while self lives).
        Ok(unsafe { load_word::<T>(word) })
    }

    /// Waits until the word at `offset` of this PE's own part satisfies `pred`, and returns
    /// the value that did (OpenSHMEM's `shmem_wait_until`): the way to wait for a flag a peer
    /// puts. The transport makes progress while it polls, so a put over a software transport
    /// lands without a progress thread's help. Ends in `ErrorKind::Timeout` after
    /// [`Transport::timeout`]; the offset is checked as for [`SymAlloc::local_load`].
    ///
    /// As with any put, a flag seen here says nothing about other data the peer put unless
    /// the peer ordered them (quiet or fence between the data and the flag).
    pub fn wait_until<T: RemoteAtomic>(
        &self,
        offset: usize,
        mut pred: impl FnMut(T) -> bool,
    ) -> Result<T> {
        let word = self.local_word::<T>(offset)?;
        // SAFETY: local_word checked the word; self outlives this call.
        let mut seen = unsafe { load_word::<T>(word) };
        if pred(seen) {
            return Ok(seen);
        }
        let what = || {
            format!(
                "word at offset {offset} of PE {} to satisfy a wait_until",
                self.transport.my_pe()
            )
        };
        let backend = self.transport.backend();
        let kind = if backend.has_progress() { Tries::Progress } else { Tries::Look };
        crate::backoff::wait_until(
            self.transport.timeout(),
            kind,
            what,
            || backend.progress(),
            // One look per progress call, right after it. Over software transports (tcp;
            // libfabric's shm, for small puts) a peer's put lands only inside this PE's
            // progress, so looks in between see nothing new; where it lands by itself (UCX's
            // shared-memory transports store straight into the mapping), each look pulls the
            // flag's cache line back from the writer, and looking more often slowed the
            // writer's store (measured: docs/design-measurements.md).
            || {
                // SAFETY: as for the first load above.
                seen = unsafe { load_word::<T>(word) };
                pred(seen)
            },
            || Ok(()),
        )?;
        Ok(seen)
    }

    /// A word of `w` bytes at `offset`: inside the allocation and aligned to its width
    /// (atomics and flag loads).
    #[inline(always)]
    fn check_word(&self, offset: usize, w: usize) -> Result<()> {
        self.check_range(offset, w)?;
        if (self.base_addr + offset) % w != 0 {
            return Err(Error::Misaligned { offset, align: w });
        }
        Ok(())
    }

    /// The address of the `T` at `offset` of this PE's own part: in range and aligned.
    pub(crate) fn local_word<T: RemoteAtomic>(&self, offset: usize) -> Result<*mut u8> {
        self.check_word(offset, T::TYPE.width())?;
        // SAFETY: offset + width is within this PE's part (checked), so the result stays
        // inside the mapping local_ptr points into.
        Ok(unsafe { self.local_ptr().add(offset) })
    }

    /// The segment, and where this allocation starts in it (callers add it to offsets).
    pub(crate) fn segment(&self) -> (&AnySegment, usize) {
        (self.seg(), self.origin)
    }

    /// The segment shared, for an operation that may outlive this handle (`AsyncOp`).
    pub(crate) fn segment_shared(&self) -> Arc<AnySegment> {
        self.seg.clone()
    }

    /// Collective over the team, and checked: every member must free the same allocation.
    /// A [`SymHeap`](crate::SymHeap) block goes back to its heap instead (no communication).
    pub fn free(self) -> Result<()> {
        if self.carved_from.is_some() {
            return Ok(());
        }
        match Arc::try_unwrap(self.seg) {
            Ok(seg) => seg.free(),
            Err(_) => Err(Error::InvalidArgument("the allocation's segment is shared".into())),
        }
    }
}

/// # Safety
/// `word` points at a `T`-wide, `T`-aligned word of a live mapping. Peers write it
/// concurrently, hence the atomic load.
pub(crate) unsafe fn load_word<T: RemoteAtomic>(word: *mut u8) -> T {
    // SAFETY: the caller's promise is from_ptr's (valid, aligned, atomically accessed).
    let bits = unsafe {
        if T::TYPE.width() == 4 {
            AtomicU32::from_ptr(word.cast::<u32>()).load(Ordering::Acquire) as u64
        } else {
            AtomicU64::from_ptr(word.cast::<u64>()).load(Ordering::Acquire)
        }
    };
    T::from_bits(bits)
}
