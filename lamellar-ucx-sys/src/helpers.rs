//! Small safe helpers over the raw bindings; no policy, no allocation.

use crate::bindings::*;
use std::ffi::{CStr, c_void};
use std::ptr::NonNull;

/// What a `ucs_status_ptr_t` returned by a `*_nbx` call means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusPtr {
    /// NULL: the operation completed immediately.
    Ok,
    /// In flight: poll with `ucp_request_check_status`, then `ucp_request_free`.
    Request(NonNull<c_void>),
    /// Failed at once with this status (one of `UCS_ERR_*`).
    Err(ucs_status_t),
}

impl StatusPtr {
    /// Classifies with UCX's own `UCS_PTR_IS_ERR` / `UCS_PTR_RAW_STATUS`
    /// (through the shim), so the encoding is never duplicated here.
    #[inline]
    #[allow(
        clippy::not_unsafe_ptr_arg_deref,
        reason = "the shims compare the address, never dereference it"
    )]
    pub fn from_raw(ptr: ucs_status_ptr_t) -> StatusPtr {
        match NonNull::new(ptr) {
            None => StatusPtr::Ok,
            // SAFETY: both shims only inspect the pointer's integer value.
            Some(_) if unsafe { lamellar_ucs_ptr_is_err(ptr) } != 0 => {
                // SAFETY: as for the guard: the shim only inspects the pointer's integer value.
                StatusPtr::Err(unsafe { lamellar_ucs_ptr_raw_status(ptr) })
            }
            Some(request) => StatusPtr::Request(request),
        }
    }
}

/// The `ucp_datatype_t` for a contiguous run of `T`, as `ucp_dt_make_contig(sizeof(T))`.
#[inline]
pub const fn contig<T>() -> ucp_datatype_t {
    ((size_of::<T>() as ucp_datatype_t) << UCP_DATATYPE_SHIFT)
        | UCP_DATATYPE_CONTIG as ucp_datatype_t
}

/// `Ok(())` for `UCS_OK`, else the status (`UCS_INPROGRESS` included).
#[inline]
pub fn status_result(status: ucs_status_t) -> Result<(), ucs_status_t> {
    if status == UCS_OK { Ok(()) } else { Err(status) }
}

/// UCX's text for a status. Only statuses UCX names are passed to
/// `ucs_status_string`: for any other value it formats into one static
/// buffer shared by all threads, which could change under a `&'static str`.
pub fn status_string(status: ucs_status_t) -> &'static str {
    if !is_named_status(status) {
        return "unknown UCX status";
    }
    // SAFETY: for named statuses ucs_status_string returns a string literal.
    let text = unsafe { CStr::from_ptr(ucs_status_string(status)) };
    text.to_str().unwrap_or("UCX status text is not UTF-8")
}

/// The statuses `ucs_status_string` names with a literal (UCX 1.12 .. 1.13+).
pub fn is_named_status(status: ucs_status_t) -> bool {
    matches!(
        status,
        UCS_OK | UCS_INPROGRESS | UCS_ERR_CONNECTION_RESET
            ..=UCS_ERR_NO_MESSAGE | UCS_ERR_ENDPOINT_TIMEOUT
    )
}
