//! How an operation reaches its backend: an enum over the backends compiled into this build,
//! matched in `#[inline]` methods.
//!
//! The backend is chosen at run time (`LAMELLAR_TRANSPORT`), but the set of backends is
//! known at compile time, so a `match` over that set lets the compiler see each backend's
//! code at the call site: a typed 8 B put on shmem inlines down to a store into the mapping,
//! where a trait object cost two indirect calls (allocation, then segment) that nothing could
//! see through. The contract stays the [`Backend`] and [`Segment`] traits: a new backend
//! implements them and adds one variant to each enum here (and one arm to `each!`).

use crate::atomic::{AtomicOp, AtomicRequest, AtomicSupport, AtomicType};
use crate::backend::{Backend, Capabilities, Messages, OpToken, PeerPath, Segment};
use crate::error::Result;
use crate::team::Team;

/// The backend of this process.
pub enum AnyBackend {
    #[cfg(feature = "shmem")]
    Shmem(crate::shmem::ShmemBackend),
    #[cfg(feature = "rofi")]
    Rofi(crate::rofi::RofiBackend),
    #[cfg(feature = "ucx")]
    Ucx(crate::ucx::UcxBackend),
    #[cfg(test)]
    Double(crate::double::DoubleBackend),
}

/// One allocation of the backend of this process.
pub enum AnySegment {
    #[cfg(feature = "shmem")]
    Shmem(crate::shmem::segment::ShmemSegment),
    #[cfg(feature = "rofi")]
    Rofi(crate::rofi::segment::RofiSegment),
    #[cfg(feature = "ucx")]
    Ucx(crate::ucx::segment::UcxSegment),
    #[cfg(test)]
    Double(crate::double::DoubleSegment),
}

/// `each!(value, Enum, b => expr)`: `expr` with `b` bound to the backend inside `value`.
macro_rules! each {
    ($value:expr, $enum:ident, $b:ident => $body:expr) => {
        match $value {
            #[cfg(feature = "shmem")]
            $enum::Shmem($b) => $body,
            #[cfg(feature = "rofi")]
            $enum::Rofi($b) => $body,
            #[cfg(feature = "ucx")]
            $enum::Ucx($b) => $body,
            #[cfg(test)]
            $enum::Double($b) => $body,
        }
    };
}

impl Backend for AnyBackend {
    fn name(&self) -> &'static str {
        each!(self, AnyBackend, b => b.name())
    }
    fn provider(&self) -> String {
        each!(self, AnyBackend, b => b.provider())
    }
    fn native_library(&self) -> Option<String> {
        each!(self, AnyBackend, b => b.native_library())
    }
    #[inline]
    fn my_pe(&self) -> usize {
        each!(self, AnyBackend, b => b.my_pe())
    }
    #[inline]
    fn num_pes(&self) -> usize {
        each!(self, AnyBackend, b => b.num_pes())
    }
    fn alloc(&self, team: &Team, len: usize) -> Result<AnySegment> {
        each!(self, AnyBackend, b => b.alloc(team, len))
    }
    #[inline]
    fn test(&self, op: OpToken) -> Result<bool> {
        each!(self, AnyBackend, b => b.test(op))
    }
    #[inline]
    fn wait(&self, op: OpToken) -> Result<()> {
        each!(self, AnyBackend, b => b.wait(op))
    }
    #[inline(always)]
    fn quiet(&self) -> Result<()> {
        each!(self, AnyBackend, b => b.quiet())
    }
    #[inline]
    fn fence(&self) -> Result<()> {
        each!(self, AnyBackend, b => b.fence())
    }
    fn barrier(&self, team: &Team) -> Result<()> {
        each!(self, AnyBackend, b => b.barrier(team))
    }
    fn atomic_support(&self, op: AtomicOp, ty: AtomicType) -> AtomicSupport {
        each!(self, AnyBackend, b => b.atomic_support(op, ty))
    }
    fn path_to(&self, pe: usize) -> PeerPath {
        each!(self, AnyBackend, b => b.path_to(pe))
    }
    fn capabilities(&self) -> Capabilities {
        each!(self, AnyBackend, b => b.capabilities())
    }
    #[inline]
    fn quiet_pe(&self, pe: usize) -> Result<()> {
        each!(self, AnyBackend, b => b.quiet_pe(pe))
    }
    fn yields_when_waiting(&self) -> bool {
        each!(self, AnyBackend, b => b.yields_when_waiting())
    }
    #[inline]
    fn progress(&self) -> Result<()> {
        each!(self, AnyBackend, b => b.progress())
    }
    #[inline]
    fn has_progress(&self) -> bool {
        each!(self, AnyBackend, b => b.has_progress())
    }
    fn messages(&self, slots: usize, slot_bytes: usize) -> Result<Option<Box<dyn Messages>>> {
        each!(self, AnyBackend, b => b.messages(slots, slot_bytes))
    }
    fn finalize(&self) -> Result<()> {
        each!(self, AnyBackend, b => b.finalize())
    }
}

impl Segment for AnySegment {
    #[inline(always)]
    fn local_base(&self) -> *mut u8 {
        each!(self, AnySegment, s => s.local_base())
    }
    #[inline]
    fn mapped_table(&self) -> Option<&[*mut u8]> {
        each!(self, AnySegment, s => s.mapped_table())
    }
    #[inline(always)]
    unsafe fn put(&self, pe: usize, offset: usize, src: *const u8, len: usize) -> Result<()> {
        // SAFETY: forwarded contract.
        each!(self, AnySegment, s => unsafe { s.put(pe, offset, src, len) })
    }
    #[inline(always)]
    unsafe fn get(&self, pe: usize, offset: usize, dst: *mut u8, len: usize) -> Result<()> {
        // SAFETY: forwarded contract.
        each!(self, AnySegment, s => unsafe { s.get(pe, offset, dst, len) })
    }
    #[inline]
    unsafe fn put_nb(
        &self,
        pe: usize,
        offset: usize,
        src: *const u8,
        len: usize,
    ) -> Result<OpToken> {
        // SAFETY: forwarded contract.
        each!(self, AnySegment, s => unsafe { s.put_nb(pe, offset, src, len) })
    }
    #[inline]
    unsafe fn get_nb(&self, pe: usize, offset: usize, dst: *mut u8, len: usize) -> Result<OpToken> {
        // SAFETY: forwarded contract.
        each!(self, AnySegment, s => unsafe { s.get_nb(pe, offset, dst, len) })
    }
    #[inline(always)]
    fn atomic(&self, pe: usize, offset: usize, req: AtomicRequest) -> Result<u64> {
        each!(self, AnySegment, s => s.atomic(pe, offset, req))
    }
    #[inline]
    unsafe fn atomic_nb(
        &self,
        pe: usize,
        offset: usize,
        req: AtomicRequest,
        result: *mut u64,
    ) -> Result<OpToken> {
        // SAFETY: forwarded contract.
        each!(self, AnySegment, s => unsafe { s.atomic_nb(pe, offset, req, result) })
    }
    fn free(self) -> Result<()> {
        each!(self, AnySegment, s => s.free())
    }
}
