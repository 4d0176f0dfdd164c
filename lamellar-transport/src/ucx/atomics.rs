//! Our atomic operations in terms of `ucp_atomic_op_nbx`.
//!
//! UCX has add, and, or, xor, swap and compare-swap on 32 and 64 bits. Mapping:
//! - swap, compare-swap, fetch-add, add: one UCX atomic with a reply buffer (its completion
//!   means it was performed at the target: the blocking contract);
//! - and/or/xor: the posted UCX atomic, then a flush of the endpoint (remote completion);
//! - fetch-and/or/xor: one UCX atomic with a reply buffer where UCX gets them right. UCX
//!   1.13 does not: with a reply buffer it applies the op with the old value as operand
//!   (x & x, x | x, x ^ x) on every transport. Init probes for that ([`probe`]); where
//!   found, these are a compare-swap loop (emulated);
//! - fetch = fetch-add 0 and set = swap with the old value discarded (emulated).

use super::worker::Worker;
use crate::atomic::{AtomicOp, AtomicRequest, AtomicSupport};
use crate::error::Result;
use lamellar_ucx_sys::{self as sys, ucp_atomic_op_t, ucp_rkey_h};

/// What this UCX does correctly, found at init.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    /// Fetching and/or/xor give the right result in memory.
    pub fetch_bitwise: bool,
}

/// A bitwise UCX opcode and what it computes.
type Bitwise = (ucp_atomic_op_t, fn(u64, u64) -> u64);

fn bitwise(op: AtomicOp) -> Option<Bitwise> {
    match op {
        AtomicOp::FetchAnd | AtomicOp::And => Some((sys::UCP_ATOMIC_OP_AND, |a, b| a & b)),
        AtomicOp::FetchOr | AtomicOp::Or => Some((sys::UCP_ATOMIC_OP_OR, |a, b| a | b)),
        AtomicOp::FetchXor | AtomicOp::Xor => Some((sys::UCP_ATOMIC_OP_XOR, |a, b| a ^ b)),
        _ => None,
    }
}

/// The bits of a `width`-byte (4 or 8) operand.
#[inline]
pub fn width_mask(width: usize) -> u64 {
    if width == 4 { u32::MAX as u64 } else { u64::MAX }
}

/// Native: one UCX atomic of the same meaning. Emulated: built on other UCX atomics.
pub fn support(op: AtomicOp, caps: Caps) -> AtomicSupport {
    match op {
        AtomicOp::Fetch | AtomicOp::Set => AtomicSupport::Emulated,
        AtomicOp::FetchAnd | AtomicOp::FetchOr | AtomicOp::FetchXor if !caps.fetch_bitwise => {
            AtomicSupport::Emulated
        }
        _ => AtomicSupport::Native,
    }
}

/// Performs `req` on the word at `remote` on `pe`; returns the old value for fetching ops,
/// zero otherwise. Complete at the target on return.
///
/// (opcode, operand, initial reply buffer) of the ops that are one UCX atomic with a reply,
/// as `perform` posts them; None for the bitwise ones.
pub fn one_with_reply(req: AtomicRequest) -> Option<(sys::ucp_atomic_op_t, u64, u64)> {
    let mask = width_mask(req.ty.width());
    let x = req.operand & mask;
    Some(match req.op {
        AtomicOp::Fetch => (sys::UCP_ATOMIC_OP_ADD, 0, 0),
        AtomicOp::Set | AtomicOp::Swap => (sys::UCP_ATOMIC_OP_SWAP, x, 0),
        // UCX: the operand is the compared value, the reply buffer carries the new one.
        AtomicOp::CompareSwap => (sys::UCP_ATOMIC_OP_CSWAP, req.compare & mask, x),
        AtomicOp::FetchAdd | AtomicOp::Add => (sys::UCP_ATOMIC_OP_ADD, x, 0),
        _ => return None,
    })
}

/// Every op that is one UCX atomic with a reply goes through the one `w.atomic` call at the
/// end, which the compiler then inlines (one call site; with one per op it kept a call and
/// ~20 instructions of frame per atomic).
#[inline]
pub fn perform(
    w: &mut Worker<'_>,
    pe: usize,
    req: AtomicRequest,
    remote: u64,
    rkey: ucp_rkey_h,
    caps: Caps,
) -> Result<u64> {
    let width = req.ty.width();
    let x = req.operand & width_mask(width);
    // (opcode, operand, initial reply buffer) of the one UCX atomic.
    let (opcode, operand, reply) = match (one_with_reply(req), req.op) {
        (Some(one), _) => one,
        (None, AtomicOp::And | AtomicOp::Or | AtomicOp::Xor) => {
            return posted_bitwise(w, pe, req, x, remote, rkey);
        }
        (None, _) if !caps.fetch_bitwise => {
            return emulated_fetch_bitwise(w, pe, req, x, remote, rkey);
        }
        (None, _) => (bitwise(req.op).expect("bitwise op").0, x, 0),
    };
    let old = w.atomic(pe, opcode, width, operand, Some(reply), remote, rkey)?;
    Ok(if matches!(req.op, AtomicOp::Set | AtomicOp::Add) { 0 } else { old })
}

/// and/or/xor: the posted UCX atomic, then a flush of the endpoint (remote completion).
#[inline(never)]
fn posted_bitwise(
    w: &mut Worker<'_>,
    pe: usize,
    req: AtomicRequest,
    x: u64,
    remote: u64,
    rkey: ucp_rkey_h,
) -> Result<u64> {
    let (opcode, _) = bitwise(req.op).expect("bitwise op");
    w.atomic(pe, opcode, req.ty.width(), x, None, remote, rkey)?;
    w.flush_ep(pe)?;
    Ok(0)
}

/// Fetching and/or/xor where UCX gets them wrong: a compare-swap loop, starting from a
/// guess of 0 (which costs nothing extra: a failed compare-swap returns the current value).
#[inline(never)]
fn emulated_fetch_bitwise(
    w: &mut Worker<'_>,
    pe: usize,
    req: AtomicRequest,
    x: u64,
    remote: u64,
    rkey: ucp_rkey_h,
) -> Result<u64> {
    let (_, f) = bitwise(req.op).expect("bitwise op");
    let width = req.ty.width();
    let mask = width_mask(width);
    let mut old = 0u64;
    loop {
        let seen = w.atomic(
            pe,
            sys::UCP_ATOMIC_OP_CSWAP,
            width,
            old,
            Some(f(old, x) & mask),
            remote,
            rkey,
        )?;
        if seen == old {
            return Ok(old);
        }
        old = seen;
    }
}

/// Checks fetching and/or/xor on both widths on a scratch word of this PE (addressed
/// through the endpoint to self, `me`); `scratch` is its local address.
pub fn probe(
    w: &mut Worker<'_>,
    me: usize,
    scratch: *mut u64,
    remote: u64,
    rkey: ucp_rkey_h,
) -> Result<Caps> {
    const INIT: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    const OPERAND: u64 = 0x00ff_00ff_00ff_00ff;
    let mut ok = true;
    for width in [4usize, 8] {
        let mask = width_mask(width);
        for op in [AtomicOp::FetchAnd, AtomicOp::FetchOr, AtomicOp::FetchXor] {
            let (opcode, f) = bitwise(op).expect("bitwise op");
            // SAFETY: `scratch` is an aligned word of this PE's control region, unused by
            // any collective while init runs (no peer addresses it yet).
            unsafe { scratch.write_volatile(INIT) };
            let old = w.atomic(me, opcode, width, OPERAND & mask, Some(0), remote, rkey)?;
            // SAFETY: as above; the atomic completed (reply received) before this read.
            let now = unsafe { scratch.read_volatile() } & mask;
            ok &= old == INIT & mask && now == f(INIT, OPERAND) & mask;
        }
    }
    // SAFETY: as above; the word is left as it was found (zero).
    unsafe { scratch.write_volatile(0) };
    Ok(Caps { fetch_bitwise: ok })
}
