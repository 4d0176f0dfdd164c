//! Every `LAMELLAR_*` variable is read here, and a value that is set but unusable is an
//! error naming the variable, never a silent default.

use crate::error::{Error, Result};
use std::time::Duration;

/// Default limit for any wait that depends on another process.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

fn var(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

fn bad(name: &str, value: &str, want: &str) -> Error {
    Error::InvalidArgument(format!("{name}={value:?}: expected {want}"))
}

/// `LAMELLAR_TIMEOUT`: seconds (may be fractional, > 0, finite), else [`DEFAULT_TIMEOUT`].
pub fn timeout_from_env() -> Result<Duration> {
    let Some(v) = var("LAMELLAR_TIMEOUT") else { return Ok(DEFAULT_TIMEOUT) };
    parse_timeout(&v).ok_or_else(|| bad("LAMELLAR_TIMEOUT", &v, "a positive number of seconds"))
}

/// Seconds as lamellar-run and lamellar-bench take them too: a positive, finite number.
pub fn parse_timeout(s: &str) -> Option<Duration> {
    let t: f64 = s.trim().parse().ok()?;
    (t.is_finite() && t > 0.0 && t < 1e9).then(|| Duration::from_secs_f64(t))
}

/// The backend named by `LAMELLAR_TRANSPORT`, else `LAMELLAR_BACKEND` (the name Lamellar
/// uses); `None` when neither is set. Set but empty is an error.
pub fn backend_from_env() -> Result<Option<String>> {
    for k in ["LAMELLAR_TRANSPORT", "LAMELLAR_BACKEND"] {
        if let Some(v) = var(k) {
            let name = v.trim().to_ascii_lowercase();
            return if name.is_empty() {
                Err(bad(k, &v, "shmem, rofi or ucx"))
            } else {
                Ok(Some(name))
            };
        }
    }
    Ok(None)
}

/// `LAMELLAR_YIELD`: `Some(true)` for 1, `Some(false)` for 0, `None` when unset (waits then
/// yield only on an oversubscribed node). Anything else is an error.
pub fn yield_from_env() -> Result<Option<bool>> {
    match var("LAMELLAR_YIELD").as_deref().map(str::trim) {
        None => Ok(None),
        Some("1") => Ok(Some(true)),
        Some("0") => Ok(Some(false)),
        Some(other) => Err(bad("LAMELLAR_YIELD", other, "0 or 1")),
    }
}

/// `LAMELLAR_UCX_ERR_MODE`: `peer` (UCX's peer-failure handling on every endpoint) or
/// `none` (the default).
pub fn ucx_peer_errors() -> Result<bool> {
    two_words("LAMELLAR_UCX_ERR_MODE", var("LAMELLAR_UCX_ERR_MODE"), "peer", "none")
}

/// `LAMELLAR_MAILBOX`: `rings` makes every mailbox use its rings in symmetric memory even
/// where the backend has native messages (to compare the two); `native` or unset: the
/// backend's messages where it has them.
pub fn mailbox_rings() -> Result<bool> {
    two_words("LAMELLAR_MAILBOX", var("LAMELLAR_MAILBOX"), "rings", "native")
}

/// A setting that is one of two words (any case, spaces around ignored): true for `on`,
/// false for `off` or unset.
fn two_words(name: &str, value: Option<String>, on: &str, off: &str) -> Result<bool> {
    match value.map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == on => Ok(true),
        Some(v) if v == off => Ok(false),
        Some(v) => Err(bad(name, &v, &format!("{on} or {off}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_positive_finite_seconds() {
        assert_eq!(parse_timeout("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_timeout(" 60 "), Some(Duration::from_secs(60)));
        for bad in ["abc", "-1", "0", "", "nan", "inf", "1e300", "0x10"] {
            assert_eq!(parse_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn two_word_settings_take_either_word_and_refuse_others() {
        let of =
            |v: Option<&str>| two_words("LAMELLAR_MAILBOX", v.map(String::from), "rings", "native");
        assert!(!of(None).unwrap());
        assert!(of(Some(" Rings ")).unwrap());
        assert!(!of(Some("native")).unwrap());
        let e = of(Some("ring")).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(
            e.to_string().contains("LAMELLAR_MAILBOX") && e.to_string().contains("rings or native")
        );
    }
}
