//! The crate's error: what went wrong between a PE and its launcher.

/// Every fallible call returns this; the text names the launcher variable or reply at fault
/// and, where there is one, the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The launcher is missing, unservable, silent past the timeout, or answered badly.
    #[error("{0}")]
    Launcher(String),
    /// A key or value this crate cannot put on the launcher's wire.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn launcher(msg: impl Into<String>) -> Error {
    Error::Launcher(msg.into())
}
