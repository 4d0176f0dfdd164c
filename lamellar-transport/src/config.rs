//! Settings read from the environment, in one place.

use std::time::Duration;

/// Default limit for any wait that depends on another process.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// `LAMELLAR_TIMEOUT` (seconds, may be fractional), else [`DEFAULT_TIMEOUT`].
pub fn timeout_from_env() -> Duration {
    std::env::var("LAMELLAR_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// The backend named by `LAMELLAR_TRANSPORT`, else `LAMELLAR_BACKEND` (the name Lamellar uses).
pub fn backend_from_env() -> Option<String> {
    ["LAMELLAR_TRANSPORT", "LAMELLAR_BACKEND"]
        .iter()
        .find_map(|k| std::env::var(k).ok())
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
}

/// `LAMELLAR_YIELD`: `Some(true)` for 1, `Some(false)` for 0 (any other integer counts as
/// 1), `None` when unset or not an integer: waits then yield only on an oversubscribed node.
pub fn yield_from_env() -> Option<bool> {
    std::env::var("LAMELLAR_YIELD").ok().and_then(|s| s.trim().parse::<i64>().ok()).map(|v| v != 0)
}
