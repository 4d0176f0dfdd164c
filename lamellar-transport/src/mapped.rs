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

/// `ptr::copy` with the short lengths done as plain loads and stores: a single element's put
/// or get, whose length the caller knows only at run time (a byte slice), then costs no call
/// into `memmove`, which costs more than the copy itself at these lengths
/// (docs/design-measurements.md). 8 bytes is tested first and alone, as one compare and a
/// branch that predicts well: written as one `match` over the widths (or as tests the
/// compiler merges into one), it became a power-of-two test and a bit count before the
/// compare. Every path loads all it copies before it stores, so an overlapping copy (a put to
/// oneself) stays right.
///
/// # Safety
/// As `ptr::copy`.
#[inline(always)]
unsafe fn copy(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: the caller's promise covers `len` bytes at both ends; each arm touches only
    // bytes below `len`, with unaligned accesses, since neither end need be aligned.
    unsafe {
        if len == 8 {
            dst.cast::<u64>().write_unaligned(src.cast::<u64>().read_unaligned());
        } else if len < 8 {
            copy_short(src, dst, len);
        } else if len <= INLINE_MAX {
            copy_medium(src, dst, len);
        } else {
            std::ptr::copy(src, dst, len);
        }
    }
}

/// The longest copy done inline (`copy_medium`); memmove above it. Measured: inline gets and
/// puts of 64 bytes still beat memmove (docs/design-measurements.md).
const INLINE_MAX: usize = 64;

/// `copy` of fewer than 8 bytes: one access, or two overlapping ones of the widest width
/// that fits.
///
/// # Safety
/// As `ptr::copy`, with `len < 8`.
#[inline(always)]
unsafe fn copy_short(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: the caller's promise, for the `len` bytes the arms touch.
    unsafe {
        if len >= 4 {
            ends::<u32>(src, dst, len);
        } else if len >= 2 {
            ends::<u16>(src, dst, len);
        } else if len == 1 {
            dst.write(src.read());
        }
    }
}

/// `copy` of 9 to `INLINE_MAX` bytes: its first and last 8, 16 or 32 bytes (`ends`).
///
/// # Safety
/// As `ptr::copy`, with `8 < len <= INLINE_MAX`.
#[inline(always)]
unsafe fn copy_medium(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: the caller's promise, for the `len` bytes the arms touch.
    unsafe {
        if len <= 16 {
            ends::<u64>(src, dst, len);
        } else if len <= 32 {
            ends::<u128>(src, dst, len);
        } else {
            ends::<[u128; 2]>(src, dst, len);
        }
    }
}

/// The first and the last `size_of::<T>()` bytes (overlapping when `len` is less than two of
/// them), both loaded before either is stored.
///
/// # Safety
/// As `ptr::copy`, with `size_of::<T>() <= len <= 2 * size_of::<T>()`.
#[inline(always)]
unsafe fn ends<T: Copy>(src: *const u8, dst: *mut u8, len: usize) {
    let last = len - size_of::<T>();
    // SAFETY: both accesses lie within the `len` bytes of the caller's promise.
    unsafe {
        let (a, b) = (src.cast::<T>().read_unaligned(), src.add(last).cast::<T>().read_unaligned());
        dst.cast::<T>().write_unaligned(a);
        dst.add(last).cast::<T>().write_unaligned(b);
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

#[cfg(test)]
mod tests {
    /// Every length through the inline paths and past them, with source and destination
    /// apart and overlapping either way (a put to oneself), against `ptr::copy`.
    #[test]
    fn miri_copy_matches_memmove_at_every_length() {
        let start: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
        for len in 0..=super::INLINE_MAX + 3 {
            for (from, to) in [(0, 100), (100, 0), (40, 43), (43, 40), (40, 48), (48, 40)] {
                let (mut ours, mut want) = (start.clone(), start.clone());
                // SAFETY: both ranges are inside each 200-byte buffer (at most 100 + 67 bytes).
                unsafe {
                    let p = ours.as_mut_ptr();
                    super::copy(p.add(from), p.add(to), len);
                    let q = want.as_mut_ptr();
                    std::ptr::copy(q.add(from), q.add(to), len);
                }
                assert_eq!(ours, want, "len {len}, from {from} to {to}");
            }
        }
    }
}
