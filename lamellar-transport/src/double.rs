//! A backend double for Miri (tests only): one PE, segments in heap memory, the same
//! `mapped.rs` copies and atomics as shmem, no FFI and no shared memory, so the interpreter
//! can run the safe layer above it: bounds and offset arithmetic, heap blocks, scopes and
//! handles, futures. Its non-blocking operations are deferred: the copy happens when the
//! operation completes (the second `test`, a `wait` or a `quiet`), so a buffer released
//! before its operation completed is a use after free the interpreter reports.

use crate::atomic::{AtomicOp, AtomicRequest, AtomicSupport, AtomicType};
use crate::backend::{Backend, Capabilities, OpToken, PeerPath, Segment};
use crate::dispatch::AnySegment;
use crate::error::{Error, Result};
use crate::mapped;
use crate::team::Team;
use std::alloc::Layout;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A deferred copy.
struct Deferred {
    dst: *mut u8,
    src: *const u8,
    len: usize,
    looked: bool,
}

// SAFETY: the pointers are only used to complete the copy, under the map's lock, while the
// safe layer keeps both buffers alive (as a NIC would use them from another thread).
unsafe impl Send for Deferred {}

#[derive(Default)]
struct Pending {
    ops: HashMap<u64, Deferred>,
    next: u64,
}

impl Pending {
    fn complete(&mut self, token: u64) {
        if let Some(d) = self.ops.remove(&token) {
            // SAFETY: the safe layer keeps both buffers valid until the operation completes
            // (which is now); a copy between distinct allocations.
            unsafe { std::ptr::copy_nonoverlapping(d.src, d.dst, d.len) };
        }
    }
}

#[derive(Default)]
pub struct DoubleBackend {
    pending: Arc<Mutex<Pending>>,
}

fn lock(p: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

impl Backend for DoubleBackend {
    fn name(&self) -> &'static str {
        "double"
    }
    fn provider(&self) -> String {
        "heap".into()
    }
    fn my_pe(&self) -> usize {
        0
    }
    fn num_pes(&self) -> usize {
        1
    }
    fn alloc(&self, _team: &Team, len: usize) -> Result<AnySegment> {
        let layout = Layout::from_size_align(len.max(1), 4096)
            .map_err(|e| Error::InvalidArgument(format!("double: {e}")))?;
        // SAFETY: a non-zero size.
        let base = unsafe { std::alloc::alloc_zeroed(layout) };
        if base.is_null() {
            return Err(Error::InvalidArgument("double: out of memory".into()));
        }
        Ok(AnySegment::Double(DoubleSegment { base, layout, pending: self.pending.clone() }))
    }
    fn test(&self, op: OpToken) -> Result<bool> {
        let mut p = lock(&self.pending);
        match p.ops.get_mut(&op.0) {
            Some(d) if !d.looked => {
                d.looked = true;
                Ok(false)
            }
            _ => {
                p.complete(op.0);
                Ok(true)
            }
        }
    }
    fn wait(&self, op: OpToken) -> Result<()> {
        lock(&self.pending).complete(op.0);
        Ok(())
    }
    fn quiet(&self) -> Result<()> {
        let mut p = lock(&self.pending);
        let tokens: Vec<u64> = p.ops.keys().copied().collect();
        tokens.into_iter().for_each(|t| p.complete(t));
        Ok(())
    }
    fn fence(&self) -> Result<()> {
        Ok(())
    }
    fn barrier(&self, _team: &Team) -> Result<()> {
        self.quiet()
    }
    fn atomic_support(&self, _op: AtomicOp, _ty: AtomicType) -> AtomicSupport {
        AtomicSupport::Native
    }
    fn path_to(&self, _pe: usize) -> PeerPath {
        PeerPath::SharedMemory
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            put_signal: false,
            atomic_nb: false,
            quiet_pe: false,
            fence_orders_only: false,
            messages: false,
        }
    }
    fn yields_when_waiting(&self) -> bool {
        true
    }
    fn finalize(&self) -> Result<()> {
        self.quiet()
    }
}

pub struct DoubleSegment {
    base: *mut u8,
    layout: Layout,
    pending: Arc<Mutex<Pending>>,
}

// SAFETY: the memory is a heap allocation owned by the segment and reached only through
// the raw pointer, with copies and atomics as on a shared mapping (shmem's rules).
unsafe impl Send for DoubleSegment {}
// SAFETY: as for Send.
unsafe impl Sync for DoubleSegment {}

impl Drop for DoubleSegment {
    fn drop(&mut self) {
        // SAFETY: allocated in `alloc` with this layout, freed once.
        unsafe { std::alloc::dealloc(self.base, self.layout) };
    }
}

impl DoubleSegment {
    fn defer(&self, dst: *mut u8, src: *const u8, len: usize) -> OpToken {
        let mut p = lock(&self.pending);
        p.next += 1;
        let token = p.next;
        p.ops.insert(token, Deferred { dst, src, len, looked: false });
        OpToken(token)
    }
}

impl Segment for DoubleSegment {
    fn local_base(&self) -> *mut u8 {
        self.base
    }
    fn mapped_table(&self) -> Option<&[*mut u8]> {
        Some(std::slice::from_ref(&self.base)) // one PE
    }
    unsafe fn put(&self, _pe: usize, offset: usize, src: *const u8, len: usize) -> Result<()> {
        // SAFETY: the safe layer checked the range; `src` is valid for `len`.
        unsafe { mapped::put(self.base.add(offset), src, len) };
        Ok(())
    }
    unsafe fn get(&self, _pe: usize, offset: usize, dst: *mut u8, len: usize) -> Result<()> {
        // SAFETY: as for put.
        unsafe { mapped::get(self.base.add(offset), dst, len) };
        Ok(())
    }
    unsafe fn put_nb(
        &self,
        _pe: usize,
        offset: usize,
        src: *const u8,
        len: usize,
    ) -> Result<OpToken> {
        // SAFETY: the safe layer checked the range.
        Ok(self.defer(unsafe { self.base.add(offset) }, src, len))
    }
    unsafe fn get_nb(
        &self,
        _pe: usize,
        offset: usize,
        dst: *mut u8,
        len: usize,
    ) -> Result<OpToken> {
        // SAFETY: as for put_nb.
        Ok(self.defer(dst, unsafe { self.base.add(offset) }, len))
    }
    fn atomic(&self, _pe: usize, offset: usize, req: AtomicRequest) -> Result<u64> {
        // SAFETY: the safe layer checked range and alignment.
        Ok(unsafe { mapped::atomic(self.base.add(offset), req) })
    }
    fn free(self) -> Result<()> {
        Ok(())
    }
}
