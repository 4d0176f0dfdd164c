//! UCX status codes as crate errors.

use crate::error::Error;
use lamellar_ucx_sys::{self as sys, ucs_status_t};

/// The backend name used in every error this backend reports.
pub const BACKEND: &str = "ucx";

/// Statuses that mean "the peer is gone or unreachable", reported as `PeerFailed`.
fn is_peer_failure(status: ucs_status_t) -> bool {
    matches!(
        status,
        sys::UCS_ERR_CONNECTION_RESET
            | sys::UCS_ERR_ENDPOINT_TIMEOUT
            | sys::UCS_ERR_UNREACHABLE
            | sys::UCS_ERR_CANCELED
            | sys::UCS_ERR_REJECTED
    )
}

/// An error for `status` (not `UCS_OK`) returned by `what`; `pe` is the peer the call
/// addressed, if any, so that a lost peer becomes `PeerFailed`.
pub fn error(status: ucs_status_t, what: &str, pe: Option<usize>) -> Error {
    let text = sys::status_string(status);
    match pe {
        Some(pe) if is_peer_failure(status) => {
            Error::PeerFailed { pe, why: format!("{what}: {text}") }
        }
        _ => Error::Backend {
            backend: BACKEND,
            code: status as i64,
            message: format!("{what}: {text}"),
        },
    }
}

/// `Ok(())` for `UCS_OK`, else [`error`].
pub fn check(status: ucs_status_t, what: &str) -> crate::Result<()> {
    if status == sys::UCS_OK { Ok(()) } else { Err(error(status, what, None)) }
}
