//! ROFI return codes to our error kinds.

use crate::error::Error;
use rofi_sys as sys;
use std::ffi::CStr;

fn text(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: ROFI returns NUL-terminated strings it owns (static or thread-local), valid
    // until the next ROFI call on this thread; we copy at once.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// `Ok(rc)` for rc >= 0, else the error for `rc`, with ROFI's own explanation.
pub fn check(rc: i32, what: &str) -> Result<i32, Error> {
    if rc >= 0 {
        return Ok(rc);
    }
    // SAFETY: both functions only read ROFI's static tables / thread-local message.
    let (code_text, detail) = unsafe { (text(sys::rofi_strerror(rc)), text(sys::rofi_last_error())) };
    let message = if detail.is_empty() { format!("{what}: {code_text}") } else { format!("{what}: {code_text}: {detail}") };
    Err(match rc {
        sys::ROFI_ENOPROV => Error::BackendUnavailable { name: "rofi".into(), why: message },
        sys::ROFI_EPMI => Error::Bootstrap(message),
        sys::ROFI_ETIMEDOUT => Error::Timeout { what: message, after: crate::config::timeout_from_env() },
        sys::ROFI_ENOTSUP => Error::Unsupported { backend: "rofi", what: message },
        sys::ROFI_ESIZE => Error::SizeMismatch { what: message },
        _ => Error::Backend { backend: "rofi", code: rc as i64, message },
    })
}
