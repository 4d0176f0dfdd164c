//! The helpers against UCX's own macros and strings (no UCX context needed).

use lamellar_ucx_sys::*;
use std::ffi::{CStr, c_void};
use std::ptr::null_mut;

fn as_status_ptr(status: ucs_status_t) -> ucs_status_ptr_t {
    status as isize as *mut c_void // what UCS_STATUS_PTR does
}

#[test]
fn null_is_ok() {
    assert_eq!(StatusPtr::from_raw(null_mut()), StatusPtr::Ok);
    // SAFETY: the shim only inspects the pointer's integer value.
    assert_eq!(unsafe { lamellar_ucs_ptr_status(null_mut()) }, UCS_OK);
}

#[test]
fn every_error_status_is_an_error() {
    for status in UCS_ERR_LAST..=UCS_ERR_NO_MESSAGE {
        let ptr = as_status_ptr(status);
        assert_eq!(StatusPtr::from_raw(ptr), StatusPtr::Err(status), "status {status}");
        // SAFETY: the shims only inspect the pointer's integer value.
        unsafe {
            assert_eq!(lamellar_ucs_ptr_is_err(ptr), 1, "status {status}");
            assert_eq!(lamellar_ucs_ptr_is_ptr(ptr), 0, "status {status}");
            assert_eq!(lamellar_ucs_ptr_status(ptr), status);
        }
    }
}

#[test]
fn a_pointer_is_a_request() {
    let mut word = 0u64;
    let ptr = (&raw mut word).cast::<c_void>();
    match StatusPtr::from_raw(ptr) {
        StatusPtr::Request(r) => assert_eq!(r.as_ptr(), ptr),
        other => panic!("{other:?}"),
    }
    // SAFETY: the shim only inspects the pointer's integer value.
    assert_eq!(unsafe { lamellar_ucs_ptr_status(ptr) }, UCS_INPROGRESS);
}

#[test]
fn status_strings_match_ucx() {
    let mut named = 0;
    for status in UCS_ERR_LAST..=UCS_INPROGRESS {
        let ours = status_string(status);
        if is_named_status(status) {
            named += 1;
            // SAFETY: ucs_status_string returns a static NUL-terminated string for every
            // status.
            let theirs = unsafe { CStr::from_ptr(ucs_status_string(status)) }.to_str().unwrap();
            assert_eq!(ours, theirs);
            assert!(!ours.starts_with("Unknown"), "{status}: {ours}");
        } else {
            assert_eq!(ours, "unknown UCX status");
        }
    }
    assert_eq!(named, 2 + 25 + 1);
    assert_eq!(status_string(UCS_OK), "Success");
    assert_eq!(status_string(UCS_ERR_NO_MEMORY), "Out of memory");
    assert_eq!(status_string(42), "unknown UCX status");
    assert_eq!(status_result(UCS_OK), Ok(()));
    assert_eq!(status_result(UCS_ERR_BUSY), Err(UCS_ERR_BUSY));
}

#[test]
fn contig_matches_ucp_dt_make_contig() {
    fn check<T>() {
        // SAFETY: the shim computes a datatype value; no memory is touched.
        assert_eq!(contig::<T>(), unsafe { lamellar_ucp_dt_make_contig(size_of::<T>()) });
    }
    check::<u8>();
    check::<u32>();
    check::<u64>();
    check::<[u8; 4096]>();
    check::<()>();
    assert_eq!(contig::<u64>(), 8 << 3);
}
