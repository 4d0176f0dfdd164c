//! The one error type of the crate.

use std::time::Duration;

/// What went wrong, without the details: match on this to decide what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A PE index outside `0..num_pes`, or not a member of the allocation's team.
    BadPe,
    /// An offset/length range outside the allocation.
    OutOfBounds,
    /// An atomic on an address that is not aligned to its width.
    Misaligned,
    /// The backend cannot do this operation (or this atomic on this type).
    Unsupported,
    /// PEs passed different sizes (or different allocations) to a collective.
    SizeMismatch,
    /// The launcher / PMI conversation failed or gave a malformed answer.
    Bootstrap,
    /// Another PE died or stopped answering.
    PeerFailed,
    /// A wait on another process ran past its deadline.
    Timeout,
    /// The native backend library reported an error.
    Backend,
    /// The requested backend is unknown or not compiled in.
    BackendUnavailable,
    /// A bad argument that is none of the above (e.g. a duplicate PE in a team).
    InvalidArgument,
}

/// Every fallible call in this crate returns this error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("PE {pe} is out of range: {why}")]
    BadPe { pe: usize, why: String },
    #[error("range [{offset}, {offset}+{len}) is outside the allocation of {size} bytes")]
    OutOfBounds { offset: usize, len: usize, size: usize },
    #[error("offset {offset} is not aligned to {align} bytes for this atomic")]
    Misaligned { offset: usize, align: usize },
    #[error("{backend} backend does not support {what}")]
    Unsupported { backend: &'static str, what: String },
    #[error("collective mismatch: {what}")]
    SizeMismatch { what: String },
    #[error("bootstrap failed: {0}")]
    Bootstrap(String),
    #[error("PE {pe} failed: {why}")]
    PeerFailed { pe: usize, why: String },
    #[error("timed out after {:.1} s waiting for {what} (set LAMELLAR_TIMEOUT to change the limit)", .after.as_secs_f64())]
    Timeout { what: String, after: Duration },
    #[error("{backend} error {code}: {message}")]
    Backend { backend: &'static str, code: i64, message: String },
    #[error("backend {name:?} is not available: {why}")]
    BackendUnavailable { name: String, why: String },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BadPe { .. } => ErrorKind::BadPe,
            Error::OutOfBounds { .. } => ErrorKind::OutOfBounds,
            Error::Misaligned { .. } => ErrorKind::Misaligned,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::SizeMismatch { .. } => ErrorKind::SizeMismatch,
            Error::Bootstrap(_) => ErrorKind::Bootstrap,
            Error::PeerFailed { .. } => ErrorKind::PeerFailed,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Backend { .. } => ErrorKind::Backend,
            Error::BackendUnavailable { .. } => ErrorKind::BackendUnavailable,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
        }
    }

    #[cfg(feature = "shmem")]
    pub(crate) fn os(backend: &'static str, what: &str) -> Error {
        let e = std::io::Error::last_os_error();
        Error::Backend {
            backend,
            code: e.raw_os_error().unwrap_or(0) as i64,
            message: format!("{what}: {e}"),
        }
    }
}

impl From<lamellar_bootstrap::Error> for Error {
    fn from(e: lamellar_bootstrap::Error) -> Error {
        match e {
            lamellar_bootstrap::Error::Launcher(m) => Error::Bootstrap(m),
            lamellar_bootstrap::Error::InvalidArgument(m) => Error::InvalidArgument(m),
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
