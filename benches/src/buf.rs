//! Page-aligned local buffers for the harness: the baselines (ucx_perftest, ofi-baseline)
//! move page-aligned memory, and a 1 MiB `Vec` starts 16 bytes into a page. Copies between
//! buffers with different offsets within a cache line run up to a third slower (`rep movsb`
//! loses its fast path), so the harness would measure the allocator, not the transport.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

const PAGE: usize = 4096;

pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
}

impl AlignedBuf {
    /// `len` bytes, each `fill`, starting on a page boundary.
    pub fn new(len: usize, fill: u8) -> AlignedBuf {
        let layout = Self::layout(len);
        // SAFETY: the layout has a non-zero size (at least one page).
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) })
            .unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        let mut b = AlignedBuf { ptr, len };
        b.fill(fill);
        b
    }

    fn layout(len: usize) -> Layout {
        Layout::from_size_align(len.max(1), PAGE).expect("buffer size fits a Layout")
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr points at `len` initialized bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as deref, and &mut self gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this very layout.
        unsafe { dealloc(self.ptr.as_ptr(), Self::layout(self.len)) }
    }
}

// SAFETY: AlignedBuf owns its bytes exclusively, like a Vec<u8>.
unsafe impl Send for AlignedBuf {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_aligned_filled_and_sized() {
        for len in [0, 1, 8, 4097, 1 << 20] {
            let b = AlignedBuf::new(len, 0x5a);
            assert_eq!(b.as_ptr() as usize % PAGE, 0);
            assert_eq!(b.len(), len);
            assert!(b.iter().all(|&x| x == 0x5a));
        }
    }
}
