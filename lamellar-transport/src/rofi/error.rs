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
#[inline]
pub fn check(rc: i32, what: &str) -> Result<i32, Error> {
    // Inlined test, out-of-line error: the success path of every put, get and atomic is a
    // compare (as one function, its frame cost ~48 instructions per op, callgrind).
    if rc >= 0 { Ok(rc) } else { Err(error(rc, what)) }
}

#[cold]
#[inline(never)]
fn error(rc: i32, what: &str) -> Error {
    // SAFETY: both functions only read ROFI's static tables / thread-local message.
    let (code_text, detail) =
        unsafe { (text(sys::rofi_strerror(rc)), text(sys::rofi_last_error())) };
    let message = if detail.is_empty() {
        format!("{what}: {code_text}")
    } else {
        format!("{what}: {code_text}: {detail}")
    };
    match rc {
        sys::ROFI_ENOPROV => Error::BackendUnavailable { name: "rofi".into(), why: message },
        sys::ROFI_EPMI => Error::Bootstrap(message),
        // The safe layer checks PEs and ranges first: what ROFI still refuses is a setting
        // (e.g. ROFI_LOCAL).
        sys::ROFI_EINVAL => Error::InvalidArgument(message),
        // SAFETY: reads ROFI's thread-local record of the last ROFI_EPEER.
        sys::ROFI_EPEER => match unsafe { sys::rofi_error_pe() } {
            pe if pe >= 0 => Error::PeerFailed { pe: pe as usize, why: message },
            // Every operation records its target: not reached, but never a wrong PE.
            _ => Error::Backend { backend: "rofi", code: rc as i64, message },
        },
        sys::ROFI_ETIMEDOUT => Error::Timeout {
            what: message,
            after: super::TIMEOUT.get().copied().unwrap_or(crate::config::DEFAULT_TIMEOUT),
        },
        sys::ROFI_ENOTSUP => Error::Unsupported { backend: "rofi", what: message },
        sys::ROFI_ESIZE => Error::SizeMismatch { what: message },
        _ => Error::Backend { backend: "rofi", code: rc as i64, message },
    }
}
