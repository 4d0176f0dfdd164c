//! The bindings link and work in this crate's own test binary: a process started without a
//! PMI environment is a one-PE job. The provider is passed to `rofi_init` rather than through
//! `ROFI_PROVIDER`, so nothing here depends on (or changes) the process environment.

use rofi_sys::*;
use std::ffi::CStr;

fn text(p: *const std::os::raw::c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: `p` (checked non-null) is a NUL-terminated string ROFI keeps alive.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

#[test]
fn singleton_init_size_finalize() {
    assert_eq!((ROFI_VERSION_MAJOR, ROFI_VERSION_MINOR), (0, 2));
    // SAFETY: single-threaded; init, queries and finalize in ROFI's documented order.
    unsafe {
        let rc = rofi_init(c"tcp;ofi_rxm".as_ptr(), std::ptr::null());
        assert_eq!(rc, ROFI_SUCCESS, "rofi_init: {}", text(rofi_last_error()));
        assert_eq!(rofi_get_size(), 1);
        assert_eq!(rofi_get_id(), 0);
        let provider = text(rofi_provider_name());
        assert!(provider.contains("tcp"), "provider {provider:?}");
        assert_eq!(rofi_barrier(), ROFI_SUCCESS, "{}", text(rofi_last_error()));
        assert_eq!(rofi_finalize(), ROFI_SUCCESS, "{}", text(rofi_last_error()));
    }
}
