//! Memory that peers can address: a local region mapped with `ucp_mem_map`, and the
//! unpacked remote keys of peers' regions. Both are released explicitly with the worker
//! lock held (their owners' `Drop` does it), never by UCX on its own.

use super::status::check;
use super::worker::Worker;
use crate::error::{Error, Result};
use lamellar_ucx_sys::{self as sys, ucp_mem_h, ucp_rkey_h};
use std::ffi::c_void;
use std::ptr::null_mut;

/// Smallest region mapped, so that a zero-length allocation still has a key.
const MIN_LEN: usize = 64;

/// A local region allocated and registered by UCX (`UCP_MEM_MAP_ALLOCATE`: memory that
/// shared-memory transports can expose to peers for RMA and atomics), zero-filled.
pub struct Region {
    memh: ucp_mem_h,
    base: *mut u8,
    len: usize,
}

// SAFETY: the region is an address range plus a handle only used under the worker lock;
// the bytes are accessed through raw pointers and atomics, never references.
unsafe impl Send for Region {}
// SAFETY: as for the impl above, for the same reason.
unsafe impl Sync for Region {}

impl Region {
    /// Allocates and maps at least `len` bytes, zero-filled.
    pub fn map(w: &mut Worker<'_>, len: usize) -> Result<Region> {
        let want = len.max(MIN_LEN);
        let params = sys::ucp_mem_map_params_t {
            field_mask: (sys::UCP_MEM_MAP_PARAM_FIELD_LENGTH | sys::UCP_MEM_MAP_PARAM_FIELD_FLAGS)
                as u64,
            length: want,
            flags: sys::UCP_MEM_MAP_ALLOCATE,
            ..Default::default()
        };
        let mut memh = null_mut();
        check(
            // SAFETY: live context (lock held); UCX allocates the memory.
            unsafe { sys::ucp_mem_map(w.context(), &params, &mut memh) },
            &format!("ucp_mem_map of {want} bytes"),
        )?;
        let mut attr = sys::ucp_mem_attr_t {
            field_mask: (sys::UCP_MEM_ATTR_FIELD_ADDRESS | sys::UCP_MEM_ATTR_FIELD_LENGTH) as u64,
            ..Default::default()
        };
        // SAFETY: memh was just mapped.
        let q = check(unsafe { sys::ucp_mem_query(memh, &mut attr) }, "ucp_mem_query");
        let region = Region { memh, base: attr.address.cast(), len: attr.length };
        if let Err(e) = q {
            region.unmap(w);
            return Err(e);
        }
        if region.base.is_null() || region.len < want {
            region.unmap(w);
            return Err(Error::Backend {
                backend: super::status::BACKEND,
                code: 0,
                message: format!("ucp_mem_map gave {} bytes, asked {want}", attr.length),
            });
        }
        // SAFETY: UCX allocated `len` writable bytes at `base`; no peer knows the region yet.
        unsafe { std::ptr::write_bytes(region.base, 0, region.len) };
        Ok(region)
    }

    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// The packed remote key peers unpack to address this region.
    pub fn pack(&self, w: &mut Worker<'_>) -> Result<Vec<u8>> {
        let (mut buf, mut len): (*mut c_void, usize) = (null_mut(), 0);
        check(
            // SAFETY: live context and memory handle (lock held); UCX allocates the buffer.
            unsafe { sys::ucp_rkey_pack(w.context(), self.memh, &mut buf, &mut len) },
            "ucp_rkey_pack",
        )?;
        // SAFETY: UCX returned `len` readable bytes at `buf`, released right after the copy.
        let v = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) }.to_vec();
        // SAFETY: `buf` came from ucp_rkey_pack, released once, after the copy above.
        unsafe { sys::ucp_rkey_buffer_release(buf) };
        Ok(v)
    }

    /// Unregisters and frees the memory. Peers must no longer address it.
    pub fn unmap(self, w: &mut Worker<'_>) {
        // SAFETY: memh came from ucp_mem_map on this context and is unmapped once (self is
        // consumed). An error here (nothing to do about it) leaks at most the mapping.
        unsafe { sys::ucp_mem_unmap(w.context(), self.memh) };
    }
}

impl Region {
    /// Hands the region to the worker, which unmaps it after it is destroyed: for a region
    /// that peers may still address (see `State::retired`).
    pub fn retire(self, w: &mut Worker<'_>) {
        w.st.retired.push(self.memh);
    }
}

/// A peer's region as this PE addresses it: remote base address and unpacked key.
pub struct RemoteKey {
    pub base: u64,
    pub rkey: ucp_rkey_h,
}

// SAFETY: the key is used only under the worker lock (see `Worker`).
unsafe impl Send for RemoteKey {}
// SAFETY: as for the impl above, for the same reason.
unsafe impl Sync for RemoteKey {}

impl RemoteKey {
    /// Unpacks `packed` (from `Region::pack` on `pe`) for the endpoint to `pe`.
    pub fn unpack(w: &mut Worker<'_>, pe: usize, base: u64, packed: &[u8]) -> Result<RemoteKey> {
        let ep = w.ep(pe)?;
        let mut rkey = null_mut();
        check(
            // SAFETY: live endpoint (lock held); UCX parses the buffer and validates it.
            unsafe { sys::ucp_ep_rkey_unpack(ep, packed.as_ptr().cast(), &mut rkey) },
            &format!("ucp_ep_rkey_unpack for PE {pe}"),
        )?;
        Ok(RemoteKey { base, rkey })
    }

    pub fn destroy(self, _w: &mut Worker<'_>) {
        // SAFETY: an unpacked key, destroyed once (self is consumed), lock held.
        unsafe { sys::ucp_rkey_destroy(self.rkey) };
    }
}
