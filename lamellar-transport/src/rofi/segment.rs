//! One symmetric allocation on the rofi backend: ROFI names it by this PE's local address.

use super::error::check;
use crate::atomic::{AtomicOp, AtomicRequest, AtomicType};
use crate::backend::{OpToken, Segment, atomic_at_once};
use crate::error::Result;
use crate::team::Team;
use rofi_sys as sys;
use std::ffi::c_void;

pub struct RofiSegment {
    /// This PE's base address, as returned by rofi_alloc; also the name of the allocation.
    base: *mut u8,
    /// Per world PE: where ROFI maps its part (ROFI's node-local path), or null. Ops to
    /// these PEs are done here, on the mapping, as ROFI would do them (`crate::mapped`):
    /// the same memory and the same CPU operations, without the call into C.
    mapped: Vec<*mut u8>,
    /// Whether ROFI takes node-local atomics on the CPU (`rofi_local_atomics`).
    cpu_atomics: bool,
    /// Per world PE: its part, resolved once by `rofi_target` (zeroed for non-members). The
    /// safe layer checks each operation, so puts, gets and atomics use ROFI's trusted
    /// entries (`rofi_*_at`), which skip ROFI's own checks and allocation lookup.
    targets: Vec<sys::rofi_target_t>,
}

// SAFETY: `base`, `mapped` and the targets' `local` are addresses ROFI owns until
// rofi_release; ROFI's RMA and atomic calls are thread-safe (rofi.h, THREADS AND PROGRESS),
// and we never form references to that memory.
unsafe impl Send for RofiSegment {}
// SAFETY: as for the impl above, for the same reason.
unsafe impl Sync for RofiSegment {}

pub fn rofi_type(ty: AtomicType) -> sys::rofi_type_t {
    match ty {
        AtomicType::U32 => sys::ROFI_UINT32,
        AtomicType::I32 => sys::ROFI_INT32,
        AtomicType::U64 => sys::ROFI_UINT64,
        AtomicType::I64 => sys::ROFI_INT64,
        AtomicType::Usize if size_of::<usize>() == 4 => sys::ROFI_UINT32,
        AtomicType::Isize if size_of::<usize>() == 4 => sys::ROFI_INT32,
        AtomicType::Usize => sys::ROFI_UINT64,
        AtomicType::Isize => sys::ROFI_INT64,
    }
}

pub fn rofi_op(op: AtomicOp) -> sys::rofi_atomic_op_t {
    match op {
        AtomicOp::Fetch => sys::ROFI_ATOMIC_FETCH,
        AtomicOp::Set => sys::ROFI_ATOMIC_SET,
        AtomicOp::Swap => sys::ROFI_ATOMIC_SWAP,
        AtomicOp::CompareSwap => sys::ROFI_ATOMIC_CSWAP,
        AtomicOp::FetchAdd => sys::ROFI_ATOMIC_FETCH_ADD,
        AtomicOp::Add => sys::ROFI_ATOMIC_ADD,
        AtomicOp::FetchAnd => sys::ROFI_ATOMIC_FETCH_AND,
        AtomicOp::FetchOr => sys::ROFI_ATOMIC_FETCH_OR,
        AtomicOp::FetchXor => sys::ROFI_ATOMIC_FETCH_XOR,
        AtomicOp::And => sys::ROFI_ATOMIC_AND,
        AtomicOp::Or => sys::ROFI_ATOMIC_OR,
        AtomicOp::Xor => sys::ROFI_ATOMIC_XOR,
    }
}

impl RofiSegment {
    pub(super) fn new(base: *mut u8, team: &Team, npes: usize) -> Result<RofiSegment> {
        // SAFETY: `base` is a live allocation's base; rofi_local_ptr only looks it up.
        let mapped = (0..npes)
            .map(|pe| unsafe { sys::rofi_local_ptr(base.cast(), pe as i32) }.cast())
            .collect();
        // SAFETY: a query of ROFI's state, initialized while the backend lives.
        let cpu_atomics = unsafe { sys::rofi_local_atomics() } == 1;
        // SAFETY: rofi_target_t is plain data (integers and a pointer), valid all zero.
        let mut targets = vec![unsafe { std::mem::zeroed::<sys::rofi_target_t>() }; npes];
        for &pe in team.pes() {
            // SAFETY: `base` is a live allocation's base and `pe` a member of its team; ROFI
            // writes the target it resolves into the vector's element.
            let rc = unsafe { sys::rofi_target(base.cast(), pe as i32, &mut targets[pe]) };
            check(rc, "rofi_target")?;
        }
        Ok(RofiSegment { base, mapped, cpu_atomics, targets })
    }

    /// Byte `offset` of `pe`'s part as mapped here, if ROFI reaches `pe` that way.
    #[inline]
    fn mapped_at(&self, pe: usize, offset: usize) -> Option<*mut u8> {
        let p = self.mapped[pe];
        (!p.is_null()).then(|| p.wrapping_add(offset))
    }
}

/// An atomic's operand and compare value in the word's own width, as ROFI reads them.
struct Operands {
    wide: bool,
    op64: u64,
    cmp64: u64,
    op32: u32,
    cmp32: u32,
}

impl Operands {
    fn of(req: AtomicRequest) -> Operands {
        let (op, cmp) = (req.operand, req.compare);
        Operands {
            wide: req.ty.width() == 8,
            op64: op,
            cmp64: cmp,
            op32: op as u32,
            cmp32: cmp as u32,
        }
    }

    /// Pointers to the operand and compare value, valid while `self` lives.
    fn ptrs(&self) -> (*const c_void, *const c_void) {
        if self.wide {
            ((&self.op64 as *const u64).cast(), (&self.cmp64 as *const u64).cast())
        } else {
            ((&self.op32 as *const u32).cast(), (&self.cmp32 as *const u32).cast())
        }
    }
}

fn token(op: *mut sys::rofi_op_t) -> OpToken {
    if op.is_null() { OpToken::DONE } else { OpToken(op as u64) }
}

impl Segment for RofiSegment {
    fn local_base(&self) -> *mut u8 {
        self.base
    }

    fn mapped_table(&self) -> Option<&[*mut u8]> {
        self.mapped.iter().any(|p| !p.is_null()).then_some(&self.mapped[..])
    }

    unsafe fn put(&self, pe: usize, offset: usize, src: *const u8, len: usize) -> Result<()> {
        if let Some(dst) = self.mapped_at(pe, offset) {
            // SAFETY: the range was checked inside pe's part, which ROFI keeps mapped until
            // rofi_release (after this segment's last use); `src` valid for `len`.
            unsafe { crate::mapped::put(dst, src, len) };
            return Ok(());
        }
        let t = &self.targets[pe];
        let null = std::ptr::null_mut();
        // SAFETY: `t` is pe's resolved target and the range was checked inside the allocation
        // by the safe layer (rofi_put_at's promise); `src` valid for `len`.
        check(unsafe { sys::rofi_put_at(t, offset, src.cast(), len, null) }, "rofi_put").map(drop)
    }

    unsafe fn get(&self, pe: usize, offset: usize, dst: *mut u8, len: usize) -> Result<()> {
        if let Some(src) = self.mapped_at(pe, offset) {
            // SAFETY: as in `put`, with source and destination exchanged.
            unsafe { crate::mapped::get(src, dst, len) };
            return Ok(());
        }
        let t = &self.targets[pe];
        let null = std::ptr::null_mut();
        // SAFETY: as `put`; `dst` valid for writes of `len`.
        check(unsafe { sys::rofi_get_at(t, offset, dst.cast(), len, null) }, "rofi_get").map(drop)
    }

    unsafe fn put_nb(
        &self,
        pe: usize,
        offset: usize,
        src: *const u8,
        len: usize,
    ) -> Result<OpToken> {
        if self.mapped_at(pe, offset).is_some() {
            // SAFETY: as `put`; a copy completes at once.
            return unsafe { self.put(pe, offset, src, len) }.map(|()| OpToken::DONE);
        }
        let mut op = std::ptr::null_mut();
        check(
            // SAFETY: as `put`; the caller keeps `src` valid until the token completes.
            unsafe { sys::rofi_put_at(&self.targets[pe], offset, src.cast(), len, &mut op) },
            "rofi_put_nb",
        )?;
        Ok(token(op))
    }

    unsafe fn get_nb(&self, pe: usize, offset: usize, dst: *mut u8, len: usize) -> Result<OpToken> {
        if self.mapped_at(pe, offset).is_some() {
            // SAFETY: as `get`; a copy completes at once.
            return unsafe { self.get(pe, offset, dst, len) }.map(|()| OpToken::DONE);
        }
        let mut op = std::ptr::null_mut();
        check(
            // SAFETY: as `get`; the caller keeps `dst` valid and untouched until completion.
            unsafe { sys::rofi_get_at(&self.targets[pe], offset, dst.cast(), len, &mut op) },
            "rofi_get_nb",
        )?;
        Ok(token(op))
    }

    fn atomic(&self, pe: usize, offset: usize, req: AtomicRequest) -> Result<u64> {
        if let Some(word) = self.mapped_at(pe, offset).filter(|_| self.cpu_atomics) {
            // SAFETY: range and alignment checked by the safe layer; ROFI applies every atomic
            // on this word with the CPU too (rofi_local_atomics), so all access is atomic.
            return Ok(unsafe { crate::mapped::atomic(word, req) });
        }
        let ops = Operands::of(req);
        let (o, c) = ops.ptrs();
        let mut res = 0u64;
        check(
            // SAFETY: target word checked in range and aligned; operand/compare point into `ops`
            // and the result into `res` (8 bytes, ROFI writes the type's width at its start), all
            // live for this blocking call.
            unsafe {
                sys::rofi_atomic_at(
                    rofi_op(req.op),
                    rofi_type(req.ty),
                    &self.targets[pe],
                    offset,
                    o,
                    c,
                    (&mut res as *mut u64).cast(),
                    std::ptr::null_mut(),
                )
            },
            "rofi_atomic",
        )?;
        // SAFETY: a u64 read as its first 4 bytes, where a 32-bit result was written.
        Ok(if ops.wide {
            res
        } else {
            // SAFETY: `res` is a live u64; its first 4 bytes hold the 32-bit result ROFI wrote.
            u64::from(unsafe { (&res as *const u64).cast::<u32>().read() })
        })
    }

    unsafe fn atomic_nb(
        &self,
        pe: usize,
        offset: usize,
        req: AtomicRequest,
        result: *mut u64,
    ) -> Result<OpToken> {
        if self.mapped_at(pe, offset).is_some() && self.cpu_atomics {
            // SAFETY: forwarded contract; a CPU atomic completes at once.
            return unsafe { atomic_at_once(self, pe, offset, req, result) };
        }
        // ROFI copies the operands before it returns, and writes the old value in the word's
        // width at `result` when the op completes.
        let ops = Operands::of(req);
        let (o, c) = ops.ptrs();
        let mut h = std::ptr::null_mut();
        check(
            // SAFETY: target word checked in range and aligned; operands live for the call;
            // `result` stays valid until the token completes (trait contract).
            unsafe {
                sys::rofi_atomic_at(
                    rofi_op(req.op),
                    rofi_type(req.ty),
                    &self.targets[pe],
                    offset,
                    o,
                    c,
                    result.cast(),
                    &mut h,
                )
            },
            "rofi_atomic_nb",
        )?;
        Ok(token(h))
    }

    fn free(self) -> Result<()> {
        let base = self.base;
        std::mem::forget(self); // released below; nothing else to drop
        // SAFETY: `base` is a live allocation's base address; rofi_release is the collective
        // release over its team.
        check(unsafe { sys::rofi_release(base.cast()) }, "rofi_release").map(drop)
    }
}
