//! Operations on a peer's memory mapped into this process: what the shmem backend does for
//! every PE, and the rofi backend for node-local ones (ROFI's node-local path, taken in Rust
//! to spare the call into C). One implementation, so both behave alike.

use crate::atomic::{AtomicOp, AtomicRequest};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Copies `len` bytes from `src` to the mapped `dst`.
///
/// # Safety
/// `dst` is inside a live mapping with `len` bytes after it; `src` is valid for `len` reads.
/// `copy` (memmove): a put to oneself may overlap its source.
#[inline(always)]
pub unsafe fn put(dst: *mut u8, src: *const u8, len: usize) {
    // SAFETY: the caller's promise.
    unsafe { copy(src, dst, len) }
}

/// Copies `len` bytes from the mapped `src` to `dst`.
///
/// # Safety
/// As [`put`], with source and destination exchanged.
#[inline(always)]
pub unsafe fn get(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: the caller's promise.
    unsafe { copy(src, dst, len) }
}

/// `ptr::copy` with the sizes of one word done as one load and one store: a single element's
/// put or get, whose length the caller knows only at run time (a byte slice), then costs no
/// call into `memmove`. 8 bytes is tested first and alone, as one compare and a branch that
/// predicts well: written as one `match` over the widths (or as tests the compiler merges into
/// one), it became a power-of-two test and a bit count before the compare. Loading before
/// storing keeps an overlapping copy (a put to oneself) right.
///
/// # Safety
/// As `ptr::copy`.
#[inline(always)]
unsafe fn copy(src: *const u8, dst: *mut u8, len: usize) {
    if len == 8 {
        // SAFETY: the caller's promise covers 8 bytes at both ends; unaligned accesses, since
        // neither end need be aligned.
        unsafe { dst.cast::<u64>().write_unaligned(src.cast::<u64>().read_unaligned()) };
    } else if len < 8 {
        // SAFETY: the caller's promise.
        unsafe { copy_short(src, dst, len) }
    } else {
        // SAFETY: the caller's promise.
        unsafe { std::ptr::copy(src, dst, len) }
    }
}

/// `copy` of fewer than 8 bytes.
///
/// # Safety
/// As `ptr::copy`.
#[inline(always)]
unsafe fn copy_short(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: the caller's promise covers `len` bytes at both ends; unaligned accesses.
    unsafe {
        match len {
            4 => dst.cast::<u32>().write_unaligned(src.cast::<u32>().read_unaligned()),
            2 => dst.cast::<u16>().write_unaligned(src.cast::<u16>().read_unaligned()),
            1 => dst.write(src.read()),
            _ => std::ptr::copy(src, dst, len),
        }
    }
}

/// Performs `req` on the mapped word at `word` with a CPU atomic; returns the old value.
///
/// # Safety
/// `word` is aligned to `req.ty`'s width, inside a live mapping, and every process accesses
/// it only atomically (the rules of the `view` module).
#[inline(always)]
pub unsafe fn atomic(word: *mut u8, req: AtomicRequest) -> u64 {
    // SAFETY: the caller's promise is from_ptr's (valid, aligned, only atomic access).
    unsafe {
        if req.ty.width() == 4 {
            apply32(
                AtomicU32::from_ptr(word.cast()),
                req.op,
                req.operand as u32,
                req.compare as u32,
            ) as u64
        } else {
            apply64(AtomicU64::from_ptr(word.cast()), req.op, req.operand, req.compare)
        }
    }
}

macro_rules! apply {
    ($name:ident, $atomic:ty, $t:ty) => {
        #[inline(always)]
        fn $name(w: &$atomic, op: AtomicOp, x: $t, cmp: $t) -> $t {
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
    };
}
apply!(apply32, AtomicU32, u32);
apply!(apply64, AtomicU64, u64);
