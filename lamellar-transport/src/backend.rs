//! What every backend implements. Everything here is byte-level and already validated by
//! the safe layer (`memory.rs`), once per operation: PEs are in range and members of the
//! team, ranges are inside the allocation, atomics are aligned. Implementations trust it.
//!
//! Dispatch: the transport holds its backend, and an allocation its segment, as a variant of
//! an enum over the backends compiled in (`dispatch.rs`), not as a trait object. The backend
//! is still chosen at run time, but each call is a `match` the compiler sees through: on
//! shmem a typed 8 B put inlines to a store into the peer's mapping and a fence, where two
//! virtual calls used to cost more than the store itself. A new backend implements these traits and
//! adds a variant to each enum. Above that, a blocking put or get to a PE whose memory the
//! segment maps here (`Segment::mapped_table`) does not reach the segment at all (`memory.rs`).

use crate::atomic::{AtomicOp, AtomicRequest, AtomicSupport, AtomicType};
use crate::error::Result;
use crate::team::Team;

/// A non-blocking operation in flight. `OpToken::DONE` means it completed at issue.
/// How a PE's operations reach a peer ([`crate::Transport::path_to`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerPath {
    /// Loads, stores and CPU atomics on memory shared with the peer (same node).
    SharedMemory,
    /// The network: a fabric provider or a UCX network transport.
    Network,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpToken(pub u64);

/// Which of the finer operations a backend does natively ([`crate::Transport::capabilities`]);
/// where a field is false the operation still works, composed as its doc says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// `put_signal` is one operation of the layer below (else: put, fence, atomic).
    pub put_signal: bool,
    /// Non-blocking atomics stay in flight while the caller goes on (else they are done at
    /// issue and the handle is complete at once).
    pub atomic_nb: bool,
    /// `quiet_pe` waits for that PE's operations only (else it is a `quiet`).
    pub quiet_pe: bool,
    /// `fence` only orders, without waiting for completion (else it is a `quiet`).
    pub fence_orders_only: bool,
    /// [`Mailbox`](crate::Mailbox) messages travel as the layer below's own messages (else:
    /// rings in symmetric memory, written with put-with-signal, on every backend alike).
    pub messages: bool,
}

impl OpToken {
    pub const DONE: OpToken = OpToken(0);
}

/// One backend instance: a PE's connection to the job.
pub trait Backend: Send + Sync {
    fn name(&self) -> &'static str;
    /// The provider / transport actually in use (e.g. "tcp;ofi_rxm", "posix,sysv").
    fn provider(&self) -> String;
    /// The native library behind the backend, as loaded (e.g. "libfabric 1.17"); None for
    /// backends without one.
    fn native_library(&self) -> Option<String> {
        None
    }
    fn my_pe(&self) -> usize;
    fn num_pes(&self) -> usize;

    /// Collective over `team`: every member passes the same `len` (checked; a mismatch is a
    /// `SizeMismatch` error on every member).
    fn alloc(&self, team: &Team, len: usize) -> Result<crate::dispatch::AnySegment>;

    /// Whether the operation has completed. `Ok(true)` and `Err` both release the token:
    /// it is never passed to the backend again.
    fn test(&self, op: OpToken) -> Result<bool>;
    /// Blocks until the operation completes (with the job timeout); releases the token.
    fn wait(&self, op: OpToken) -> Result<()>;
    /// Every operation this PE issued is complete at its target.
    fn quiet(&self) -> Result<()>;
    /// Operations issued before are delivered before operations issued after, per target.
    fn fence(&self) -> Result<()>;
    /// Quiet, then every member of `team` arrives.
    fn barrier(&self, team: &Team) -> Result<()>;

    fn atomic_support(&self, op: AtomicOp, ty: AtomicType) -> AtomicSupport;

    /// How this PE's operations reach `pe` (`pe` checked by the caller).
    fn path_to(&self, pe: usize) -> PeerPath;

    /// What this backend does natively.
    fn capabilities(&self) -> Capabilities;

    /// Every operation this PE issued to `pe` is complete (`pe` checked by the caller).
    /// By default, every operation to every PE: a quiet.
    fn quiet_pe(&self, _pe: usize) -> Result<()> {
        self.quiet()
    }

    /// Whether waits should give the CPU away (this node runs more PEs than it has CPUs,
    /// or `LAMELLAR_YIELD=1`), as decided at init (`node.rs`).
    fn yields_when_waiting(&self) -> bool;

    /// Advances the transport once, without blocking: what a PE waiting for a peer's put to
    /// land in its own memory calls before each look (`SymAlloc::wait_until`), so that a
    /// transport that delivers puts only while the target progresses (software RMA over tcp)
    /// does not depend on a progress thread's next turn. The default suits backends where
    /// data lands without the target.
    fn progress(&self) -> Result<()> {
        Ok(())
    }

    /// Whether [`Backend::progress`] drives the transport (it does nothing by default): a
    /// wait whose tries call it is paced by those calls instead of a spin hint
    /// (`backoff::Tries`).
    fn has_progress(&self) -> bool {
        false
    }

    /// Native messages for a [`Mailbox`](crate::Mailbox) made with `slots` slots of
    /// `slot_bytes` per pair (checked by the caller; a backend may size its buffers by them),
    /// or None where the mailbox is to use its rings in symmetric memory (the default).
    /// Collective over every PE, like the mailbox.
    fn messages(&self, _slots: usize, _slot_bytes: usize) -> Result<Option<Box<dyn Messages>>> {
        Ok(None)
    }

    /// Ends the job for this PE (called once, from `Transport::finalize` or drop).
    fn finalize(&self) -> Result<()>;
}

/// A backend's own messages, under one [`Mailbox`](crate::Mailbox): reliable byte messages
/// to any PE (this one included), handed out whole and in order per (source, target) pair.
/// Flow control is the mailbox's: it counts credits and sends only what the target has
/// room for; this layer only carries the credit counts back (with a message, or alone:
/// `return_credit`; totalled by `credit_from`). `pe` arguments are checked by the caller.
pub trait Messages: Send + Sync {
    /// Sends `msg` to `pe`, handing back `credits` with it; returns when `msg` may be
    /// reused. An error may leave `pe` short of this message (the mailbox then stops
    /// sending to `pe`).
    fn send(&self, pe: usize, msg: &[u8], credits: u64) -> Result<()>;
    /// The next message that arrived whole (in order per source): `(source, bytes)`, or
    /// None. Does not progress the transport: callers call [`Backend::progress`] first.
    fn try_recv(&self) -> Result<Option<(usize, Vec<u8>)>>;
    /// Tells `pe` that this PE took `credits` more of its messages' credits out.
    fn return_credit(&self, pe: usize, credits: u64) -> Result<()>;
    /// The credits `pe` has returned to this PE so far (a running total).
    fn credit_from(&self, pe: usize) -> u64;
    /// Releases this PE's part (messages not yet received are dropped). Collective: the
    /// mailbox calls it on every PE after a barrier.
    fn free(self: Box<Self>) -> Result<()>;
}

/// One symmetric allocation, as one PE sees it.
///
/// Dropping a segment releases this PE's local resources without communicating; the
/// collective, checked release is [`Segment::free`].
pub trait Segment: Send + Sync {
    /// Start of this PE's own part (valid for `len` bytes; dangling when `len` is 0).
    fn local_base(&self) -> *mut u8;

    /// Per world PE, the start of its part as mapped into this process (valid for the
    /// allocation's length while the segment lives), null where that part is reached only
    /// through the transport; None when no part is mapped. The table never changes after
    /// the segment is made: `SymAlloc` builds its own table from it (its offset in the
    /// segment added, non-members left out), so that a blocking put or get to a mapped PE is
    /// one lookup, one range compare and a copy, with no call into the backend.
    fn mapped_table(&self) -> Option<&[*mut u8]> {
        None
    }

    /// Start of `pe`'s part as mapped into this process, if it is (see `mapped_table`).
    fn peer_base(&self, pe: usize) -> Option<*mut u8> {
        self.mapped_table()?.get(pe).copied().filter(|p| !p.is_null())
    }

    /// # Safety
    /// `src` is valid for reads of `len` bytes for the duration of the call.
    unsafe fn put(&self, pe: usize, offset: usize, src: *const u8, len: usize) -> Result<()>;
    /// # Safety
    /// `dst` is valid for writes of `len` bytes for the duration of the call.
    unsafe fn get(&self, pe: usize, offset: usize, dst: *mut u8, len: usize) -> Result<()>;
    /// # Safety
    /// `src` stays valid (and unwritten) until the returned token completes.
    unsafe fn put_nb(
        &self,
        pe: usize,
        offset: usize,
        src: *const u8,
        len: usize,
    ) -> Result<OpToken>;
    /// # Safety
    /// `dst` stays valid (and otherwise unaccessed) until the returned token completes.
    unsafe fn get_nb(&self, pe: usize, offset: usize, dst: *mut u8, len: usize) -> Result<OpToken>;

    /// Performs one atomic at `offset` (aligned to `req.ty.width()`), returning the old value
    /// (zero for non-fetching ops).
    fn atomic(&self, pe: usize, offset: usize, req: AtomicRequest) -> Result<u64>;

    /// Issues an atomic without waiting for it; the old value is in `*result` once the token
    /// completes (the low 4 bytes, in the word's own byte order, for 32-bit types). By
    /// default the atomic is done at once and the token is `DONE`.
    ///
    /// # Safety
    /// `result` is valid for writes of 8 bytes until the token completes.
    unsafe fn atomic_nb(
        &self,
        pe: usize,
        offset: usize,
        req: AtomicRequest,
        result: *mut u64,
    ) -> Result<OpToken> {
        // SAFETY: forwarded contract.
        unsafe { atomic_at_once(self, pe, offset, req, result) }
    }

    /// Collective and checked release over the allocation's team.
    fn free(self) -> Result<()>
    where
        Self: Sized;
}

/// `Segment::atomic_nb` done at issue: the blocking atomic, its old value written to
/// `result`; the token is `DONE`. What backends without a non-blocking form (or for ops
/// theirs lacks) do.
///
/// # Safety
/// `result` is valid for writes of 8 bytes.
pub(crate) unsafe fn atomic_at_once<S: Segment + ?Sized>(
    seg: &S,
    pe: usize,
    offset: usize,
    req: AtomicRequest,
    result: *mut u64,
) -> Result<OpToken> {
    let old = seg.atomic(pe, offset, req)?;
    // SAFETY: the caller's promise.
    unsafe { write_in_width(result, req.ty.width(), old) };
    Ok(OpToken::DONE)
}

/// Writes `value` at `slot` in a word of `width` bytes (4 or 8), as the layers below write
/// an atomic's old value: a 32-bit one in the slot's first 4 bytes, as a `u32`.
///
/// # Safety
/// `slot` is valid for writes of 8 bytes.
pub(crate) unsafe fn write_in_width(slot: *mut u64, width: usize, value: u64) {
    // SAFETY: the caller's promise covers both widths.
    unsafe { if width == 4 { slot.cast::<u32>().write(value as u32) } else { slot.write(value) } }
}
